"""Feature inversion as a job: a photo in, PNG + JSON out, finished files skipped."""

from __future__ import annotations

import dataclasses
import os
import time

import keras
import numpy as np

from kerasviz import io, models
from kerasviz.apps import _jobs
from kerasviz.synthesis import reconstruct as lib


def run(
    image: str | np.ndarray,
    out: str,
    *,
    model: str | keras.Model = "vgg16", weights: str | None = "auto", preprocess: str | None = None,
    options: lib.InversionOptions | None = None,
    overwrite: bool = False,
    progress: _jobs.ProgressFn | None = None,
) -> dict:
    """Writes `out` (PNG: the photo, then one labelled reconstruction per layer) and `out` with .json;
    returns the facts (see kerasviz.apps).

    `options`: an InversionOptions (default: its defaults), recorded whole in the sidecar; its layers
    default to lib.inversion_layers(model).
    """
    options = lib.InversionOptions.create(options)
    png, sidecar, earlier = _jobs.start(out, overwrite=overwrite)
    if earlier:
        return earlier
    photo = _jobs.image(image)
    net = _jobs.network(model, weights, preprocess)
    options = dataclasses.replace(options, layers=options.layers or lib.inversion_layers(net))
    for layer in options.layers:
        models.get_layer(net, layer)  # a bad name fails before any work
    start = time.perf_counter()
    result = lib.invert_features(photo, model=net, options=options, progress=progress)
    seconds = time.perf_counter() - start
    shown = io.round_pixels(io.resize(photo, result.images.shape[1:3]))
    labels = ["photo"] + [f"{layer} {d:.2f}" for layer, d in zip(result.layers, result.distances)]
    io.write_png(png, io.labelled_row([shown, *result.images], labels))
    return _jobs.finish(png, sidecar, {
        "image": _jobs.describe(image),
        **models.model_facts(net),
        "layers": result.layers,
        "relative_feature_distance": {k: float(v) for k, v in zip(result.layers, result.distances)},
        "start_relative_feature_distance": {k: float(v) for k, v in zip(result.layers, result.start_distances)},
        "distance": "|F(x) - F(photo)| / |F(photo)| at the layer; the start is grey plus noise",
        "tv_weight": options.tv_weight,
        "optimizer": "lbfgs",
        "levels": options.levels,
        "steps_per_level": options.steps,
        "size": list(result.images.shape[1:3]),
        "seed": options.seed,
        "options": options.facts(),
        "seconds": round(seconds, 2),
    })


# The README's inversion, and visualize_all --smoke's: tiny and quick, to show the job runs.
README_OPTIONS = lib.InversionOptions(layers=lib.INVERT_LAYERS, size=160, steps=50)
SMOKE_OPTIONS = dataclasses.replace(README_OPTIONS, size=32, steps=2, levels=1)


def readme_examples(out: str, *, weights: str = "auto", overwrite: bool = False,
                    bars: _jobs.Bars | None = None, smoke: bool = False) -> list[str]:
    """The README's feature inversion: scikit-image's chelsea from five depths of VGG16 (README_OPTIONS;
    SMOKE_OPTIONS with `smoke`, and the sidecar says so)."""
    from skimage import data

    facts = run(data.chelsea(), os.path.join(out, "inversion_chelsea.png"), weights=weights,
                options=SMOKE_OPTIONS if smoke else README_OPTIONS, overwrite=overwrite,
                progress=_jobs.bar(bars, "feature inversion"))
    return _jobs.readme_pngs([facts], smoke=smoke)
