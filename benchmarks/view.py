"""CPU seconds of the filter pictures' view (transforms.standard), forward and backward, in one
process against the view before it (the picture padded with grey, then warped with a grey fill) and
against itself with TensorFlow's own gradient of the periodic continuation instead of the folded
one; then the share of a whole step (VGG16 to --layer, the default method) that the view adds.

  python benchmarks/view.py
  python benchmarks/view.py --size=224 --batch=8 --layer=block3_conv1
  python benchmarks/view.py --smoke        # CI: 32 px, batch 2, one round of one step

Process CPU seconds, so a machine other jobs share changes the figures less than wall time would.
"""

from __future__ import annotations

import os
import resource
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app, flags  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from kerasviz import load_model  # noqa: E402
from kerasviz.optvis import render, transforms  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_integer("size", 128, "Picture side in pixels.", lower_bound=16)
flags.DEFINE_integer("batch", 16, "Pictures a step.", lower_bound=1)
flags.DEFINE_integer("repeats", 40, "Timed steps per variant and round.", lower_bound=1)
flags.DEFINE_string("layer", "block1_conv2", "VGG16 layer of the whole step's timing ('' skips it).")
flags.DEFINE_string("weights", "offline", "VGG16 weights for the whole step.")
flags.DEFINE_boolean("smoke", False, "CI: the whole run at a tiny size in seconds, one round (flags given still win).")

SMOKE = {"size": 32, "batch": 2, "repeats": 1}


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def grey_padded(size: int) -> transforms.Transform:
    """The view before the periodic one: grey padding, then the same warp with a grey fill."""
    return transforms.compose([transforms.pad(size // 16), transforms.affine(
        jitter=size / 16, scale=(0.9, 1.1), degrees=10.0, fill_mode="constant")])


def plain_gradient_wrap(images: tf.Tensor, margin: int) -> tf.Tensor:
    """transforms.periodic without its folded gradient: TensorFlow differentiates the concatenation."""
    if margin == 0:
        return images
    h, w = images.shape[1], images.shape[2]
    rows = tf.concat([images[:, h - margin:], images, images[:, :margin]], axis=1)
    return tf.concat([rows[:, :, w - margin:], rows, rows[:, :, :margin]], axis=2)


def plain_periodic(size: int) -> transforms.Transform:
    """transforms.standard's view with the plain-gradient continuation."""
    return transforms.affine(jitter=size / 16, scale=(0.9, 1.1), degrees=10.0, pad=size // 16,
                             continuation=plain_gradient_wrap)


def time_view(transform: transforms.Transform, size: int, batch: int, repeats: int) -> float:
    """CPU seconds per forward and backward of `transform` on a batch of random pictures."""
    pictures = tf.random.stateless_uniform((batch, size, size, 3), [1, 2])
    seeds = tf.random.stateless_uniform((batch, 2), [3, 4], 0, 1000, tf.int32)

    @tf.function
    def step(pictures, seeds):
        with tf.GradientTape() as tape:
            tape.watch(pictures)
            view = transform(pictures, seeds)
            loss = tf.reduce_sum(tf.square(view))
        return tape.gradient(loss, pictures)

    step(pictures, seeds).numpy()
    start = _cpu()
    for i in range(repeats):
        step(pictures, seeds + i).numpy()
    return (_cpu() - start) / repeats


def time_step(layer: str, size: int, batch: int, repeats: int) -> float:
    """CPU seconds of one whole compiled step of the default method on `batch` filters of `layer`."""
    model = load_model("vgg16", FLAGS.weights)
    filters = list(range(batch))
    render.visualize_filters(model, layer, filters, size=size, steps=render.STEPS_PER_CALL)  # traces
    steps = max(render.STEPS_PER_CALL, repeats // 4 // render.STEPS_PER_CALL * render.STEPS_PER_CALL)
    start = _cpu()
    render.visualize_filters(model, layer, filters, size=size, steps=steps)
    return (_cpu() - start) / steps


def main(argv):
    del argv
    if FLAGS.smoke:
        for name, value in SMOKE.items():
            if not FLAGS[name].present:
                setattr(FLAGS, name, value)
    size, batch, repeats = FLAGS.size, FLAGS.batch, FLAGS.repeats
    rounds = 1 if FLAGS.smoke else 3
    variants = {"grey padding (before)": grey_padded,
                "periodic, plain gradient": plain_periodic,
                "periodic (today)": transforms.standard}
    print(f"view of {batch} pictures of {size} px, forward + backward, CPU s per step (median of {rounds} rounds)",
          flush=True)
    seconds = {name: [] for name in variants}
    for _ in range(rounds):
        for name, make in variants.items():
            seconds[name].append(time_view(make(size), size, batch, repeats))
    base = np.median(seconds["grey padding (before)"])
    for name, values in seconds.items():
        print(f"  {name:24s} {np.median(values):.4f} s  {np.median(values) / base:5.2f}x the grey padding", flush=True)
    if FLAGS.layer:
        whole = time_step(FLAGS.layer, size, batch, repeats)
        extra = np.median(seconds["periodic (today)"]) - base
        print(f"whole step on {FLAGS.layer}: {whole:.3f} CPU s; today's view costs {extra:+.4f} s a step over "
              f"the grey padding, {extra / whole:+.1%} of the step", flush=True)
    return 0


if __name__ == "__main__":
    app.run(main)
