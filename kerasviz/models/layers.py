"""Layers by name or path through nested models, feature models cut from one traced graph, receptive fields
and resolution stages."""

from __future__ import annotations

import collections
import contextlib
import difflib
import math
from collections.abc import Callable, Sequence

import keras
import numpy as np

from kerasviz import backend
from kerasviz.errors import KerasvizError
from kerasviz.models.catalogue import model_cache, model_info
from kerasviz.models.inputs import fixed_input_size, image_input_shape, preprocess_fn

# --- layers of nested models ------------------------------------------------------------------
# A transfer-learning model holds a whole network as one of its layers (Sequential([MobileNetV2, ...])
# or x = base(inputs) in a functional model). The base's layers are connected to the base's own input,
# not to the outer model's, so keras.Model(outer.input, inner_layer.output) is "not connected". kerasviz
# traces the model once more from its input, calling every leaf operation of every nested Functional or
# Sequential model on the outer tensors, and keeps each layer's input and output tensor by its path
# ("base/block_3_expand"); feature models are then cut from that one flat graph. The leaf layers are
# the model's own (shared weights); nothing about the model changes.


# The output activations taken off to reach a classifier's logits: a class is scored before it is squashed
# (Simonyan et al. 2014 maximise the unnormalised score; a sigmoid head is the binary or multi-label form).
SQUASHING = ("softmax", "sigmoid")


def squashes(activation) -> bool:
    """Whether `activation` (a Keras activation function, its name, or None) is one of SQUASHING."""
    name = activation if isinstance(activation, str) else getattr(activation, "__name__", None)
    return name in SQUASHING


def _is_sequential(layer) -> bool:
    return isinstance(layer, keras.Sequential)


def _is_functional(layer) -> bool:
    return isinstance(layer, keras.Model) and not _is_sequential(layer) and hasattr(layer, "_run_through_graph") and (
        hasattr(layer, "_nodes_by_depth"))


def _is_container(layer) -> bool:
    return _is_sequential(layer) or _is_functional(layer)


def layer_paths(model: keras.Model) -> dict[str, keras.layers.Layer]:
    """Every layer of the model tree by its path ("base/block_3_expand"), input to output; a nested
    model comes after its own layers. Nested models' input layers are left out."""
    cache = model_cache(model, "layer_paths")
    if not cache:
        _collect(model, "", cache, top=True)
    return cache


def _collect(model, prefix: str, out: dict, *, top: bool) -> None:
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer) and not top:
            continue
        path = prefix + layer.name
        if _is_container(layer):
            _collect(layer, path + "/", out, top=False)
        out[path] = layer


def resolve_layer(model: keras.Model, name: str) -> str:
    """The path of a layer named by its path or by its plain name when unique in the model tree.

    Raises KerasvizError naming the closest valid layers, or every path of an ambiguous name.
    """
    if not isinstance(name, str):
        raise KerasvizError(f"a layer is named by a string; got {name!r}")
    paths = layer_paths(model)
    if name in paths:
        return name
    matches = [path for path in paths if path.rsplit("/", 1)[-1] == name]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise KerasvizError(
            f"layer name {name!r} is ambiguous in {_model_name(model)}; name one of: {', '.join(matches)}"
        )
    head, _, _ = name.rpartition("/")
    if head and head in paths and not _is_container(paths[head]):
        raise KerasvizError(
            f"layer {head!r} of {_model_name(model)} is a {type(paths[head]).__name__}, not a Functional or Sequential "
            f"model, so kerasviz cannot reach the layers inside it; use {head!r} itself"
        )
    plain = list(dict.fromkeys([*paths, *(p.rsplit("/", 1)[-1] for p in paths)]))
    close = difflib.get_close_matches(name, plain, n=3, cutoff=0.5)
    if close:
        hint = f"closest: {', '.join(close)}"
    else:
        hint = f"valid layers include: {', '.join(conv_layers(model)[:5] or list(paths)[:5])}, ..."
    raise KerasvizError(f"layer {name!r} not in {_model_name(model)}; {hint}")


def get_layer(model: keras.Model, name: str) -> keras.layers.Layer:
    """The layer named by its path or unique plain name (resolve_layer), with a clear error otherwise."""
    return layer_paths(model)[resolve_layer(model, name)]


def conv_layers(model: keras.Model) -> list[str]:
    """Names of the 2-D convolution layers of the whole model tree, input to output: the plain name
    where it is unique, else the path."""
    paths = layer_paths(model)
    counts = collections.Counter(path.rsplit("/", 1)[-1] for path in paths)
    return [
        path.rsplit("/", 1)[-1] if counts[path.rsplit("/", 1)[-1]] == 1 else path
        for path, layer in paths.items()
        if isinstance(layer, keras.layers.Conv2D)
    ]


def last_conv(model: keras.Model) -> str:
    """The name of the model's last 2-D convolution (see conv_layers), or of its last layer if it has none."""
    convs = conv_layers(model)
    return convs[-1] if convs else model.layers[-1].name


def output_names(model: keras.Model) -> list[str]:
    """The names of the model's outputs, in order (what `output=` takes besides an index)."""
    names = list(getattr(model, "output_names", None) or [])
    count = len(model.outputs)
    if len(names) != count:
        names = [t._keras_history.operation.name if hasattr(t, "_keras_history") else str(i)
                 for i, t in enumerate(model.outputs)]
    return names


def resolve_output(model: keras.Model, output: int | str | None) -> int:
    """The index of the chosen output: `output` is its name or index; None for a one-output model."""
    names = output_names(model)
    listing = ", ".join(f"{i}: {n}" for i, n in enumerate(names))
    if output is None:
        if len(names) == 1:
            return 0
        raise KerasvizError(
            f"{_model_name(model)} has {len(names)} outputs ({listing}); choose one with output=NAME or INDEX"
        )
    if isinstance(output, str) and output in names:
        return names.index(output)
    if isinstance(output, int | np.integer) and not isinstance(output, bool) and -len(names) <= output < len(names):
        return int(output) % len(names)
    raise KerasvizError(f"output {output!r} not in {_model_name(model)}; valid outputs: {listing}")


def _trace(model: keras.Model) -> tuple[dict, list]:
    """Traces the model from its own inputs through every nested model: ({path: (input, output)}, outputs).

    Cached on the model; the tensors are symbolic and belong to the flat graph.
    """
    cache = model_cache(model, "trace")
    if cache:
        return cache["taps"], cache["outputs"]
    image_input_shape(model)  # one defined image input, or a clear error
    taps: dict[str, tuple] = {}
    inputs = list(model.inputs)
    for tensor in inputs:
        history = getattr(tensor, "_keras_history", None)
        if history is not None:
            taps[history.operation.name] = (tensor, tensor)
    try:
        outputs = _run(model, inputs[0] if len(inputs) == 1 else inputs, "", taps)
    except KerasvizError:
        raise
    except (ValueError, TypeError, AttributeError, NotImplementedError) as err:
        raise KerasvizError(
            f"cannot trace the layers of {_model_name(model)} ({type(err).__name__}: {str(err).splitlines()[0]}); "
            "kerasviz takes Functional and Sequential models, nested or not"
        ) from None
    flat = [outputs] if not isinstance(outputs, list | tuple | dict) else list(keras.tree.flatten(outputs))
    cache.update(taps=taps, outputs=flat)
    return taps, flat


def _run(model, inputs, prefix: str, taps: dict):
    """Calls the leaf operations of `model` on `inputs`, recording taps; returns its outputs."""
    if _is_sequential(model):
        x = inputs
        for layer in model.layers:
            x = _call(layer, (x,), {}, prefix, taps)
        return x
    if _is_functional(model):
        # Keras' own graph walk (private API), with each operation replaced by _call.
        return model._run_through_graph(inputs, operation_fn=lambda op: _caller(op, prefix, taps))
    raise KerasvizError(
        f"{model.name!r} is a {type(model).__name__} (subclassed) model; kerasviz needs a Functional or Sequential "
        "model to reach its layers (rebuild it with keras.Input and the functional API)"
    )


def _caller(op, prefix: str, taps: dict) -> Callable:
    return lambda *args, **kwargs: _call(op, args, kwargs, prefix, taps)


def _call(op, args: tuple, kwargs: dict, prefix: str, taps: dict):
    """op(*args, **kwargs), a nested model inlined; records taps[path] = (first input, output)."""
    path = prefix + op.name
    if _is_container(op):
        nested = args[0] if len(args) == 1 else list(args)
        out = _run(op, nested, path + "/", taps)
    else:
        out = op(*args, **kwargs)
    taps[path] = (args[0] if args else None, out)
    return out


def feature_model(
    model: keras.Model,
    layers: Sequence[str] = (),
    *,
    output: int | str | None | bool = False,
    layer_inputs: Sequence[str] = (),
) -> keras.Model:
    """A flat functional model from the model's input to the outputs of `layers` (names or paths,
    anywhere in nested models), the inputs of `layer_inputs`, then the model's chosen output.

    Its outputs, in order: one per name in `layers`, one per name in `layer_inputs`, and, unless
    `output` is False, the model output `output` (a name or index; None for a one-output model).
    It has no nested models, so it can be cloned layer by layer; its layers are the model's own.
    """
    paths = [resolve_layer(model, name) for name in layers]
    input_paths = [resolve_layer(model, name) for name in layer_inputs]
    index = None if output is False else resolve_output(model, output)
    key = (tuple(paths), tuple(input_paths), index)
    cache = model_cache(model, "feature_models")
    if key in cache:
        return cache[key]
    taps, outputs = _trace(model)
    missing = [p for p in paths + input_paths if p not in taps]
    if missing:
        raise KerasvizError(
            f"layer {missing[0]!r} of {_model_name(model)} is not on the path from the model's input to its "
            "outputs; name a layer the input reaches"
        )
    tensors = [taps[p][1] for p in paths] + [taps[p][0] for p in input_paths]
    if index is not None:
        tensors.append(outputs[index])
    for path, tensor in zip(paths + input_paths, tensors):
        if isinstance(tensor, list | tuple | dict):
            raise KerasvizError(f"layer {path!r} has several outputs; name a layer with one output")
    cache[key] = keras.Model(model.inputs[0], tensors)
    return cache[key]


@contextlib.contextmanager
def model_errors(model: keras.Model, doing: str):
    """Turns a raw error of Keras or TensorFlow while running `model` into one KerasvizError line that
    names the model, what was being done and what would work; KerasvizError passes as it is."""
    try:
        yield
    except KerasvizError:
        raise
    except (ValueError, TypeError, NotImplementedError, *backend.runtime_errors()) as err:
        lines = [line.strip() for line in str(err).splitlines() if line.strip()]
        errors = [line for line in lines if "error" in line.lower()]
        detail = (errors or lines or [""])[-1]
        raise KerasvizError(
            f"{_model_name(model)} failed while {doing} ({type(err).__name__}: {detail[:300]}); kerasviz takes a "
            "Functional or Sequential model with one image input, at a size it accepts (a larger image or size= "
            "where the input is too small for its strides)"
        ) from None


def num_channels(model: keras.Model, layer: str) -> int:
    """The number of channels (filters) of a layer's output."""
    return int(get_layer(model, layer).output.shape[-1])


def _model_name(model: keras.Model) -> str:
    info = model_info(model)
    return info.name if info else model.name


def receptive_field(model: keras.Model, layer: str, size: int) -> int:
    """The side in input pixels (at most `size`) that one central position of `layer` sees.

    Measured, not looked up, so it holds for any model: the extent of the input gradient of the
    layer's central position (all channels) on a random `size` x `size` picture. Where the layer's
    map has an even side, the two central positions are taken, so the extent may be one stride more.
    """
    fixed = fixed_input_size(model)
    if fixed is not None:  # measured at the model's size, scaled to a `size` picture resized to it
        side = receptive_field_at(model, layer, fixed)
        return min(size, int(round(side * size / min(fixed))))
    return receptive_field_at(model, layer, (size, size))


def receptive_field_at(model: keras.Model, layer: str, shape: tuple[int, int]) -> int:
    """receptive_field on a picture of `shape` (H, W) that the model takes as it is."""
    size = min(shape)
    features = feature_model(model, [layer])
    image = keras.ops.convert_to_tensor(np.random.default_rng(0).uniform(0, 255, (1, *shape, 3)), "float32")
    if len(features.outputs[0].shape) != 4:
        return size
    _, _, grad = backend.value_and_grad(_centre_score, image, features, preprocess_fn(model))
    grad = np.abs(keras.ops.convert_to_numpy(grad)[0]).sum(axis=-1)
    rows, cols = np.nonzero(grad.sum(axis=1))[0], np.nonzero(grad.sum(axis=0))[0]
    if rows.size == 0:
        return size
    return int(max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1)


def _centre_score(image, features: keras.Model, preprocess: Callable) -> tuple:
    """(sum of |the central positions| of `features`' (1, h, w, c) output, ()) for receptive_field_at."""
    out = keras.ops.cast(features(preprocess(image)), "float32")
    h, w = out.shape[1], out.shape[2]
    return keras.ops.sum(keras.ops.abs(out[:, (h - 1) // 2:h // 2 + 1, (w - 1) // 2:w // 2 + 1])), ()


STAGE_PROBE_SIZE = 224  # input side at which conv_stages traces a model whose input size is not fixed


def conv_stages(model: keras.Model) -> list[list[str]]:
    """The model's 2-D convolution layers (conv_layers) in runs of the same stride, input to output.

    A layer's stride is the input side over its output side, to the nearest power of two (so that
    unpadded convolutions, a few pixels smaller, stay in their stage). Shapes are traced symbolically
    (nothing is computed) at the model's fixed input size, or at STAGE_PROBE_SIZE px when it takes any
    size. VGG16 gives its five blocks.
    """
    convs = conv_layers(model)
    if not convs:
        return []
    fixed = tuple(model.inputs[0].shape[1:3])
    height, width = fixed if None not in fixed else (STAGE_PROBE_SIZE, STAGE_PROBE_SIZE)
    probe = feature_model(model, convs)  # reaches layers inside nested models too
    specs = probe.compute_output_spec(keras.KerasTensor((1, height, width, probe.inputs[0].shape[-1])))
    stages: list[list[str]] = []
    previous = None
    for name, spec in zip(convs, specs if isinstance(specs, list | tuple) else [specs], strict=True):
        resolution = round(math.log2(height / max(1, spec.shape[1])))
        if resolution != previous:
            stages.append([])
            previous = resolution
        stages[-1].append(name)
    return stages
