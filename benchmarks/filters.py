"""Filter pictures: kerasviz's methods against plain pixel-space ascent, scored four ways, per layer.

For every conv layer of the model (default: all 13 of VGG16), 16 filters spread across the layer are
drawn by each kerasviz method and by a baseline run in this process on the same filters: pixel-space
ascent from grey 0.5 plus uniform noise +-0.125 (0-1 scale), 30 steps each adding (10/255) g / RMS(g),
then contrast-normalised to std 0.15 around 0.5. Every saved (uint8) picture is scored by
(benchmarks/quality.py):

- robust activation: the unit's mean response over random rescale and shift views of the picture;
  per layer the median ratio to the baseline's picture, over filters whose baseline scores above 1,
  and the worst ratio;
- naturalness: the share of grey-level spectral power above half the Nyquist frequency (photos at
  128 px 0.02-0.03), median over pictures that excite their unit (robust activation above 1);
- frame: the outer 6% ring against the band inside it (mean colour difference in units of the
  picture's std, and the ratio of their std), median and worst; as a control, the median mean
  difference of the same pictures rolled by half their side, which puts the ring inside the picture
  (a frame scores higher at the border than rolled; large colour regions score alike in both);
- specificity: the rank of the target unit among all units of the layer by response to the picture,
  each divided by its mean response on photos (0 = the target responds most), median over all
  pictures and over those that excite their unit (a picture its unit ignores ranks anywhere);
- seconds per picture (tracing included, as a user meets it).

  python benchmarks/filters.py                                   # every layer: about an hour here
  python benchmarks/filters.py --layers=block2_conv2,block5_conv3 --methods=fft,maco --out=/tmp/f
  python benchmarks/filters.py --smoke                           # CI: one layer, 2 filters, 32 px, 4 steps
"""

from __future__ import annotations

import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import imageio.v3 as iio  # noqa: E402
import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
import quality  # noqa: E402
from quality import baseline, spread_filters  # noqa: E402

from kerasviz import load_model, models  # noqa: E402
from kerasviz.models.precision import resolve_precision  # noqa: E402
from kerasviz.optvis import render  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("model", "vgg16", "Model name.")
flags.DEFINE_string("weights", "offline", "Weights.")
flags.DEFINE_list("layers", None, "Layers (default: every conv layer).")
flags.DEFINE_integer("filters", 16, "Filters a layer, spread evenly from the first to the last.", lower_bound=1)
flags.DEFINE_integer("size", 128, "Picture side.")
flags.DEFINE_list("methods", None, "kerasviz methods (default: every method but classic).")
flags.DEFINE_string("precision", "auto", "kerasviz precision.")
flags.DEFINE_string("out", None, "Keep the pictures here (one strip a layer and method).")
flags.DEFINE_integer("steps", None, "kerasviz steps (default: each method's).", lower_bound=1)
flags.DEFINE_boolean("smoke", False, "CI: the whole run at a tiny size in seconds, strips written to a temporary "
                     "folder (flags given still win).")

SMOKE = {"layers": ["block1_conv2"], "filters": 2, "size": 32, "steps": 4}

ALIVE = 1.0  # robust activation above which a picture counts as exciting its unit


def scores(model, layer: str, images: np.ndarray, filters: list[int], photos: np.ndarray) -> dict[str, np.ndarray]:
    """Every score of every picture, float (N,) each."""
    difference, std_ratio = quality.frame_scores(images)
    half = images.shape[1] // 2  # the same statistic half a picture away from the border: a control
    rolled, _ = quality.frame_scores(np.roll(images, (half, half), axis=(1, 2)))
    return {
        "frame_rolled": rolled,
        "robust": quality.robust_activation(model, layer, images, filters),
        "high_freq": quality.high_frequency_share(images),
        "frame_mean": difference,
        "frame_std": std_ratio,
        "rank": quality.specificity_rank(model, layer, images, filters, photos=photos).astype(float),
    }


def summary(ours: dict, base: dict) -> str:
    counted = base["robust"] > ALIVE
    ratio = ours["robust"][counted] / base["robust"][counted]
    alive = ours["robust"] > ALIVE
    natural = np.median(ours["high_freq"][alive]) if alive.any() else float("nan")
    ratio_text = f"{np.median(ratio):5.2f}x (worst {ratio.min():4.2f}x, n={counted.sum()})" if counted.any() else "n/a"
    specific = np.median(ours["rank"][alive]) if alive.any() else float("nan")
    return (f"robust median {np.median(ours['robust']):7.2f}  vs baseline {ratio_text:26s}  "
            f"alive {alive.sum():2d}/{len(alive)}  high-freq {natural:4.2f}  "
            f"frame {np.median(ours['frame_mean']):4.2f}/{ours['frame_mean'].max():4.2f} std "
            f"{np.median(ours['frame_std']):4.2f}/{ours['frame_std'].max():4.2f} "
            f"(rolled {np.median(ours['frame_rolled']):4.2f})  rank {np.median(ours['rank']):5.1f} "
            f"(alive {specific:5.1f})")


def main(argv):
    del argv
    if FLAGS.smoke:
        for name, value in SMOKE.items():
            if not FLAGS[name].present:
                setattr(FLAGS, name, value)
        if not FLAGS.out:
            with tempfile.TemporaryDirectory() as folder:
                FLAGS.out = folder
                run()
            return
    run()


def run():
    model = load_model(FLAGS.model, FLAGS.weights)
    layers = FLAGS.layers or models.conv_layers(model)
    methods = FLAGS.methods or [name for name in render.METHODS if name != "classic"]
    photos = quality.reference_photos(FLAGS.size)
    print(f"{FLAGS.model} ({models.model_info(model).weights}), {FLAGS.filters} filters a layer, {FLAGS.size} px, "
          f"precision {resolve_precision(FLAGS.precision)}; methods {', '.join(methods)}; "
          f"per layer: median (worst) over the pictures, ratio to the baseline's picture of the same filter")
    if FLAGS.out:
        os.makedirs(FLAGS.out, exist_ok=True)
    for layer in layers:
        filters = spread_filters(models.num_channels(model, layer), FLAGS.filters)
        start = time.perf_counter()
        base_images = baseline(model, layer, filters, FLAGS.size)
        base_seconds = (time.perf_counter() - start) / len(filters)
        base = scores(model, layer, base_images, filters, photos)
        print(f"\n{layer} (filters {filters[0]}..{filters[-1]})", flush=True)
        print(f"  {'baseline':16s} {base_seconds:5.2f} s/pic  {summary(base, base)}", flush=True)
        strips = {"baseline": base_images}
        for name in methods:
            start = time.perf_counter()
            images, _ = render.visualize_filters(model, layer, filters, size=FLAGS.size, steps=FLAGS.steps,
                                                 method=name, precision=FLAGS.precision)
            seconds = (time.perf_counter() - start) / len(filters)
            print(f"  {name:16s} {seconds:5.2f} s/pic  {summary(scores(model, layer, images, filters, photos), base)}",
                  flush=True)
            strips[name] = images
        if FLAGS.out:
            rows = [np.concatenate(strip, axis=1) for strip in strips.values()]
            iio.imwrite(os.path.join(FLAGS.out, f"{layer}.png"), np.concatenate(rows, axis=0))


if __name__ == "__main__":
    app.run(main)
