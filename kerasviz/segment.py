"""Saliency map -> foreground mask, without supervision (Simonyan et al. 2014, §3.2)."""

from __future__ import annotations

import cv2
import numpy as np

from kerasviz import io
from kerasviz.errors import KerasvizError

SEGMENT_METHODS = ("grabcut", "threshold")
MIDDLE_LABELS = ("background", "foreground")
FOREGROUND_QUANTILE = 0.95  # Simonyan et al. 2014, §3.2: foreground colour model from > 95% quantile
BACKGROUND_QUANTILE = 0.30  # Simonyan et al. 2014, §3.2: background colour model from < 30% quantile
GRABCUT_ITERATIONS = 5  # OpenCV's grabCut iterations; it settles in a handful (Rother et al. 2004)


def segment(
    image,
    saliency_map,
    *,
    method: str = "grabcut",
    foreground_quantile: float = FOREGROUND_QUANTILE,
    background_quantile: float = BACKGROUND_QUANTILE,
    middle: str = "background",
    iterations: int = GRABCUT_ITERATIONS,
    threshold: float | None = None,
    largest_component: bool = True,
) -> np.ndarray:
    """A boolean foreground mask `(H, W)` of `image` from its saliency map.

    Args:
      image: RGB 0-255 `(H, W, 3)` (uint8 or float; greyscale and RGBA are converted).
      saliency_map: float `(h, w)`; higher is more salient (use |map| for signed maps). A map of
        another size is resized to the image's.
      method: "grabcut": OpenCV's GrabCut seeded as in Simonyan et al. 2014 §3.2: definite
        foreground above the `foreground_quantile` of the map, definite background below the
        `background_quantile`, the band between starts as probable `middle` ("background" or
        "foreground"). "threshold": pixels above `threshold`, a quantile of the map in (0, 1);
        None: Otsu's threshold on the map.
      iterations: GrabCut iterations.
      largest_component: keep only the largest 8-connected foreground component.

    Raises:
      KerasvizError: for a map that is not finite, flat, or gives no foreground or background seeds.
    """
    if method not in SEGMENT_METHODS:
        raise KerasvizError(f"unknown segment method {method!r}; valid: {', '.join(SEGMENT_METHODS)}")
    if middle not in MIDDLE_LABELS:
        raise KerasvizError(f"middle must be one of {', '.join(MIDDLE_LABELS)}; got {middle!r}")
    if not 0 < background_quantile < foreground_quantile < 1:
        raise KerasvizError(
            "quantiles must satisfy 0 < background_quantile < foreground_quantile < 1; "
            f"got {background_quantile} and {foreground_quantile}"
        )
    batch, single = io.as_batch(image)
    if not single:
        raise KerasvizError(f"segment takes one image (H, W, 3); got shape {np.shape(image)}")
    rgb = np.clip(np.round(batch[0]), 0, 255).astype(np.uint8)
    saliency = _check_map(saliency_map, rgb.shape[:2])

    if method == "threshold":
        mask = _threshold(saliency, threshold)
    else:
        if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
            raise KerasvizError(f"iterations must be a positive integer; got {iterations!r}")
        mask = _grabcut(rgb, saliency, foreground_quantile, background_quantile, middle, iterations)
    return _largest_component(mask) if largest_component else mask


def _seeds(saliency_map, foreground_quantile: float, background_quantile: float, middle: str) -> np.ndarray:
    """GrabCut's initial labels (cv2.GC_*) `(H, W)` uint8 from a checked saliency map."""
    hi, lo = np.quantile(saliency_map, [foreground_quantile, background_quantile])
    labels = np.full(saliency_map.shape, cv2.GC_PR_BGD if middle == "background" else cv2.GC_PR_FGD, np.uint8)
    if hi > lo:  # ties at a quantile go with it: maps often have many zeros
        labels[saliency_map >= hi] = cv2.GC_FGD
        labels[saliency_map <= lo] = cv2.GC_BGD
    else:  # mostly its minimum (Grad-CAM's ReLU): all above it is foreground, GrabCut decides the rest
        labels[saliency_map > hi] = cv2.GC_FGD
        labels[saliency_map <= hi] = cv2.GC_PR_BGD
    return labels


def _grabcut(rgb, saliency, foreground_quantile, background_quantile, middle, iterations) -> np.ndarray:
    labels = _seeds(saliency, foreground_quantile, background_quantile, middle)
    background_model = np.zeros((1, 65), np.float64)  # OpenCV's GMM state: 5 components x 13
    foreground_model = np.zeros((1, 65), np.float64)
    bgr = np.ascontiguousarray(rgb[..., ::-1])
    cv2.grabCut(bgr, labels, None, background_model, foreground_model, iterations, cv2.GC_INIT_WITH_MASK)
    return (labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)


def _threshold(saliency: np.ndarray, threshold: float | None) -> np.ndarray:
    if threshold is None:
        scaled = np.round(255 * (saliency - saliency.min()) / (saliency.max() - saliency.min())).astype(np.uint8)
        level, _ = cv2.threshold(scaled, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
        return scaled > level
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not 0 < threshold < 1:
        raise KerasvizError(f"threshold must be a quantile in (0, 1) or None for Otsu; got {threshold!r}")
    mask = saliency > np.quantile(saliency, threshold)
    if not mask.any():
        raise KerasvizError(f"no pixel lies above the {threshold:.0%} quantile of the saliency map; it is nearly flat")
    return mask


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


def _largest_component(mask: np.ndarray) -> np.ndarray:
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if count <= 2:  # background alone, or one component
        return mask.astype(bool)
    largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    return labels == largest
