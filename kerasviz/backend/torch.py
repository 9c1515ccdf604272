"""PyTorch: gradients by torch.autograd, steps run eagerly (a compiled step is the function itself).

torch.compile is left out: on the CPU it costs more to compile than kerasviz's short loops gain, and
it does not yet trace every Keras layer.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch


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


def compile_step(fn: Callable, *, input_signature=None, jit_compile: bool | None = None) -> Callable:
    """`fn` itself, run eagerly under torch.no_grad() except where value_and_grad asks for a gradient;
    `input_signature` and `jit_compile` are TensorFlow's and have no meaning here."""
    del input_signature, jit_compile
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
