"""Update rules for gradient ascent, each a pair of pure functions in the style of optax.

`init(params) -> state` and `update(grads, state) -> (step, state)`: the step is added to the
params (ascent, not descent). A state is a tuple of tensors (keras.ops, on every backend), so a while
loop carries it, a compiled function takes and returns it, and `strategy.run` shards it like the params. `resize`
moves a state to a parameterisation of another size (progressive resolution, param.resize).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from keras import ops

Tensor = object  # a tensor of the Keras backend (tf.Tensor, jax.Array, torch.Tensor)

# resize(tensor, power): a tensor shaped like the params, moved to another size; power 1 maps a
# value, -1 a gradient (or Adam's first moment), -2 a squared gradient (param.Parameterization.resize).
ResizeFn = Callable[[Tensor, int], Tensor]

ADAM_BETAS = (0.9, 0.999)  # Kingma & Ba 2015
ADAM_EPSILON = 1e-8
RMS_EPSILON = 1e-5  # keeps a zero gradient finite in rms_normalized


class UpdateRule(NamedTuple):
    """An update rule: `init(params) -> state`, `update(grads, state) -> (step, state)`, and
    `resize(state, resize_fn) -> state` for params moved to another size."""

    init: Callable[[Tensor], tuple]
    update: Callable[[Tensor, tuple], tuple[Tensor, tuple]]
    resize: Callable[[tuple, ResizeFn], tuple]


class AdamState(NamedTuple):
    """Adam's state: the steps taken, int32 (); the first and second moments, shaped like the params."""

    count: Tensor
    mu: Tensor
    nu: Tensor


def adam(learning_rate: float, b1: float = ADAM_BETAS[0], b2: float = ADAM_BETAS[1],
         eps: float = ADAM_EPSILON) -> UpdateRule:
    """Adam (Kingma & Ba 2015) with bias-corrected moments; a step is at most about `learning_rate`
    per coordinate."""

    def init(params):
        return AdamState(ops.zeros((), "int32"), ops.zeros_like(params), ops.zeros_like(params))

    def update(grads, state):
        count = state.count + 1
        mu = b1 * state.mu + (1 - b1) * grads
        nu = b2 * state.nu + (1 - b2) * ops.square(grads)
        t = ops.cast(count, "float32")
        mu_hat = mu / (1 - b1**t)
        nu_hat = nu / (1 - b2**t)
        return learning_rate * mu_hat / (ops.sqrt(nu_hat) + eps), AdamState(count, mu, nu)

    def resize(state, resize_fn):
        # New (higher) frequencies start with zero moments while the step count goes on; their
        # bias-corrected steps stay within about 0.6-1.4x of the rate, so no count of their own is kept.
        return AdamState(state.count, resize_fn(state.mu, -1), resize_fn(state.nu, -2))

    return UpdateRule(init, update, resize)


def rms_normalized(learning_rate: float, eps: float = RMS_EPSILON) -> UpdateRule:
    """Each image's gradient divided by its root mean square (Chollet 2016): a step of `learning_rate`
    RMS per image, whatever the gradient's scale. No state."""

    def init(params):
        del params
        return ()

    def update(grads, state):
        axes = tuple(range(1, len(grads.shape)))
        rms = ops.sqrt(ops.mean(ops.square(grads), axis=axes, keepdims=True))
        return learning_rate * grads / (rms + eps), state

    def resize(state, resize_fn):
        del resize_fn
        return state

    return UpdateRule(init, update, resize)


def _stateless(update: Callable[[Tensor], Tensor]) -> UpdateRule:
    """A rule with no state: `update(grads) -> step`."""
    return UpdateRule(lambda params: (), lambda grads, state: (update(grads), state), lambda state, resize_fn: state)


def scaled(learning_rate: float) -> UpdateRule:
    """Plain gradient ascent: `learning_rate` times the gradient (DeepDream, whose gradients come normalised)."""
    return _stateless(lambda grads: learning_rate * grads)


def signed(step: float) -> UpdateRule:
    """Signed steps (Goodfellow et al. 2015; Kurakin et al. 2017): `step` times the sign of each gradient entry."""
    return _stateless(lambda grads: step * ops.sign(grads))


RULES: dict[str, Callable[[float], UpdateRule]] = {"adam": adam, "normalized": rms_normalized}
