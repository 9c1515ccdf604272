"""The batching budget: how many images go through one compiled call, and running a step in chunks.

SmoothGrad samples, integrated-gradient steps and occlusion patches go through the model as
batches of this size; nothing calls the model per sample.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import keras
import numpy as np

from kerasviz import models
from kerasviz.attribution.targets import output_shape

MEMORY_BUDGET_BYTES = 1 << 30  # per compiled batch: activations and their gradients
_BYTES_PER_ACTIVATION = 4 * 3  # float32, forward value + gradient + slack for the backward pass


def chunk_size(model: keras.Model, size: tuple[int, int], budget: int = MEMORY_BUDGET_BYTES) -> int:
    """How many images of `size` fit one compiled call within `budget` bytes of activations."""
    floats = 0
    for layer in _leaf_layers(model):
        shape = output_shape(layer)
        if shape is None:
            continue
        dims = list(shape[1:])
        if len(dims) == 3 and None in dims[:2]:
            scale = _downsampling(model, layer)
            dims[:2] = [math.ceil(s / scale) for s in size]
        floats += math.prod(d or 1 for d in dims)
    return max(1, budget // max(1, floats * _BYTES_PER_ACTIVATION))


def _downsampling(model: keras.Model, layer) -> int:
    """A layer's spatial stride relative to the input, from its channel count's stage (a guess).

    For fully convolutional models (unknown H, W) the exact factor is not in the static shapes;
    counting strided and pooling layers up to `layer` gives it for plain chains like VGG.
    """
    factor = 1
    for other in _leaf_layers(model):
        strides = getattr(other, "strides", None) or getattr(other, "pool_size", None)
        if strides is not None and not isinstance(other, keras.layers.InputLayer):
            factor *= int(np.atleast_1d(strides)[0])
        if other is layer:
            break
    return factor


def _leaf_layers(model: keras.Model) -> list:
    """The layers of the model tree that are not themselves models, input to output."""
    return [layer for layer in models.layer_paths(model).values() if not isinstance(layer, keras.Model)]


def run_chunked(step: Callable, inputs, chunk: int, count: int | None = None) -> list[np.ndarray]:
    """Runs `step` over `inputs` (an array, or fn(start, stop) -> array) in chunks; concatenates."""
    total = len(inputs) if count is None else count
    outs: list[list[np.ndarray]] = []
    for start in range(0, total, chunk):
        stop = min(start + chunk, total)
        x = inputs(start, stop) if callable(inputs) else inputs[start:stop]
        outs.append([keras.ops.convert_to_numpy(t) for t in step(keras.ops.convert_to_tensor(x, "float32"))])
    return [np.concatenate(parts) for parts in zip(*outs, strict=True)]
