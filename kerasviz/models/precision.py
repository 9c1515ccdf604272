"""Compute precision: which float type suits this machine, and copies of a model that compute in it.

Filter pictures, saliency maps and style transfer all run a model in float32, bfloat16 or float16;
this module chooses ("auto") and makes the copies. Inputs, losses and gradients stay float32 in
the callers: only the layers' compute type changes.
"""

from __future__ import annotations

from collections.abc import Callable

import keras

from kerasviz import backend
from kerasviz.errors import KerasvizError

PRECISIONS = ("auto", "float32", "bfloat16", "float16")


FLOAT16_LOSS_SCALE = 1024.0  # float16 gradients underflow without it (mixed-precision loss scaling)


def loss_scale(precision: str) -> float:
    """What a loss is multiplied by before differentiation in `precision` (and the gradient divided by after)."""
    return FLOAT16_LOSS_SCALE if precision == "float16" else 1.0


def accelerator() -> str | None:
    """"TPU" or "GPU" when the Keras backend runs on one, else None (CPU only)."""
    return backend.accelerator()[0]


def cpu_has_bf16() -> bool:
    """Whether the CPU computes bfloat16 natively (AVX512-BF16 or AMX), from /proc/cpuinfo."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_precision(precision: str) -> str:
    """'auto' -> the fastest compute type that keeps quality on this machine: on a CPU, bfloat16 where the CPU
    has it and the backend's convolutions run faster in it (TensorFlow and PyTorch; not JAX), else float32."""
    if precision not in PRECISIONS:
        raise KerasvizError(f"unknown precision {precision!r}; valid: {', '.join(PRECISIONS)}")
    if precision != "auto":
        return precision
    kind, major = backend.accelerator()
    if kind == "TPU":
        return "bfloat16"
    if kind == "GPU":
        return "bfloat16" if major >= 8 else "float16"
    return "bfloat16" if cpu_has_bf16() and backend.CPU_BFLOAT16 else "float32"


def cast_model(model: keras.Model, dtype_policy: str) -> keras.Model:
    """A copy of a flat functional model (models.feature_model) whose layers compute in `dtype_policy`,
    same weights. Operations that are not layers (keras.ops.add in ConvNeXt's graph) have no dtype
    policy: they compute in the type of their inputs."""

    def with_policy(layer, config: dict) -> dict:
        if isinstance(layer, keras.layers.Layer) and not isinstance(layer, keras.layers.InputLayer):
            config["dtype"] = dtype_policy
        return config

    return clone(model, with_policy)


def take_weights(copy: keras.Model, model: keras.Model) -> None:
    """`copy` (cast_model or clone of `model`, kept between calls) takes `model`'s current weights."""
    for mine, current in zip(copy.weights, model.weights, strict=True):
        mine.assign(current)


def clone(model: keras.Model, edit: Callable) -> keras.Model:
    """clone_model where `edit(layer, config)` returns a new config or a new layer; weights copied.

    Nested models are cloned layer by layer too. Raises KerasvizError for a model that cannot be
    cloned (a subclassed model)."""

    def clone_layer(layer):
        result = edit(layer, layer.get_config())
        return result if isinstance(result, keras.layers.Layer) else layer.__class__.from_config(result)

    try:
        copy = keras.models.clone_model(model, clone_function=clone_layer, recursive=True)
    except (ValueError, TypeError) as err:
        raise KerasvizError(f"cannot copy {model.name} (only Functional and Sequential models can be): {err}") from None
    copy.set_weights(model.get_weights())
    return copy
