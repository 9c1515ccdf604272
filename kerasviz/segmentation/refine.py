"""Masks from maps: OpenCV's GrabCut (Rother et al. 2004), reseeded so a mask depends on its image alone.

A feature method's soft map is cut at Otsu's threshold and snapped to the photo's edges and colours by
GrabCut inside the box that holds the cut, at REFINE_SIDE pixels on the shorter side (`grabcut_from_map`). The
saliency methods (Simonyan et al. 2014, §3.2): "grabcut" seeds GrabCut from a saliency map's quantiles,
"threshold" keeps the pixels above a quantile or Otsu's level.
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np

from kerasviz.errors import KerasvizError
from kerasviz.options import Options, option
from kerasviz.segmentation.arrays import unit_range

SALIENCY_METHODS = ("grabcut", "threshold")
MIDDLE_LABELS = ("background", "foreground")
FOREGROUND_QUANTILE = 0.95  # Simonyan et al. 2014, §3.2: foreground colour model from > 95% quantile
BACKGROUND_QUANTILE = 0.30  # Simonyan et al. 2014, §3.2: background colour model from < 30% quantile
GRABCUT_ITERATIONS = 5  # OpenCV's grabCut iterations; it settles in a handful (Rother et al. 2004)
GRABCUT_SEED = 0  # OpenCV's random generator is reseeded before each GrabCut (see grab_cut)
BOX_GROWTH = 0.1  # the GrabCut box is the cut's bounding box grown by this fraction of its size
BACKGROUND_FRACTION = 0.3  # soft-map values below this fraction of Otsu's level seed GrabCut as definite background
# GrabCut's edge term grows with a photo's side and its colour term with its area, so the same photo at
# another size gives another mask. Feature masks are refined at one working size. Measured with
# benchmarks/masks.py on its photos (320x180) resized to 2x and 0.75x before segmenting, geodesic
# map, refined at 135/180/240/360 px: from 2x 0.43/0.47/0.41/0.38, from 0.75x 0.44/0.44/0.39/0.37
# mean IoU (at 480 px, from 1x: 0.39). A small working size wins from both; it also bounds the time.
REFINE_SIDE = 180  # pixels on the shorter side where a feature method's GrabCut runs


@dataclasses.dataclass(frozen=True)
class GrabCutOptions(Options):
    """Options of segment(method="grabcut"): GrabCut seeded by a saliency map (Simonyan et al. 2014, §3.2)."""

    WHAT = "segment method 'grabcut'"
    foreground_quantile: float = option(
        FOREGROUND_QUANTILE, "Definite foreground above this quantile of the map (Simonyan et al. 2014: 0.95).",
        low=0, high=1)
    background_quantile: float = option(
        BACKGROUND_QUANTILE, "Definite background below this quantile of the map (Simonyan et al. 2014: 0.30).",
        low=0, high=1)
    middle: str = option("background", "The band between the quantiles: probable background or foreground.",
                         choices=MIDDLE_LABELS)
    iterations: int = option(GRABCUT_ITERATIONS, "OpenCV grabCut iterations (Rother et al. 2004).", low=1)
    largest_component: bool = option(True, "Keep the largest 8-connected part only.")

    def check(self) -> None:
        if not 0 < self.background_quantile < self.foreground_quantile < 1:
            raise KerasvizError("quantiles must satisfy 0 < background_quantile < foreground_quantile < 1; "
                                f"got {self.background_quantile} and {self.foreground_quantile}")


@dataclasses.dataclass(frozen=True)
class ThresholdOptions(Options):
    """Options of segment(method="threshold"): the map cut at a quantile, or at Otsu's threshold."""

    WHAT = "segment method 'threshold'"
    threshold: float | None = option(None, "A quantile of the map in (0, 1); None: Otsu's threshold (Otsu 1979).",
                                     kind="float")
    largest_component: bool = option(True, "Keep the largest 8-connected part only.")

    def check(self) -> None:
        if self.threshold is not None and not 0 < self.threshold < 1:
            raise KerasvizError(f"threshold must be a quantile in (0, 1) or None for Otsu; got {self.threshold!r}")


SALIENCY_OPTIONS = {"grabcut": GrabCutOptions, "threshold": ThresholdOptions}


def grabcut_from_map(rgb: np.ndarray, soft: np.ndarray) -> np.ndarray:
    """GrabCut seeded by the soft map at REFINE_SIDE pixels on the shorter side, then its largest
    8-connected part at the photo's size; the map's Otsu cut where that part vanishes at a small
    photo's size (a mask is never empty while the map has a cut)."""
    h, w = soft.shape
    scale = REFINE_SIDE / min(h, w)
    size = (max(2, round(h * scale)), max(2, round(w * scale)))
    if size == (h, w):
        return largest_component(_refine_at_size(rgb, soft))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    mask = _refine_at_size(cv2.resize(rgb, size[::-1], interpolation=interpolation), cv2.resize(soft, size[::-1]))
    mask = cv2.resize(mask.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR) > 0.5
    return largest_component(mask if mask.any() else soft > otsu_threshold(soft))


def _refine_at_size(rgb: np.ndarray, soft: np.ndarray) -> np.ndarray:
    """GrabCut seeded by the soft map, its largest 8-connected part.

    Outside the bounding box of the Otsu cut's largest part, grown by BOX_GROWTH: definite background.
    Inside it, in three bands: above Otsu's level probable foreground, below BACKGROUND_FRACTION of
    that level definite background, between probable background. (Seeding the box with the two
    probable labels alone scored 0.03 lower mean IoU on benchmarks/masks.py, on both halves; the
    fraction scored the same from 0.2 to 0.7 there, and 0.5 cut off the larger object of the
    synthetic test scenes.)
    """
    level = otsu_threshold(soft)
    cut = soft > level
    if not cut.any():
        return cut
    bands = np.full(soft.shape, cv2.GC_PR_BGD, np.uint8)
    bands[cut] = cv2.GC_PR_FGD
    bands[soft < BACKGROUND_FRACTION * level] = cv2.GC_BGD
    ys, xs = np.nonzero(largest_component(cut))
    h, w = soft.shape
    grow_y, grow_x = round(BOX_GROWTH * (ys.max() + 1 - ys.min())), round(BOX_GROWTH * (xs.max() + 1 - xs.min()))
    box = (
        slice(max(ys.min() - grow_y, 0), min(ys.max() + 1 + grow_y, h)),
        slice(max(xs.min() - grow_x, 0), min(xs.max() + 1 + grow_x, w)),
    )
    labels = np.full((h, w), cv2.GC_BGD, np.uint8)
    labels[box] = bands[box]
    if (labels == cv2.GC_BGD).sum() < 2:  # no background to learn colours from: the bands alone
        labels = bands
    try:
        grab_cut(rgb, labels)
    except cv2.error:  # too few pixels of a kind for its colour model: keep the cut
        return largest_component(cut)
    mask = (labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)
    return largest_component(mask if mask.any() else cut)


def otsu_threshold(values: np.ndarray) -> float:
    scaled = np.round(255 * unit_range(values)).astype(np.uint8)
    level, _ = cv2.threshold(scaled, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    return float(values.min() + level / 255 * (values.max() - values.min()))


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
    grab_cut(rgb, labels, iterations=iterations)
    return (labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)


def grab_cut(rgb: np.ndarray, labels: np.ndarray, *, rect=None, iterations: int = GRABCUT_ITERATIONS) -> None:
    """OpenCV's GrabCut on an RGB uint8 image, updating `labels` (cv2.GC_* per pixel) in place.

    Seeded from the mask, or from `rect` (x, y, w, h) when given. OpenCV starts its colour models with
    k-means from its global random generator, so the same call can give a different mask each time
    (mean IoU on benchmarks/masks.py moved by 0.03, single photos by 0.6); it is reseeded before every
    call, so a mask depends on its image alone.
    """
    cv2.setRNGSeed(GRABCUT_SEED)
    background_model = np.zeros((1, 65), np.float64)  # OpenCV's GMM state: 5 components x 13
    foreground_model = np.zeros((1, 65), np.float64)
    mode = cv2.GC_INIT_WITH_MASK if rect is None else cv2.GC_INIT_WITH_RECT
    bgr = np.ascontiguousarray(rgb[..., ::-1])
    cv2.grabCut(bgr, labels, rect, background_model, foreground_model, iterations, mode)


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


def largest_component(mask: np.ndarray) -> np.ndarray:
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if count <= 2:  # background alone, or one component
        return mask.astype(bool)
    largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    return labels == largest
