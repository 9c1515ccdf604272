"""Progressive resolution: fft_progressive (half the steps at half size) against fft, same process.

    python benchmarks/progressive.py [--layers block1_conv2,block3_conv1,block4_conv3,block5_conv3] [--filters 8]
    python benchmarks/progressive.py --smoke     # CI: one layer, 2 filters, 64 px (32 px coarse), 4 steps

Offline VGG16 at 128 px, the same evenly spaced filters of each layer for both methods. Prints seconds
(compile excluded) and the median robust activation of the saved pictures (benchmarks/quality.py),
and their ratios to fft.
"""

import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402
from quality import robust_activation  # noqa: E402

from kerasviz import load_model, models  # noqa: E402
from kerasviz.optvis import render  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_list("layers", ["block1_conv2", "block3_conv1", "block4_conv3", "block5_conv3"], "VGG16 layers.")
flags.DEFINE_integer("filters", 8, "Filters per layer, evenly spaced.", lower_bound=1)
flags.DEFINE_integer("size", 128, "Image side.")
flags.DEFINE_string("weights", "offline", "VGG16 weights.")
flags.DEFINE_integer("steps", None, "Steps of both methods (default: each method's).", lower_bound=1)
flags.DEFINE_boolean("smoke", False, "CI: the whole run at a tiny size in seconds (flags given still win).")

SMOKE = {"layers": ["block1_conv2"], "filters": 2, "size": 64, "steps": 4}  # 64 px: the coarse half is 32 px
METHODS = ("fft", "fft_progressive")


def main(argv):
    del argv
    if FLAGS.smoke:
        for name, value in SMOKE.items():
            if not FLAGS[name].present:
                setattr(FLAGS, name, value)
    model = load_model("vgg16", FLAGS.weights)
    print(f"VGG16 ({models.model_info(model).weights}), {FLAGS.size} px, {FLAGS.filters} filters a layer")
    totals = {m: [0.0, []] for m in METHODS}
    for layer in FLAGS.layers:
        channels = models.num_channels(model, layer)
        filters = np.linspace(0, channels - 1, FLAGS.filters).round().astype(int).tolist()
        row = {}
        for method in METHODS:
            render.visualize_filters(model, layer, filters[:1], size=FLAGS.size, steps=2, method=method,
                                     batch_size=len(filters))  # compile
            start = time.perf_counter()
            images, _ = render.visualize_filters(model, layer, filters, size=FLAGS.size, steps=FLAGS.steps,
                                                 method=method)
            seconds = time.perf_counter() - start
            quality = float(np.median(robust_activation(model, layer, images, filters)))
            row[method] = (seconds, quality)
            totals[method][0] += seconds
            totals[method][1].append(quality)
        (s0, q0), (s1, q1) = row["fft"], row["fft_progressive"]
        print(f"  {layer:14s} fft {s0:6.1f} s, quality {q0:7.2f} | fft_progressive {s1:6.1f} s, quality {q1:7.2f} "
              f"| speed {s0 / s1:4.2f}x, quality {q1 / q0:5.3f}x", flush=True)
    (s0, q0), (s1, q1) = totals["fft"], totals["fft_progressive"]
    ratios = np.array(q1) / np.array(q0)
    print(f"all layers: speed {s0 / s1:.2f}x; quality ratio per layer {np.round(ratios, 3).tolist()}, "
          f"geometric mean {np.exp(np.mean(np.log(ratios))):.3f}")


if __name__ == "__main__":
    app.run(main)
