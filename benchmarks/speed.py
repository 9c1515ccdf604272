"""Speed of one optimisation step: kerasviz's compiled loop against a plain fp32 tf.function loop.

Per image-step through VGG16 up to --layer at --size px, batch --batch, in this process:
  baseline   a plain fp32 tf.function step (forward, input gradient, normalised ascent)
  kerasviz   the fft method's compiled segment, float32 and the default precision
It prints milliseconds per image-step, the ratio to the baseline, GFLOP/s against this
machine's measured convolution peak, and how many times each compiled function was traced.

  python benchmarks/speed.py                      # block5_conv1, 128 px, batch 16
  python benchmarks/speed.py --layer=block3_conv3 --size=224
  python benchmarks/speed.py --smoke              # CI: block1_conv2, 32 px, batch 2, 2 steps, a rough peak
"""

import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app, flags  # noqa: E402
from peak import conv_flops, measured_peak  # noqa: E402

from kerasviz import load_model, models  # noqa: E402
from kerasviz.models.precision import resolve_precision  # noqa: E402
from kerasviz.optvis import render  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("layer", "block5_conv1", "VGG16 layer.")
flags.DEFINE_integer("size", 128, "Image side.")
flags.DEFINE_integer("batch", 16, "Images per batch.")
flags.DEFINE_integer("steps", 16, "Timed steps per measurement.")
flags.DEFINE_string("weights", None, "Weights (random by default: speed does not depend on them).")
flags.DEFINE_boolean("smoke", False, "CI: the whole run at a tiny size in seconds, the peaks measured once "
                     "(flags given still win).")

SMOKE = {"layer": "block1_conv2", "size": 32, "batch": 2, "steps": 2}


def time_baseline(model, layer, size, batch, steps):
    features = keras.Model(model.input, models.get_layer(model, layer).output)
    preprocess = models.preprocess_fn(model)
    image = tf.Variable(tf.random.uniform((batch, size, size, 3), 0.4, 0.6))
    index = tf.range(batch) % features.output.shape[-1]

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            acts = features(preprocess(image * 255.0))
            loss = tf.reduce_sum(tf.reduce_mean(tf.gather(acts, index, axis=-1, batch_dims=1), axis=(1, 2)))
        grad = tape.gradient(loss, image)
        image.assign_add(0.01 * grad / (tf.math.reduce_std(grad) + 1e-8))

    step()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    image.numpy()
    return (time.perf_counter() - t0) / (steps * batch), step.experimental_get_tracing_count()


def time_kerasviz(model, layer, size, batch, steps, precision):
    filters = list(range(batch))
    kwargs = dict(size=size, batch_size=batch, precision=precision, method="fft")
    traced = render.traces(model)
    render.visualize_filters(model, layer, filters, steps=1, **kwargs)  # trace
    t0 = time.perf_counter()
    render.visualize_filters(model, layer, filters, steps=steps, **kwargs)
    seconds = time.perf_counter() - t0
    render.visualize_filters(model, layer, [f + batch for f in filters], steps=2, **kwargs)  # new filters
    return seconds / (steps * batch), render.traces(model) - traced


def main(argv):
    del argv
    if FLAGS.smoke:
        for name, value in SMOKE.items():
            if not FLAGS[name].present:
                setattr(FLAGS, name, value)
    peak_calls = {"rounds": 1, "calls": 1} if FLAGS.smoke else {}
    model = load_model("vgg16", FLAGS.weights)
    flops = conv_flops(model, FLAGS.layer, FLAGS.size)
    narrow = conv_flops(model, FLAGS.layer, FLAGS.size, single_channel=True)  # kerasviz's own work
    peak32 = measured_peak(tf.float32, **peak_calls)
    peaks = {"float32": peak32, "bfloat16": measured_peak(tf.bfloat16, **peak_calls)}
    print(f"VGG16 to {FLAGS.layer}, {FLAGS.size} px, batch {FLAGS.batch}: {flops / 1e9:.1f} GFLOP per image-step")
    print(f"measured convolution peak: {peak32:.0f} GFLOP/s fp32, {peaks['bfloat16']:.0f} GFLOP/s bf16")
    base, base_traces = time_baseline(model, FLAGS.layer, FLAGS.size, FLAGS.batch, FLAGS.steps)
    rows = [("plain fp32 tf.function (baseline)", base, base_traces, peak32, flops)]
    for precision in ("float32", "auto"):
        seconds, traces = time_kerasviz(model, FLAGS.layer, FLAGS.size, FLAGS.batch, FLAGS.steps, precision)
        resolved = resolve_precision(precision)
        if resolved not in peaks:  # float16 on a GPU
            peaks[resolved] = measured_peak(tf.as_dtype(resolved), **peak_calls)
        rows.append((f"kerasviz fft, {resolved}", seconds, traces, peaks[resolved], narrow))
    for name, seconds, traces, peak, work in rows:
        rate = work / seconds / 1e9
        print(f"  {name:36s} {seconds * 1000:6.1f} ms per image-step  ({base / seconds:4.2f}x baseline speed, "
              f"{rate:5.0f} GFLOP/s = {rate / peak:4.0%} of peak, traced {traces}x)")
    print("(kerasviz steps include the Fourier image, random transforms and Adam; its trace count covers "
          "3 calls with different filters and step counts; its GFLOP/s count the one output channel of "
          f"{FLAGS.layer} it computes, {narrow / 1e9:.1f} GFLOP per image-step)")


if __name__ == "__main__":
    app.run(main)
