"""Style transfer and the layer study as jobs: plain arguments in, PNG + JSON out, finished files skipped."""

from __future__ import annotations

import dataclasses
import os
import time

import keras
import numpy as np

from kerasviz import io, models
from kerasviz.apps import _jobs
from kerasviz.errors import KerasvizError
from kerasviz.synthesis import style as style_lib

# The layer study: rows are content layers, columns style layer sets (single blocks, then Gatys' five).
STUDY_CONTENT_LAYERS = tuple(f"block{b}_conv2" for b in range(1, 6))
STUDY_STYLE_SETS = {f"block{b}": (f"block{b}_conv1",) for b in range(1, 6)} | {"gatys": style_lib.STYLE_LAYERS}
STUDY_SIZE = 96  # longer side of each cell, pixels; small, with STUDY_STEPS, as the study solves 30 cells
STUDY_STEPS = 15
# The defaults before distance normalisation and block4_conv2 content, kept for the README's before/after
# picture and benchmarks/style_pairs.py: keras-io's content layer and each loss over its target's size.
BEFORE = {"content_layers": ("block5_conv2",), "content_weight": 1.0, "style_weight": 10.0, "normalization": "target"}
# The study's cells: small and at one level, with the balance its README text describes (BEFORE's).
STUDY_OPTIONS = style_lib.StyleOptions(size=STUDY_SIZE, steps=STUDY_STEPS, levels=1,
                                       **{k: v for k, v in BEFORE.items() if k != "content_layers"})
# The README's pictures (readme_examples), and visualize_all --smoke's: each tiny, to show the job runs.
README = {"transfer": style_lib.StyleOptions(size=224, steps=25), "before_after": {"size": 160, "steps": 30},
          "study": STUDY_OPTIONS}
SMOKE = {"transfer": style_lib.StyleOptions(size=32, steps=2, levels=1), "before_after": {"size": 64, "steps": 2},
         "study": dataclasses.replace(STUDY_OPTIONS, size=32, steps=1)}


def run(
    content: str | np.ndarray,
    style: str | np.ndarray,
    out: str,
    *,
    model: str | keras.Model = "vgg16", weights: str | None = "auto", preprocess: str | None = None,
    options: style_lib.StyleOptions | None = None,
    overwrite: bool = False,
    progress: _jobs.ProgressFn | None = None,
) -> dict:
    """Writes the stylised `out` (PNG) and `out` with .json; returns the facts (see kerasviz.apps).

    Images: paths or arrays; `options`: a StyleOptions (default: its defaults), recorded whole in the
    sidecar. Layers default to style_lib.default_layers(model).
    """
    options = style_lib.StyleOptions.create(options)
    png, sidecar, earlier = _jobs.start(out, overwrite=overwrite)
    if earlier:
        return earlier
    content_img, style_img = _jobs.image(content), _jobs.image(style)
    net = _jobs.network(model, weights, preprocess)
    content_layers, style_layers = options.content_layers, options.style_layers
    if content_layers is None or style_layers is None:
        default_content, default_style = style_lib.default_layers(net)
        content_layers = default_content if content_layers is None else content_layers
        style_layers = default_style if style_layers is None else style_layers
    options = dataclasses.replace(options, content_layers=content_layers, style_layers=style_layers)
    start = time.perf_counter()
    result = style_lib.transfer(content_img, style_img, model=net, options=options, progress=progress)
    seconds = time.perf_counter() - start
    io.write_png(png, result.image)
    return _jobs.finish(png, sidecar, {
        **models.model_facts(net),
        "content": _jobs.describe(content),
        "style": _jobs.describe(style),
        "content_layers": list(options.content_layers),
        "style_layers": list(options.style_layers),
        "loss_weights": {"content": options.content_weight, "style": options.style_weight, "tv": options.tv_weight},
        "normalization": options.normalization,
        "preserve_color": options.preserve_color,
        "final_losses": result.losses,
        "evaluations": result.evaluations,
        "size": list(result.image.shape[:2]),
        "content_size": list(content_img.shape[:2]),
        "style_size": list(style_img.shape[:2]),
        "options": options.facts(),
        "seconds": round(seconds, 2),
    })


def study(
    content: str | np.ndarray,
    style: str | np.ndarray,
    out: str,
    *,
    model: str | keras.Model = "vgg16", weights: str | None = "auto", preprocess: str | None = None,
    options: style_lib.StyleOptions | None = None,
    overwrite: bool = False,
    progress: _jobs.ProgressFn | None = None,
    **overrides,
) -> dict:
    """The layer study: writes the grid `out` (PNG), `out`.json and `out`.md (the loss table); returns
    the facts (see kerasviz.apps). The model's layers are chosen by study_layers; `options` (default:
    STUDY_OPTIONS) with `overrides` are each cell's (see style_lib.layer_study).
    """
    options = style_lib.StyleOptions.create(options or STUDY_OPTIONS, **overrides)
    png, sidecar, earlier = _jobs.start(out, overwrite=overwrite, also=(".md",))
    if earlier:
        return earlier
    table_path = png[:-4] + ".md"
    content_img, style_img = _jobs.image(content), _jobs.image(style)
    net = _jobs.network(model, weights, preprocess)
    content_layers, style_sets = study_layers(net)
    start = time.perf_counter()
    images, table = style_lib.layer_study(content_img, style_img, model=net, content_layers=content_layers,
                                          style_sets=style_sets, options=options, progress=progress)
    seconds = time.perf_counter() - start
    rows, cols = images.shape[:2]
    io.write_png(png, io.grid(images.reshape(rows * cols, *images.shape[2:]), cols=cols))
    with io.atomic_path(table_path) as tmp, open(tmp, "w") as f:
        f.write(_markdown(table))
    balance = ("content_weight", "style_weight", "tv_weight", "normalization")
    return _jobs.finish(png, sidecar, {
        **models.model_facts(net),
        "rows_content_layers": list(content_layers),
        "columns_style_sets": {k: list(v) for k, v in style_sets.items()},
        "losses": "relative: content = |F-P|^2/|F_style-P|^2 at the row's layer; style = |G-A|^2/|G_content-A|^2",
        "cells": table,
        "loss_weights": {name: getattr(options, name) for name in balance},
        "size": list(images.shape[2:4]),
        "steps": options.steps,
        "options": options.facts(),
        "seconds": round(seconds, 2),
    })


def study_layers(model) -> tuple[tuple[str, ...], dict[str, tuple[str, ...]]]:
    """The study's rows (content layers) and columns (style sets) for `model`: STUDY_CONTENT_LAYERS and
    STUDY_STYLE_SETS when it has those VGG layers; otherwise by resolution stage (models.conv_stages, the
    last five): rows, each stage's second convolution (its only one if single); columns, each stage's
    first convolution alone, then all of them ("all"). On VGG16 the two rules agree.
    """
    wanted = [*STUDY_CONTENT_LAYERS, *(n for layers in STUDY_STYLE_SETS.values() for n in layers)]
    if set(models.conv_layers(model)).issuperset(wanted):
        return STUDY_CONTENT_LAYERS, dict(STUDY_STYLE_SETS)
    stages = models.conv_stages(model)[-len(STUDY_CONTENT_LAYERS):]
    if not stages:
        raise KerasvizError(f"{models.model_facts(model)['model']} has no Conv2D layers of its own for the layer study")
    rows = tuple(stage[min(1, len(stage) - 1)] for stage in stages)
    firsts = tuple(stage[0] for stage in stages)
    return rows, {f"stage{i + 1}": (name,) for i, name in enumerate(firsts)} | {"all": firsts}


def _markdown(table: list[dict]) -> str:
    """Rows: content layers; columns: style sets; cells 'content / style (style over all studied layers)'."""
    sets = list(dict.fromkeys(cell["style_set"] for cell in table))
    lines = [
        "Relative losses after optimisation, `content / style (style over all five blocks)`; 0 is a perfect match.",
        "",
        "| content layer | " + " | ".join(sets) + " |",
        "|---" * (len(sets) + 1) + "|",
    ]
    for layer in dict.fromkeys(cell["content_layer"] for cell in table):
        cells = [c for c in table if c["content_layer"] == layer]
        lines.append(f"| {layer} | " + " | ".join(
            f"{c['content']:.2f} / {c['style']:.3f} ({c['style_all']:.3f})" for c in cells) + " |")
    return "\n".join(lines) + "\n"


def readme_examples(out: str, *, weights: str = "auto", overwrite: bool = False,
                    bars: _jobs.Bars | None = None, smoke: bool = False) -> list[str]:
    """Writes the README's style pictures into `out` (README's settings; SMOKE's with `smoke`, and their
    sidecars say so); returns their paths. Finished files are skipped.

    Content: scikit-image's chelsea (the cat); style: `swirls()`, a procedurally painted texture
    (scikit-image ships no painting). `style_before_after.png`: per row photo | style | the earlier
    defaults | today's defaults | today's with the photo's colours.
    """
    from skimage import data

    settings = SMOKE if smoke else README
    swirls_path = os.path.join(out, "style_swirls.png")
    if overwrite or not os.path.isfile(swirls_path):
        io.write_png(swirls_path, swirls())
    return [swirls_path, *_jobs.readme_pngs([
        run(data.chelsea(), swirls(), os.path.join(out, "style_chelsea_swirls.png"), weights=weights,
            options=settings["transfer"], overwrite=overwrite, progress=_jobs.bar(bars, "style transfer")),
        before_after({"chelsea+swirls": (data.chelsea(), swirls()),
                      "astronaut+brick": (data.astronaut(), data.brick())},
                     os.path.join(out, "style_before_after.png"), weights=weights, overwrite=overwrite,
                     progress=_jobs.bar(bars, "style before/after"), **settings["before_after"]),
        study(data.chelsea(), swirls(), os.path.join(out, "style_layers_study.png"), weights=weights,
              options=settings["study"], overwrite=overwrite, progress=_jobs.bar(bars, "style layer study")),
    ], smoke=smoke)]


def before_after(
    pairs: dict[str, tuple[np.ndarray, np.ndarray]],
    out: str,
    *,
    model: str | keras.Model = "vgg16", weights: str | None = "auto", preprocess: str | None = None,
    size: int = 160,
    steps: int = 30,
    overwrite: bool = False,
    progress: _jobs.ProgressFn | None = None,
) -> dict:
    """A grid, one row per (content, style) pair: photo | style | BEFORE | defaults | defaults with
    preserve_color, each `size` x `size` (results centre-cropped); `out`.json has the settings and seconds.
    Returns the facts (see kerasviz.apps)."""
    png, sidecar, earlier = _jobs.start(out, overwrite=overwrite)
    if earlier:
        return earlier
    net = _jobs.network(model, weights, preprocess)
    settings = {"before": BEFORE, "after": {}, "after_preserve_color": {"preserve_color": True}}
    tiles, seconds = [], {}
    for i, (name, (content, style_img)) in enumerate(pairs.items()):
        content_img, style_img = _jobs.image(content), _jobs.image(style_img)
        row = [content_img, style_img]
        for key, options in settings.items():
            start = time.perf_counter()
            row.append(style_lib.transfer(content_img, style_img, model=net, size=size, steps=steps, **options).image)
            seconds[f"{name} {key}"] = round(time.perf_counter() - start, 2)
        tiles += [_jobs.square(image, size) for image in row]
        if progress is not None:
            progress(i + 1, len(pairs))
    io.write_png(png, io.grid(np.stack(tiles), cols=2 + len(settings)))
    return _jobs.finish(png, sidecar, {
        "weights": models.model_info(net).weights,
        "rows": list(pairs),
        "columns": ["content", "style", *settings],
        "settings": {k: {n: list(v) if isinstance(v, tuple) else v for n, v in o.items()} for k, o in settings.items()},
        "defaults": {"content_layers": list(style_lib.CONTENT_LAYERS), "style_layers": list(style_lib.STYLE_LAYERS),
                     "content_weight": style_lib.CONTENT_WEIGHT, "style_weight": style_lib.STYLE_WEIGHT,
                     "normalization": style_lib.DEFAULT_NORMALIZATION},
        "size": size,
        "steps_per_level": steps,
        "seconds": seconds,
    })


def swirls(shape: tuple[int, int] = (256, 256), seed: int = 0) -> np.ndarray:
    """A colourful, painterly texture: contour bands of a smooth random field, uint8 (H, W, 3)."""
    rng = np.random.default_rng(seed)
    h, w = shape
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    field, hue = np.zeros_like(x), np.zeros_like(x)
    waves = 8
    for _ in range(waves):
        k, p = rng.uniform(-3, 3, 2), rng.uniform(0, 2 * np.pi)
        field += np.sin(2 * np.pi * (k[0] * x + k[1] * y) + p) / waves**0.5
        k, p = rng.uniform(-1.5, 1.5, 2), rng.uniform(0, 2 * np.pi)
        hue += np.sin(2 * np.pi * (k[0] * x + k[1] * y) + p) / waves**0.5
    bands = 0.5 + 0.5 * np.sin(2 * np.pi * 5 * field)
    palette = np.array([[18, 30, 90], [40, 90, 170], [90, 150, 210], [235, 200, 70], [250, 240, 200]], np.float32)
    t = np.clip(0.55 * bands + 0.45 * (0.5 + 0.5 * np.tanh(1.5 * hue)), 0, 1) * (len(palette) - 1)
    lo = np.floor(t).astype(int).clip(0, len(palette) - 2)
    f = (t - lo)[..., None]
    return np.round(palette[lo] * (1 - f) + palette[lo + 1] * f).astype(np.uint8)
