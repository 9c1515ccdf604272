"""Soft foreground maps from a network's features, on a grid of positions, with one cue: the border is background.

- "geodesic": each position's geodesic distance to the border through the feature graph (Wei et al.
  2012, "Geodesic saliency using background priors").
- "contrast": each position's cosine distance to the mean border feature.
- "spectral": the Fiedler vector of the feature-affinity graph (Melas-Kyriazi et al. 2022, "Deep
  Spectral Methods"), its sign chosen so the side that touches the border less is the object.
The features are the outputs of the model's last stages (`feature_layers`); `_spectral_embedding` also
serves the regions.
"""

from __future__ import annotations

import math
import weakref

import cv2
import keras
import numpy as np
import scipy.sparse
import scipy.sparse.csgraph
import scipy.sparse.linalg

from kerasviz import io, models
from kerasviz.errors import KerasvizError
from kerasviz.segmentation.arrays import _check_image, _resize_channels, l2_normalize, unit_range

FEATURE_METHODS = ("geodesic", "contrast", "spectral")
DEFAULT_FEATURE_METHOD = "geodesic"  # the best mean IoU of benchmarks/masks.py (README: "Masks")
FEATURE_SIDE = 224  # the photo's shorter side as the network sees it: the ImageNet training size
FEATURE_STAGES = 3  # the last stages by output stride (VGG16: block3_conv3, block4_conv3, block5_conv3)
GRID_STRIDE = 8  # input pixels per grid position: ~1400 positions at 224 px, a dense affinity in < 1 s
_PROBE_SIDE = 256  # probe input for the layers' strides: a power of two, large enough for InceptionV3
_NOT_FEATURES = (
    keras.layers.InputLayer,
    keras.layers.MaxPooling2D,
    keras.layers.AveragePooling2D,
    keras.layers.ZeroPadding2D,
    keras.layers.Cropping2D,
)
_FEATURE_MODELS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> (names, keras.Model)


def soft_map(
    image,
    model: keras.Model,
    method: str = DEFAULT_FEATURE_METHOD,
    *,
    preprocess=None,
    feature_side: int = FEATURE_SIDE,
) -> np.ndarray:
    """float32 `(H, W)` in [0, 1]: how much each pixel of one RGB image looks like the object, by a feature method."""
    if method not in FEATURE_METHODS:
        raise KerasvizError(f"unknown feature method {method!r}; valid: {', '.join(FEATURE_METHODS)}")
    rgb = _check_image(image)
    grid_features = features(model, rgb, preprocess=preprocess, feature_side=feature_side)
    grid = grid_features.shape[:2]
    flat = grid_features.reshape(-1, grid_features.shape[-1])
    if method == "geodesic":
        score = border_geodesic(flat, grid)
    elif method == "contrast":
        score = _border_contrast(flat, grid)
    else:
        score = _fiedler(flat, grid)
    return photo_map(score.reshape(grid), rgb.shape[:2])


def photo_map(score: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A grid's (gh, gw) scores scaled to [0, 1] and resized bilinearly to the photo's (H, W)."""
    return np.clip(cv2.resize(unit_range(score), (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR), 0.0, 1.0)


def features(model: keras.Model, image: np.ndarray, *, preprocess=None, feature_side: int = FEATURE_SIDE) -> np.ndarray:
    """float32 `(gh, gw, C)`: the feature layers' outputs on one grid, each L2-normalised per position,
    then concatenated and normalised again (each layer counts equally). The image is resized so its
    shorter side is `feature_side` (or to the model's fixed input size); the grid has one position per
    GRID_STRIDE input pixels."""
    outputs, shape = stage_outputs(model, image, preprocess=preprocess, feature_side=feature_side)
    grid = (max(2, round(shape[0] / GRID_STRIDE)), max(2, round(shape[1] / GRID_STRIDE)))
    parts = [l2_normalize(_resize_channels(output, grid)) for output in outputs]
    combined = l2_normalize(np.concatenate(parts, axis=-1))
    if not np.isfinite(combined).all():
        raise KerasvizError("the model's features are not finite on this image; check its weights and preprocessing")
    return combined


def stage_outputs(model: keras.Model, image: np.ndarray, *, preprocess=None,
                  feature_side: int = FEATURE_SIDE) -> tuple[list[np.ndarray], tuple[int, int]]:
    """The feature layers' raw outputs on one image, float32 (h, w, C) each, and the (H, W) the
    image was resized to (its shorter side `feature_side`, or the model's fixed input size)."""
    _, feature_model = _feature_model(model)
    shape = _input_size(model, image.shape[:2], feature_side)
    x = io.resize(image, shape) if shape != image.shape[:2] else image.astype(np.float32)
    outputs = feature_model(models.preprocess_fn(model, preprocess)(x[None].astype(np.float32)), training=False)
    outputs = outputs if isinstance(outputs, list | tuple) else [outputs]
    return [np.asarray(keras.ops.convert_to_numpy(output[0]), np.float32) for output in outputs], shape


def feature_layers(model: keras.Model, stages: int = FEATURE_STAGES) -> list[str]:
    """The output of each of the model's deepest `stages` stages, input to output: at each output
    stride, the last of the widest layers (branches and bottlenecks inside a stage are narrower).

    Strides come from one probe input; pooling, padding and cropping layers are not features
    (VGG16: block3_conv3, block4_conv3, block5_conv3; ResNet50: conv3_block4_out, conv4_block6_out,
    conv5_block3_out; InceptionV3: mixed2, mixed7, mixed10).
    """
    return _feature_model(model, stages)[0]


def _feature_model(model: keras.Model, stages: int = FEATURE_STAGES) -> tuple[list[str], keras.Model]:
    cached = _FEATURE_MODELS.get(model)
    if cached is not None and cached[0] == stages:
        return cached[1], cached[2]
    candidates = []
    for path, layer in models.layer_paths(model).items():  # through nested models, by path
        if isinstance(layer, _NOT_FEATURES):
            continue
        try:
            output = layer.output
        except (AttributeError, ValueError):  # a layer used more than once has no single output
            continue
        if not isinstance(output, list | tuple | dict) and len(output.shape) == 4:
            candidates.append(path)
    if not candidates:
        raise KerasvizError(f"model {model.name!r} has no layer with a spatial (N, H, W, C) output to segment with")
    probe_shape = _input_size(model, (_PROBE_SIDE, _PROBE_SIDE), _PROBE_SIDE)
    probe = models.feature_model(model, candidates)
    shapes = probe(models.preprocess_fn(model)(np.zeros((1, *probe_shape, 3), np.float32)), training=False)
    shapes = shapes if isinstance(shapes, list | tuple) else [shapes]
    widest: dict[int, tuple[int, str]] = {}  # stride -> (channels, name) of the stage's output
    for name, value in zip(candidates, shapes, strict=True):
        height, channels = int(value.shape[1]), int(value.shape[-1])
        if height < 1:
            continue
        stride = 2 ** round(math.log2(max(probe_shape[0] / height, 1.0)))
        if channels >= widest.get(stride, (0, ""))[0]:
            widest[stride] = (channels, name)
    chosen = [widest[s][1] for s in sorted(widest)[-stages:]]
    feature_model = models.feature_model(model, chosen)
    _FEATURE_MODELS[model] = (stages, chosen, feature_model)
    return chosen, feature_model


def _input_size(model: keras.Model, size: tuple[int, int], side: int) -> tuple[int, int]:
    """The input size the model sees: its fixed size, or `size` scaled so its shorter side is `side`."""
    fixed = models.fixed_input_size(model)
    if fixed is not None:
        return fixed
    scale = side / min(size)
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def border_cells(grid: tuple[int, int]) -> np.ndarray:
    border = np.zeros(grid, bool)
    border[0], border[-1], border[:, 0], border[:, -1] = True, True, True, True
    return border.ravel()


def grid_edges(grid: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The 8-neighbour edges of a grid, each once: (from, to) flat indices."""
    index = np.arange(grid[0] * grid[1]).reshape(grid)
    pairs = [
        (index[:, :-1], index[:, 1:]),
        (index[:-1], index[1:]),
        (index[:-1, :-1], index[1:, 1:]),
        (index[:-1, 1:], index[1:, :-1]),
    ]
    return np.concatenate([a.ravel() for a, _ in pairs]), np.concatenate([b.ravel() for _, b in pairs])


def border_geodesic(flat: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """Shortest path from the border through 8-neighbour edges weighted by cosine distance."""
    return distance_from_border(np.maximum(step_distances(flat, grid), 1e-6), grid)  # 0 drops an edge


def step_distances(flat: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """The cosine distance of unit feature vectors `flat` (gh * gw, C) across each edge of grid_edges."""
    a, b = grid_edges(grid)
    return 1.0 - np.sum(flat[a] * flat[b], axis=1)


def distance_from_border(weights: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """Each position's shortest path from the grid's border, the edges of grid_edges weighted by `weights`."""
    a, b = grid_edges(grid)
    count = grid[0] * grid[1]
    graph = scipy.sparse.coo_matrix((weights, (a, b)), shape=(count, count)).tocsr()
    border = np.flatnonzero(border_cells(grid))
    return scipy.sparse.csgraph.dijkstra(graph, directed=False, indices=border, min_only=True)


def _border_contrast(flat: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """Cosine distance of each position to the mean border feature."""
    mean = l2_normalize(flat[border_cells(grid)].mean(axis=0))
    return 1.0 - flat @ mean


def _fiedler(flat: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """The generalised eigenvector of the 2nd-smallest eigenvalue of L = D - W, W = max(0, cos), object > 0."""
    vectors = _spectral_embedding(np.maximum(flat @ flat.T, 0.0), 1)
    vector = vectors[:, 0]
    inside = vector > 0
    border = border_cells(grid)
    if inside[border].mean() > (~inside)[border].mean():  # the object touches the border less
        vector = -vector
    return vector


def _spectral_embedding(affinity: np.ndarray, count: int) -> np.ndarray:
    """The `count` generalised eigenvectors of (D - W) v = l D v after the constant one, smallest first."""
    degree = affinity.sum(axis=1)
    scale = 1.0 / np.sqrt(np.maximum(degree, 1e-12))
    normalised = scale[:, None] * affinity * scale[None]
    start = np.sqrt(np.maximum(degree, 1e-12))  # the top eigenvector itself: a deterministic start for ARPACK
    values, vectors = scipy.sparse.linalg.eigsh(normalised, k=count + 1, which="LA", v0=start / np.linalg.norm(start))
    order = np.argsort(-values)  # largest of D^-1/2 W D^-1/2 = smallest of the normalised Laplacian
    return (vectors[:, order] * scale[:, None])[:, 1:]
