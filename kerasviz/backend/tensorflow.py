"""TensorFlow: gradients by GradientTape, compiled steps by tf.function."""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf


def value_and_grad(loss_fn: Callable, x: tf.Tensor, *args) -> tuple[tf.Tensor, object, tf.Tensor]:
    """(loss, aux, d loss / d x) for `loss_fn(x, *args) -> (loss, aux)` with a scalar loss; aux is whatever
    the loss function also returns (per-image scores, per-layer terms), not differentiated."""
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss, aux = loss_fn(x, *args)
    return loss, aux, tape.gradient(loss, x)


def compile_step(fn: Callable, *, input_signature=None, jit_compile: bool | None = None) -> Callable:
    """`fn` compiled once per input signature (tf.function); pass a functools.partial rather than a fresh
    closure where one is made per call, as TensorFlow counts traces per code object."""
    return tf.function(fn, input_signature=input_signature, jit_compile=jit_compile)


def trace_count(step: Callable) -> int:
    """How many times `step` (from compile_step) has been traced: compiled anew for new input shapes."""
    return step.experimental_get_tracing_count()


# --- attribution (kerasviz.attribution): a step's image signature, the gradient at a layer's output ---------


def images_signature() -> list:
    """The input signature of a step over 0-255 RGB (B, H, W, 3) float32: any batch and size, one trace."""
    return [tf.TensorSpec([None, None, None, 3], tf.float32)]


def output_gradient(fn: Callable, x: tf.Tensor, layer) -> tuple:
    """(scores, A, d sum(scores) / d A) for `fn(x) -> (scores (B,), A)`, A the output of `layer` in the model
    that fn runs; zero where the scores do not depend on A."""
    del layer  # the tape holds A itself
    with tf.GradientTape() as tape:
        tape.watch(x)  # so a layer with no weights before it (a rescaling of the input) is traced
        score, features = fn(x)
    return score, features, tape.gradient(score, features, unconnected_gradients=tf.UnconnectedGradients.ZERO)


# --- models and synthesis (kerasviz.models, optvis.feature_losses, synthesis): specs, errors, devices --------


def tensor_spec(shape: tuple, dtype: str = "float32") -> tf.TensorSpec:
    """One argument of a compiled step's input_signature (None: any size along that axis)."""
    return tf.TensorSpec(shape, dtype)


def runtime_errors() -> tuple[type[Exception], ...]:
    """What running a model raises here for an input it cannot take, beside ValueError and TypeError."""
    return (tf.errors.InvalidArgumentError,)


def accelerator() -> tuple[str | None, int]:
    """("TPU" or "GPU", the GPU's compute capability major, 0 for a TPU) where TensorFlow sees one, else (None, 0)."""
    if tf.config.list_logical_devices("TPU"):
        return "TPU", 0
    if tf.config.list_logical_devices("GPU"):
        details = tf.config.experimental.get_device_details(tf.config.list_physical_devices("GPU")[0])
        return "GPU", details.get("compute_capability", (0, 0))[0]
    return None, 0
