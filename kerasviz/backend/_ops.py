"""What JAX and PyTorch share where TensorFlow has a kernel of its own: written once in keras.ops."""

from __future__ import annotations

import numpy as np
from keras import ops


def affine_warp(images, matrices, output_shape: tuple[int, int], fill_value: float, fill_mode: str):
    """Each image (B, H, W, C) sampled bilinearly on an (out_h, out_w) grid: output pixel (x, y) reads the
    image at ((a0 x + a1 y + a2) / k, (b0 x + b1 y + b2) / k), k = c0 x + c1 y + 1, for matrices (B, 8)
    [a0, a1, a2, b0, b1, b2, c0, c1] (TensorFlow's ImageProjectiveTransformV3). Pixels outside the image
    come from `fill_mode`: "constant" (fill_value), "nearest", "reflect" (all three as TensorFlow's kernel, to
    float32 rounding) or "wrap" (read periodically, seamless; TensorFlow's blends its border with the fill)."""
    batch, h, w, c = images.shape
    out_h, out_w = output_shape
    grid_y, grid_x = np.meshgrid(np.arange(out_h, dtype=np.float32), np.arange(out_w, dtype=np.float32),
                                 indexing="ij")
    m = [ops.reshape(matrices[:, i], (-1, 1, 1)) for i in range(8)]
    k = m[6] * grid_x + m[7] * grid_y + 1.0
    x = _fill_coordinate((m[0] * grid_x + m[1] * grid_y + m[2]) / k, w, fill_mode)
    y = _fill_coordinate((m[3] * grid_x + m[4] * grid_y + m[5]) / k, h, fill_mode)
    x0, y0 = ops.floor(x), ops.floor(y)
    wx, wy = (x - x0)[..., None], (y - y0)[..., None]
    flat = ops.reshape(images, (batch, h * w, c))

    def tap(yi, xi):
        inside = (xi >= 0) & (xi <= w - 1) & (yi >= 0) & (yi <= h - 1)
        index = ops.cast(ops.clip(yi, 0, h - 1) * w + ops.clip(xi, 0, w - 1), "int32")
        index = ops.broadcast_to(ops.reshape(index, (batch, out_h * out_w, 1)), (batch, out_h * out_w, c))
        values = ops.reshape(ops.take_along_axis(flat, index, axis=1), (batch, out_h, out_w, c))
        return ops.where(inside[..., None], values, ops.cast(fill_value, values.dtype))

    top = (1.0 - wx) * tap(y0, x0) + wx * tap(y0, x0 + 1.0)
    bottom = (1.0 - wx) * tap(y0 + 1.0, x0) + wx * tap(y0 + 1.0, x0 + 1.0)
    return (1.0 - wy) * top + wy * bottom


def _fill_coordinate(coordinate, n: int, fill_mode: str):
    """A sampling coordinate moved into [0, n - 1] as `fill_mode` reads beyond the image ("constant" keeps it)."""
    if fill_mode == "nearest":
        return ops.clip(coordinate, 0.0, n - 1.0)
    if fill_mode == "wrap":
        return coordinate - n * ops.floor(coordinate / n)
    if fill_mode == "reflect":  # d c b a | a b c d | d c b a
        folded = coordinate - 2 * n * ops.floor(coordinate / (2 * n))
        return ops.clip(ops.where(folded > n - 0.5, 2 * n - 1 - folded, folded), 0.0, n - 1.0)
    return coordinate

