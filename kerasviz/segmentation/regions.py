"""Regions and the cartoon: spectral clustering of a network's features into K regions, painted flat."""

from __future__ import annotations

import cv2
import keras
import numpy as np
import scipy.cluster.vq

from kerasviz import io
from kerasviz.errors import KerasvizError
from kerasviz.segmentation.arrays import _resize_channels
from kerasviz.segmentation.maps import FEATURE_SIDE, _spectral_embedding, features

# Regions: the feature affinity plus an image term, as Melas-Kyriazi et al. 2022 add a colour (KNN-matting)
# affinity so segments follow the photo's edges: here a Gaussian in RGB (0-1) times one in position.
REGION_IMAGE_WEIGHT = 1.0  # the image term's weight against max(0, cos) (chosen by eye on the README photos)
REGION_COLOUR_SIGMA = 0.1  # RGB in 0-1
REGION_POSITION_SIGMA = 0.1  # a fraction of the grid's longer side
MAX_REGIONS = 32


def spectral_regions(
    rgb: np.ndarray, model: keras.Model, regions: int, *, preprocess=None, feature_side: int = FEATURE_SIDE
) -> np.ndarray:
    """int32 `(H, W)` labels 0..K-1 (by decreasing area): spectral clustering of the features.

    Affinity max(0, cos) of the features plus REGION_IMAGE_WEIGHT times a colour-and-position
    Gaussian (the image term of Melas-Kyriazi et al. 2022); K eigenvectors after the constant one,
    each row scaled to unit length and clustered by k-means (Ng, Jordan & Weiss 2002). Labels are
    assigned per pixel from the bilinearly upsampled embedding, so region borders are smooth.
    """
    _check_regions(regions)
    grid_features = features(model, rgb, preprocess=preprocess, feature_side=feature_side)
    grid = grid_features.shape[:2]
    flat = grid_features.reshape(-1, grid_features.shape[-1])
    if regions > len(flat):
        raise KerasvizError(f"regions={regions} is more than the {len(flat)} feature positions of this image")
    yy, xx = np.mgrid[: grid[0], : grid[1]]
    position = np.stack([yy.ravel(), xx.ravel()], axis=1) / max(grid)
    colour = cv2.resize(rgb, (grid[1], grid[0]), interpolation=cv2.INTER_AREA).reshape(-1, 3) / np.float32(255)
    image_term = np.exp(
        -((colour[:, None] - colour[None]) ** 2).sum(-1) / (2 * REGION_COLOUR_SIGMA**2)
        - ((position[:, None] - position[None]) ** 2).sum(-1) / (2 * REGION_POSITION_SIGMA**2)
    )
    affinity = np.maximum(flat @ flat.T, 0.0) + REGION_IMAGE_WEIGHT * image_term
    embedding = _spectral_embedding(affinity, regions)
    embedding /= np.maximum(np.linalg.norm(embedding, axis=1, keepdims=True), 1e-12)
    centroids, grid_labels = kmeans(embedding, regions)
    h, w = rgb.shape[:2]
    up = _resize_channels(embedding.reshape(*grid, -1), (h, w))
    pixel_labels = np.argmin(((up[..., None, :] - centroids) ** 2).sum(-1), axis=-1)
    if len(np.unique(pixel_labels)) < len(np.unique(grid_labels)):  # a thin cluster vanished: nearest position
        pixel_labels = cv2.resize(grid_labels.reshape(grid).astype(np.int32), (w, h), interpolation=cv2.INTER_NEAREST)
    return _by_area(pixel_labels)


def kmeans(points: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """k-means++ (seeded, so the same image gives the same regions); the best of a few starts."""
    best = None
    for seed in range(4):
        centroids, labels = scipy.cluster.vq.kmeans2(points, k, minit="++", seed=seed)
        inertia = float(((points - centroids[labels]) ** 2).sum())
        if len(np.unique(labels)) == k and (best is None or inertia < best[0]):
            best = (inertia, centroids, labels)
    if best is None:
        raise KerasvizError(f"the features of this image do not separate into {k} regions; ask for fewer")
    return best[1], best[2]


def _by_area(labels: np.ndarray) -> np.ndarray:
    values, counts = np.unique(labels, return_counts=True)
    order = values[np.argsort(-counts, kind="stable")]
    lookup = np.zeros(labels.max() + 1, np.int32)
    lookup[order] = np.arange(len(order), dtype=np.int32)
    return lookup[labels]


def colour_regions(labels: np.ndarray) -> np.ndarray:
    """uint8 RGB `(H, W, 3)`: one distinct colour per label (evenly spaced hues, alternating lightness)."""
    labels = _check_labels(labels)
    count = int(labels.max()) + 1
    hues = (np.arange(count) * 180 // count).astype(np.uint8)  # OpenCV hue is 0-179
    values = np.where(np.arange(count) % 2 == 0, 235, 165).astype(np.uint8)
    hsv = np.stack([hues, np.full(count, 170, np.uint8), values], axis=-1)[None]
    palette = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0]
    return palette[labels]


def cartoon(image, labels, *, edge_width: int = 2, edge_colour=(20, 20, 20)) -> np.ndarray:
    """uint8 RGB `(H, W, 3)`: each region filled with its mean colour, region borders drawn dark.

    Args:
      image: RGB 0-255 `(H, W, 3)`.
      labels: int `(H, W)` region labels (for example `segment(image, model=m, regions=K)`).
      edge_width: border thickness in pixels (0: none).
    """
    rgb = io.as_batch(image)[0][0]
    labels = _check_labels(labels)
    if labels.shape != rgb.shape[:2]:
        raise KerasvizError(f"labels {labels.shape} and image {rgb.shape[:2]} differ in size; they must match")
    if isinstance(edge_width, bool) or not isinstance(edge_width, int) or edge_width < 0:
        raise KerasvizError(f"edge_width must be a non-negative integer; got {edge_width!r}")
    count = int(labels.max()) + 1
    area = np.maximum(np.bincount(labels.ravel(), minlength=count), 1)
    means = np.stack([np.bincount(labels.ravel(), rgb[..., c].ravel(), count) for c in range(3)], -1) / area[:, None]
    flat = means[labels]
    if edge_width:
        change = np.zeros(labels.shape, bool)
        change[:, 1:] |= labels[:, 1:] != labels[:, :-1]
        change[1:] |= labels[1:] != labels[:-1]
        kernel = np.ones((edge_width, edge_width), np.uint8)
        change = cv2.dilate(change.astype(np.uint8), kernel) > 0
        flat[change] = edge_colour
    return io.round_pixels(flat)


def _check_regions(regions) -> None:
    if isinstance(regions, bool) or not isinstance(regions, int | np.integer) or not 2 <= regions <= MAX_REGIONS:
        raise KerasvizError(f"regions must be an integer from 2 to {MAX_REGIONS}; got {regions!r}")


def _check_labels(labels) -> np.ndarray:
    array = np.asarray(labels)
    if array.ndim != 2 or array.size == 0 or not np.issubdtype(array.dtype, np.integer) or array.min() < 0:
        raise KerasvizError(f"labels must be a non-negative integer (H, W) map; got {array.dtype} shape {array.shape}")
    return array.astype(np.int64)
