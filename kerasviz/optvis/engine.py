"""The one optimisation loop's step: every optimising method in kerasviz computes its gradient and applies
its update here.

A step is: the gradient of a loss at the current value (backend.value_and_grad), optionally scaled for
float16 and cleaned of non-finite entries; the update rule's step (optim) added; the value projected back
into its constraint set (0-255 pixels, an L-inf ball). Losses are maximised: a method that minimises
passes the negated loss, which gives the same steps to the bit (negation is exact).

Filter and class pictures run `step` inside their compiled while loop (render); DeepDream sums the
`loss_and_grad` of its tiles and `apply`s one update per step; fooling images take `step` with projected
signed steps; style transfer, feature inversion and textures hand `minimize` a compiled
value-and-gradient, which runs L-BFGS-B or Adam over 0-255 pixels.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from keras import ops

from kerasviz import backend
from kerasviz.errors import KerasvizError
from kerasviz.optvis import optim

LossFn = Callable[..., tuple]  # loss_fn(value, *args) -> (scalar loss to maximise, aux)
ProjectFn = Callable[[object], object]  # a backend tensor -> a backend tensor


def loss_and_grad(loss_fn: LossFn, value, *args, loss_scale: float = 1.0) -> tuple:
    """(loss, aux, gradient) of `loss_fn` at `value`. With a `loss_scale` (float16 compute, whose small
    gradients underflow) the loss is scaled before differentiation and the gradient unscaled after;
    non-finite gradient entries become 0."""
    if loss_scale == 1.0:
        loss, aux, grad = backend.value_and_grad(loss_fn, value, *args)
    else:
        def scaled(v, *a):
            loss, aux = loss_fn(v, *a)
            return loss * loss_scale, (loss, aux)

        _, (loss, aux), grad = backend.value_and_grad(scaled, value, *args)
        grad = grad / loss_scale
    return loss, aux, ops.where(ops.isfinite(grad), grad, ops.zeros_like(grad))


def apply(rule: optim.UpdateRule, value, grad, state: tuple, project: ProjectFn | None = None) -> tuple:
    """(new value, new state): the update rule's step for `grad` added to `value`, then projected."""
    update, state = rule.update(grad, state)
    value = value + update
    return (value if project is None else project(value)), state


def step(loss_fn: LossFn, rule: optim.UpdateRule, value, state: tuple, *args, loss_scale: float = 1.0,
         project: ProjectFn | None = None) -> tuple:
    """One step of gradient ascent on `loss_fn`: (new value, new state, loss, aux at the old value)."""
    loss, aux, grad = loss_and_grad(loss_fn, value, *args, loss_scale=loss_scale)
    value, state = apply(rule, value, grad, state, project)
    return value, state, loss, aux


def box(low: float, high: float) -> ProjectFn:
    """Projection onto [low, high] per coordinate (pixels in 0-255)."""
    return lambda value: ops.clip(value, low, high)


def linf_ball(centre, radius: float, low: float = 0.0, high: float = 255.0) -> ProjectFn:
    """Projection into the L-inf ball of `radius` around `centre`, then onto [low, high]."""
    lower, upper = centre - radius, centre + radius  # arrays: clipped by minimum and maximum on every backend
    return lambda value: ops.clip(ops.minimum(ops.maximum(value, lower), upper), low, high)


MINIMIZERS = ("lbfgs", "adam")
LBFGS_MEMORY = 10  # scipy's default number of correction pairs


def minimize(
    value_and_grad: Callable[[np.ndarray], tuple[float, np.ndarray]],
    x0: np.ndarray,
    *,
    steps: int,
    method: str = "lbfgs",
    adam: tuple[float, float] = (8.0, 0.97),
    on_step: Callable[[int, np.ndarray, float], None] | None = None,
) -> tuple[np.ndarray, int]:
    """Minimises over images in 0-255 on the host; returns (float32 image, number of evaluations).

    For losses whose optimiser keeps a history across evaluations (L-BFGS) or runs in float64.
    `value_and_grad(x)` takes and returns arrays of x0's shape, compiled by the caller; `on_step(i, x,
    loss)` follows each iteration. "lbfgs" is scipy's L-BFGS-B with the 0-255 box; "adam" is Adam
    (rate, decay per 10 steps in `adam`), clipped to the box.
    """
    if method not in MINIMIZERS:
        raise KerasvizError(f"optimizer {method!r} is not valid; valid: {', '.join(MINIMIZERS)}")
    shape = x0.shape
    count = 0
    last = {"loss": float("nan")}

    def fun(flat: np.ndarray) -> tuple[float, np.ndarray]:
        nonlocal count
        count += 1
        loss, grad = value_and_grad(flat.reshape(shape).astype(np.float32))
        last["loss"] = loss
        return loss, np.asarray(grad, np.float64).ravel()

    report = (lambda i, x: on_step(i, x.reshape(shape).astype(np.float32), last["loss"])) if on_step else None
    x = _lbfgs(fun, x0, steps, report) if method == "lbfgs" else _adam(fun, x0, steps, *adam, report)
    return x.reshape(shape).astype(np.float32), count


def _lbfgs(fun: Callable, x0: np.ndarray, steps: int, report: Callable | None) -> np.ndarray:
    from scipy.optimize import minimize as scipy_minimize

    iteration = 0

    def after(xk: np.ndarray) -> None:
        nonlocal iteration
        iteration += 1
        if report is not None:
            report(iteration, xk)

    result = scipy_minimize(
        fun, x0.astype(np.float64).ravel(), jac=True, method="L-BFGS-B", bounds=[(0.0, 255.0)] * x0.size,
        callback=after,
        options={"maxiter": steps, "maxfun": steps * 2, "maxcor": LBFGS_MEMORY, "ftol": 0.0, "gtol": 0.0},
    )
    return result.x


def _adam(fun: Callable, x0: np.ndarray, steps: int, rate: float, decay: float, report: Callable | None) -> np.ndarray:
    """Adam (Kingma & Ba 2015) in float64 with a rate decaying by `decay` per 10 steps, clipped to 0-255."""
    x = x0.astype(np.float64).ravel()
    m = np.zeros_like(x)
    v = np.zeros_like(x)
    beta1, beta2 = optim.ADAM_BETAS
    for i in range(1, steps + 1):
        _, g = fun(x)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        lr = rate * decay ** (i / 10)
        x = np.clip(x - lr * (m / (1 - beta1**i)) / (np.sqrt(v / (1 - beta2**i)) + optim.ADAM_EPSILON), 0, 255)
        if report is not None:
            report(i, x)
    return x
