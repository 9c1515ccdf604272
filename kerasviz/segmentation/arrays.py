"""The checks of what segmentation takes in (one image, a saliency map) and small array helpers."""

from __future__ import annotations

import cv2
import numpy as np

from kerasviz import io
from kerasviz.errors import KerasvizError


def _check_image(image) -> np.ndarray:
    """uint8 RGB `(H, W, 3)` from one image; refuses batches, non-finite values and one colour."""
    batch, single = io.as_batch(image)
    if not single:
        raise KerasvizError(f"segment takes one image (H, W, 3); got shape {np.shape(image)}")
    if batch.shape[1] < 2 or batch.shape[2] < 2:
        raise KerasvizError(f"the image must be at least 2 x 2 pixels; got shape {np.shape(image)}")
    if not np.isfinite(batch).all():
        raise KerasvizError("the image has NaN or infinite values; images are RGB 0-255")
    rgb = io.round_pixels(batch[0])
    if (rgb == rgb[0, 0]).all():
        colour = tuple(int(c) for c in rgb[0, 0])
        raise KerasvizError(f"the image is one colour {colour}; nothing stands out to segment")
    return rgb


def _check_map(saliency_map, size: tuple[int, int]) -> np.ndarray:
    saliency = np.asarray(saliency_map, np.float32)
    if saliency.ndim == 3 and saliency.shape[-1] == 1:
        saliency = saliency[..., 0]
    if saliency.ndim != 2 or saliency.size == 0:
        raise KerasvizError(f"saliency_map must be one (H, W) map; got shape {np.shape(saliency_map)}")
    if not np.isfinite(saliency).all():
        bad = int((~np.isfinite(saliency)).sum())
        raise KerasvizError(f"the saliency map has {bad} NaN or infinite values; a mask needs a finite map")
    if saliency.max() == saliency.min():
        raise KerasvizError(f"the saliency map is flat (every value is {saliency.max():.3g}); nothing stands out")
    if saliency.shape != tuple(size):
        saliency = cv2.resize(saliency, (size[1], size[0]), interpolation=cv2.INTER_LINEAR)
    return saliency


def l2_normalize(values: np.ndarray) -> np.ndarray:
    return values / np.maximum(np.linalg.norm(values, axis=-1, keepdims=True), 1e-6)


def unit_range(values: np.ndarray) -> np.ndarray:
    """Scaled to [0, 1] (float32); a constant map becomes zeros."""
    values = np.asarray(values, np.float32)
    span = float(values.max() - values.min())
    return (values - values.min()) / span if span > 0 else np.zeros_like(values)


def _resize_channels(values: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of `(h, w, C)` to `size` for any C (OpenCV resizes up to 128 channels at once here)."""
    if values.shape[:2] == tuple(size):
        return values
    parts = [
        cv2.resize(np.ascontiguousarray(values[..., i : i + 128]), (size[1], size[0]), interpolation=cv2.INTER_LINEAR)
        for i in range(0, values.shape[-1], 128)
    ]
    return np.concatenate([p.reshape(size[0], size[1], -1) for p in parts], axis=-1)
