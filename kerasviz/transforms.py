"""Stochastic, TensorFlow-only image transforms for transformation robustness (Mordvintsev et al. 2018).

A transform is `fn(images (B, H, W, 3) float, seeds (B, 2) int32) -> images`. Randomness is
stateless and drawn per image from that image's own seed row, so a run is reproducible and a
filter's picture does not depend on which other filters share its batch. `compose` chains them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import tensorflow as tf

Transform = Callable[[tf.Tensor, tf.Tensor], tf.Tensor]

GREY = 0.5  # fill value of padding, as in lucid's standard transforms


def _uniform(seeds: tf.Tensor, salt: int, lo: float, hi: float) -> tf.Tensor:
    """One uniform draw per image from per-image seeds (B, 2) -> (B,)."""
    salted = seeds + tf.constant([0, salt], tf.int32)
    return tf.map_fn(
        lambda s: tf.random.stateless_uniform((), s, lo, hi),
        salted,
        fn_output_signature=tf.float32,
    )


def pad(width: int, value: float = GREY) -> Transform:
    """Pads every side by `width` pixels of a constant colour."""

    def fn(images, seeds):
        return tf.pad(images, [[0, 0], [width, width], [width, width], [0, 0]], constant_values=value)

    return fn


def affine(
    *, jitter: float = 0.0, scale: tuple[float, float] = (1.0, 1.0), degrees: float = 0.0, fill: float = GREY
) -> Transform:
    """Random shift (up to `jitter` px), scale and rotation (up to `degrees`) in one bilinear warp.

    The output keeps the input's shape, so a compiled step never retraces; uncovered pixels
    are filled with `fill`.
    """

    def fn(images, seeds):
        shape = tf.shape(images)
        h, w = tf.cast(shape[1], tf.float32), tf.cast(shape[2], tf.float32)
        dx = _uniform(seeds, 1, -jitter, jitter)
        dy = _uniform(seeds, 2, -jitter, jitter)
        s = _uniform(seeds, 3, scale[0], scale[1])
        theta = _uniform(seeds, 4, -degrees, degrees) * (math.pi / 180.0)
        # Output pixel (x, y) samples input at A^-1 ((x, y) - c) + c - shift, about the centre c.
        cos, sin = tf.cos(theta) / s, tf.sin(theta) / s
        cx, cy = (w - 1) / 2, (h - 1) / 2
        a0, a1 = cos, -sin
        b0, b1 = sin, cos
        a2 = cx - a0 * cx - a1 * cy - dx
        b2 = cy - b0 * cx - b1 * cy - dy
        zeros = tf.zeros_like(a0)
        matrices = tf.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)
        return tf.raw_ops.ImageProjectiveTransformV3(
            images=images,
            transforms=matrices,
            output_shape=shape[1:3],
            fill_value=fill,
            interpolation="BILINEAR",
            fill_mode="CONSTANT",
        )

    return fn


def compose(transforms: Sequence[Transform]) -> Transform:
    """Applies `transforms` in order, each with its own seed stream."""

    def fn(images, seeds):
        for i, transform in enumerate(transforms):
            images = transform(images, seeds + tf.constant([0, 1000 * (i + 1)], tf.int32))
        return images

    return fn


def standard(size: int) -> Transform:
    """lucid's standard_transforms in one warp, scaled to the image size: jitter size/16, scale
    0.9-1.1, rotate up to 10 degrees, grey fill. lucid's extra 12-px padding is left out: at 128 px
    it cost 27% more compute for no gain in robust activation (benchmarks/filters.py)."""
    return compose([pad(size // 16), affine(jitter=size / 16, scale=(0.9, 1.1), degrees=10.0)])
