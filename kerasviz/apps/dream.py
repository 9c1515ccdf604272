"""DeepDream as a job: plain arguments in, PNG + JSON out, finished files skipped."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping

import keras
import numpy as np

from kerasviz import io, models
from kerasviz.apps import _jobs
from kerasviz.errors import KerasvizError
from kerasviz.synthesis import dream as dream_lib


def run(
    image: str | np.ndarray,
    out: str,
    *,
    model: str | keras.Model | None = None, weights: str | None = "auto", preprocess: str | None = None,
    layers: Mapping[str, float] | None = None,
    octaves: int = dream_lib.OCTAVES,
    steps: int = dream_lib.STEPS,
    tile_size: int = dream_lib.TILE_SIZE,
    seed: int = 0,
    max_side: int | None = None,
    overwrite: bool = False,
    progress: _jobs.ProgressFn | None = None,
) -> dict:
    """Writes the dream `out` (PNG, the input's size) and `out` with .json; returns the facts (kerasviz.apps).

    model None: with weights "auto", InceptionV3 with ImageNet weights when they can be had, else the
    offline VGG16; with other weights, VGG16 for "offline", else InceptionV3 with them (an explicit
    choice is never swapped for another). An image file is dreamt on at its own size (tiles bound the
    network's memory), unless `max_side` caps its longer side.
    """
    png, sidecar, earlier = _jobs.start(out, overwrite=overwrite)
    if earlier:
        return earlier
    picture = _jobs.image(image, max_side=max_side)
    if model is None and weights == "auto":
        net = dream_lib.default_model(preprocess)
    else:
        net = _jobs.network(model or default_name(weights), weights, preprocess)
    chosen = dict(layers) if layers else dream_lib.default_layers(net)
    start = time.perf_counter()
    result = dream_lib.deep_dream(
        picture, model=net, layers=chosen, octaves=octaves, steps=steps, tile_size=tile_size, seed=seed,
        progress=progress,
    )
    seconds = time.perf_counter() - start
    io.write_png(png, result)
    return _jobs.finish(png, sidecar, {
        "image": _jobs.describe(image),
        **models.model_facts(net),
        "layers": chosen,
        "octaves": octaves,
        "octave_scale": dream_lib.OCTAVE_SCALE,
        "steps_per_octave": steps,
        "step_size": dream_lib.STEP_SIZE,
        "tile_size": tile_size,
        "seed": seed,
        "size": list(result.shape[:2]),
        "seconds": round(seconds, 2),
    })


def default_name(weights: str | None) -> str:
    """The dream's network for weights given without a model: VGG16 has the offline weights, InceptionV3
    (the default network) takes any other."""
    return "vgg16" if isinstance(weights, str) and weights.lower() == "offline" else "inceptionv3"


def parse_layers(spec: str) -> dict[str, float]:
    """'NAME:WEIGHT,NAME' -> {name: weight} (weight 1 when left out)."""
    layers = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        name, _, weight = part.partition(":")
        try:
            layers[name.strip()] = float(weight) if weight else 1.0
        except ValueError:
            raise KerasvizError(f"cannot read layer weight {part!r}; use NAME:WEIGHT,... e.g. mixed3:1,mixed5:1.5") \
                from None
    return layers


def readme_examples(out: str, *, weights: str = "auto", overwrite: bool = False,
                    bars: _jobs.Bars | None = None) -> list[str]:
    """Writes the README's dreams into `out` (scikit-image's chelsea and coffee); returns their paths."""
    from skimage import data

    model = None if weights == "auto" else "vgg16"
    return [
        run(io.resize(getattr(data, name)(), (200, 300)), os.path.join(out, f"dream_{name}.png"), model=model,
            weights=weights, steps=15, overwrite=overwrite, progress=bars and bars(f"deep dream {name}"))["png"]
        for name in ("chelsea", "coffee")
    ]
