"""Running one per-replica function over the replicas of a tf.distribute strategy.

A batch is split into one shard a replica; the function runs on each shard with strategy.run and
the per-replica results are concatenated back. With one replica and no strategy in scope, the
function is called directly on plain tensors.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import tensorflow as tf


@dataclasses.dataclass(frozen=True)
class Shards:
    """An array split over replicas: `distributed` is what strategy.run takes, `whole` the one tensor
    a single device takes (None where there are several replicas)."""

    whole: tf.Tensor | None
    distributed: object


class Replicas:
    """A strategy's replicas: shard arrays over them, run a function on each shard, gather the results."""

    def __init__(self, strategy: tf.distribute.Strategy):
        self.strategy = strategy
        self.count = strategy.num_replicas_in_sync

    def shard(self, array: np.ndarray) -> Shards:
        """Splits `array` (B, ...) into one equal shard a replica along its first axis."""
        if self.count == 1:
            whole = tf.constant(array)
            return Shards(whole, whole)
        shards = np.split(array, self.count)
        return Shards(None, self.strategy.experimental_distribute_values_from_function(
            lambda ctx: tf.constant(shards[ctx.replica_id_in_sync_group])
        ))

    def run(self, fn: Callable, *args):
        """fn(*args) on every replica; Shards arguments give each replica its own shard."""
        if self.count == 1 and not tf.distribute.has_strategy():
            return fn(*[a.whole if isinstance(a, Shards) else a for a in args])
        args = [a.distributed if isinstance(a, Shards) else a for a in args]
        return self.strategy.run(fn, args=tuple(args))

    def gather(self, value) -> tf.Tensor:
        """The per-replica results of `run` concatenated along the first axis."""
        if self.count == 1:
            return value
        return tf.concat(self.strategy.experimental_local_results(value), axis=0)
