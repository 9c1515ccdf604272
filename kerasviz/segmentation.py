"""Foreground masks and regions without supervision: from a network's features, or from a saliency map.

Feature methods read what the network computes at its last stages (`feature_layers`), on a grid of
positions, and use one general cue: the image border is mostly background.
- "geodesic": each position's geodesic distance to the border through the feature graph (Wei et al.
  2012, "Geodesic saliency using background priors"): an object is what you cannot reach from the
  border without crossing a change of features.
- "contrast": each position's cosine distance to the mean border feature.
- "spectral": the Fiedler vector of the feature-affinity graph (Melas-Kyriazi et al. 2022, "Deep
  Spectral Methods"), its sign chosen so the side that touches the border less is the object.
Each soft map is cut at Otsu's threshold and snapped to the photo's edges and colours with GrabCut
(Rother et al. 2004) inside the box that holds the cut, at REFINE_SIDE pixels on the shorter side
whatever the photo's size (GrabCut's balance of edges and colours depends on the pixel count).
With `regions=K`, spectral clustering of the same features gives K regions; `cartoon` paints them
flat with dark edges.

Saliency methods (Simonyan et al. 2014, §3.2) take a saliency map instead: "grabcut" and "threshold".
"""

from __future__ import annotations

import math
import weakref

import cv2
import keras
import numpy as np
import scipy.cluster.vq
import scipy.sparse
import scipy.sparse.csgraph
import scipy.sparse.linalg

from kerasviz import io, models
from kerasviz.errors import KerasvizError

FEATURE_METHODS = ("geodesic", "contrast", "spectral")
SALIENCY_METHODS = ("grabcut", "threshold")
SEGMENT_METHODS = FEATURE_METHODS + SALIENCY_METHODS
DEFAULT_FEATURE_METHOD = "geodesic"  # the best mean IoU of benchmarks/masks.py (README: "Masks")
MIDDLE_LABELS = ("background", "foreground")
FOREGROUND_QUANTILE = 0.95  # Simonyan et al. 2014, §3.2: foreground colour model from > 95% quantile
BACKGROUND_QUANTILE = 0.30  # Simonyan et al. 2014, §3.2: background colour model from < 30% quantile
GRABCUT_ITERATIONS = 5  # OpenCV's grabCut iterations; it settles in a handful (Rother et al. 2004)
GRABCUT_SEED = 0  # OpenCV's random generator is reseeded before each GrabCut (see grab_cut)

FEATURE_SIDE = 224  # the photo's shorter side as the network sees it: the ImageNet training size
FEATURE_STAGES = 3  # the last stages by output stride (VGG16: block3_conv3, block4_conv3, block5_conv3)
GRID_STRIDE = 8  # input pixels per grid position: ~1400 positions at 224 px, a dense affinity in < 1 s
BOX_GROWTH = 0.1  # the GrabCut box is the cut's bounding box grown by this fraction of its size
BACKGROUND_FRACTION = 0.3  # soft-map values below this fraction of Otsu's level seed GrabCut as definite background
# GrabCut's edge term grows with a photo's side and its colour term with its area, so the same photo at
# another size gives another mask. Feature masks are refined at one working size. Measured with
# benchmarks/masks.py on its photos (320x180) resized to 2x and 0.75x before segmenting, geodesic
# map, refined at 135/180/240/360 px: from 2x 0.43/0.47/0.41/0.38, from 0.75x 0.44/0.44/0.39/0.37
# mean IoU (at 480 px, from 1x: 0.39). A small working size wins from both; it also bounds the time.
REFINE_SIDE = 180  # pixels on the shorter side where a feature method's GrabCut runs
# Regions: the feature affinity plus an image term, as Melas-Kyriazi et al. 2022 add a colour (KNN-matting)
# affinity so segments follow the photo's edges: here a Gaussian in RGB (0-1) times one in position.
REGION_IMAGE_WEIGHT = 1.0  # the image term's weight against max(0, cos) (chosen by eye on the README photos)
REGION_COLOUR_SIGMA = 0.1  # RGB in 0-1
REGION_POSITION_SIGMA = 0.1  # a fraction of the grid's longer side
MAX_REGIONS = 32
_PROBE_SIDE = 256  # probe input for the layers' strides: a power of two, large enough for InceptionV3
_NOT_FEATURES = (
    keras.layers.InputLayer,
    keras.layers.MaxPooling2D,
    keras.layers.AveragePooling2D,
    keras.layers.ZeroPadding2D,
    keras.layers.Cropping2D,
)
_FEATURE_MODELS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> (names, keras.Model)


def segment(
    image,
    saliency_map=None,
    *,
    method: str | None = None,
    regions: int | None = None,
    model: keras.Model | None = None,
    preprocess=None,
    feature_side: int = FEATURE_SIDE,
    foreground_quantile: float = FOREGROUND_QUANTILE,
    background_quantile: float = BACKGROUND_QUANTILE,
    middle: str = "background",
    iterations: int = GRABCUT_ITERATIONS,
    threshold: float | None = None,
    largest_component: bool = True,
) -> np.ndarray:
    """A boolean foreground mask `(H, W)` of `image`, or with `regions=K` an int32 label map `(H, W)`.

    Args:
      image: RGB 0-255 `(H, W, 3)` (uint8 or float; greyscale and RGBA are converted).
      saliency_map: float `(h, w)`, higher is more salient (use |map| for signed maps); resized to the
        image. Needed by the saliency methods; with a feature method it is a prior (geometric mean
        with the feature map).
      method: a feature method ("geodesic", "contrast", "spectral"; need `model`) or a saliency
        method ("grabcut", "threshold"; need `saliency_map`). None: DEFAULT_FEATURE_METHOD when a
        model is given, else "grabcut".
      regions: K >= 2 gives K regions from spectral clustering of the model's features, labels
        0..K-1 by decreasing area (needs `model`; `method` is then unused).
      model: a Keras model whose features are used (any size input, or a fixed one); models from
        `load_model` bring their own preprocessing, others take `preprocess=` (default: 0-255 RGB).
      feature_side: the image's shorter side as the model sees it (a fixed-size model: its size).
      The remaining arguments belong to the saliency methods: "grabcut" seeds OpenCV's GrabCut as in
        Simonyan et al. 2014 §3.2 (definite foreground above `foreground_quantile` of the map,
        definite background below `background_quantile`, the band between probable `middle`);
        "threshold" keeps pixels above `threshold`, a quantile of the map in (0, 1), or Otsu's
        threshold when None; `largest_component` keeps the largest 8-connected part.

    Raises:
      KerasvizError: for an image of one colour or not finite, a map that is not finite or flat, a
        method without what it needs, or a bad argument; the message says what is valid.
    """
    if method is None:
        method = DEFAULT_FEATURE_METHOD if model is not None else "grabcut"
    if method not in SEGMENT_METHODS:
        raise KerasvizError(f"unknown segment method {method!r}; valid: {', '.join(SEGMENT_METHODS)}")
    rgb = _check_image(image)
    if isinstance(feature_side, bool) or not isinstance(feature_side, int) or feature_side < 8:
        raise KerasvizError(f"feature_side must be an integer >= 8 (pixels); got {feature_side!r}")
    if regions is not None:
        _check_regions(regions)
        if model is None:
            raise KerasvizError(f"regions={regions} need model= (a Keras model whose features are clustered)")
        return spectral_regions(rgb, model, regions, preprocess=preprocess, feature_side=feature_side)
    if method in FEATURE_METHODS:
        if model is None:
            raise KerasvizError(
                f"method {method!r} needs model= (for example kerasviz.load_model('vgg16', weights='offline')); "
                f"methods that take a saliency map alone: {', '.join(SALIENCY_METHODS)}"
            )
        prior = None if saliency_map is None else _check_map(saliency_map, rgb.shape[:2])
        return feature_mask(rgb, model, method, preprocess=preprocess, prior=prior, feature_side=feature_side)
    if saliency_map is None:
        raise KerasvizError(
            f"method {method!r} needs a saliency map; without one pass model= and a feature method: "
            f"{', '.join(FEATURE_METHODS)}"
        )
    if middle not in MIDDLE_LABELS:
        raise KerasvizError(f"middle must be one of {', '.join(MIDDLE_LABELS)}; got {middle!r}")
    if not 0 < background_quantile < foreground_quantile < 1:
        raise KerasvizError(
            "quantiles must satisfy 0 < background_quantile < foreground_quantile < 1; "
            f"got {background_quantile} and {foreground_quantile}"
        )
    saliency = _check_map(saliency_map, rgb.shape[:2])
    if method == "threshold":
        mask = _threshold(saliency, threshold)
    else:
        if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
            raise KerasvizError(f"iterations must be a positive integer; got {iterations!r}")
        mask = _grabcut(rgb, saliency, foreground_quantile, background_quantile, middle, iterations)
    return _largest_component(mask) if largest_component else mask


# --- feature methods -------------------------------------------------------------------------


def feature_mask(
    rgb: np.ndarray, model: keras.Model, method: str, *, preprocess=None, prior=None, feature_side: int = FEATURE_SIDE
) -> np.ndarray:
    """Boolean `(H, W)` mask of a checked uint8 image from `method`'s soft map, snapped by GrabCut."""
    soft = soft_map(rgb, model, method, preprocess=preprocess, feature_side=feature_side)
    if prior is not None:
        soft = np.sqrt(soft * _unit(prior))
    return _refine(rgb, soft)


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
        score = _border_geodesic(flat, grid)
    elif method == "contrast":
        score = _border_contrast(flat, grid)
    else:
        score = _fiedler(flat, grid)
    return _photo_map(score.reshape(grid), rgb.shape[:2])


def _photo_map(score: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A grid's (gh, gw) scores scaled to [0, 1] and resized bilinearly to the photo's (H, W)."""
    return np.clip(cv2.resize(_unit(score), (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR), 0.0, 1.0)


def features(model: keras.Model, image: np.ndarray, *, preprocess=None, feature_side: int = FEATURE_SIDE) -> np.ndarray:
    """float32 `(gh, gw, C)`: the feature layers' outputs on one grid, each L2-normalised per position,
    then concatenated and normalised again (each layer counts equally). The image is resized so its
    shorter side is `feature_side` (or to the model's fixed input size); the grid has one position per
    GRID_STRIDE input pixels."""
    outputs, shape = stage_outputs(model, image, preprocess=preprocess, feature_side=feature_side)
    grid = (max(2, round(shape[0] / GRID_STRIDE)), max(2, round(shape[1] / GRID_STRIDE)))
    parts = [_l2(_resize_channels(output, grid)) for output in outputs]
    combined = _l2(np.concatenate(parts, axis=-1))
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
    return [np.asarray(output[0], np.float32) for output in outputs], shape


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


def _border(grid: tuple[int, int]) -> np.ndarray:
    border = np.zeros(grid, bool)
    border[0], border[-1], border[:, 0], border[:, -1] = True, True, True, True
    return border.ravel()


def _grid_edges(grid: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The 8-neighbour edges of a grid, each once: (from, to) flat indices."""
    index = np.arange(grid[0] * grid[1]).reshape(grid)
    pairs = [
        (index[:, :-1], index[:, 1:]),
        (index[:-1], index[1:]),
        (index[:-1, :-1], index[1:, 1:]),
        (index[:-1, 1:], index[1:, :-1]),
    ]
    return np.concatenate([a.ravel() for a, _ in pairs]), np.concatenate([b.ravel() for _, b in pairs])


def _border_geodesic(flat: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """Shortest path from the border through 8-neighbour edges weighted by cosine distance."""
    return _distance_from_border(np.maximum(_step_distances(flat, grid), 1e-6), grid)  # 0 drops an edge


def _step_distances(flat: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """The cosine distance of unit feature vectors `flat` (gh * gw, C) across each edge of _grid_edges."""
    a, b = _grid_edges(grid)
    return 1.0 - np.sum(flat[a] * flat[b], axis=1)


def _distance_from_border(weights: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """Each position's shortest path from the grid's border, the edges of _grid_edges weighted by `weights`."""
    a, b = _grid_edges(grid)
    count = grid[0] * grid[1]
    graph = scipy.sparse.coo_matrix((weights, (a, b)), shape=(count, count)).tocsr()
    return scipy.sparse.csgraph.dijkstra(graph, directed=False, indices=np.flatnonzero(_border(grid)), min_only=True)


def _border_contrast(flat: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """Cosine distance of each position to the mean border feature."""
    mean = _l2(flat[_border(grid)].mean(axis=0))
    return 1.0 - flat @ mean


def _fiedler(flat: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """The generalised eigenvector of the 2nd-smallest eigenvalue of L = D - W, W = max(0, cos), object > 0."""
    vectors = _spectral_embedding(np.maximum(flat @ flat.T, 0.0), 1)
    vector = vectors[:, 0]
    inside = vector > 0
    border = _border(grid)
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


def _refine(rgb: np.ndarray, soft: np.ndarray) -> np.ndarray:
    """GrabCut seeded by the soft map at REFINE_SIDE pixels on the shorter side, then its largest
    8-connected part at the photo's size; the map's Otsu cut where that part vanishes at a small
    photo's size (a mask is never empty while the map has a cut)."""
    h, w = soft.shape
    scale = REFINE_SIDE / min(h, w)
    size = (max(2, round(h * scale)), max(2, round(w * scale)))
    if size == (h, w):
        return _largest_component(_refine_at_size(rgb, soft))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    mask = _refine_at_size(cv2.resize(rgb, size[::-1], interpolation=interpolation), cv2.resize(soft, size[::-1]))
    mask = cv2.resize(mask.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR) > 0.5
    return _largest_component(mask if mask.any() else soft > _otsu(soft))


def _refine_at_size(rgb: np.ndarray, soft: np.ndarray) -> np.ndarray:
    """GrabCut seeded by the soft map, its largest 8-connected part.

    Outside the bounding box of the Otsu cut's largest part, grown by BOX_GROWTH: definite background.
    Inside it, in three bands: above Otsu's level probable foreground, below BACKGROUND_FRACTION of
    that level definite background, between probable background. (Seeding the box with the two
    probable labels alone scored 0.03 lower mean IoU on benchmarks/masks.py, on both halves; the
    fraction scored the same from 0.2 to 0.7 there, and 0.5 cut off the larger object of the
    synthetic test scenes.)
    """
    level = _otsu(soft)
    cut = soft > level
    if not cut.any():
        return cut
    bands = np.full(soft.shape, cv2.GC_PR_BGD, np.uint8)
    bands[cut] = cv2.GC_PR_FGD
    bands[soft < BACKGROUND_FRACTION * level] = cv2.GC_BGD
    ys, xs = np.nonzero(_largest_component(cut))
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
        return _largest_component(cut)
    mask = (labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)
    return _largest_component(mask if mask.any() else cut)


def _otsu(values: np.ndarray) -> float:
    scaled = np.round(255 * _unit(values)).astype(np.uint8)
    level, _ = cv2.threshold(scaled, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    return float(values.min() + level / 255 * (values.max() - values.min()))


# --- regions and the cartoon -----------------------------------------------------------------


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
    centroids, grid_labels = _kmeans(embedding, regions)
    h, w = rgb.shape[:2]
    up = _resize_channels(embedding.reshape(*grid, -1), (h, w))
    pixel_labels = np.argmin(((up[..., None, :] - centroids) ** 2).sum(-1), axis=-1)
    if len(np.unique(pixel_labels)) < len(np.unique(grid_labels)):  # a thin cluster vanished: nearest position
        pixel_labels = cv2.resize(grid_labels.reshape(grid).astype(np.int32), (w, h), interpolation=cv2.INTER_NEAREST)
    return _by_area(pixel_labels)


def _kmeans(points: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
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
    return np.clip(np.round(flat), 0, 255).astype(np.uint8)


# --- saliency methods --------------------------------------------------------------------------


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


# --- checks and small helpers ----------------------------------------------------------------


def _check_image(image) -> np.ndarray:
    """uint8 RGB `(H, W, 3)` from one image; refuses batches, non-finite values and one colour."""
    batch, single = io.as_batch(image)
    if not single:
        raise KerasvizError(f"segment takes one image (H, W, 3); got shape {np.shape(image)}")
    if batch.shape[1] < 2 or batch.shape[2] < 2:
        raise KerasvizError(f"the image must be at least 2 x 2 pixels; got shape {np.shape(image)}")
    if not np.isfinite(batch).all():
        raise KerasvizError("the image has NaN or infinite values; images are RGB 0-255")
    rgb = np.clip(np.round(batch[0]), 0, 255).astype(np.uint8)
    if (rgb == rgb[0, 0]).all():
        colour = tuple(int(c) for c in rgb[0, 0])
        raise KerasvizError(f"the image is one colour {colour}; nothing stands out to segment")
    return rgb


def _check_regions(regions) -> None:
    if isinstance(regions, bool) or not isinstance(regions, int | np.integer) or not 2 <= regions <= MAX_REGIONS:
        raise KerasvizError(f"regions must be an integer from 2 to {MAX_REGIONS}; got {regions!r}")


def _check_labels(labels) -> np.ndarray:
    array = np.asarray(labels)
    if array.ndim != 2 or array.size == 0 or not np.issubdtype(array.dtype, np.integer) or array.min() < 0:
        raise KerasvizError(f"labels must be a non-negative integer (H, W) map; got {array.dtype} shape {array.shape}")
    return array.astype(np.int64)


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


def _l2(values: np.ndarray) -> np.ndarray:
    return values / np.maximum(np.linalg.norm(values, axis=-1, keepdims=True), 1e-6)


def _unit(values: np.ndarray) -> np.ndarray:
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
