"""Stochastic image transforms for transformation robustness (Mordvintsev et al. 2018).

A transform is `fn(images (B, H, W, 3) float, seeds (B, 2) int32) -> images`. Randomness is
stateless and drawn per image from that image's own seed row, so a run is reproducible and a
filter's picture does not depend on which other filters share its batch. `compose` chains them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from keras import ops

from kerasviz import backend

Tensor = object  # a tensor of the Keras backend
Transform = Callable[[Tensor, Tensor], Tensor]

GREY = 0.5  # fill value of padding, as in lucid's standard transforms


def _uniform(seeds: Tensor, salt: int, lo: float, hi: float) -> Tensor:
    """One uniform draw per image from per-image seeds (B, 2) -> (B,)."""
    return backend.stateless_uniform(seeds + ops.convert_to_tensor([0, salt], "int32"), (), lo, hi)


def pad(width: int, value: float = GREY) -> Transform:
    """Pads every side by `width` pixels of a constant colour."""

    def fn(images, seeds):
        return ops.pad(images, [[0, 0], [width, width], [width, width], [0, 0]], constant_values=value)

    return fn


def periodic(images: Tensor, margin: int) -> Tensor:
    """(B, H, W, C) -> (B, H + 2 margin, W + 2 margin, C): the picture continued periodically by
    `margin` <= min(H, W) pixels on every side.

    The gradient folds each margin back onto the rows and columns it copies, adding into the
    picture's edge bands only (TensorFlow's own gradient of a tiling or a concatenation pads every
    piece to the picture's size and adds them all: about half the cost of a filter picture's view). On JAX
    and PyTorch, whose gradients of a concatenation are slices already, it is the plain concatenation.
    """
    if margin == 0:
        return images
    h, w = images.shape[1], images.shape[2]
    if backend.NAME != "tensorflow":
        rows = ops.concatenate([images[:, h - margin:], images, images[:, :margin]], axis=1)
        return ops.concatenate([rows[:, :, w - margin:], rows, rows[:, :, :margin]], axis=2)
    import tensorflow as tf

    @tf.custom_gradient
    def wrap(x):
        rows = tf.concat([x[:, h - margin:], x, x[:, :margin]], axis=1)
        wrapped = tf.concat([rows[:, :, w - margin:], rows, rows[:, :, :margin]], axis=2)
        return wrapped, lambda upstream: _fold(_fold(upstream, 2, margin), 1, margin)

    return wrap(images)


def _fold(grad, axis: int, margin: int):
    """The gradient of continuing a picture by `margin` along `axis` (1 or 2): each margin added to
    the edge band it copies (TensorFlow)."""
    import tensorflow as tf

    n = grad.shape[axis] - 2 * margin

    def part(tensor, start, stop):
        return tensor[:, start:stop] if axis == 1 else tensor[:, :, start:stop]

    before, after = part(grad, 0, margin), part(grad, margin + n, n + 2 * margin)
    if 2 * margin <= n:  # the two bands are apart: only they are touched
        return tf.concat([part(grad, margin, 2 * margin) + after, part(grad, 2 * margin, n),
                          part(grad, n, n + margin) + before], axis=axis)
    core = part(grad, margin, margin + n)
    paddings = [[0, 0]] * grad.shape.rank
    return (core + tf.pad(before, paddings[:axis] + [[n - margin, 0]] + paddings[axis + 1:])
            + tf.pad(after, paddings[:axis] + [[0, n - margin]] + paddings[axis + 1:]))


FILL_MODES = ("wrap", "reflect", "constant", "nearest")


def affine(
    *,
    jitter: float = 0.0,
    scale: tuple[float, float] = (1.0, 1.0),
    degrees: float = 0.0,
    pad: int = 0,
    fill_mode: str = "wrap",
    fill: float = GREY,
    continuation: Callable[[Tensor, int], Tensor] | None = None,
) -> Transform:
    """Random shift (up to `jitter` px), scale and rotation (up to `degrees`) in one bilinear warp,
    seen through a view `pad` pixels larger than the picture on every side.

    The output's shape depends on the input's only, so a compiled step never retraces. Pixels
    outside the picture come from `fill_mode`: "wrap" (the picture continued periodically, as Fourier
    pictures are: no edge anywhere, and bilinear interpolation across the picture's border reads the
    pixels on the other side), "reflect", "nearest", or "constant" (the colour `fill`). An edge
    against a fill is what early layers answer by painting a frame around the picture.
    `continuation(images, margin)` continues the picture for "wrap" (default: `periodic`).
    """
    continuation = continuation or periodic
    if fill_mode not in FILL_MODES:
        raise ValueError(f"unknown fill_mode {fill_mode!r}; valid: {', '.join(FILL_MODES)}")

    def fn(images, seeds):
        h, w = images.shape[1], images.shape[2]
        out_h, out_w = h + 2 * pad, w + 2 * pad
        margin = 0
        if fill_mode == "wrap":
            # Input pixels the warp can reach beyond the picture: the view's corner turned by the
            # largest angle, at the smallest scale, plus the shift and one pixel for interpolation
            # (the fewer, the less the warp's gradient computes). They continue the picture
            # periodically (periodic), since the warp's own "wrap" mode interpolates the last column
            # with the fill colour rather than with the first (a grey seam at the picture's border).
            turn = math.radians(min(abs(degrees), 90.0))
            reach_x = (out_w * math.cos(turn) + out_h * math.sin(turn)) / 2 / min(scale) + jitter + 2
            reach_y = (out_h * math.cos(turn) + out_w * math.sin(turn)) / 2 / min(scale) + jitter + 2
            margin = max(0, math.ceil(max(reach_x - w / 2, reach_y - h / 2)))
            if margin > min(h, w):
                raise ValueError(f"a {h}x{w} picture cannot be wrapped {margin} px; use less scale or jitter")
            images = continuation(images, margin)
        dx = _uniform(seeds, 1, -jitter, jitter)
        dy = _uniform(seeds, 2, -jitter, jitter)
        s = _uniform(seeds, 3, scale[0], scale[1])
        theta = _uniform(seeds, 4, -degrees, degrees) * (math.pi / 180.0)
        # Output pixel q samples the picture at A^-1 (q - c_out) + c_in - shift: rotation and scale
        # about the centres of the view and of the picture (offset by the margin where tiled).
        cos, sin = ops.cos(theta) / s, ops.sin(theta) / s
        cx_in, cy_in = (w - 1) / 2 + margin, (h - 1) / 2 + margin
        cx_out, cy_out = (out_w - 1) / 2, (out_h - 1) / 2
        a0, a1 = cos, -sin
        b0, b1 = sin, cos
        a2 = cx_in - a0 * cx_out - a1 * cy_out - dx
        b2 = cy_in - b0 * cx_out - b1 * cy_out - dy
        zeros = ops.zeros_like(a0)
        matrices = ops.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)
        mode = "constant" if fill_mode == "wrap" else fill_mode
        return backend.affine_warp(images, matrices, (out_h, out_w), fill, mode)

    return fn


def compose(transforms: Sequence[Transform]) -> Transform:
    """Applies `transforms` in order, each with its own seed stream."""

    def fn(images, seeds):
        for i, transform in enumerate(transforms):
            images = transform(images, seeds + ops.convert_to_tensor([0, 1000 * (i + 1)], "int32"))
        return images

    return fn


def roll() -> Transform:
    """Rolls each picture periodically by its own random whole-pixel offset, uniform over the whole
    side on both axes. For a periodic (Fourier) picture it loses and interpolates nothing, and no
    part of the picture stays near the view's edge, where the model's zero padding is."""

    def fn(images, seeds):
        h, w = images.shape[1], images.shape[2]
        dy = ops.minimum(ops.cast(_uniform(seeds, 5, 0.0, float(h)), "int32"), h - 1)
        dx = ops.minimum(ops.cast(_uniform(seeds, 6, 0.0, float(w)), "int32"), w - 1)
        rows = (ops.arange(h, dtype="int32")[None] + dy[:, None]) % h  # (B, H)
        cols = (ops.arange(w, dtype="int32")[None] + dx[:, None]) % w  # (B, W)
        images = ops.take_along_axis(images, rows[:, :, None, None], axis=1)
        return ops.take_along_axis(images, cols[:, None, :, None], axis=2)

    return fn


def standard(size: int, *, rolled: bool = False) -> Transform:
    """lucid's standard_transforms in one warp, scaled to the image size: a view size/16 larger on
    every side, shift up to size/16, scale 0.9-1.1, rotate up to 10 degrees. The view continues the
    picture periodically (Fourier pictures are periodic), so the model never sees a fill colour,
    whose edge early layers answer by painting a frame, and the picture's border sits inside the
    view, away from the model's zero padding and the objective's border crop. `rolled` first rolls
    the picture by a random offset over its whole side (roll), with the same warp draws."""
    warp = affine(jitter=size / 16, scale=(0.9, 1.1), degrees=10.0, pad=size // 16)
    if not rolled:
        return warp
    shift = roll()
    return lambda images, seeds: warp(shift(images, seeds), seeds)
