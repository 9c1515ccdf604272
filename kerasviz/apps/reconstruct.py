"""Feature inversion and texture synthesis as jobs: plain arguments in, PNG + JSON out, finished files skipped."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

import keras
import numpy as np

from kerasviz import io, models
from kerasviz.apps import _jobs
from kerasviz.errors import KerasvizError
from kerasviz.synthesis import reconstruct as lib

README_LAYERS = ("block1_conv2", "block2_conv2", "block3_conv3", "block4_conv3", "block5_conv3")


def inversion_layers(model: keras.Model) -> tuple[str, ...]:
    """README_LAYERS when the model has them (VGG16); otherwise the last convolution of each resolution
    stage (models.conv_stages), the same rule that gives README_LAYERS on VGG16."""
    return _stage_layers(model, README_LAYERS, -1)


def texture_layers(model: keras.Model) -> tuple[str, ...]:
    """lib.TEXTURE_LAYERS when the model has them (VGG); otherwise the first convolution of each
    resolution stage, the rule that gives TEXTURE_LAYERS on VGG16."""
    return _stage_layers(model, lib.TEXTURE_LAYERS, 0)


def _stage_layers(model: keras.Model, named: Sequence[str], position: int) -> tuple[str, ...]:
    if set(models.conv_layers(model)).issuperset(named):
        return tuple(named)
    stages = models.conv_stages(model)
    if not stages:
        raise KerasvizError(f"{models.model_facts(model)['model']} has no Conv2D layers of its own to take by "
                            "default; name them with --layers")
    return tuple(stage[position] for stage in stages)


def run_inversion(
    image: str | np.ndarray,
    layers: Sequence[str] | None,
    out: str,
    *,
    model: str | keras.Model = "vgg16", weights: str | None = "auto", preprocess: str | None = None,
    size: int = lib.INVERT_SIZE,
    steps: int = lib.INVERT_STEPS,
    tv_weight: float = lib.INVERT_TV_WEIGHT,
    seed: int = 0,
    overwrite: bool = False,
    progress: _jobs.ProgressFn | None = None,
) -> dict:
    """Writes `out` (PNG: the photo, then one labelled reconstruction per layer) and `out` with .json;
    returns the facts (see kerasviz.apps). `layers` None: inversion_layers(model).
    """
    png, sidecar, earlier = _jobs.start(out, overwrite=overwrite)
    if earlier:
        return earlier
    photo = _jobs.image(image)
    net = _jobs.network(model, weights, preprocess)
    layers = layers or inversion_layers(net)
    for layer in layers:
        models.get_layer(net, layer)  # a bad name fails before any work
    start = time.perf_counter()
    result = lib.invert_features(photo, layers=layers, model=net, size=size, steps=steps, tv_weight=tv_weight,
                                 seed=seed, progress=progress)
    seconds = time.perf_counter() - start
    shown = np.clip(np.round(io.resize(photo, result.images.shape[1:3])), 0, 255).astype(np.uint8)
    labels = ["photo"] + [f"{layer} {d:.2f}" for layer, d in zip(result.layers, result.distances)]
    io.write_png(png, io.labelled_row([shown, *result.images], labels))
    return _jobs.finish(png, sidecar, {
        "image": _jobs.describe(image),
        **models.model_facts(net),
        "layers": result.layers,
        "relative_feature_distance": {k: float(v) for k, v in zip(result.layers, result.distances)},
        "start_relative_feature_distance": {k: float(v) for k, v in zip(result.layers, result.start_distances)},
        "distance": "|F(x) - F(photo)| / |F(photo)| at the layer; the start is grey plus noise",
        "tv_weight": tv_weight,
        "optimizer": "lbfgs",
        "levels": lib.LEVELS,
        "steps_per_level": steps,
        "size": list(result.images.shape[1:3]),
        "seed": seed,
        "seconds": round(seconds, 2),
    })


def run_texture(
    style: str | np.ndarray,
    out: str,
    *,
    layers: Sequence[str] | None = None,
    size: tuple[int, int] = (256, 256),
    model: str | keras.Model = "vgg16", weights: str | None = "auto", preprocess: str | None = None,
    steps: int = lib.TEXTURE_STEPS,
    max_source: int = 512,
    seed: int = 0,
    overwrite: bool = False,
    progress: _jobs.ProgressFn | None = None,
) -> dict:
    """Writes the texture `out` (PNG, exactly `size` = (H, W)) and `out` with .json; returns the facts
    (see kerasviz.apps).

    A source larger than `max_source` pixels on its longer side is first shrunk to it (its patterns too).
    `layers` None: texture_layers(model).
    """
    png, sidecar, earlier = _jobs.start(out, overwrite=overwrite)
    if earlier:
        return earlier
    source = _jobs.image(style)
    if max(source.shape[:2]) > max_source:
        source = _jobs.fit(source, max_source)
    net = _jobs.network(model, weights, preprocess)
    layers = layers or texture_layers(net)
    for layer in layers:
        models.get_layer(net, layer)
    start = time.perf_counter()
    result = lib.synthesize_texture(source, shape=tuple(size), layers=layers, model=net, steps=steps, seed=seed,
                                    progress=progress)
    seconds = time.perf_counter() - start
    io.write_png(png, result.image)
    return _jobs.finish(png, sidecar, {
        "style": _jobs.describe(style),
        **models.model_facts(net),
        "layers": result.layers,
        "gram_distance": {k: float(v) for k, v in zip(result.layers, result.gram_distances)},
        "distance": "|G(x) - G(source)|^2 / |G(start) - G(source)|^2 per layer; the start is grey plus noise",
        "optimizer": "lbfgs",
        "levels": lib.LEVELS,
        "steps_per_level": steps,
        "size": list(result.image.shape[:2]),
        "source_size": list(source.shape[:2]),
        "seed": seed,
        "seconds": round(seconds, 2),
    })


def parse_size(spec: str) -> tuple[int, int]:
    """'H,W' (or one number for a square) -> (H, W)."""
    try:
        parts = [int(p) for p in str(spec).replace("x", ",").split(",") if p.strip()]
    except ValueError:
        parts = []
    if len(parts) == 1:
        parts *= 2
    if len(parts) != 2 or min(parts) < 16:
        raise KerasvizError(f"cannot read size {spec!r}: give H,W in pixels, each at least 16 (e.g. 256,384)")
    return parts[0], parts[1]


def readme_examples_inversion(out: str, *, weights: str = "auto", overwrite: bool = False,
                              bars: _jobs.Bars | None = None) -> list[str]:
    """The README's feature inversion: scikit-image's chelsea from five depths of VGG16."""
    from skimage import data

    return [run_inversion(data.chelsea(), README_LAYERS, os.path.join(out, "inversion_chelsea.png"),
                          weights=weights, size=160, steps=50, overwrite=overwrite,
                          progress=_jobs.bar(bars, "feature inversion"))["png"]]


def readme_examples_texture(out: str, *, weights: str = "auto", overwrite: bool = False,
                            bars: _jobs.Bars | None = None) -> list[str]:
    """The README's textures: scikit-image's gravel and brick (shrunk to 192 px), twice as wide as tall."""
    from skimage import data

    sources = {name: io.resize(io.as_batch(getattr(data, name)())[0][0], (192, 192)) for name in ("gravel", "brick")}
    written = []
    for name, source in sources.items():
        source_png = os.path.join(out, f"texture_{name}_source.png")
        if overwrite or not os.path.isfile(source_png):
            io.write_png(source_png, np.clip(np.round(io.as_batch(source)[0][0]), 0, 255).astype(np.uint8))
        texture = run_texture(source, os.path.join(out, f"texture_{name}.png"), size=(160, 320), weights=weights,
                              steps=50, overwrite=overwrite, progress=_jobs.bar(bars, f"texture {name}"))
        written += [source_png, texture["png"]]
    return written
