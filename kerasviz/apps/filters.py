"""The filter-visualisation job: grids, tiles and JSON sidecars; resumable."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
from collections.abc import Callable, Sequence

import keras
import numpy as np

from kerasviz import io, models
from kerasviz.apps import _jobs
from kerasviz.errors import KerasvizError
from kerasviz.models.precision import resolve_precision
from kerasviz.optvis import render

log = logging.getLogger("kerasviz")

CHUNK = 16  # filters finished between checkpoints: an interrupted layer loses at most this many


def output_stem(model_name: str, layer: str) -> str:
    return f"{model_name}_{layer}"


def run(
    layer: str,
    filters: Sequence[int],
    out: str,
    *,
    model: str | keras.Model = "vgg16", weights: str | None = "auto", preprocess: str | None = None,
    stem: str | None = None, options: render.FilterOptions | None = None,
    tiles: bool = False, strategy=None, overwrite: bool = False, progress: _jobs.ProgressFn | None = None,
    **overrides,
) -> dict:
    """Visualises `filters` of `layer` and writes DIR/STEM.png, DIR/STEM.json (and tiles); returns the
    facts (see kerasviz.apps). STEM defaults to MODEL_LAYER. `options`: a render.FilterOptions, with
    `overrides` (size=, steps=, method=, ...) replacing its values.

    Work is checkpointed every CHUNK filters in a hidden partial file, so an interrupted run
    resumes where it stopped; a finished grid of the same filters is kept unless `overwrite`.
    `progress` sees (image-steps done, image-steps in all).
    """
    options = render.FilterOptions.create(options, **overrides)
    model = _jobs.network(model, weights, preprocess)
    model_facts = models.model_facts(model)
    stem = stem or output_stem(model_facts["model"], layer)
    png, sidecar = os.path.join(out, f"{stem}.png"), os.path.join(out, f"{stem}.json")
    settings = _settings(model_facts, layer, options)
    resolved_steps = settings["steps"]
    earlier = _jobs.kept(png, sidecar, overwrite=overwrite, same={"filters": list(filters)}, asked=settings)
    if earlier and not (tiles and not _tiles_done(out, stem, filters)):
        return earlier
    partial = os.path.join(out, f".{stem}.partial.npz")
    images, activations, seconds = _resume(partial, filters, settings) if not overwrite else ([], [], 0.0)
    start = time.perf_counter()
    done_before = len(images)
    for i in range(len(images), len(filters), CHUNK):
        chunk = list(filters[i : i + CHUNK])
        report = None
        if progress:
            report = lambda d, t, i=i: progress(i * resolved_steps + d, len(filters) * resolved_steps)  # noqa: E731
        chunk_images, chunk_acts = render.visualize_filters(model, layer, chunk, options=options, strategy=strategy,
                                                           progress=report)
        images.extend(chunk_images)
        activations.extend(chunk_acts.tolist())
        if tiles:
            for index, image in zip(chunk, chunk_images):
                io.write_png(os.path.join(out, stem, f"{index:04d}.png"), image)
        if i + CHUNK < len(filters):
            _checkpoint(partial, filters[: len(images)], images, activations, seconds + time.perf_counter() - start,
                        settings)
    images = np.stack(images)
    facts = {  # the sidecar's order: model, layer, filters, then the other settings
        **model_facts,
        "layer": layer,
        "filters": list(filters),
        **settings,
        "options": options.facts(),
        "seconds": round(seconds + time.perf_counter() - start, 2),
        "resumed_filters": done_before,
        "activations": [round(float(a), 4) for a in activations],
    }
    if tiles:
        _write_missing_tiles(out, stem, filters, images)
    io.write_png(png, io.grid(images))
    result = _jobs.finish(png, sidecar, facts)
    if os.path.exists(partial):
        os.remove(partial)
    return result


def _settings(model_facts: dict, layer: str, options: render.FilterOptions) -> dict:
    """What a grid is made with, the method's step count resolved: kept grids and checkpoints match on it."""
    method = options.method or render.DEFAULT_METHOD
    return {**model_facts, "layer": layer, "method": method, "steps": options.steps or render.METHODS[method].steps,
            "size": options.size, "seed": options.seed, "precision": resolve_precision(options.precision)}


def _write_missing_tiles(out: str, stem: str, filters: Sequence[int], images: np.ndarray) -> None:
    """DIR/STEM/NNNN.png for each filter whose tile an earlier, interrupted run did not write."""
    for index, image in zip(filters, images):
        path = os.path.join(out, stem, f"{index:04d}.png")
        if not os.path.exists(path):
            io.write_png(path, image)


def _tiles_done(out: str, stem: str, filters: Sequence[int]) -> bool:
    return all(os.path.exists(os.path.join(out, stem, f"{i:04d}.png")) for i in filters)


def _resume(partial: str, filters: Sequence[int], settings: dict) -> tuple[list, list, float]:
    """The pictures an interrupted run checkpointed, when it drew the same first filters with the same
    settings (model, method, steps, size, seed, precision); else nothing: the layer starts again."""
    if not os.path.exists(partial):
        return [], [], 0.0
    try:
        with np.load(partial) as data:
            done = data["filters"].tolist()
            if done != list(filters[: len(done)]) or str(data["settings"]) != _settings_key(settings):
                return [], [], 0.0
            return list(data["images"]), data["activations"].tolist(), float(data["seconds"])
    except (OSError, KeyError, ValueError):
        return [], [], 0.0  # an unreadable (or older) checkpoint is only lost time: start the layer again


def _checkpoint(path: str, filters, images, activations, seconds: float, settings: dict) -> None:
    with io.atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, filters=np.asarray(filters), images=np.stack(images), activations=np.asarray(activations),
                 seconds=seconds, settings=np.asarray(_settings_key(settings)))


def _settings_key(settings: dict) -> str:
    return json.dumps(settings, sort_keys=True)


# The README's grids. "filters": every VGG16 convolution, under the seed's names (vgg_block1_conv1.png ...);
# "compare": the other methods beside the default on one early and one late layer, the classic recipe's
# (Chollet 2016) among them; "other_models": four stages of each other network, where ImageNet weights can be had.
README_PARTS = ("filters", "compare", "other_models")
README_PER_LAYER = 16  # filters a grid shows (the first N)
# visualize_all --smoke: every grid tiny, to show the whole job runs (pictures not to keep).
SMOKE_PER_LAYER = 2
SMOKE_OPTIONS = render.FilterOptions(size=16, steps=1)
COMPARE_LAYERS = ("block3_conv1", "block5_conv3")
COMPARE_METHODS = ("classic", "maco")
OTHER_MODELS = {
    "resnet50": ("conv2_block3_out", "conv3_block4_out", "conv4_block6_out", "conv5_block3_out"),
    "inceptionv3": ("mixed2", "mixed4", "mixed7", "mixed10"),
}
GridFn = Callable[[int, int, str, dict], None]  # (grid number, grids in all, stem, facts)


def readme_examples(out: str, *, weights: str = "auto", overwrite: bool = False, bars: _jobs.Bars | None = None,
                    smoke: bool = False, part: str = "filters", per_layer: int | None = None,
                    options: render.FilterOptions | None = None, on_grid: GridFn | None = None) -> list[str]:
    """Writes one part of the README's filter grids (README_PARTS) into `out`; returns their paths.
    `per_layer` (default README_PER_LAYER) filters per grid; `options` (size, steps, ...) apply to every
    grid, a grid's method aside; with `smoke`, SMOKE_PER_LAYER and SMOKE_OPTIONS are the defaults and the
    sidecars say "smoke". `on_grid` is told of each finished or kept grid."""
    if part not in README_PARTS:
        raise KerasvizError(f"unknown filter part {part!r}; valid: {', '.join(README_PARTS)}")
    if per_layer is None:
        per_layer = SMOKE_PER_LAYER if smoke else README_PER_LAYER
    options = render.FilterOptions.create(options or (SMOKE_OPTIONS if smoke else None))
    plan = []  # (model, stem, layer, method)
    if part == "other_models":
        for name, layers in OTHER_MODELS.items():
            try:
                model = models.load_model(name, weights)
            except KerasvizError as err:
                log.warning("skipping %s: %s", name, err)
                continue
            plan += [(model, f"{name}_{layer}", layer, options.method) for layer in layers]
    else:
        vgg = models.load_model("vgg16", weights)
        if part == "filters":
            plan = [(vgg, f"vgg_{layer}", layer, options.method) for layer in models.conv_layers(vgg)]
        else:
            plan = [(vgg, f"vgg_{layer}_{m}", layer, m) for m in COMPARE_METHODS for layer in COMPARE_LAYERS]
    results = []
    for i, (model, stem, layer, method) in enumerate(plan, 1):
        count = min(per_layer, models.num_channels(model, layer))
        facts = run(layer, list(range(count)), out, model=model, stem=stem,
                    options=dataclasses.replace(options, method=method), overwrite=overwrite,
                    progress=_jobs.bar(bars, f"[{i}/{len(plan)}] {stem}"))
        if on_grid is not None:
            on_grid(i, len(plan), stem, facts)
        results.append(facts)
    return _jobs.readme_pngs(results, smoke=smoke)
