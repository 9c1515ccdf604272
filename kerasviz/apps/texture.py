"""Texture synthesis as a job: a texture in, a new one of any size out (PNG + JSON), finished files skipped."""

from __future__ import annotations

import dataclasses
import os
import time

import keras
import numpy as np

from kerasviz import io, models
from kerasviz.apps import _jobs
from kerasviz.synthesis import reconstruct as lib

MAX_SOURCE = 512  # a larger source is shrunk to this longer side first, pixels (its patterns too)


def run(
    style: str | np.ndarray,
    out: str,
    *,
    model: str | keras.Model = "vgg16", weights: str | None = "auto", preprocess: str | None = None,
    options: lib.TextureOptions | None = None,
    max_source: int = MAX_SOURCE,
    overwrite: bool = False,
    progress: _jobs.ProgressFn | None = None,
) -> dict:
    """Writes the texture `out` (PNG, exactly options.shape = (H, W)) and `out` with .json; returns the facts
    (see kerasviz.apps).

    `options`: a TextureOptions (default: its defaults), recorded whole in the sidecar; its layers default
    to lib.texture_layers(model). A source larger than `max_source` pixels on its longer side is first
    shrunk to it (its patterns too).
    """
    options = lib.TextureOptions.create(options)
    png, sidecar, earlier = _jobs.start(out, overwrite=overwrite)
    if earlier:
        return earlier
    source = _jobs.image(style)
    if max(source.shape[:2]) > max_source:
        source = _jobs.fit(source, max_source)
    net = _jobs.network(model, weights, preprocess)
    options = dataclasses.replace(options, layers=options.layers or lib.texture_layers(net))
    for layer in options.layers:
        models.get_layer(net, layer)  # a bad name fails before any work
    start = time.perf_counter()
    result = lib.synthesize_texture(source, model=net, options=options, progress=progress)
    seconds = time.perf_counter() - start
    io.write_png(png, result.image)
    return _jobs.finish(png, sidecar, {
        "style": _jobs.describe(style),
        **models.model_facts(net),
        "layers": result.layers,
        "gram_distance": {k: float(v) for k, v in zip(result.layers, result.gram_distances)},
        "distance": "|G(x) - G(source)|^2 / |G(start) - G(source)|^2 per layer; the start is grey plus noise",
        "optimizer": "lbfgs",
        "levels": options.levels,
        "steps_per_level": options.steps,
        "size": list(result.image.shape[:2]),
        "source_size": list(source.shape[:2]),
        "seed": options.seed,
        "options": options.facts(),
        "seconds": round(seconds, 2),
    })


# The README's textures (source side in pixels, options), and visualize_all --smoke's: tiny, to show the job runs.
README = {"source": 192, "options": lib.TextureOptions(shape=(160, 320), steps=50)}
SMOKE = {"source": 48, "options": lib.TextureOptions(shape=(32, 64), steps=2, levels=1)}


def readme_examples(out: str, *, weights: str = "auto", overwrite: bool = False,
                    bars: _jobs.Bars | None = None, smoke: bool = False) -> list[str]:
    """The README's textures: scikit-image's gravel and brick (shrunk to a square source), twice as wide as
    tall; README's settings, SMOKE's with `smoke` (and the sidecars say so)."""
    from skimage import data

    settings = SMOKE if smoke else README
    side = settings["source"]
    sources = {name: io.resize(io.as_batch(getattr(data, name)())[0][0], (side, side)) for name in ("gravel", "brick")}
    written = []
    for name, source in sources.items():
        source_png = os.path.join(out, f"texture_{name}_source.png")
        if overwrite or not os.path.isfile(source_png):
            io.write_png(source_png, io.round_pixels(io.as_batch(source)[0][0]))
        texture = run(source, os.path.join(out, f"texture_{name}.png"), weights=weights, options=settings["options"],
                      overwrite=overwrite, progress=_jobs.bar(bars, f"texture {name}"))
        written += [source_png, *_jobs.readme_pngs([texture], smoke=smoke)]
    return written
