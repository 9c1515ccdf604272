"""What this machine can do at best: convolution FLOPs of a filter step and the measured convolution peak.

Shared by the speed benchmarks; no flags, so any benchmark can import it.
"""

import time

import keras
import numpy as np
import tensorflow as tf


def conv_flops(model, layer: str, size: int, single_channel: bool = False) -> float:
    """FLOPs of one image-step: the forward pass to `layer` plus the input gradient (about 2x forward).

    `single_channel`: `layer` computes one output channel only, as kerasviz's renderer does for a
    single-filter objective; otherwise all of them, as a plain loop does.
    """
    convs = [lyr for lyr in model.layers if isinstance(lyr, keras.layers.Conv2D)]
    last = [lyr.name for lyr in convs].index(layer)
    probe = keras.Model(model.input, [lyr.output for lyr in convs[: last + 1]])
    outputs = probe(np.zeros((1, size, size, 3), np.float32))
    forward = sum(
        2.0 * np.prod(out.shape[1:3]) * np.prod(lyr.kernel_size) * lyr.kernel.shape[2]
        * (1 if single_channel and lyr.name == layer else lyr.kernel.shape[3])
        for lyr, out in zip(convs, outputs)
    )
    return 2.0 * forward


def measured_peak(dtype: tf.DType, *, rounds: int = 3, calls: int = 10) -> float:
    """GFLOP/s of this machine's fastest VGG-shaped 3x3 convolution (forward, batch 16): the ceiling.

    The best of `rounds` rounds of `calls` calls of each shape: a shared machine's one slow moment would
    otherwise lower the ceiling and make everything measured against it look better than it is.
    (The benchmarks' --smoke passes 1 and 1: a figure, not a ceiling.)
    """
    best = 0.0
    for side, channels in ((64, 128), (32, 256), (16, 512)):
        x = tf.random.normal((16, side, side, channels), dtype=dtype)
        w = tf.random.normal((3, 3, channels, channels), dtype=dtype)
        conv = tf.function(lambda x=x, w=w: tf.nn.conv2d(x, w, 1, "SAME"))
        conv().numpy()
        for _ in range(rounds):
            t0 = time.perf_counter()
            for _ in range(calls):
                conv().numpy()
            seconds = (time.perf_counter() - t0) / calls
            best = max(best, 2 * 16 * side * side * 9 * channels * channels / seconds / 1e9)
    return best

