"""JAX: gradients by jax.value_and_grad, compiled steps by jax.jit.

A Keras model called inside a traced function reads its weights' current values, which jax.jit would
take as constants of that trace: the step would keep the old weights after they change, and every
compiled step would hold a copy of them. So a step is given the models it runs (`weights`), and their
variables' values go in as arguments on each call, as Keras' own JAX trainer passes its state: a kept
step reads the weights of the moment, and a new image size compiles again but copies no weights.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
import keras

# XLA:CPU's bfloat16 convolutions are no faster than its float32 ones (VGG16 filter steps on a Zen 4 with
# AVX512-BF16: 1.00-1.01x the time), so precision="auto" keeps float32 on a CPU here: the same speed, exact.
CPU_BFLOAT16 = False


def value_and_grad(loss_fn: Callable, x, *args) -> tuple:
    """(loss, aux, d loss / d x) for `loss_fn(x, *args) -> (loss, aux)` with a scalar loss; aux is whatever
    the loss function also returns, not differentiated."""
    (loss, aux), grad = jax.value_and_grad(lambda v: loss_fn(v, *args), has_aux=True)(x)
    return loss, aux, grad


def compile_step(fn: Callable, *, input_signature=None, jit_compile: bool | None = None, weights=()) -> Callable:
    """`fn` compiled once per input shapes and dtypes (jax.jit). `weights`: the Keras models, layers or
    variables that fn runs; their variables' current values are passed in on every call (a variable fn reads
    that is not among them is a constant of the trace). `input_signature` and `jit_compile` are TensorFlow's
    and have no meaning here (jax.jit always compiles with XLA and specialises on shapes)."""
    del input_signature, jit_compile
    variables = _variables(weights)
    traces = [0]

    def counted(values, *args, **kwargs):
        traces[0] += 1  # runs once per trace, not per call
        with keras.StatelessScope(state_mapping=list(zip(variables, values))):
            return fn(*args, **kwargs)

    compiled = jax.jit(counted)

    @functools.wraps(fn)
    def step(*args, **kwargs):
        return compiled([variable.value for variable in variables], *args, **kwargs)

    step.kerasviz_traces = traces
    return step


def _variables(weights) -> list:
    """The variables of `weights` (models, layers or variables), each once, in order."""
    seen, variables = set(), []
    for item in weights:
        for variable in getattr(item, "variables", [item]):
            if id(variable) not in seen:
                seen.add(id(variable))
                variables.append(variable)
    return variables


def trace_count(step: Callable) -> int:
    """How many times `step` (from compile_step) has been traced: compiled anew for new input shapes."""
    return step.kerasviz_traces[0]


# --- attribution (kerasviz.attribution): image signature, gradient at a layer's output, kept steps ---------


def images_signature() -> None:
    """None: jax.jit specialises on shapes itself."""
    return None


def output_gradient(fn: Callable, x, layer) -> tuple:
    """(scores, A, d sum(scores) / d A) for `fn(x) -> (scores (B,), A)`, A the output of `layer` in the model
    that fn runs; zero where the scores do not depend on A. JAX differentiates functions, not tensors: `layer`'s
    output gets a zero `delta` added while fn runs, and the gradient with respect to delta is the one to A."""
    spec = jax.eval_shape(fn, x)[1]

    def loss(delta):
        with _adding(layer, delta):
            score, features = fn(x)
        return jnp.sum(score), (score, features)

    (_, (score, features)), grad = jax.value_and_grad(loss, has_aux=True)(jnp.zeros(spec.shape, spec.dtype))
    return score, features, grad


@contextlib.contextmanager
def _adding(layer, delta):
    """While open, `layer`'s call returns its output + delta; the layer gets its own call back on exit."""
    previous = layer.__dict__.get("call")
    own = layer.call

    def call(*args, **kwargs):
        return own(*args, **kwargs) + delta

    layer.call = call
    try:
        yield
    finally:
        if previous is None:
            layer.__dict__.pop("call", None)
        else:
            layer.call = previous


# --- models and synthesis (kerasviz.models, optvis.feature_losses, synthesis): specs, errors, devices --------


def tensor_spec(shape: tuple, dtype: str = "float32") -> None:
    """None: jax.jit specialises on shapes itself, so a step takes no input_signature."""
    del shape, dtype
    return None


def runtime_errors() -> tuple[type[Exception], ...]:
    """What running a model raises here for an input it cannot take, beside ValueError and TypeError."""
    return (jax.errors.JAXTypeError, jax.errors.JAXIndexError, jax.errors.JaxRuntimeError)


def accelerator() -> tuple[str | None, int]:
    """("TPU" or "GPU", the GPU's compute capability major, 0 for a TPU) where JAX runs on one, else (None, 0)."""
    kind = jax.default_backend()
    if kind == "tpu":
        return "TPU", 0
    if kind == "gpu":
        capability = getattr(jax.devices()[0], "compute_capability", "0")
        return "GPU", int(str(capability).split(".")[0] or 0)
    return None, 0


# --- optvis (filter and class pictures): per-image stateless draws, the inverse 2-D real FFT, the image warp ---

from kerasviz.backend._ops import affine_warp  # noqa: E402, F401  (keras.ops: no XLA kernel of its own)


def _keys(seeds):
    """One raw threefry key per seed pair (B, 2) int32."""
    return jax.lax.bitcast_convert_type(jnp.asarray(seeds, jnp.int32), jnp.uint32)


def stateless_uniform(seeds, shape: tuple, low: float, high: float):
    """(B, *shape) float32, row b uniform in [low, high) from its own seed pair seeds[b] (B, 2) int32."""
    return jax.vmap(lambda key: jax.random.uniform(key, tuple(shape), jnp.float32, low, high))(_keys(seeds))


def stateless_normal(seeds, shape: tuple, stddev: float):
    """(B, *shape) float32, row b normal with `stddev` from its own seed pair seeds[b] (B, 2) int32."""
    return jax.vmap(lambda key: stddev * jax.random.normal(key, tuple(shape), jnp.float32))(_keys(seeds))


def irfft2(real, imag, size: int, scale=None):
    """The (..., size, size) real picture of an rfft2 spectrum (..., size, size // 2 + 1) given as its real and
    imaginary parts, each multiplied by `scale` where given."""
    if scale is not None:
        real, imag = real * scale, imag * scale
    return jnp.fft.irfft2(jax.lax.complex(real, imag), s=(size, size))
