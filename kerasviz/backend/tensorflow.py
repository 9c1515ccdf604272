"""TensorFlow: gradients by GradientTape, compiled steps by tf.function."""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf

# oneDNN's bfloat16 convolutions on a CPU with AVX512-BF16 are about 1.8x float32's speed (VGG16 filter
# steps on a Zen 4), so precision="auto" takes bfloat16 there.
CPU_BFLOAT16 = True


def value_and_grad(loss_fn: Callable, x: tf.Tensor, *args) -> tuple[tf.Tensor, object, tf.Tensor]:
    """(loss, aux, d loss / d x) for `loss_fn(x, *args) -> (loss, aux)` with a scalar loss; aux is whatever
    the loss function also returns (per-image scores, per-layer terms), not differentiated."""
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss, aux = loss_fn(x, *args)
    return loss, aux, tape.gradient(loss, x)


def compile_step(fn: Callable, *, input_signature=None, jit_compile: bool | None = None, weights=()) -> Callable:
    """`fn` compiled once per input signature (tf.function); pass a functools.partial rather than a fresh
    closure where one is made per call, as TensorFlow counts traces per code object. `weights` (the models
    fn runs) is JAX's: a tf.function reads its variables when it runs."""
    del weights
    return tf.function(fn, input_signature=input_signature, jit_compile=jit_compile)


def trace_count(step: Callable) -> int:
    """How many times `step` (from compile_step) has been traced: compiled anew for new input shapes."""
    return step.experimental_get_tracing_count()


# --- attribution (kerasviz.attribution): image signature, gradient at a layer's output, kept steps ---------


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


# --- optvis (filter and class pictures): per-image stateless draws, the inverse 2-D real FFT, the image warp ---


def stateless_uniform(seeds: tf.Tensor, shape: tuple, low: float, high: float) -> tf.Tensor:
    """(B, *shape) float32, row b uniform in [low, high) from its own seed pair seeds[b] (B, 2) int32."""
    return tf.map_fn(lambda s: tf.random.stateless_uniform(shape, s, low, high), seeds,
                     fn_output_signature=tf.float32)


def stateless_normal(seeds: tf.Tensor, shape: tuple, stddev: float) -> tf.Tensor:
    """(B, *shape) float32, row b normal with `stddev` from its own seed pair seeds[b] (B, 2) int32."""
    return tf.map_fn(lambda s: tf.random.stateless_normal(shape, s, stddev=stddev), seeds,
                     fn_output_signature=tf.float32)


def irfft2(real: tf.Tensor, imag: tf.Tensor, size: int, scale=None) -> tf.Tensor:
    """The (..., size, size) real picture of an rfft2 spectrum (..., size, size // 2 + 1) given as its real and
    imaginary parts, each multiplied by `scale` (a real array broadcast on them) where given."""
    spectrum = tf.complex(real, imag)
    if scale is not None:
        spectrum = spectrum * tf.cast(scale, tf.complex64)
    return tf.signal.irfft2d(spectrum, fft_length=[size, size])


def affine_warp(images: tf.Tensor, matrices: tf.Tensor, output_shape: tuple[int, int], fill_value: float,
                fill_mode: str) -> tf.Tensor:
    """Bilinear projective warp of images (B, H, W, C) by matrices (B, 8) onto an output_shape grid, as
    TensorFlow's ImageProjectiveTransformV3 ("constant", "nearest", "wrap" or "reflect" beyond the image)."""
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images, transforms=matrices, output_shape=list(output_shape), fill_value=fill_value,
        interpolation="BILINEAR", fill_mode=fill_mode.upper())
