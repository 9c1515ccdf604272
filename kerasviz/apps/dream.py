"""DeepDream as a job: plain arguments in, PNG + JSON out, finished files skipped."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping

import numpy as np

from kerasviz import dream as dream_lib
from kerasviz import io, models
from kerasviz._cli import Progress
from kerasviz.errors import KerasvizError

log = logging.getLogger("kerasviz")


def run(
    image: str | np.ndarray,
    out: str,
    *,
    model: str | None = None,
    weights: str | None = "auto",
    layers: Mapping[str, float] | None = None,
    octaves: int = dream_lib.OCTAVES,
    steps: int = dream_lib.STEPS,
    tile_size: int = dream_lib.TILE_SIZE,
    seed: int = 0,
    overwrite: bool = False,
    preprocess: str | None = None,
    max_side: int | None = None,
) -> str:
    """Writes the dream `out` (PNG, the input's size) and `out` with .json; returns the PNG path.

    model None: InceptionV3 with ImageNet weights when they can be had, else the offline VGG16; a name
    or a model file path otherwise (see models.load_model, which also takes `preprocess`).
    An image file is dreamt on at its own size (tiles bound the network's memory), unless `max_side`
    caps its longer side.
    """
    png, sidecar = _paths(out)
    if not overwrite and os.path.isfile(png) and os.path.isfile(sidecar):
        log.info("%s exists; skipped", png)
        return png
    io.check_writable(os.path.dirname(os.path.abspath(png)))
    picture = io.load_image(image, max_side=max_side) if isinstance(image, str) else np.asarray(image)
    net = dream_lib.default_model() if model is None else models.load_model(model, weights, preprocess=preprocess)
    chosen = dict(layers) if layers else dream_lib.default_layers(net)
    start = time.perf_counter()
    result = dream_lib.deep_dream(
        picture, model=net, layers=chosen, octaves=octaves, steps=steps, tile_size=tile_size, seed=seed,
        progress=Progress("deep dream"),
    )
    seconds = time.perf_counter() - start
    io.write_png(png, result)
    io.write_json(sidecar, {
        "image": image if isinstance(image, str) else f"array {list(picture.shape)}",
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
    return png


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


def readme_examples(out: str, *, weights: str = "auto", overwrite: bool = False) -> list[str]:
    """Writes the README's dreams into `out` (scikit-image's chelsea and coffee); returns their paths."""
    from skimage import data

    model = None if weights == "auto" else "vgg16"
    return [
        run(io.resize(data.chelsea(), (200, 300)), os.path.join(out, "dream_chelsea.png"), model=model,
            weights=weights, steps=15, overwrite=overwrite),
        run(io.resize(data.coffee(), (200, 300)), os.path.join(out, "dream_coffee.png"), model=model,
            weights=weights, steps=15, overwrite=overwrite),
    ]


def _paths(out: str) -> tuple[str, str]:
    stem = out[:-4] if out.lower().endswith(".png") else out
    return stem + ".png", stem + ".json"
