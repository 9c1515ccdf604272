"""What differs per Keras backend: the gradient of a loss with respect to an input, compiling a step, and
counting its traces.

Everything else in kerasviz is written against these few functions and keras.ops. The backend is Keras'
own (`KERAS_BACKEND=tensorflow|jax|torch`, or ~/.keras/keras.json); NAME says which. TensorFlow keeps
GradientTape and tf.function; JAX uses jax.value_and_grad and jax.jit; PyTorch uses autograd and runs
eagerly. Only the chosen backend's module is imported, so kerasviz on JAX or PyTorch never imports
TensorFlow.
"""

import importlib

import keras

from kerasviz.errors import KerasvizError

NAME = keras.backend.backend()
BACKENDS = ("tensorflow", "jax", "torch")

if NAME == "tensorflow":
    from kerasviz.backend.tensorflow import compile_step, trace_count, value_and_grad
elif NAME == "jax":
    from kerasviz.backend.jax import compile_step, trace_count, value_and_grad
elif NAME == "torch":
    from kerasviz.backend.torch import compile_step, trace_count, value_and_grad
else:
    raise KerasvizError(f"kerasviz runs on the Keras backends {', '.join(BACKENDS)}; KERAS_BACKEND is {NAME!r}")

__all__ = ["BACKENDS", "NAME", "compile_step", "trace_count", "value_and_grad"]

# --- attribution (kerasviz.attribution): a step's image signature, the gradient at a layer's output ---
_chosen = importlib.import_module(f"kerasviz.backend.{NAME}")
images_signature, output_gradient = _chosen.images_signature, _chosen.output_gradient
__all__ += ["images_signature", "output_gradient"]

# --- models and synthesis (kerasviz.models, optvis.feature_losses, synthesis): specs, errors, devices ---
tensor_spec, runtime_errors, accelerator = _chosen.tensor_spec, _chosen.runtime_errors, _chosen.accelerator
CPU_BFLOAT16 = _chosen.CPU_BFLOAT16  # whether bfloat16 is faster than float32 on a CPU that has it, here
__all__ += ["CPU_BFLOAT16", "accelerator", "runtime_errors", "tensor_spec"]

# --- optvis (filter and class pictures): per-image stateless draws, the inverse 2-D real FFT, the image warp ---
affine_warp, irfft2 = _chosen.affine_warp, _chosen.irfft2
stateless_normal, stateless_uniform = _chosen.stateless_normal, _chosen.stateless_uniform
__all__ += ["affine_warp", "irfft2", "stateless_normal", "stateless_uniform"]
