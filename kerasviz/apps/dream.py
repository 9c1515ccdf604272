"""DeepDream as a job: plain arguments in, PNG + JSON out, finished files skipped."""

from __future__ import annotations

import dataclasses
import os
import time

import keras
import numpy as np

from kerasviz import io, models
from kerasviz.apps import _jobs
from kerasviz.synthesis import dream as dream_lib


def run(
    image: str | np.ndarray,
    out: str,
    *,
    model: str | keras.Model | None = None, weights: str | None = "auto", preprocess: str | None = None,
    options: dream_lib.DreamOptions | None = None,
    max_side: int | None = None,
    overwrite: bool = False,
    progress: _jobs.ProgressFn | None = None,
    **overrides,
) -> dict:
    """Writes the dream `out` (PNG, the input's size) and `out` with .json; returns the facts (kerasviz.apps).

    `options`: a DreamOptions (default: its defaults), with `overrides` (any of its fields) replacing its
    values; recorded whole in the sidecar, with the layers used. model None: with weights "auto",
    InceptionV3 with ImageNet weights when they can be had, else the offline VGG16; with other weights,
    VGG16 for "offline", else InceptionV3 with them (an explicit choice is never swapped for another). An
    image file is dreamt on at its own size (tiles bound the network's memory), unless `max_side` caps its
    longer side.
    """
    options = dream_lib.DreamOptions.create(options, **overrides)
    png, sidecar, earlier = _jobs.start(out, overwrite=overwrite)
    if earlier:
        return earlier
    picture = _jobs.image(image, max_side=max_side)
    if model is None and weights == "auto":
        net = dream_lib.default_model(preprocess)
    else:
        net = _jobs.network(model or default_name(weights), weights, preprocess)
    chosen = options.layer_weights(net)
    options = dataclasses.replace(options, layers=chosen)
    start = time.perf_counter()
    result = dream_lib.deep_dream(picture, model=net, options=options, progress=progress)
    seconds = time.perf_counter() - start
    io.write_png(png, result)
    return _jobs.finish(png, sidecar, {
        "image": _jobs.describe(image),
        **models.model_facts(net),
        "layers": chosen,
        "octaves": options.octaves,
        "octave_scale": options.octave_scale,
        "steps_per_octave": options.steps,
        "step_size": options.step_size,
        "tile_size": options.tile_size,
        "seed": options.seed,
        "size": list(result.shape[:2]),
        "options": options.facts(),
        "seconds": round(seconds, 2),
    })


def default_name(weights: str | None) -> str:
    """The dream's network for weights given without a model: VGG16 has the offline weights, InceptionV3
    (the default network) takes any other."""
    return "vgg16" if isinstance(weights, str) and weights.lower() == "offline" else "inceptionv3"


# The README's dreams (photo size H, W and options), and visualize_all --smoke's: tiny, to show the job runs.
README = {"shape": (200, 300), "options": dream_lib.DreamOptions(steps=15)}
SMOKE = {"shape": (40, 60), "options": dream_lib.DreamOptions(steps=1, octaves=1)}


def readme_examples(out: str, *, weights: str = "auto", overwrite: bool = False,
                    bars: _jobs.Bars | None = None, smoke: bool = False) -> list[str]:
    """Writes the README's dreams into `out` (scikit-image's chelsea and coffee; README's settings, SMOKE's
    with `smoke`, and their sidecars say so); returns their paths."""
    from skimage import data

    model = None if weights == "auto" else "vgg16"
    settings = SMOKE if smoke else README
    return _jobs.readme_pngs([
        run(io.resize(getattr(data, name)(), settings["shape"]), os.path.join(out, f"dream_{name}.png"), model=model,
            weights=weights, options=settings["options"], overwrite=overwrite,
            progress=bars and bars(f"deep dream {name}"))
        for name in ("chelsea", "coffee")
    ], smoke=smoke)
