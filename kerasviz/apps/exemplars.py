"""The dataset-exemplars job: DIR/MODEL_LAYER_exemplars.png (a row per filter) and its JSON sidecar."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

import keras
import numpy as np

from kerasviz import io, models
from kerasviz.apps import _jobs, samples
from kerasviz.dataset import exemplars as exemplars_lib
from kerasviz.dataset import imagesets
from kerasviz.errors import KerasvizError
from kerasviz.optvis import render

TILE = 80  # display side of every patch and synthetic picture, pixels
SYNTHETIC_SIZE = 128  # side the synthetic filter pictures are rendered at (the README grids' size)
GAP = 8  # pixels between a filter's synthetic picture and its patches


DEFAULT_LAYER = "block4_conv3"  # VGG16's; other models take the rule in default_layer


def output_stem(model_name: str, layer: str) -> str:
    return f"{model_name}_{layer}_exemplars"


def default_layer(model) -> str:
    """DEFAULT_LAYER when the model has it; otherwise the same place by resolution stage
    (models.conv_stages): the last convolution of the stage before the last (block4_conv3 on VGG16)."""
    if DEFAULT_LAYER in models.conv_layers(model):
        return DEFAULT_LAYER
    stages = models.conv_stages(model)
    if not stages:
        raise KerasvizError(f"{models.model_facts(model)['model']} has no Conv2D layers of its own to rank; "
                            "name a layer with --layer")
    return (stages[-2] if len(stages) > 1 else stages[-1])[-1]


def run(
    layer: str | None,
    filters: Sequence[int],
    images: imagesets.Images,
    out: str,
    *,
    model: str | keras.Model = "vgg16", weights: str | None = "auto", preprocess: str | None = None,
    options: exemplars_lib.ExemplarOptions | None = None,
    synthetic: bool = True,
    steps: int | None = None,
    stem: str | None = None,
    overwrite: bool = False,
    progress: _jobs.ProgressFn | None = None,
    **overrides,
) -> dict:
    """Writes DIR/STEM.png, a row per filter (its synthetic picture, then its `top` patches), and DIR/STEM.json;
    returns the facts (see kerasviz.apps). `options`: an ExemplarOptions, with `overrides` (top=, size=,
    batch_size=) replacing its values. `synthetic`: lead each row with the filter's picture, rendered in
    `steps` (default: the method's).

    `images`: a folder, or an iterable of arrays or (name, array) pairs, read once. A finished
    picture with the same layer, filters and top is kept unless `overwrite`. `layer` None: default_layer.
    `progress` sees (images seen, images in all, or None for an iterable).
    """
    options = exemplars_lib.ExemplarOptions.create(options, **overrides)
    model = _jobs.network(model, weights, preprocess)
    layer = layer or default_layer(model)
    stem = stem or output_stem(models.model_facts(model)["model"], layer)  # a model file: its stem
    png, sidecar = os.path.join(out, f"{stem}.png"), os.path.join(out, f"{stem}.json")
    earlier = _jobs.kept(png, sidecar, overwrite=overwrite,
                         same={"layer": layer, "filters": list(filters), "top": options.top})
    if earlier:
        return earlier
    io.check_writable(out)
    start = time.perf_counter()
    seen = [0]
    total = len(imagesets.image_files(images)) if isinstance(images, str) else None

    def count(n: int) -> None:
        seen[0] = n
        if progress is not None:
            progress(n, total)

    found = exemplars_lib.dataset_exemplars(model, layer, filters, images, options=options, progress=count)
    pictures, synthetic_facts = _synthetic(model, layer, filters, steps) if synthetic else (None, None)
    facts = {
        **models.model_facts(model),
        "layer": layer,
        "filters": list(filters),
        "top": options.top,
        "size": options.size,
        "options": options.facts(),
        "images_seen": seen[0],
        "receptive_field": int(found[0][0].patch.shape[0]) if found[0] else None,
        "synthetic": synthetic_facts,
        "seconds": round(time.perf_counter() - start, 2),
        "exemplars": _rows(filters, found),
    }
    io.write_png(png, picture(found, options.top, pictures))
    return _jobs.finish(png, sidecar, facts)


def _synthetic(model: keras.Model, layer: str, filters: Sequence[int], steps: int | None) -> tuple[np.ndarray, dict]:
    """Each filter's synthetic picture (the default method at SYNTHETIC_SIZE) and its sidecar facts."""
    pictures, activations = render.visualize_filters(model, layer, list(filters), size=SYNTHETIC_SIZE, steps=steps)
    return pictures, {"method": render.DEFAULT_METHOD, "size": SYNTHETIC_SIZE,
                      "steps": steps or render.METHODS[render.DEFAULT_METHOD].steps,
                      "activations": [round(float(a), 4) for a in activations]}


def _rows(filters: Sequence[int], found: list[list[exemplars_lib.Exemplar]]) -> list[dict]:
    """The sidecar's exemplars: per filter, each patch's image, box, activation and map position."""
    return [
        {"filter": f, "patches": [{"image": e.image, "box": list(e.box), "activation": round(e.activation, 4),
                                   "position": list(e.position)} for e in row]}
        for f, row in zip(filters, found)
    ]


def picture(found: list[list[exemplars_lib.Exemplar]], top: int, synthetic: np.ndarray | None = None) -> np.ndarray:
    """One row per filter: its synthetic picture (when given), a gap, then its patches, best first; uint8."""
    rows = []
    for i, row in enumerate(found):
        tiles = np.full((top, TILE, TILE, 3), 255, np.uint8)  # white where fewer images than `top`
        for j, exemplar in enumerate(row):
            tiles[j] = _tile(exemplar.patch)
        strip = io.grid(tiles, cols=top)
        if synthetic is not None:
            lead = np.full((TILE, TILE + GAP, 3), 255, np.uint8)
            lead[:, :TILE] = _tile(synthetic[i])
            strip = np.concatenate([lead, strip], axis=1)
        rows.append(strip)
    return io.grid(np.stack(rows), cols=1, pad=4)


def _tile(image: np.ndarray) -> np.ndarray:
    """Any square uint8 picture at TILE x TILE: nearest when enlarged (pixels stay visible), area when reduced."""
    side = image.shape[0]
    if side == TILE:
        return image
    if side < TILE:
        index = np.arange(TILE) * side // TILE
        return image[index][:, index]
    return io.round_pixels(io.resize(image, (TILE, TILE)))


README_LAYERS = (("block4_conv3", list(range(8))),)
# The README's settings (layers and filters, sample photos by name, exemplar options, steps of the synthetic
# pictures), and visualize_all --smoke's: few photos, filters and patches, tiny, to show the job runs.
README = {"layers": README_LAYERS, "photos": samples.PHOTOS, "options": exemplars_lib.ExemplarOptions(),
          "steps": None}
SMOKE = {"layers": (("block4_conv3", [0, 1]),), "photos": samples.PHOTOS[:3],
         "options": exemplars_lib.ExemplarOptions(top=3, size=32), "steps": 1}


def readme_examples(out: str, *, weights: str = "auto", overwrite: bool = False,
                    bars: _jobs.Bars | None = None, smoke: bool = False) -> list[str]:
    """The README's exemplars: VGG16 block4_conv3 filters 0-7 over scikit-image's sample photos (README's
    settings; SMOKE's with `smoke`, and the sidecar says so)."""
    settings = SMOKE if smoke else README
    model = models.load_model("vgg16", weights)
    return _jobs.readme_pngs([
        run(layer, filters, samples.sample_photos(settings["photos"]), out, model=model,
            options=settings["options"], steps=settings["steps"], stem=f"vgg16_{layer}_exemplars",
            overwrite=overwrite, progress=_jobs.bar(bars, f"exemplars {layer}"))
        for layer, filters in settings["layers"]
    ], smoke=smoke)
