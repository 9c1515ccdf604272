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

import functools
import os
import sys
import time

import _startup  # noqa: F401  (first: starts TensorFlow quietly)
from absl import flags

from kerasviz import KerasvizError, _cli, io
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
from kerasviz.optvis import render

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



def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class _Grids:
    """What the filter parts report of each grid: a line, TensorBoard summaries, and the kept count."""

    def __init__(self):
        self.kept = 0

    def __call__(self, i: int, count: int, stem: str, facts: dict) -> None:
        if FLAGS.tensorboard:
            grid = io.load_image(facts["png"], max_side=None)
            tensorboard.write_summaries(FLAGS.tensorboard, stem, grid, facts, step=i)
        self.kept += bool(facts.get("skipped"))
        verb = "kept" if facts.get("skipped") else f"{facts['seconds']:.0f} s"
        _say(f"[{i}/{count}] {stem}.png ({len(facts['filters'])} filters, {facts['method']}, {verb})")


# The lecture's other methods; "classes" makes the class pictures and the fooling image; exemplars
# and the feature map read scikit-image's sample photos.
JOBS = {"saliency": saliency.readme_examples, "style": style.readme_examples, "dream": dream.readme_examples,
        "inversion": inversion.readme_examples, "texture": texture.readme_examples,
        "classes": classes.readme_examples, "exemplars": exemplars.readme_examples,
        "feature_map": feature_map.readme_examples, "first_layer": first_layer.readme_examples}


def _parts(grids: _Grids) -> dict:
    """Every part's job, in PARTS order: the filter parts with this run's grid settings, then JOBS."""
    options = render.FilterOptions(size=FLAGS.size, steps=FLAGS.steps)
    filters = {part: functools.partial(filters_app.readme_examples, part=part, per_layer=FLAGS.filters_per_layer,
                                       options=options, on_grid=grids) for part in filters_app.README_PARTS}
    return {**filters, **JOBS}


def main(argv):
    del argv
    unknown = sorted(set(FLAGS.only) - set(PARTS))
    if unknown:
        raise KerasvizError(f"unknown part {unknown[0]!r} in --only; valid: {', '.join(PARTS)}")
    io.check_writable(FLAGS.out)
    FLAGS.weights = weights_lib.settle(FLAGS.weights)  # auto: one try of the ImageNet download for the whole run
    _say(f"weights: {FLAGS.weights} for every part")
    start = time.perf_counter()
    timings, grids = {}, _Grids()
    for part, job in _parts(grids).items():
        if part in FLAGS.only:
            t0 = time.perf_counter()
            with _cli.ProgressBars() as bars:
                written = job(FLAGS.out, weights=FLAGS.weights, overwrite=FLAGS.overwrite, bars=bars)
            timings[part] = time.perf_counter() - t0
            _say(f"{part}: {len(written)} pictures ({timings[part]:.0f} s)")
    page = gallery.write_index(FLAGS.out)  # every picture in the folder, this run's and earlier ones
    if grids.kept:
        _say(f"{grids.kept} filter grids were already in {FLAGS.out}/ and were kept: --overwrite remakes them, "
             "--out=NEW_FOLDER makes everything afresh")
    summary = ", ".join(f"{part} {seconds:.0f} s" for part, seconds in timings.items())
    print(f"done in {time.perf_counter() - start:.0f} s ({summary})")
    print(f"gallery: {os.path.abspath(page)}")


if __name__ == "__main__":
    _cli.run(main)
