"""saliency(): checks the options against the method, runs it, and gives maps at the input's size.

Every method takes images as people have them (RGB 0-255, uint8 or float, one or a batch),
applies the model's preprocessing inside the differentiated step (so gradients are with respect to the 0-255
RGB input) and returns raw float32 maps `(N, H, W)`, or `(H, W)` for one image. Normalising and
colouring live in kerasviz.io.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping

import keras
import numpy as np

from kerasviz import io, models
from kerasviz.attribution.budget import chunk_size
from kerasviz.attribution.methods import smoothed
from kerasviz.attribution.registry import (
    DEFAULT_PRECISION,
    REGISTRY,
    MethodOptions,
    SmoothingOptions,
    applies_table,
    option_names,
)
from kerasviz.attribution.targets import Scoring, Target, parse_target
from kerasviz.attribution.transformers import HEAD_FUSIONS  # noqa: F401 (registers rollout)
from kerasviz.errors import KerasvizError

# Derived from the registry (kerasviz.attribution.registry; the methods are declared in methods.py and cams.py):
METHODS = tuple(REGISTRY)
PRECISION_METHODS = tuple(m.name for m in REGISTRY.values() if "precision" in option_names(m.options))
SMOOTHING = option_names(SmoothingOptions)  # SmoothGrad's options: for smoothgrad, or any method with smooth=True
APPLIES = applies_table()  # option -> the methods it applies to; an option given to another method is an error


def saliency(
    model: keras.Model,
    images,
    target: Target,
    *,
    method: str = "vanilla",
    smooth: bool = False,
    preprocess: Callable | None = None,
    samples: int | None = None,
    noise: float | None = None,
    steps: int | None = None,
    baseline: float | np.ndarray | None = None,
    layer: str | None = None,
    patch: int | None = None,
    stride: int | None = None,
    seed: int | None = None,
    masks: int | None = None,
    cells: int | None = None,
    probability: float | None = None,
    batch_size: int | None = None,
    precision: str | None = None,
    output: int | str | None = None,
    head_fusion: str | None = None,
    discard: float | None = None,
    weighting: str | None = None,
) -> np.ndarray:
    """Saliency maps of `target` on `images`.

    Args:
      model: a Keras model (Functional or Sequential, with nested models or not); one from
        load_model gets its own preprocessing. Layers are named by path ("base/block_3_expand") or
        by their plain name when unique in the whole model tree.
      images: RGB 0-255, `(N, H, W, 3)` or one `(H, W, 3)` (greyscale and RGBA are converted).
        A model with a fixed input size gets resized copies; maps come back at the input's H, W.
      target: a class index (on logits; a final softmax is removed on a copy of the model),
        "LAYER" (its mean activation), "LAYER:FILTER" (one channel's mean activation), or a
        callable from the model's output tensor to one score per image `(N,)`.
      method: one of METHODS:
        vanilla (Simonyan et al. 2014): max over colour channels of |d score / d pixel|;
        smoothgrad (Smilkov et al. 2017): vanilla with smooth=True: the map of the mean gradient
          over `samples` (default 50) noisy copies, noise std = `noise` (default 0.15) x
          (max - min) of each image, seeded by `seed`;
        integrated_gradients (Sundararajan et al. 2017): attributions summed over colour
          channels, signed, from `baseline` (0-255 value or image, default black) in `steps`
          (default 128) trapezoid steps; the map sums to score(image) - score(baseline);
        guided_backprop (Springenberg et al. 2015): as vanilla, through ReLUs that pass only
          positive gradients, on a copy of the model;
        gradcam (Selvaraju et al. 2017): ReLU of the gradient-weighted channels of `layer`
          (default: the last 4-D output with height and width > 1 before the target; for a layer
          target, the last one before that layer), upsampled;
        occlusion (Zeiler & Fergus 2014): drop of the score when a grey `patch` square
          (moved by `stride` pixels) hides each pixel, averaged over the patches that cover it;
        activation: the mean over channels of `layer` (default: the target layer, else the last
          convolution), upsampled; it ignores a class target.
        rollout (Abnar & Zuidema 2020): the attention of a vision transformer's
          keras.layers.MultiHeadAttention layers rolled out from the patches to the class token, on the
          patch grid, upsampled; heads fused by `head_fusion` (mean, max or min), the `discard` fraction
          of lowest attentions dropped (default 0); it ignores the target (kerasviz.attribution.transformers).
        The CAM family (kerasviz.attribution.cams), on `layer` as gradcam (default as there; it may
        also be a vision transformer's (N, T, C) tokens, whose patch grid is found from T), upsampled:
        gradcam_plus_plus (Chattopadhay et al. 2018): channels weighted by their positive gradients,
          each position by its alpha (closed form with exp(score));
        scorecam (Wang et al. 2020): channels weighted by the scores of the image multiplied by each
          channel's normalised map (the copies batched): their softmax over channels (`weighting`
          "channels", the default) or each copy's class probability ("classes", the authors' code);
        layercam (Jiang et al. 2021): relu of the activations times their positive gradients;
        eigencam (Muhammad & Yeasin 2020): the first principal component of the activations
          (sign: as the mean activation); it ignores the target;
        hirescam (Draelos & Carin 2020): relu of the sum over channels of gradient x activation;
        rise (Petsiuk et al. 2018): the mean of the scores of `masks` (default 1000; the paper's
          4000 for ResNet50 is 4x the forward passes) masked copies, each mask an s x s grid
          (`cells`, default 7) of cells kept with chance `probability` (default 0.5), upsampled
          with a random shift, weighted by the mask; seeded by `seed`.
      smooth: SmoothGrad around vanilla, integrated_gradients, guided_backprop or gradcam (as PAIR
        saliency's GetSmoothedMask): the method's attributions (per colour channel, before they
        become a map) averaged over noisy copies, with `samples`, `noise` and `seed` as above.
      preprocess: RGB 0-255 -> model input; default: the model's own (see models.preprocess_fn).
      batch_size: images per compiled model call; default: as many as fit budget.MEMORY_BUDGET_BYTES.
      precision: compute type of the model for vanilla, smoothgrad and integrated_gradients:
        "float32" (the default), "bfloat16", "float16" (scaled against underflow) or "auto"
        (bfloat16 where the hardware has it, as for filters); inputs, scores and gradients stay
        float32. The other methods run in float32.
      output: for a model with several outputs, the one a class target or a callable reads: its
        name or index.
      Options left None take their defaults; one given to a method it does not apply to (see
      APPLIES) is an error.

    Returns:
      float32 `(N, H, W)`, or `(H, W)` when one image was given.
    """
    given, settings, smoothing = _settings(
        method, smooth, samples=samples, noise=noise, steps=steps, baseline=baseline, layer=layer, patch=patch,
        stride=stride, seed=seed, masks=masks, cells=cells, probability=probability, precision=precision,
        head_fusion=head_fusion, discard=discard, weighting=weighting,
    )  # fmt: skip
    _check_positive(batch_size=batch_size)
    batch, single = io.as_batch(images)
    height, width = batch.shape[1:3]
    batch = _fit_input(model, batch)
    preprocess = models.preprocess_fn(model, preprocess)
    chunk = batch_size or chunk_size(model, batch.shape[1:3])
    target = parse_target(model, target, output=output)
    output = None if isinstance(target, str) else models.resolve_output(model, output)
    scoring = Scoring(model, target, preprocess, output, chunk)

    with models.model_errors(model, f"computing {method} saliency on {batch.shape[1]} x {batch.shape[2]} images"):
        maps = _maps(scoring, batch, REGISTRY[method], settings, smoothing)
    maps = _resize_maps(maps, (height, width))
    return maps[0] if single else maps


def _maps(scoring: Scoring, batch: np.ndarray, method, settings: MethodOptions, smoothing) -> np.ndarray:
    attribute = method.attribute(scoring, **_fields(settings))
    if smoothing is not None:
        group = max(1, scoring.chunk // settings.per_image())
        attributions = smoothed(attribute, batch, group=group, **_fields(smoothing))
    else:
        attributions = attribute(batch)
    maps = method.to_map(attributions) if method.to_map is not None else attributions
    precision = getattr(settings, "precision", DEFAULT_PRECISION)
    if precision != "float32" and not np.all(np.isfinite(maps)):
        raise KerasvizError(f"the {precision} gradients overflowed on these images; use precision='float32'")
    return maps


def _fields(options: MethodOptions) -> dict:
    return {field.name: getattr(options, field.name) for field in dataclasses.fields(options)}


def check_options(method: str, smooth: bool = False, **options) -> dict:
    """Checks a method and its options (None: not given) before any work; returns the given ones,
    with precision resolved. Raises KerasvizError naming what was given and what is valid."""
    return _settings(method, smooth, **options)[0]


def _settings(method: str, smooth: bool = False, **options) -> tuple[dict, MethodOptions, SmoothingOptions | None]:
    """check_options's given options, and the method's options and SmoothGrad's (None: not smoothed) they make."""
    if method not in REGISTRY:
        raise KerasvizError(f"unknown saliency method {method!r}; valid: {', '.join(REGISTRY)}")
    declared = REGISTRY[method]
    smoothable = [m.name for m in REGISTRY.values() if m.smoothable]
    if smooth and not declared.smoothable:
        raise KerasvizError(
            f"smooth=True applies to {', '.join(smoothable)}, not to method={method!r}"
            + (" (it is smoothed vanilla already)" if method == "smoothgrad" else "")
        )
    given = {name: value for name, value in options.items() if value is not None}
    table = applies_table()
    for name in given:
        if name in table and not applies(name, method, smooth):
            extra = " (or any of " + ", ".join(smoothable) + " with smooth=True)" if name in SMOOTHING else ""
            raise KerasvizError(f"{name}= applies to {', '.join(table[name])}{extra}, not to method={method!r}")
    smoothing = None
    if smooth or declared.smoothed:
        smoothing = SmoothingOptions(**{name: given[name] for name in SMOOTHING if name in given})
    own = option_names(declared.options)
    settings = declared.options(**{name: value for name, value in given.items() if name in own})
    checked = {**_fields(settings), **(_fields(smoothing) if smoothing else {})}
    given = {name: checked.get(name, value) for name, value in given.items()}  # precision resolved
    return given, settings, smoothing


def applies(option: str, method: str, smooth: bool = False) -> bool:
    """Whether `option` (a key of APPLIES) applies to `method`, smoothed or not."""
    return method in applies_table().get(option, ()) or (smooth and option in SMOOTHING)


def options_for(method: str, options: Mapping, *, smooth: bool = False) -> dict:
    """The entries of `options` that apply to `method`: one set of settings shared by a loop over
    methods (`saliency(..., method=m, **options_for(m, settings))`)."""
    table = applies_table()
    return {name: value for name, value in options.items() if name not in table or applies(name, method, smooth)}


def _fit_input(model: keras.Model, batch: np.ndarray) -> np.ndarray:
    """Resizes the batch to the model's fixed input size, if it has one (the maps are resized back)."""
    size = models.fixed_input_size(model)
    if size is None or size == batch.shape[1:3]:
        return batch
    return keras.ops.convert_to_numpy(keras.ops.image.resize(batch, size, interpolation="bilinear", antialias=True))


def _resize_maps(maps: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    maps = np.asarray(maps, np.float32)
    if maps.shape[1:3] == tuple(size):
        return maps
    return keras.ops.convert_to_numpy(keras.ops.image.resize(maps[..., None], size, interpolation="bilinear"))[..., 0]


def _check_positive(**values) -> None:
    for name, value in values.items():
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1):
            raise KerasvizError(f"{name} must be a positive integer; got {value!r}")
