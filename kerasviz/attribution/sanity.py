"""Sanity checks for saliency maps (Adebayo et al. 2018): copies of a model with weights re-drawn, and
the cascading randomisation test on them (`randomization`, also kerasviz.metrics.randomization)."""

from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Callable

import keras
import numpy as np
import scipy.stats

from kerasviz import models
from kerasviz.attribution.maps import METHODS, saliency
from kerasviz.attribution.targets import Target
from kerasviz.errors import KerasvizError
from kerasviz.models.precision import clone
from kerasviz.options import Options, option


def randomized_copy(model: keras.Model, layers, *, seed: int = 0) -> keras.Model:
    """A copy of `model` whose `layers` have their weights drawn afresh from their own initialisers.

    The model-parameter randomisation test of Adebayo et al. 2018 ("Sanity checks for saliency
    maps"): a map that stays the same when the weights it should explain are random explains
    nothing. For the cascading test pass the top k layers, e.g.
    `models.conv_layers(model)[::-1][:k]` plus the classifier (or re-draw one more layer of the
    same copy at a time with `redraw_weights`, which keeps its compiled saliency steps). `model`
    itself is not changed; the copy keeps its preprocessing.

    Raises:
      KerasvizError: for a layer name the model lacks, or a weight with no initialiser to redraw it.
    """
    if isinstance(layers, str):
        layers = [layers]
    names = [models.resolve_layer(model, name) for name in layers]
    copy = clone(model, lambda layer, config: config)
    for name in names:
        redraw_weights(models.get_layer(copy, name), seed=seed)
    info = models.model_info(model)
    if info is not None:
        models.set_model_info(copy, info)
    return copy


def redraw_weights(layer: keras.layers.Layer, *, seed: int = 0) -> None:
    """Re-draws `layer`'s weights in place from its own initialisers, seeded per (seed, layer name,
    weight), so the same seed gives the same weights as in `randomized_copy`."""
    fresh = []
    for i, variable in enumerate(layer.weights):
        initializer = _initializer_of(layer, variable)
        config = initializer.get_config()
        if "seed" in config:  # no global random state is touched
            config["seed"] = (seed * 1_000_003 + zlib.crc32(layer.name.encode()) + i) % 2**31
        fresh.append(np.asarray(type(initializer).from_config(config)(tuple(variable.shape), variable.dtype)))
    layer.set_weights(fresh)


def _initializer_of(layer: keras.layers.Layer, variable) -> keras.initializers.Initializer:
    base = variable.path.rsplit("/", 1)[-1].split(":")[0]
    candidates = [f"{base}_initializer", f"{base.removesuffix('_kernel')}_initializer"]
    if base == "kernel":
        candidates.append("depthwise_initializer")  # DepthwiseConv2D names its kernel "kernel"
    for attribute in candidates:
        initializer = getattr(layer, attribute, None)
        if isinstance(initializer, keras.initializers.Initializer):
            return initializer
    raise KerasvizError(f"layer {layer.name!r} has no initialiser for its weight {base!r}; cannot randomise it")


@dataclasses.dataclass(frozen=True)
class RandomizationOptions(Options):
    """The cascading randomisation test's options (Adebayo et al. 2018)."""

    WHAT = "randomization"
    method: str = option("vanilla", "The saliency method whose maps are compared.", choices=METHODS)
    layers: tuple[str, ...] | None = option(
        None,
        "Layers re-drawn one more at a time, in this order (default: every layer with weights, from the output down).",
        kind="list",
    )
    absolute: bool = option(True, "Rank |map| (Adebayo et al. 2018 report both; the overlays show |map|).")
    seed: int = option(0, "Random seed of the re-drawn weights.", low=0)


def randomization(
    model: keras.Model,
    images,
    target: Target,
    *,
    options: RandomizationOptions | None = None,
    preprocess: Callable | None = None,
    output: int | str | None = None,
    saliency_options: dict | None = None,
    **overrides,
) -> dict[str, np.ndarray]:
    """The cascading randomisation test (Adebayo et al. 2018): {layer: float32 `(N,)`}, in the order the
    layers are re-drawn (from the output down), each the Spearman rank correlation between the map of
    `model` and that of a copy whose layers down to this one have weights drawn afresh from their
    initialisers (`redraw_weights`). `model` is not changed. `saliency_options`: the method's own
    (samples=, steps=, ...); `overrides`: method=, layers=, absolute=, seed=."""
    options = RandomizationOptions.create(options, **overrides)
    layers = options.layers or _weighted_layers(model)
    settings = {
        "method": options.method,
        "preprocess": models.preprocess_fn(model, preprocess),
        "output": output,
        **(saliency_options or {}),
    }
    original = np.asarray(saliency(model, images, target, **settings))  # (H, W) for one image
    copy = randomized_copy(model, [], seed=options.seed)
    result = {}
    for layer in layers:
        redraw_weights(models.get_layer(copy, layer), seed=options.seed)
        maps = np.asarray(saliency(copy, images, target, **settings))
        result[layer] = _spearman(original, maps, absolute=options.absolute)
    return result


def _weighted_layers(model: keras.Model) -> list[str]:
    paths = models.layer_paths(model)
    layers = [p for p, layer in paths.items() if layer.weights and not isinstance(layer, keras.Model)]
    if not layers:
        raise KerasvizError(f"{model.name} has no layer with weights to randomise")
    return layers[::-1]


def _spearman(first: np.ndarray, second: np.ndarray, *, absolute: bool) -> np.ndarray:
    """float32 (N,): the Spearman rank correlation of each pair of maps; NaN where one is constant."""
    first, second = (np.abs(m) if absolute else m for m in (first, second))
    first, second = (m.reshape(-1, m.shape[-2] * m.shape[-1]) for m in (first, second))
    return np.array(
        [scipy.stats.spearmanr(a, b).statistic if np.ptp(a) and np.ptp(b) else np.nan for a, b in zip(first, second)],
        np.float32,
    )
