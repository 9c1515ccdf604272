"""PyTorch: gradients by torch.autograd, steps run eagerly (a compiled step is the function itself).

torch.compile is left out: on the CPU it costs more to compile than kerasviz's short loops gain, and
it does not yet trace every Keras layer.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch

# PyTorch's bfloat16 convolutions on a CPU with AVX512-BF16 take about half float32's time (VGG16 filter
# steps on a Zen 4: 0.51-0.54x), so precision="auto" takes bfloat16 there.
CPU_BFLOAT16 = True


def value_and_grad(loss_fn: Callable, x, *args) -> tuple:
    """(loss, aux, d loss / d x) for `loss_fn(x, *args) -> (loss, aux)` with a scalar loss; aux is whatever
    the loss function also returns, detached."""
    x = torch.as_tensor(x).detach().requires_grad_(True)
    with torch.enable_grad():
        loss, aux = loss_fn(x, *args)
        (grad,) = torch.autograd.grad(loss, x, allow_unused=True)
    if grad is None:  # the loss does not depend on x
        grad = torch.zeros_like(x)
    detach = lambda t: t.detach() if isinstance(t, torch.Tensor) else t  # noqa: E731
    return detach(loss), torch.utils._pytree.tree_map(detach, aux), grad


def compile_step(fn: Callable, *, input_signature=None, jit_compile: bool | None = None, weights=()) -> Callable:
    """`fn` itself, run eagerly under torch.no_grad() except where value_and_grad asks for a gradient;
    `input_signature` and `jit_compile` are TensorFlow's, `weights` JAX's: an eager step reads the weights as it
    runs."""
    del input_signature, jit_compile, weights
    calls = [0]

    @functools.wraps(fn)
    def step(*args, **kwargs):
        calls[0] = 1  # "traced" once: an eager function never compiles anew
        with torch.no_grad():
            return fn(*args, **kwargs)

    step.kerasviz_traces = calls
    return step


def trace_count(step: Callable) -> int:
    """1 once `step` (from compile_step) has run, as an eager function is never traced anew."""
    return step.kerasviz_traces[0]


# --- attribution (kerasviz.attribution): image signature, gradient at a layer's output, kept steps ---------


def images_signature() -> None:
    """None: an eager step has no input signature."""
    return None


def output_gradient(fn: Callable, x, layer) -> tuple:
    """(scores, A, d sum(scores) / d A) for `fn(x) -> (scores (B,), A)`, A the output of `layer` in the model
    that fn runs (autograd differentiates with respect to A itself); zero where the scores do not depend on A."""
    del layer
    x = torch.as_tensor(x).detach().requires_grad_(True)  # so a layer with no weights before it is traced
    with torch.enable_grad():
        score, features = fn(x)
        grad = None
        if features.requires_grad:
            (grad,) = torch.autograd.grad(score.sum(), features, allow_unused=True)
    features = features.detach()
    return score.detach(), features, torch.zeros_like(features) if grad is None else grad


# --- models and synthesis (kerasviz.models, optvis.feature_losses, synthesis): specs, errors, devices --------


def tensor_spec(shape: tuple, dtype: str = "float32") -> None:
    """None: an eager step takes any shape, so it has no input_signature."""
    del shape, dtype
    return None


def runtime_errors() -> tuple[type[Exception], ...]:
    """What running a model raises here for an input it cannot take, beside ValueError and TypeError."""
    return (RuntimeError,)


def accelerator() -> tuple[str | None, int]:
    """("GPU", its compute capability major) where PyTorch sees a CUDA device, else (None, 0)."""
    if torch.cuda.is_available():
        return "GPU", torch.cuda.get_device_capability(0)[0]
    return None, 0


# --- optvis (filter and class pictures): per-image stateless draws, the inverse 2-D real FFT, the image warp ---

from kerasviz.backend._ops import affine_warp  # noqa: E402, F401  (keras.ops: no kernel of its own)


def _draws(seeds, draw: Callable):
    """draw(generator) per seed pair (B, 2), stacked: each row from its own torch.Generator."""
    seeds = torch.as_tensor(seeds)
    rows = []
    for first, second in seeds.tolist():
        generator = torch.Generator().manual_seed(((first & 0xFFFFFFFF) << 32 | (second & 0xFFFFFFFF)) >> 1)
        rows.append(draw(generator))
    return torch.stack(rows).to(seeds.device)


def stateless_uniform(seeds, shape: tuple, low: float, high: float):
    """(B, *shape) float32, row b uniform in [low, high) from its own seed pair seeds[b] (B, 2) int32."""
    return _draws(seeds, lambda g: low + (high - low) * torch.rand(tuple(shape), generator=g))


def stateless_normal(seeds, shape: tuple, stddev: float):
    """(B, *shape) float32, row b normal with `stddev` from its own seed pair seeds[b] (B, 2) int32."""
    return _draws(seeds, lambda g: stddev * torch.randn(tuple(shape), generator=g))


def irfft2(real, imag, size: int, scale=None):
    """The (..., size, size) real picture of an rfft2 spectrum (..., size, size // 2 + 1) given as its real and
    imaginary parts, each multiplied by `scale` where given."""
    if scale is not None:
        scale = torch.as_tensor(scale, device=real.device)
        real, imag = real * scale, imag * scale
    return torch.fft.irfft2(torch.complex(real, imag), s=(size, size))
