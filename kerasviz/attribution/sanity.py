"""Sanity checks for saliency maps (Adebayo et al. 2018): copies of a model with weights re-drawn."""

from __future__ import annotations

import zlib

import keras
import numpy as np

from kerasviz import models
from kerasviz.errors import KerasvizError
from kerasviz.models.precision import clone


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
