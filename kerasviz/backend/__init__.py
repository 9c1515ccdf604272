"""What differs per Keras backend: the gradient of a loss with respect to an input, and compiling a step.

Everything else in kerasviz is written against these few functions (and keras.ops where an op exists).
Today the one backend is TensorFlow (GradientTape, tf.function); the backends issue adds JAX and PyTorch
modules beside it with the same names.
"""

from kerasviz.backend.tensorflow import compile_step, trace_count, value_and_grad

__all__ = ["compile_step", "trace_count", "value_and_grad"]
