"""The CAM family and RISE: maps from a layer's channels, or from the scores of masked copies of the image.

Each is one factory `method(scoring, **options) -> attribute`, as in kerasviz.attribution.methods, and
one registration at the end (after methods' own, so METHODS lists them last). The CAMs give `(N, h, w)`
at the layer's resolution (saliency() resizes them bilinearly to the image, as it does Grad-CAM's);
a layer may give `(N, h, w, C)` or the `(N, T, C)` tokens of a vision transformer, whose patch grid
kerasviz.attribution.tokens finds. The backend parts are the compiled steps of kerasviz.attribution.compiled: the
gradient CAMs share one (scores, A, d score / dA) step and do their maths in NumPy on what it returns.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
import numpy as np

from kerasviz import models
from kerasviz.attribution.budget import run_chunked
from kerasviz.attribution.compiled import layer_gradient_step, layer_step, score_step
from kerasviz.attribution.registry import (
    RISE_CELLS,
    RISE_MASKS,
    RISE_PROBABILITY,
    Attribute,
)
from kerasviz.attribution.targets import Scoring, last_spatial_layer
from kerasviz.attribution.tokens import as_grid, token_grid
from kerasviz.errors import KerasvizError

# --- layers: spatial maps or tokens ----------------------------------------------------------


def cam_layer(scoring: Scoring, layer: str | None) -> str:
    """The path of `layer` (default: last_spatial_layer), checked to give `(N, h, w, C)` or `(N, T, C)`
    tokens that fit a patch grid of a fixed-size input."""
    model = scoring.model
    layer = models.resolve_layer(model, layer or last_spatial_layer(model, scoring.target))
    shape = tuple(models.feature_model(model, [layer]).outputs[0].shape)
    if len(shape) not in (3, 4):
        raise KerasvizError(f"a CAM needs a layer with a (N, H, W, C) or (N, T, C) output; {layer!r} gives {shape}")
    size = models.fixed_input_size(model)
    if len(shape) == 3 and size is not None:
        token_grid(shape[1], size, f"layer {layer!r}")  # before any work
    return layer


def _resize(maps: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """`(B, h, w)` -> `(B, H, W)` float32, bilinear (as saliency() resizes a CAM to the image)."""
    resized = keras.ops.image.resize(maps[..., None].astype(np.float32), tuple(size), interpolation="bilinear")
    return keras.ops.convert_to_numpy(resized)[..., 0]


def _relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0)


# --- the gradient CAMs: one compiled step, the maths on its arrays -----------------------------


def _gradient_cam(scoring: Scoring, layer: str | None, cam: Callable[[np.ndarray, np.ndarray], np.ndarray]):
    """An attribute giving `cam(A, g)` (both `(N, h, w, C)` float64; the map `(N, h, w)`) of `layer`'s output A
    and the gradient g of the score with respect to it."""
    step = layer_gradient_step(scoring, cam_layer(scoring, layer))

    def attribute(batch: np.ndarray) -> np.ndarray:
        _, features, grads = run_chunked(step, batch, scoring.chunk)
        size = batch.shape[1:3]
        grid = lambda x: as_grid(x, size).astype(np.float64)
        return cam(grid(features), grid(grads)).astype(np.float32)

    return attribute


def gradcam_map(features: np.ndarray, grads: np.ndarray) -> np.ndarray:
    """Selvaraju et al. 2017, eq. 1-2: relu(sum_k alpha_k A_k), alpha_k the mean over positions of g_k."""
    return _relu((grads.mean(axis=(1, 2), keepdims=True) * features).sum(axis=-1))


def plus_plus_map(features: np.ndarray, grads: np.ndarray) -> np.ndarray:
    """Chattopadhay et al. 2018, eq. 19 with Y = exp(score): alpha = g^2 / (2 g^2 + sum_ab A g^3) (0 where the
    denominator is), w_k = sum_ab alpha relu(g) (the paper's relu(dY/dA) up to the factor exp(score) > 0 of
    each image), the map relu(sum_k w_k A_k)."""
    g2, g3 = grads**2, grads**3
    denominator = 2 * g2 + features.sum(axis=(1, 2), keepdims=True) * g3
    alpha = np.divide(g2, denominator, out=np.zeros_like(g2), where=denominator != 0)
    weights = (alpha * _relu(grads)).sum(axis=(1, 2), keepdims=True)
    return _relu((weights * features).sum(axis=-1))


def layercam_map(features: np.ndarray, grads: np.ndarray) -> np.ndarray:
    """Jiang et al. 2021, eq. 5-6: relu(sum_k relu(g_k) A_k), each position weighted by its own gradient."""
    return _relu((_relu(grads) * features).sum(axis=-1))


def hirescam_map(features: np.ndarray, grads: np.ndarray) -> np.ndarray:
    """Draelos & Carin 2020: relu(sum_k g_k A_k), the gradient x activation of each position, not pooled."""
    return _relu((grads * features).sum(axis=-1))


def gradcam(scoring: Scoring, *, layer: str | None = None) -> Attribute:
    """Selvaraju et al. 2017: relu of the channels of `layer` (default: see last_spatial_layer) weighted by
    their mean gradients (see gradcam_map), `(N, h, w)` at the layer's resolution."""
    return _gradient_cam(scoring, layer, gradcam_map)


def gradcam_plus_plus(scoring: Scoring, *, layer: str | None = None) -> Attribute:
    """Chattopadhay et al. 2018: Grad-CAM with each channel weighted by its positive gradients, each position
    by alpha (see plus_plus_map), `(N, h, w)` at the layer's resolution."""
    return _gradient_cam(scoring, layer, plus_plus_map)


def layercam(scoring: Scoring, *, layer: str | None = None) -> Attribute:
    """Jiang et al. 2021: relu of the activations weighted position by position by their positive gradients
    (see layercam_map), `(N, h, w)` at the layer's resolution."""
    return _gradient_cam(scoring, layer, layercam_map)


def hirescam(scoring: Scoring, *, layer: str | None = None) -> Attribute:
    """Draelos & Carin 2020: relu of the sum over channels of gradient x activation (see hirescam_map),
    `(N, h, w)` at the layer's resolution."""
    return _gradient_cam(scoring, layer, hirescam_map)


# --- Eigen-CAM: no gradient, no target --------------------------------------------------------


def first_component(features: np.ndarray) -> np.ndarray:
    """`(h, w, C)` -> `(h, w)`: each position's projection on the first principal component of the positions'
    C-vectors (centred, as pytorch-grad-cam does; Muhammad & Yeasin 2020 take the SVD of the raw activations),
    signed so that it correlates positively with the mean activation over channels."""
    h, w, channels = features.shape
    vectors = features.reshape(h * w, channels).astype(np.float64)
    centred = vectors - vectors.mean(axis=0)
    _, _, components = np.linalg.svd(centred, full_matrices=False)
    projection = centred @ components[0]
    mean = vectors.mean(axis=1)
    if projection @ (mean - mean.mean()) < 0:
        projection = -projection
    return projection.reshape(h, w)


def eigencam(scoring: Scoring, *, layer: str | None = None) -> Attribute:
    """Muhammad & Yeasin 2020: the first principal component of `layer`'s activations (see first_component),
    `(N, h, w)` at the layer's resolution; it ignores the target (which only picks the default layer)."""
    step = layer_step(scoring, cam_layer(scoring, layer))

    def attribute(batch: np.ndarray) -> np.ndarray:
        features = as_grid(run_chunked(step, batch, scoring.chunk)[0], batch.shape[1:3])
        return np.stack([first_component(a) for a in features]).astype(np.float32)

    return attribute


# --- the masking methods: masked copies through the model, batched ----------------------------


def normalised_masks(channels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Wang et al. 2020, eq. 3: `(B, h, w)` activation maps upsampled to `(B, H, W)`, then min-max scaled to
    0-1 each (a constant map: 0)."""
    masks = _resize(channels, size)
    low = masks.min(axis=(1, 2), keepdims=True)
    span = masks.max(axis=(1, 2), keepdims=True) - low
    return np.divide(masks - low, span, out=np.zeros_like(masks), where=span > 0)


def scorecam(scoring: Scoring, *, layer: str | None = None, weighting: str = "channels") -> Attribute:
    """Wang et al. 2020: relu(sum_k w_k A_k) from the target's scores on the image multiplied by each channel's
    normalised map (normalised_masks). `weighting` "channels": w the softmax over channels of those scores
    (a class's logit), pytorch-grad-cam's reading of their Algorithm 1, which works for every target;
    "classes": w each copy's softmax probability of the class, as the authors' code and tf-keras-vis weight.
    The N x C masked copies go through the model in batches of the memory budget. `(N, h, w)` at the layer's
    resolution."""
    layer = cam_layer(scoring, layer)
    by_class = weighting == "classes"
    if by_class and not isinstance(scoring.target, int):
        raise KerasvizError(f"scorecam's weighting='classes' needs a class target; got {scoring.target!r}: use "
                            "weighting='channels'")
    features_step, step = layer_step(scoring, layer), score_step(scoring, probability=by_class)

    def attribute(batch: np.ndarray) -> np.ndarray:
        n, size = len(batch), batch.shape[1:3]
        features = as_grid(run_chunked(features_step, batch, scoring.chunk)[0], size).astype(np.float64)
        channels = features.shape[-1]

        def masked(start: int, stop: int) -> np.ndarray:
            index = np.arange(start, stop)
            image, k = index // channels, index % channels
            return batch[image] * normalised_masks(features[image, :, :, k], size)[..., None]

        scores = run_chunked(step, masked, scoring.chunk, count=n * channels)[0].reshape(n, channels)
        weights = scores.astype(np.float64)
        if not by_class:
            weights = np.exp(scores - scores.max(axis=1, keepdims=True), dtype=np.float64)
            weights /= weights.sum(axis=1, keepdims=True)
        return _relu(np.einsum("nhwc,nc->nhw", features, weights)).astype(np.float32)

    return attribute


def rise_masks(grids: np.ndarray, shifts: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Petsiuk et al. 2018, §3.2: each `(s, s)` binary grid of `grids` `(B, s, s)` upsampled bilinearly to
    (s + 1) cells of ceil(H / s) x ceil(W / s) pixels a side, then cropped to H x W at its `shifts` row
    `(dy, dx)`: `(B, H, W)` float32 in 0-1."""
    (height, width), cells = size, grids.shape[1]
    upsampled = _resize(grids, ((cells + 1) * -(-height // cells), (cells + 1) * -(-width // cells)))
    return np.stack([m[y : y + height, x : x + width] for m, (y, x) in zip(upsampled, shifts, strict=True)])


def rise_draws(masks: int, cells: int, probability: float, seed: int, size: tuple[int, int]):
    """The `masks` grids `(masks, cells, cells)` (1 with chance `probability`) and shifts `(masks, 2)`, each
    uniform in 0..cell size - 1 (Petsiuk et al. 2018, §3.2), seeded by `seed`."""
    rng = np.random.default_rng(seed)
    grids = (rng.random((masks, cells, cells)) < probability).astype(np.float32)
    cell = [-(-side // cells) for side in size]
    shifts = np.stack([rng.integers(0, cell[0], masks), rng.integers(0, cell[1], masks)], axis=1)
    return grids, shifts


def rise(
    scoring: Scoring,
    *,
    masks: int = RISE_MASKS,
    cells: int = RISE_CELLS,
    probability: float = RISE_PROBABILITY,
    seed: int = 0,
) -> Attribute:
    """Petsiuk et al. 2018, eq. 6: sum_i score(I * M_i) M_i / (masks * probability) over `masks` random masks
    (rise_masks, rise_draws: the same masks for every image, fixed by `seed`), with the target's own score (a
    class's logit); the masked copies go through the model in batches of the memory budget. `(N, H, W)`."""
    step = score_step(scoring)

    def attribute(batch: np.ndarray) -> np.ndarray:
        n, size = len(batch), batch.shape[1:3]
        grids, shifts = rise_draws(masks, cells, probability, seed, size)

        def masked(start: int, stop: int) -> np.ndarray:
            index = np.arange(start, stop)
            k = index % masks
            return batch[index // masks] * rise_masks(grids[k], shifts[k], size)[..., None]

        scores = run_chunked(step, masked, scoring.chunk, count=n * masks)[0].reshape(n, masks).astype(np.float64)
        total = np.zeros((n, *size), np.float64)
        for start in range(0, masks, scoring.chunk):
            k = slice(start, min(start + scoring.chunk, masks))
            total += np.einsum("nk,khw->nhw", scores[:, k], rise_masks(grids[k], shifts[k], size))
        return (total / (masks * probability)).astype(np.float32)

    return attribute
