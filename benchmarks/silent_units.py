"""Which units stay silent whatever kerasviz tries? Every filter of a layer under every recipe.

A unit counts as silent under a recipe when its picture's robust activation (benchmarks/quality.py)
is below --alive. Each filter is drawn by every kerasviz method (classic, fft, maco) and by the
plain pixel-space baseline (benchmarks/quality.py), and its response to scikit-image's photos is
measured too (the largest mean response over the photos). The units silent under every recipe and on
every photo are listed: what a grey tile in the gallery then means is a fact about the network.

  python benchmarks/silent_units.py --layer=block2_conv2            # all 128 units: about 10 min here
  python benchmarks/silent_units.py --layer=block2_conv2 --filters=16  # the filters benchmark's 16
  python benchmarks/silent_units.py --smoke                            # CI: block1_conv1, 2 filters, 32 px, 4 steps
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app, flags  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
import quality  # noqa: E402
from quality import baseline  # noqa: E402

from kerasviz import load_model, models  # noqa: E402
from kerasviz.optvis import render  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("weights", "offline", "VGG16 weights.")
flags.DEFINE_string("layer", "block2_conv2", "Layer whose every unit is tried.")
flags.DEFINE_integer("size", 128, "Picture side.")
flags.DEFINE_list("methods", ["fft", "classic", "maco"], "kerasviz methods tried.")
flags.DEFINE_integer("filters", 0, "Try only this many filters spread over the layer (0: every unit).", lower_bound=0)
flags.DEFINE_float("alive", 1.0, "Robust activation above which a unit responds.")
flags.DEFINE_integer("steps", None, "kerasviz steps (default: each method's).", lower_bound=1)
flags.DEFINE_boolean("smoke", False, "CI: the whole run at a tiny size in seconds (flags given still win).")

SMOKE = {"layer": "block1_conv1", "filters": 2, "size": 32, "steps": 4}


def main(argv):
    del argv
    if FLAGS.smoke:
        for name, value in SMOKE.items():
            if not FLAGS[name].present:
                setattr(FLAGS, name, value)
    model = load_model("vgg16", FLAGS.weights)
    channels = models.num_channels(model, FLAGS.layer)
    filters = list(range(channels))
    if FLAGS.filters:  # the same spread as benchmarks/filters.py
        filters = quality.spread_filters(channels, FLAGS.filters)
    scores = {"baseline": quality.robust_activation(model, FLAGS.layer, baseline(model, FLAGS.layer, filters,
                                                                                   FLAGS.size), filters)}
    for method in FLAGS.methods:
        images, _ = render.visualize_filters(model, FLAGS.layer, filters, size=FLAGS.size, steps=FLAGS.steps,
                                             method=method)
        scores[method] = quality.robust_activation(model, FLAGS.layer, images, filters)
    photos = quality.reference_photos(224)
    features = tf.keras.Model(model.input, models.get_layer(model, FLAGS.layer).output)
    on_photos = tf.reduce_mean(features(models.preprocess_fn(model)(tf.constant(photos, tf.float32))),
                               axis=(1, 2)).numpy().max(axis=0)
    print(f"{FLAGS.layer}: {len(filters)} units; responding (robust activation > {FLAGS.alive}) per recipe:")
    for name, values in scores.items():
        print(f"  {name:10s} {np.sum(values > FLAGS.alive):4d}")
    best = np.max(np.stack(list(scores.values())), axis=0)
    print(f"  any recipe {np.sum(best > FLAGS.alive):4d}")
    best, on_photos = dict(zip(filters, best)), dict(zip(filters, on_photos[filters]))
    scores = {name: dict(zip(filters, values)) for name, values in scores.items()}
    silent = [f for f in filters if best[f] <= FLAGS.alive]
    print(f"silent under every recipe: {len(silent)}: {silent}")
    print(f"  of those, silent on every photo too (mean response 0): {[f for f in silent if on_photos[f] == 0]}")
    for f in silent:
        print(f"  unit {f}: " + ", ".join(f"{name} {values[f]:.2f}" for name, values in scores.items())
              + f", photos {on_photos[f]:.2f}")


if __name__ == "__main__":
    app.run(main)
