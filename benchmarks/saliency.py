"""SmoothGrad speed: kerasviz against tf-keras-vis 0.8.7 in the same process.

    python benchmarks/saliency.py [--samples 50] [--size 224] [--repeats 2]
    python benchmarks/saliency.py --smoke        # CI: 32 px, 2 samples, 1 repeat

VGG16 with random weights (speed does not depend on them), one image, SmoothGrad with 50
samples. Each side runs once to compile (reported as "first") and then `repeats` times;
the best repeat is the figure. tf-keras-vis needs `pip install tf-keras-vis==0.8.7`; without
it, a plain eager loop of one GradientTape per sample stands in as the baseline.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import scipy.stats  # noqa: E402
import tensorflow as tf  # noqa: E402

from kerasviz.attribution import saliency  # noqa: E402
from kerasviz.models.precision import resolve_precision  # noqa: E402

TARGET = 281  # any class: the weights are random
NOISE = 0.2  # tf-keras-vis' default smooth_noise (a fraction of the input range, as in kerasviz)


def best_of(fn, repeats: int) -> tuple[float, float]:
    """(seconds of the first call, best seconds of `repeats` further calls)."""
    start = time.perf_counter()
    fn()
    first = time.perf_counter() - start
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return first, min(times)


def tf_keras_vis_fn(model, image, samples):
    try:
        from tf_keras_vis.saliency import Saliency
    except ImportError:
        return None, "tf-keras-vis not installed"
    tool = Saliency(model, clone=False)
    score = lambda output: output[:, TARGET]  # noqa: E731
    x = image[None].astype(np.float32)
    return (lambda: tool(score, x, smooth_samples=samples, smooth_noise=NOISE)), "tf-keras-vis 0.8.7 Saliency"


def eager_loop_fn(model, image, samples):
    """One tape per noisy sample, eager: what a straightforward implementation does."""
    x = tf.constant(image[None], tf.float32)
    sigma = NOISE * float(image.max() - image.min())

    def run():
        total = tf.zeros_like(x)
        for _ in range(samples):
            noisy = x + tf.random.normal(x.shape, stddev=sigma)
            with tf.GradientTape() as tape:
                tape.watch(noisy)
                score = model(noisy, training=False)[:, TARGET]
            total += tape.gradient(score, noisy)
        return tf.reduce_max(tf.abs(total / samples), axis=-1).numpy()

    return run, "eager per-sample GradientTape loop"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--baseline", choices=["tf-keras-vis", "eager"], default="tf-keras-vis")
    parser.add_argument("--smoke", action="store_true", help="CI: 32 px, 2 samples, 1 repeat (flags given still win)")
    args = parser.parse_args()
    if args.smoke:
        parser.set_defaults(samples=2, size=32, repeats=1)
        args = parser.parse_args()

    keras.utils.set_random_seed(0)
    model = keras.applications.VGG16(weights=None, input_shape=(args.size, args.size, 3), classifier_activation=None)
    image = np.random.default_rng(0).uniform(0, 255, (args.size, args.size, 3)).astype(np.float32)

    ours = lambda: saliency(model, image, TARGET, method="smoothgrad", samples=args.samples, noise=NOISE)  # noqa: E731
    other, name = (None, "") if args.baseline == "eager" else tf_keras_vis_fn(model, image, args.samples)
    if other is None:
        print(f"baseline: {name or 'eager'}; using the eager loop")
        other, name = eager_loop_fn(model, image, args.samples)

    print(f"VGG16 {args.size} px, SmoothGrad {args.samples} samples, {os.cpu_count()} CPUs, TF {tf.__version__}")
    first, best = best_of(ours, args.repeats)
    print(f"kerasviz float32:  first {first:6.2f} s, best {best:6.2f} s")
    other_first, other_best = best_of(other, args.repeats)
    print(f"{name}:  first {other_first:6.2f} s, best {other_best:6.2f} s")
    print(f"speed-up (best): {other_best / best:.2f}x")
    reduced = resolve_precision("auto")
    if reduced != "float32":  # the reduced precision, on the same image
        fast = lambda: saliency(model, image, TARGET, method="smoothgrad", samples=args.samples, noise=NOISE,  # noqa: E731
                                precision=reduced)
        fast_first, fast_best = best_of(fast, args.repeats)
        rho = scipy.stats.spearmanr(ours().ravel(), fast().ravel())[0]
        print(f"kerasviz {reduced}:  first {fast_first:6.2f} s, best {fast_best:6.2f} s: {best / fast_best:.2f}x "
              f"float32, {other_best / fast_best:.2f}x {name}; Spearman with the float32 map {rho:.3f}")


if __name__ == "__main__":
    main()
