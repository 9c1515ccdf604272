"""Regenerates every picture the README shows, into examples/ (or --out).

  python scripts/visualize_all.py --out=kerasviz_gallery   # a fresh folder: every picture made anew
  python scripts/visualize_all.py                          # examples/: only what is missing there
  python scripts/visualize_all.py --filters_per_layer=64 --only=filters
  python scripts/visualize_all.py --tensorboard=logs       # also as TensorBoard summaries

Ends by writing OUT/index.html, a gallery of every picture in the folder, and printing its path
and the time taken.

Finished pictures are kept and skipped on a rerun (--overwrite redoes them), so an
interrupted run continues where it stopped; a clone already holds every picture in examples/.
"""

import os
import sys
import time

import _startup  # noqa: F401  (first: starts TensorFlow quietly)
from absl import flags

from kerasviz import KerasvizError, _cli, io, load_model, models
from kerasviz.apps import (
    classes,
    dream,
    exemplars,
    feature_map,
    first_layer,
    gallery,
    inversion,
    saliency,
    style,
    tensorboard,
    texture,
)
from kerasviz.apps import filters as filters_app
from kerasviz.models import weights as weights_lib

FLAGS = flags.FLAGS
PARTS = ("filters", "compare", "other_models", "saliency", "style", "dream", "inversion", "texture", "classes",
         "exemplars", "feature_map", "first_layer")
_cli.define_output_flags("examples", folder=True, what="Output folder (examples/ holds the README's pictures; "
                         "pictures already there are kept, so name a new folder to watch them all being made).")
flags.DEFINE_string("weights", "auto", "Weights for every model: auto, imagenet or offline (VGG16 only).")
flags.DEFINE_integer("filters_per_layer", 16, "Filters shown per layer (the first N).", lower_bound=1)
flags.DEFINE_integer("size", 128, "Filter picture side in pixels.", lower_bound=16)
flags.DEFINE_integer("steps", None, "Optimisation steps per filter (default: the method's).", lower_bound=1)
flags.DEFINE_list("only", list(PARTS), f"Parts to make, of {', '.join(PARTS)}.")
flags.DEFINE_string("tensorboard", None, "Also write the filter grids and activations as TensorBoard summaries here.")

# The other methods are drawn beside the default on one early and one late layer, the classic recipe's
# (Chollet 2016) among them.
COMPARE_LAYERS = ("block3_conv1", "block5_conv3")
COMPARE_METHODS = ("classic", "maco")  # drawn beside the default on COMPARE_LAYERS
# Layers shown for the other networks when ImageNet weights are available.
OTHER_MODELS = {
    "resnet50": ("conv2_block3_out", "conv3_block4_out", "conv4_block6_out", "conv5_block3_out"),
    "inceptionv3": ("mixed2", "mixed4", "mixed7", "mixed10"),
}


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _filter_grids(model, prefix: str, layers, *, method=None, suffix="") -> int:
    """One grid per layer, OUT/PREFIX_LAYER[SUFFIX].png; returns how many were kept from an earlier run."""
    kept = 0
    for i, layer in enumerate(layers, 1):
        count = min(FLAGS.filters_per_layer, models.num_channels(model, layer))
        stem = f"{prefix}_{layer}{suffix}"
        with _cli.ProgressBar(f"[{i}/{len(layers)}] {stem}") as progress:
            facts = filters_app.run(
                layer, list(range(count)), FLAGS.out, model=model, stem=stem, size=FLAGS.size, steps=FLAGS.steps,
                method=method, overwrite=FLAGS.overwrite, progress=progress,
            )
        if FLAGS.tensorboard:
            grid = io.load_image(facts["png"], max_side=None)
            tensorboard.write_summaries(FLAGS.tensorboard, stem, grid, facts, step=i)
        kept += bool(facts.get("skipped"))
        verb = "kept" if facts.get("skipped") else f"{facts['seconds']:.0f} s"
        _say(f"[{i}/{len(layers)}] {stem}.png ({count} filters, {facts['method']}, {verb})")
    return kept


def _filter_parts(timings: dict) -> int:
    """The VGG16 grids (the classic recipe's names: vgg_block1_conv1.png ...), the method comparison and
    the other networks' grids, as FLAGS.only asks; returns how many grids were kept from an earlier run."""
    kept = 0
    if {"filters", "compare"} & set(FLAGS.only):
        vgg = load_model("vgg16", FLAGS.weights)
        _say(f"VGG16 weights: {models.model_info(vgg).weights}")
        if "filters" in FLAGS.only:
            t0 = time.perf_counter()
            kept += _filter_grids(vgg, "vgg", models.conv_layers(vgg))
            timings["filters"] = time.perf_counter() - t0
        if "compare" in FLAGS.only:
            t0 = time.perf_counter()
            for method in COMPARE_METHODS:
                kept += _filter_grids(vgg, "vgg", COMPARE_LAYERS, method=method, suffix=f"_{method}")
            timings["compare"] = time.perf_counter() - t0
    if "other_models" in FLAGS.only:
        t0 = time.perf_counter()
        for name, layers in OTHER_MODELS.items():
            try:
                model = load_model(name, FLAGS.weights)
            except KerasvizError as err:
                _say(f"skipping {name}: {err}")
                continue
            kept += _filter_grids(model, name, layers)
        timings["other_models"] = time.perf_counter() - t0
    return kept


# The lecture's other methods; "classes" makes the class pictures and the fooling image; exemplars
# and the feature map read scikit-image's sample photos.
JOBS = {"saliency": saliency.readme_examples, "style": style.readme_examples, "dream": dream.readme_examples,
        "inversion": inversion.readme_examples, "texture": texture.readme_examples,
        "classes": classes.readme_examples, "exemplars": exemplars.readme_examples,
        "feature_map": feature_map.readme_examples, "first_layer": first_layer.readme_examples}


def main(argv):
    del argv
    unknown = sorted(set(FLAGS.only) - set(PARTS))
    if unknown:
        raise KerasvizError(f"unknown part {unknown[0]!r} in --only; valid: {', '.join(PARTS)}")
    io.check_writable(FLAGS.out)
    FLAGS.weights = weights_lib.settle(FLAGS.weights)  # auto: one try of the ImageNet download for the whole run
    start = time.perf_counter()
    timings = {}
    kept = _filter_parts(timings)
    for part, job in JOBS.items():
        if part in FLAGS.only:
            t0 = time.perf_counter()
            with _cli.ProgressBars() as bars:
                written = job(FLAGS.out, weights=FLAGS.weights, overwrite=FLAGS.overwrite, bars=bars)
            timings[part] = time.perf_counter() - t0
            _say(f"{part}: {len(written)} pictures ({timings[part]:.0f} s)")
    page = gallery.write_index(FLAGS.out)  # every picture in the folder, this run's and earlier ones
    if kept:
        _say(f"{kept} filter grids were already in {FLAGS.out}/ and were kept: --overwrite remakes them, "
             "--out=NEW_FOLDER makes everything afresh")
    summary = ", ".join(f"{part} {seconds:.0f} s" for part, seconds in timings.items())
    print(f"done in {time.perf_counter() - start:.0f} s ({summary})")
    print(f"gallery: {os.path.abspath(page)}")


if __name__ == "__main__":
    _cli.run(main)
