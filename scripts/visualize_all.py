"""Regenerates every picture the README shows, into examples/ (or --out).

  python scripts/visualize_all.py --out=kerasviz_gallery   # a fresh folder: every picture made anew
  python scripts/visualize_all.py                          # examples/: only what is missing there
  python scripts/visualize_all.py --filters_per_layer=64 --only=filters
  python scripts/visualize_all.py --tensorboard=logs       # also as TensorBoard summaries
  python scripts/visualize_all.py --smoke --out=/tmp/smoke  # every part, every picture, tiny: a check it runs

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
    cams,
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
    transformers,
)
from kerasviz.apps import filters as filters_app
from kerasviz.models import weights as weights_lib
from kerasviz.optvis import render

FLAGS = flags.FLAGS
PARTS = ("filters", "compare", "other_models", "saliency", "cams", "transformers", "style", "dream", "inversion",
         "texture", "classes", "exemplars", "feature_map", "first_layer")
_cli.define_output_flags("examples", folder=True, what="Output folder (examples/ holds the README's pictures; "
                         "pictures already there are kept, so name a new folder to watch them all being made).")
flags.DEFINE_string("weights", "auto", "Weights for every model: auto, imagenet or offline (VGG16 only).")
flags.DEFINE_integer("filters_per_layer", 16, "Filters shown per layer (the first N).", lower_bound=1)
flags.DEFINE_integer("size", 128, "Filter picture side in pixels.", lower_bound=16)
flags.DEFINE_integer("steps", None, "Optimisation steps per filter (default: the method's).", lower_bound=1)
flags.DEFINE_list("only", list(PARTS), f"Parts to make, of {', '.join(PARTS)}.")
flags.DEFINE_string("tensorboard", None, "Also write the filter grids and activations as TensorBoard summaries here.")
flags.DEFINE_boolean("smoke", False, "Every part and picture at a tiny size with few steps (each part's SMOKE "
                     "settings; --filters_per_layer, --size and --steps still apply when given): a quick check that "
                     "the whole job runs, into a folder other than examples/ (the pictures are not worth keeping).")



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


# The lecture's other methods; "cams" the CAM family on one photo, "transformers" rollout and CAMs on a ViT
# trained in the job on synthetic scenes; "classes" makes the class pictures and the fooling image; exemplars
# and the feature map read scikit-image's sample photos.
JOBS = {"saliency": saliency.readme_examples, "cams": cams.readme_examples,
        "transformers": transformers.readme_examples, "style": style.readme_examples, "dream": dream.readme_examples,
        "inversion": inversion.readme_examples, "texture": texture.readme_examples,
        "classes": classes.readme_examples, "exemplars": exemplars.readme_examples,
        "feature_map": feature_map.readme_examples, "first_layer": first_layer.readme_examples}


def _parts(grids: _Grids) -> dict:
    """Every part's job, in PARTS order: the filter parts with this run's grid settings, then JOBS. With
    --smoke, the grid flags not given are left to the filter parts' own smoke settings."""
    given = {name: FLAGS[name].value for name in ("filters_per_layer", "size", "steps")
             if FLAGS[name].present or not FLAGS.smoke}
    options = render.FilterOptions.create(filters_app.SMOKE_OPTIONS if FLAGS.smoke else None,
                                          **{k: v for k, v in given.items() if k != "filters_per_layer"})
    filters = {part: functools.partial(filters_app.readme_examples, part=part, per_layer=given.get("filters_per_layer"),
                                       options=options, on_grid=grids) for part in filters_app.README_PARTS}
    return {**filters, **JOBS}


def _check_smoke_folder() -> None:
    """--smoke never writes into examples/ (the flag's default, or the repository's): its tiny pictures would
    be kept there in place of the README's."""
    readme_folders = {os.path.realpath(FLAGS["out"].default),
                      os.path.realpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples"))}
    if os.path.realpath(FLAGS.out) in readme_folders:
        raise KerasvizError(f"--smoke makes tiny pictures that are not to keep; it will not write into {FLAGS.out!r}, "
                            "the README's pictures: pass --out=NEW_FOLDER")


def main(argv):
    del argv
    unknown = sorted(set(FLAGS.only) - set(PARTS))
    if unknown:
        raise KerasvizError(f"unknown part {unknown[0]!r} in --only; valid: {', '.join(PARTS)}")
    if FLAGS.smoke:
        _check_smoke_folder()
    io.check_writable(FLAGS.out)
    FLAGS.weights = weights_lib.settle(FLAGS.weights)  # auto: one try of the ImageNet download for the whole run
    _say(f"weights: {FLAGS.weights} for every part")
    start = time.perf_counter()
    timings, grids = {}, _Grids()
    for part, job in _parts(grids).items():
        if part in FLAGS.only:
            t0 = time.perf_counter()
            with _cli.ProgressBars() as bars:
                written = job(FLAGS.out, weights=FLAGS.weights, overwrite=FLAGS.overwrite, bars=bars, smoke=FLAGS.smoke)
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
