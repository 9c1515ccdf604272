"""What to maximise: a channel (filter), a neuron, a class logit, a whole layer; composable.

An Objective maps the activations of some layers to one score per image, `(B,)`. Objectives
add and scale like numbers, as in lucid: `channel("block4_conv3", 7) + 0.5 * layer("block5_conv1")`.
A channel or neuron objective with no index takes each image's own index from the `indices`
argument, so one compiled step serves every filter of a layer.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping

from keras import ops

Tensor = object  # a tensor of the Keras backend
ActivationFn = Callable[[Mapping[str, Tensor], Tensor], Tensor]


@dataclasses.dataclass(frozen=True)
class Channel:
    """An objective that reads one channel of one layer: `reduce` maps that channel (B, ...) to (B,).

    The renderer uses it to work on the chosen channel alone (ReLU, border crop, best positions)
    instead of on every channel of a large early-layer map; the result is the same.
    """

    layer: str
    index: int | None  # None: each image's own channel from `indices`
    reduce: Callable[[Tensor], Tensor]

    def ids(self, acts: Tensor, indices: Tensor, channels: int | None = None) -> Tensor:
        """(B,) int32: the channel each image reads among `channels` (default: the last axis of `acts`
        (B, ..., C)); a negative index counts from the end."""
        ids = ops.cast(indices, "int32")
        if self.index is None:
            return ids
        return ops.zeros_like(ids) + self.index % int(channels or acts.shape[-1])

    def select(self, acts: Tensor, indices: Tensor) -> Tensor:
        """(B, ..., C) -> (B, ...): each image's channel, in the dtype of `acts`."""
        ids = ops.reshape(self.ids(acts, indices), (-1,) + (1,) * (len(acts.shape) - 1))
        return ops.take_along_axis(acts, ids, axis=-1)[..., 0]


@dataclasses.dataclass(frozen=True)
class Objective:
    """A score per image from named layer activations: fn(activations, indices (B,) int32) -> (B,)."""

    fn: ActivationFn
    layers: tuple[str, ...]
    description: str
    channel: Channel | None = None  # set where the objective reads a single channel (see Channel)

    def __call__(self, activations: Mapping[str, Tensor], indices: Tensor) -> Tensor:
        return self.fn(activations, indices)

    def __add__(self, other: Objective) -> Objective:
        return Objective(
            lambda a, i: self(a, i) + other(a, i),
            tuple(dict.fromkeys(self.layers + other.layers)),
            f"{self.description} + {other.description}",
        )

    def __mul__(self, weight: float) -> Objective:
        return Objective(lambda a, i: weight * self(a, i), self.layers, f"{weight:g} * {self.description}")

    __rmul__ = __mul__

    def __neg__(self) -> Objective:
        return -1.0 * self

    def __sub__(self, other: Objective) -> Objective:
        return self + (-other)


def _single_channel(name: str, layer: str, index: int | None, reduce: Callable[[Tensor], Tensor]) -> Objective:
    channel = Channel(layer, index, reduce)

    def fn(acts, indices):
        return reduce(ops.cast(channel.select(acts[layer], indices), "float32"))

    return Objective(fn, (layer,), f"{name}({layer}, {'*' if index is None else index})", channel)


def _mean(selected: Tensor) -> Tensor:
    return ops.mean(selected, axis=tuple(range(1, len(selected.shape))))


def _centre(selected: Tensor) -> Tensor:
    h, w = ops.shape(selected)[1], ops.shape(selected)[2]
    return selected[:, h // 2, w // 2]


def _identity(selected: Tensor) -> Tensor:
    return selected


def channel(layer: str, index: int | None = None) -> Objective:
    """The mean activation of one channel over all positions (a filter's response): over the pixels of
    a convolution's (B, H, W, C) map, the tokens of a transformer's (B, T, C) output."""
    return _single_channel("channel", layer, index, _mean)


def neuron(layer: str, index: int | None = None) -> Objective:
    """The activation of one channel at the centre position only."""
    return _single_channel("neuron", layer, index, _centre)


def class_logit(layer: str = "predictions", index: int | None = None) -> Objective:
    """One unit of a dense output layer (logits, pre-softmax), e.g. an ImageNet class."""
    return _single_channel("class_logit", layer, index, _identity)


def layer(name: str, *, squared: bool = False) -> Objective:
    """The mean (or mean square) activation of a whole layer: DeepDream's objective."""

    def fn(acts, indices):
        a = ops.cast(acts[name], "float32")
        a = ops.square(a) if squared else a
        return ops.mean(a, axis=tuple(range(1, len(a.shape))))

    return Objective(fn, (name,), f"layer({name}{', squared' if squared else ''})")
