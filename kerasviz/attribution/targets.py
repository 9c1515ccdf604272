"""Targets: what a saliency map explains, and the models that compute that score.

A target is a class index (a logit), "LAYER" (its mean activation), "LAYER:FILTER" (one channel's
mean activation) or a callable from the model's output to one score per image. parse_target checks
it once; a head is the flat model that computes what the target reads, and a scored model turns a
head into fn(model input) -> (scores (N,), *extra layer outputs).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import keras
import numpy as np

from kerasviz import models
from kerasviz.errors import KerasvizError
from kerasviz.models.precision import clone

Target = int | str | Callable  # a callable: the model's output tensor -> one score per image (N,)


@dataclasses.dataclass(frozen=True)
class Scoring:
    """What every method scores with: the model, a target from parse_target, the preprocessing
    (0-255 RGB -> model input, applied inside the differentiated step), the model output a class or callable
    target reads (None for a layer target) and the images per compiled call."""

    model: keras.Model
    target: Target
    preprocess: Callable
    output: int | None
    chunk: int


def parse_target(model: keras.Model, target: Target, *, output: int | str | None = None) -> Target:
    """Checks a target against a model; strings of digits become class indices, layer names become
    paths through nested models ("base/block_3_expand", "base/block_3_expand:7").

    Raises KerasvizError that names what was given and what is valid.
    """
    if callable(target):
        models.resolve_output(model, output)
        return target
    if isinstance(target, bool) or not isinstance(target, int | np.integer | str):
        raise KerasvizError(f"target must be a class index, 'LAYER', 'LAYER:FILTER' or a callable; got {target!r}")
    if isinstance(target, str) and target.strip().lstrip("-").isdigit():
        target = int(target)
    if isinstance(target, int | np.integer):
        models.image_input_shape(model)  # one image input, or a clear error
        chosen = model.outputs[models.resolve_output(model, output)].shape
        if len(chosen) != 2:
            raise KerasvizError(
                f"class target {target} needs a classifier, but {model.name}'s output has shape "
                f"{tuple(chosen)}; use a layer target such as {example_layer(model)!r}"
            )
        if not 0 <= int(target) < chosen[-1]:
            raise KerasvizError(f"class {target} out of range: valid classes are 0-{chosen[-1] - 1}")
        return int(target)
    name, _, channel = target.rpartition(":") if target.rpartition(":")[2].strip().isdigit() else (target, "", "")
    path = models.resolve_layer(model, name.strip())
    if channel:
        count = int(models.feature_model(model, [path]).outputs[0].shape[-1])
        if not 0 <= int(channel) < count:
            raise KerasvizError(f"filter {channel!r} of layer {name!r} out of range: valid filters are 0-{count - 1}")
        return f"{path}:{int(channel)}"
    if ":" in target:
        raise KerasvizError(f"target {target!r}: the filter after ':' must be an index, as in 'LAYER:7'")
    return path


def layer_of(target: str) -> str:
    """The layer path of a parsed layer target ("base/conv:7" -> "base/conv")."""
    return target.rpartition(":")[0] if ":" in target else target


def head(model: keras.Model, target: Target, extra: list | None = None, output: int | None = None) -> keras.Model:
    """A flat model (no nested models) whose outputs are [what the target reads, *extra layers]:
    the chosen model output for a class or callable target, the target layer for a layer target."""
    extra = list(extra or [])
    if isinstance(target, str):
        return models.feature_model(model, [layer_of(target), *extra])
    flat = models.feature_model(model, extra, output=output)
    return keras.Model(flat.inputs[0], [flat.outputs[-1], *flat.outputs[:-1]])


def logits_head(model: keras.Model, target: Target, extra: list | None = None, output: int | None = None):
    """head(), ending in logits for a class target (see logits_model), and whether that is a copy
    of the model's layers (see copies_for) rather than the layers themselves."""
    net = head(model, target, extra, output)
    return (logits_model(net), copies_for(net, target)) if isinstance(target, int) else (net, False)


def scored_model(head: keras.Model, target: Target) -> Callable:
    """target and a `head` model -> fn(model input) -> (scores (N,), *extra layer outputs)."""
    if isinstance(target, int):
        index = target
        return _with_score(head, lambda out: out[:, index])
    if callable(target):
        return _with_score(head, target)
    if ":" in target:
        index = int(target.rpartition(":")[2])
        return _with_score(head, lambda out: keras.ops.mean(out[..., index], axis=_spatial_axes(out)))
    return _with_score(head, lambda out: keras.ops.mean(out, axis=list(range(1, len(out.shape)))))


def _spatial_axes(tensor) -> list[int]:
    return list(range(1, len(tensor.shape) - 1))


def _with_score(head: keras.Model, score_fn: Callable) -> Callable:
    def scored(x) -> tuple:
        outs = head(x, training=False)
        outs = outs if isinstance(outs, list | tuple) else [outs]
        score = keras.ops.reshape(score_fn(keras.ops.cast(outs[0], "float32")), [-1])  # reduced in float32 always
        return (score, *outs[1:])

    return scored


def output_op(head: keras.Model):
    """The operation that computes the head's first output, and the input tensor of that call."""
    history = head.outputs[0]._keras_history
    node = history.operation._inbound_nodes[history.node_index]
    inputs = node.input_tensors
    return history.operation, (inputs[0] if inputs else None)


def logits_model(head: keras.Model) -> keras.Model:
    """The head, or a copy that ends in logits where its first output is squashed (models.squashes: a softmax
    or a sigmoid, as its own layer or fused into the last one)."""
    last, last_input = output_op(head)
    if isinstance(last, keras.layers.Softmax) or (
        isinstance(last, keras.layers.Activation) and models.squashes(last.activation)
    ):
        return keras.Model(head.inputs[0], [last_input, *head.outputs[1:]])
    if models.squashes(getattr(last, "activation", None)):
        return clone(head, lambda layer, config: _linear_if(layer is last, config))
    return head


def copies_for(head: keras.Model, target: Target) -> bool:
    """Whether scoring `target` needs logits_model's copy (a class target, a squashing fused in the last layer)."""
    if not isinstance(target, int):
        return False
    last, _ = output_op(head)
    fused = not isinstance(last, keras.layers.Softmax | keras.layers.Activation)
    return fused and models.squashes(getattr(last, "activation", None))


def _linear_if(condition: bool, config: dict) -> dict:
    if condition:
        config["activation"] = "linear"
    return config


def last_spatial_layer(model: keras.Model, target: Target) -> str:
    """The last layer whose output is 4-D with height and width > 1, before a layer target.

    Layers are taken input to output through nested models, a nested model after its own layers (so
    a transfer-learning model's base output comes first). For a layer target, the layers before it
    come first (Grad-CAM of a layer's own mean activation would only repeat the activation map); the
    target layer itself is the fallback.
    """
    paths = models.layer_paths(model)
    names = list(paths)
    stop = names.index(layer_of(target)) if isinstance(target, str) else len(names)
    for name in [*reversed(names[:stop]), *names[stop : stop + 1]]:
        layer = paths[name]
        shape = output_shape(layer)
        if (
            shape is not None
            and len(shape) == 4
            and not isinstance(layer, keras.layers.InputLayer)
            and all(d is None or d > 1 for d in shape[1:3])
        ):
            return name
    raise KerasvizError(
        f"{model.name} has no 4-D layer output with height and width > 1 for Grad-CAM; "
        "pass layer= or use another method"
    )


def example_layer(model: keras.Model) -> str:
    convs = models.conv_layers(model)
    return convs[-1] if convs else model.layers[-1].name


def output_shape(layer) -> tuple | None:
    """A layer's static output shape, or None for a layer used more than once (it has no single output)."""
    try:
        return tuple(layer.output.shape)
    except (AttributeError, ValueError):
        return None
