"""The whole VGG16 gallery: every conv layer x 64 filters at 128 px, default method and precision.

Renders the gallery layer by layer as a user would (one visualize_filters call a layer, tracing
included) and prints each layer's seconds and CPU seconds, its GFLOP/s and the share of this
machine's measured convolution peak, then the total against the least time that peak allows for the same steps
(forward pass plus input gradient at the method's padded view, with the one output channel of the
objective layer that kerasviz computes; benchmarks/peak.py). Then, for
--quality_filters evenly spaced filters of each layer, it renders the same filters in float32 and
compares the median robust activation (benchmarks/quality.py) of the two precisions.

  python benchmarks/gallery.py                        # 13 x 64 filters: about 25 min on this 2-core CPU
  python benchmarks/gallery.py --filters=8            # a sample
  python benchmarks/gallery.py --smoke                # CI: one layer, 2 filters, 32 px, 4 steps, a rough peak
"""

import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app, flags  # noqa: E402
from peak import conv_flops, measured_peak  # noqa: E402
from quality import robust_activation  # noqa: E402

from kerasviz import load_model, models  # noqa: E402
from kerasviz.models.precision import resolve_precision  # noqa: E402
from kerasviz.optvis import render  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_list("layers", None, "VGG16 layers (default: every conv layer).")
flags.DEFINE_integer("filters", 64, "Filters a layer: 0 to N-1.", lower_bound=1)
flags.DEFINE_integer("size", 128, "Image side.")
flags.DEFINE_string("precision", "auto", "Precision of the timed gallery.")
flags.DEFINE_integer("quality_filters", 8, "Filters a layer compared with float32 (0: no comparison).", lower_bound=0)
flags.DEFINE_string("weights", "offline", "VGG16 weights.")
flags.DEFINE_integer("steps", None, "Steps (default: the default method's).", lower_bound=1)
flags.DEFINE_boolean("smoke", False, "CI: the whole run at a tiny size in seconds, the peak measured once "
                     "(flags given still win).")

SMOKE = {"layers": ["block1_conv2"], "filters": 2, "size": 32, "steps": 4, "quality_filters": 2}


def view_size(size: int) -> int:
    """The side of the picture the model sees with the default method's transforms (padding)."""
    transform = render.METHODS[render.DEFAULT_METHOD].transform
    if transform is None:
        return size
    return int(transform(size)(tf.zeros((1, size, size, 3)), tf.zeros((1, 2), tf.int32)).shape[1])


def main(argv):
    del argv
    if FLAGS.smoke:
        for name, value in SMOKE.items():
            if not FLAGS[name].present:
                setattr(FLAGS, name, value)
    model = load_model("vgg16", FLAGS.weights)
    layers = FLAGS.layers or models.conv_layers(model)
    precision = resolve_precision(FLAGS.precision)
    steps = FLAGS.steps or render.METHODS[render.DEFAULT_METHOD].steps
    view = view_size(FLAGS.size)
    peak = measured_peak(tf.as_dtype(precision), **({"rounds": 1, "calls": 1} if FLAGS.smoke else {}))
    print(f"VGG16 ({models.model_info(model).weights}), {len(layers)} layers x {FLAGS.filters} filters, "
          f"{FLAGS.size} px (the model sees {view} px), {render.DEFAULT_METHOD} {steps} steps, {precision}; "
          f"measured convolution peak {peak:.0f} GFLOP/s", flush=True)

    total_seconds = total_gflop = total_cpu = 0.0
    kept = {}
    for layer in layers:
        filters = list(range(min(FLAGS.filters, models.num_channels(model, layer))))
        start, cpu_start = time.perf_counter(), time.process_time()
        images, _ = render.visualize_filters(model, layer, filters, size=FLAGS.size, steps=FLAGS.steps,
                                             precision=precision)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        total_cpu += cpu
        gflop = conv_flops(model, layer, view, single_channel=True) * len(filters) * steps / 1e9
        total_seconds += seconds
        total_gflop += gflop
        rate = gflop / seconds
        print(f"  {layer:14s} {seconds:7.1f} s  {seconds / len(filters):5.2f} s a filter  "
              f"{rate:5.0f} GFLOP/s = {rate / peak:4.0%} of peak  CPU {cpu:7.1f} s", flush=True)
        if FLAGS.quality_filters:
            picks = np.linspace(0, len(filters) - 1, min(FLAGS.quality_filters, len(filters))).round().astype(int)
            kept[layer] = (picks.tolist(), images[picks])
    least = total_gflop / peak
    print(f"gallery: {total_seconds:.0f} s ({total_seconds / 60:.1f} min) for {total_gflop:.0f} GFLOP; at this "
          f"machine's peak the same steps need at least {least:.0f} s ({least / 60:.1f} min): "
          f"{least / total_seconds:.0%} of peak over the whole gallery; {total_cpu:.0f} CPU s (process time, which "
          f"other jobs on the machine change less than the wall clock)", flush=True)

    if not kept or precision == "float32":
        return
    print(f"quality, {precision} against float32 (median robust activation of {FLAGS.quality_filters} filters):")
    ratios = []
    for layer, (filters, images) in kept.items():
        reference, _ = render.visualize_filters(model, layer, filters, size=FLAGS.size, steps=FLAGS.steps,
                                                precision="float32")
        ours = float(np.median(robust_activation(model, layer, images, filters)))
        theirs = float(np.median(robust_activation(model, layer, reference, filters)))
        ratio = ours / theirs if theirs > 0 else float("nan")
        ratios.append(ratio)
        print(f"  {layer:14s} {precision} {ours:8.2f}  float32 {theirs:8.2f}  ratio {ratio:5.3f}", flush=True)
    ratios = np.array([r for r in ratios if np.isfinite(r) and r > 0])
    print(f"ratio per layer: geometric mean {np.exp(np.mean(np.log(ratios))):.3f}, "
          f"min {ratios.min():.3f}, max {ratios.max():.3f} (goal: within 5% of float32)")


if __name__ == "__main__":
    app.run(main)
