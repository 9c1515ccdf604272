"""Robust activation: how strongly a filter responds to a saved picture, under small changes of view.

Feeds the saved uint8 PNG (not the internal tensor) through the model with its preprocessing,
under 8 random views (rescale 0.8-1.25, shift up to 16 px, reflected borders), and averages the
filter's mean activation. It rewards pictures the filter truly responds to, not pixel noise.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from kerasviz import models

VIEWS = 8
SCALES = (0.8, 1.25)
SHIFT = 16


def robust_activation(model, layer: str, images: np.ndarray, filters, *, seed: int = 1234) -> np.ndarray:
    """float32 (N,): mean over VIEWS views of each image's own filter's mean activation."""
    preprocess = models.preprocess_fn(model)
    features = tf.keras.Model(model.input, models.get_layer(model, layer).output)
    rng = np.random.default_rng(seed)
    images = tf.constant(np.asarray(images), tf.float32)
    size = images.shape[1]
    filters = tf.constant(np.asarray(filters), tf.int32)
    total = np.zeros(len(filters), np.float64)
    for _ in range(VIEWS):
        scale = math.exp(rng.uniform(math.log(SCALES[0]), math.log(SCALES[1])))
        side = max(32, round(size * scale))
        view = tf.image.resize(images, (side, side), method="bilinear")
        dx, dy = rng.integers(-SHIFT, SHIFT + 1, size=2)
        matrix = tf.constant([[1, 0, -float(dx), 0, 1, -float(dy), 0, 0]], tf.float32)
        view = tf.raw_ops.ImageProjectiveTransformV3(
            images=view, transforms=tf.tile(matrix, [len(filters), 1]), output_shape=[side, side],
            fill_value=0.0, interpolation="BILINEAR", fill_mode="REFLECT",
        )
        acts = tf.cast(features(preprocess(view)), tf.float32)
        chosen = tf.gather(acts, filters, axis=-1, batch_dims=1)
        total += tf.reduce_mean(chosen, axis=(1, 2)).numpy()
    return (total / VIEWS).astype(np.float32)
