"""The attribution methods, one factory each: `method(scoring, **options) -> attribute`.

`attribute(batch)` takes 0-255 RGB `(N, H, W, 3)` float32 and returns the method's attributions:
per colour channel `(N, H, W, 3)` for the input-gradient methods (reduced to a map by TO_MAP), a
map `(N, h, w)` for the others (at the layer's resolution for gradcam and activation). The compiled
step is built when the factory is called, so one attribute runs many batches (SmoothGrad's noisy
copies) on one trace. `smoothed` wraps any of them, as PAIR saliency's GetSmoothedMask does.
"""

from __future__ import annotations

from collections.abc import Iterator

import keras
import numpy as np

from kerasviz import models
from kerasviz.attribution import cams
from kerasviz.attribution.budget import run_chunked
from kerasviz.attribution.compiled import compile_images_step, compiled, gradient_step, score_step
from kerasviz.attribution.registry import (
    IG_BASELINE,
    IG_STEPS,
    REGISTRY,
    SMOOTHGRAD_NOISE,
    SMOOTHGRAD_SAMPLES,
    ActivationOptions,
    Attribute,
    EigenCamOptions,
    GradCamOptions,
    GradCamPlusPlusOptions,
    GradientOptions,
    HiResCamOptions,
    IntegratedGradientsOptions,
    LayerCamOptions,
    Method,
    OcclusionOptions,
    RiseOptions,
    ScoreCamOptions,
    register,
)
from kerasviz.attribution.targets import (
    Scoring,
    example_layer,
    layer_of,
)
from kerasviz.errors import KerasvizError

OCCLUSION_FRACTION = 1 / 7  # Zeiler & Fergus 2014, Fig. 7: a grey square ~1/7 of the image side
OCCLUSION_FILL = 127.5  # grey, in 0-255 RGB



def vanilla(scoring: Scoring, *, precision: str = "float32") -> Attribute:
    """Simonyan et al. 2014: d score / d pixel, `(N, H, W, 3)`."""
    step = gradient_step(scoring, guided=False, precision=precision)
    return lambda batch: run_chunked(step, batch, scoring.chunk)[1]


def guided_backprop(scoring: Scoring) -> Attribute:
    """Springenberg et al. 2015: d score / d pixel through ReLUs that pass only positive gradients,
    on a copy of the model, `(N, H, W, 3)`."""
    step = gradient_step(scoring, guided=True)
    return lambda batch: run_chunked(step, batch, scoring.chunk)[1]


def integrated_gradients(
    scoring: Scoring, *, steps: int = IG_STEPS, baseline: float | np.ndarray = IG_BASELINE, precision: str = "float32"
) -> Attribute:
    """Sundararajan et al. 2017: (image - baseline) x the mean gradient on the straight path from
    `baseline` (a 0-255 value or image) in `steps` trapezoid steps, `(N, H, W, 3)`; summed over
    everything it is score(image) - score(baseline)."""
    step = gradient_step(scoring, guided=False, precision=precision)
    alphas = np.linspace(0.0, 1.0, steps + 1, dtype=np.float32)
    weights = np.full(steps + 1, 1.0 / steps, np.float32)  # trapezoid rule
    weights[[0, -1]] *= 0.5

    def attribute(batch: np.ndarray) -> np.ndarray:
        n = len(batch)
        base = _baseline(baseline, batch.shape)

        def path(start: int, stop: int) -> np.ndarray:
            index = np.arange(start, stop)
            image, k = index // (steps + 1), index % (steps + 1)
            a = alphas[k][:, None, None, None]
            return base[image] + a * (batch[image] - base[image])

        grads = run_chunked(step, path, scoring.chunk, count=n * (steps + 1))[1]
        mean_grad = np.einsum("nkhwc,k->nhwc", grads.reshape(n, steps + 1, *batch.shape[1:]), weights)
        return (batch - base) * mean_grad

    return attribute


def _baseline(baseline, shape: tuple) -> np.ndarray:
    try:
        base = np.broadcast_to(np.asarray(baseline, np.float32), shape)
    except ValueError:
        raise KerasvizError(
            f"baseline must be a 0-255 value or an image of shape {shape[1:]}; got shape {np.shape(baseline)}"
        ) from None
    return np.ascontiguousarray(base)


def occlusion(scoring: Scoring, *, patch: int | None = None, stride: int | None = None) -> Attribute:
    """Zeiler & Fergus 2014: the drop of the score when a grey `patch` square (default: 1/7 of the
    shorter side, moved by `stride`, default half the patch) hides each pixel, averaged over the
    patches that cover it, `(N, H, W)`."""
    step = score_step(scoring)

    def attribute(batch: np.ndarray) -> np.ndarray:
        n, h, w = batch.shape[:3]
        side = patch or max(1, round(min(h, w) * OCCLUSION_FRACTION))
        shift = stride or max(1, side // 2)
        corners = [(y, x) for y in _starts(h, side, shift) for x in _starts(w, side, shift)]
        base = run_chunked(step, batch, scoring.chunk)[0]  # (N,)

        def occluded(start: int, stop: int) -> np.ndarray:
            index = np.arange(start, stop)
            out = batch[index // len(corners)].copy()
            for i, k in enumerate(index % len(corners)):
                y, x = corners[k]
                out[i, y : y + side, x : x + side] = OCCLUSION_FILL
            return out

        scores = run_chunked(step, occluded, scoring.chunk, count=n * len(corners))[0].reshape(n, len(corners))
        total = np.zeros((n, h, w), np.float32)
        cover = np.zeros((h, w), np.float32)
        for k, (y, x) in enumerate(corners):
            total[:, y : y + side, x : x + side] += (base - scores[:, k])[:, None, None]
            cover[y : y + side, x : x + side] += 1
        return total / np.maximum(cover, 1)

    return attribute


def _starts(size: int, patch: int, stride: int) -> list[int]:
    starts = list(range(0, max(size - patch, 0) + 1, stride))
    if starts[-1] + patch < size:
        starts.append(size - patch)
    return starts


def activation(scoring: Scoring, *, layer: str | None = None) -> Attribute:
    """The mean over channels of `layer` (default: the target layer, else the last convolution),
    `(N, h, w)` at that layer's resolution; it ignores a class target."""
    model, target, preprocess = scoring.model, scoring.target, scoring.preprocess
    if layer is None:
        layer = layer_of(target) if isinstance(target, str) else example_layer(model)
    layer = models.resolve_layer(model, layer)
    if len(models.feature_model(model, [layer]).outputs[0].shape) != 4:
        raise KerasvizError(f"the activation map needs a layer with a spatial (N, H, W, C) output; {layer!r} has none")

    def build():
        features = models.feature_model(model, [layer])

        def step(x):
            return (keras.ops.mean(features(preprocess(x), training=False), axis=-1),)

        return compile_images_step(step, [features])

    step = compiled(model, ("activation", layer, preprocess), build, on_copy=False)
    return lambda batch: run_chunked(step, batch, scoring.chunk)[0]


# --- SmoothGrad around any of them, and the maps they give ------------------------------------


def smoothed(
    attribute: Attribute,
    batch: np.ndarray,
    *,
    samples: int = SMOOTHGRAD_SAMPLES,
    noise: float = SMOOTHGRAD_NOISE,
    seed: int = 0,
    group: int,
) -> np.ndarray:
    """SmoothGrad (Smilkov et al. 2017) around any method: the mean of `attribute` over the
    `samples` noisy copies of each image that noisy_copies makes, `group` copies per call of
    `attribute` (what fits one compiled call). Shape: as `attribute` gives for `batch`."""
    out = np.concatenate(list(map(attribute, noisy_copies(batch, samples, noise, seed, group=group))))
    return out.reshape(len(batch), samples, *out.shape[1:]).mean(axis=1)


def noisy_copies(
    batch: np.ndarray, samples: int, noise: float, seed: int, *, group: int | None = None
) -> Iterator[np.ndarray]:
    """The `samples` noisy copies of each image, image 0's first: Gaussian noise of std `noise` x
    (max - min) of that image, seeded by `seed`; yields `group` copies at a time (default: all)."""
    total = len(batch) * samples
    sigma = noise * (batch.max(axis=(1, 2, 3)) - batch.min(axis=(1, 2, 3)))  # (N,)
    rng = np.random.default_rng(seed)
    for start in range(0, total, group or total):
        stop = min(start + (group or total), total)
        index = np.arange(start, stop) // samples
        jitter = rng.standard_normal((stop - start, *batch.shape[1:]), dtype=np.float32)
        yield batch[index] + jitter * sigma[index, None, None, None].astype(np.float32)


def max_abs(attributions: np.ndarray) -> np.ndarray:
    """The map of a gradient: the largest |value| over colour channels (Simonyan et al. 2014)."""
    return np.abs(attributions).max(axis=-1).astype(np.float32)


def channel_sum(attributions: np.ndarray) -> np.ndarray:
    """The map of integrated gradients: signed, summed over colour channels (completeness holds)."""
    return attributions.sum(axis=-1).astype(np.float32)


# --- the registry: each method once, in the order of METHODS ----------------------------------

register(Method("vanilla", vanilla, GradientOptions, to_map=max_abs, smoothable=True))
register(Method("smoothgrad", vanilla, GradientOptions, to_map=max_abs, smoothed=True))  # vanilla, smoothed
register(Method("integrated_gradients", integrated_gradients, IntegratedGradientsOptions, to_map=channel_sum,
                smoothable=True))  # fmt: skip
register(Method("guided_backprop", guided_backprop, to_map=max_abs, smoothable=True))
register(Method("gradcam", cams.gradcam, GradCamOptions, smoothable=True))
register(Method("occlusion", occlusion, OcclusionOptions))
register(Method("activation", activation, ActivationOptions))
register(Method("gradcam_plus_plus", cams.gradcam_plus_plus, GradCamPlusPlusOptions))
register(Method("scorecam", cams.scorecam, ScoreCamOptions))
register(Method("layercam", cams.layercam, LayerCamOptions))
register(Method("eigencam", cams.eigencam, EigenCamOptions))
register(Method("hirescam", cams.hirescam, HiResCamOptions))
register(Method("rise", cams.rise, RiseOptions))

# The built-in methods' tables, derived from the registry (a method registered later is in REGISTRY only).
ATTRIBUTIONS = {m.name: m.attribute for m in REGISTRY.values() if not m.smoothed}
TO_MAP = {m.name: m.to_map for m in REGISTRY.values() if m.to_map is not None and not m.smoothed}  # others: maps
SMOOTHABLE = tuple(m.name for m in REGISTRY.values() if m.smoothable)  # the gradient methods
