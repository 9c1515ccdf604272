"""Running one per-replica function over the replicas of a tf.distribute strategy.

A batch is split into one shard a replica; the function runs on each shard with strategy.run and
the per-replica results are concatenated back. With one replica and no strategy in scope, the
function is called directly on plain tensors. On JAX and PyTorch there is one device and no
strategy: `resolve` refuses one given there in one line.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable

import numpy as np
from keras import ops

from kerasviz import backend
from kerasviz.errors import KerasvizError


def resolve(strategy=None):
    """The strategy to run under: the one given, else TensorFlow's current one; None on JAX and PyTorch,
    where giving one is a KerasvizError."""
    if backend.NAME != "tensorflow":
        if strategy is not None:
            raise KerasvizError(f"a tf.distribute strategy shards filters on TensorFlow only; the Keras backend is "
                                f"{backend.NAME}: leave strategy out (one device)")
        return None
    import tensorflow as tf

    return strategy or tf.distribute.get_strategy()


def count(strategy) -> int:
    """The replicas of `strategy` (1 for None: one device)."""
    return 1 if strategy is None else strategy.num_replicas_in_sync


def _in_strategy() -> bool:
    if backend.NAME != "tensorflow":
        return False
    import tensorflow as tf

    return tf.distribute.has_strategy()


@dataclasses.dataclass(frozen=True)
class Shards:
    """An array split over replicas: `distributed` is what strategy.run takes, `whole` the one tensor
    a single device takes (None where there are several replicas)."""

    whole: object | None
    distributed: object


class Replicas:
    """A strategy's replicas: shard arrays over them, run a function on each shard, gather the results."""

    def __init__(self, strategy):
        self.strategy = strategy
        self.count = count(strategy)

    def shard(self, array: np.ndarray) -> Shards:
        """Splits `array` (B, ...) into one equal shard a replica along its first axis."""
        if self.count == 1:
            whole = ops.convert_to_tensor(array)
            return Shards(whole, whole)
        import tensorflow as tf

        shards = np.split(array, self.count)
        return Shards(None, self.strategy.experimental_distribute_values_from_function(
            lambda ctx: tf.constant(shards[ctx.replica_id_in_sync_group])
        ))

    def run(self, fn: Callable, *args):
        """fn(*args) on every replica; Shards arguments give each replica its own shard."""
        if self.count == 1 and not _in_strategy():
            return fn(*[a.whole if isinstance(a, Shards) else a for a in args])
        args = [a.distributed if isinstance(a, Shards) else a for a in args]
        return self.strategy.run(fn, args=tuple(args))

    def gather(self, value):
        """The per-replica results of `run` concatenated along the first axis."""
        if self.count == 1:
            return value
        return ops.concatenate(self.strategy.experimental_local_results(value), axis=0)


def is_default(strategy) -> bool:
    """Whether `strategy` is no strategy at all: None (JAX, PyTorch), or TensorFlow's default outside any scope."""
    if strategy is None:
        return True
    import tensorflow as tf

    return not tf.distribute.has_strategy() and strategy is tf.distribute.get_strategy()


def scope(strategy):
    """The strategy's scope, or a scope that does nothing for None."""
    return contextlib.nullcontext() if strategy is None else strategy.scope()
