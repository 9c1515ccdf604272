"""Attention rollout and CAMs on a vision transformer, as a job; and the README's part "transformers".

No trained ViT can be had offline, so the job trains one: the small ViT of kerasviz.models.vit, on the
synthetic scenes of kerasviz.dataset.scenes (seeded, about a minute on two CPU cores), and shows, on held-out
scenes with their object's box outlined, the rollout of its attention and CAMs on its tokens. The sidecar
says so, with the model's held-out accuracy and how often each map's maximum falls on the object.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

import cv2
import numpy as np

from kerasviz import io
from kerasviz.apps import _jobs
from kerasviz.attribution import APPLIES, saliency
from kerasviz.dataset import scenes

README_METHODS = ("rollout", "gradcam", "scorecam")
TOKEN_LAYER = "block1_norm1"  # the tokens the ViT's last attention reads: the CAMs' layer
SCENE_SEED = 123  # held-out scenes (the model trains on seed + 1, is tested on seed + 2); as benchmarks/cam_scenes.py
BOX_COLOUR = (0, 255, 0)
# The README's picture, and visualize_all --smoke's (a ViT trained once on a few scenes: near chance, a check only).
README = {"count": 4, "training": {}, "zoom": 4}
SMOKE = {"count": 2, "training": {"scenes": 64, "epochs": 1}, "zoom": 1}
ABOUT = ("a small ViT (kerasviz.models.vit.build_vit: 5-pixel patches, 2 blocks, 2 heads, 32 dimensions) trained "
         "in this job on synthetic scenes (kerasviz.dataset.scenes: is there a plus sign among the shapes?), because "
         "no trained ViT weights can be had offline; class 1 (plus sign) is the target")


def run(
    out: str,
    *,
    seed: int = 0,
    count: int = 4,
    methods: Sequence[str] = README_METHODS,
    layer: str = TOKEN_LAYER,
    training: dict | None = None,
    zoom: int = 4,
    overwrite: bool = False,
    progress: _jobs.ProgressFn | None = None,
) -> dict:
    """Trains scenes.trained_vit(seed, **training) and writes `out` (FILE.png: one row per held-out scene,
    the scene with its object's box outlined, then an overlay per method of `methods`, `zoom` times the
    scenes' 40 px; the CAMs on `layer`'s tokens) and FILE.json; returns the facts (see kerasviz.apps).
    `progress` sees (steps done, steps): the training, then each method."""
    png, sidecar, earlier = _jobs.start(out, overwrite=overwrite)
    if earlier is not None:
        return earlier
    start = time.perf_counter()
    model, accuracy = scenes.trained_vit(seed, **(training or {}))
    train_seconds = time.perf_counter() - start
    if progress is not None:
        progress(1, 1 + len(methods))
    held_out = scenes.make_scenes(count, seed=SCENE_SEED, positive_fraction=1.0)
    maps, seconds = {}, {}
    for done, method in enumerate(methods, 2):
        t0 = time.perf_counter()
        maps[method] = saliency(model, held_out.images, 1, method=method,
                                **({"layer": layer} if method in APPLIES.get("layer", ()) else {}))
        seconds[method] = round(time.perf_counter() - t0, 2)
        if progress is not None:
            progress(done, 1 + len(methods))
    io.write_png(png, _picture(held_out, maps, zoom))
    return _jobs.finish(png, sidecar, {
        "model": ABOUT,
        "held_out_accuracy": round(accuracy, 4),
        "chance": 0.5,
        "training": {"seed": seed, **(training or {})},
        "scenes": {"count": count, "seed": SCENE_SEED, "positive_fraction": 1.0},
        "columns": ["scene, object box in green", *methods],
        "layer": {m: layer for m in methods if m in APPLIES.get("layer", ())},
        "pointing": {m: [bool(hit) for hit in _pointing(maps[m], held_out.boxes)] for m in methods},
        "train_seconds": round(train_seconds, 2),
        "method_seconds": seconds,
        "seconds": round(time.perf_counter() - start, 2),
    })


def _pointing(maps: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """bool (N,): each map's maximum lies inside its box (y0, x0, y1, x1, exclusive)."""
    y, x = np.divmod(np.argmax(maps.reshape(len(maps), -1), axis=1), maps.shape[2])
    return (boxes[:, 0] <= y) & (y < boxes[:, 2]) & (boxes[:, 1] <= x) & (x < boxes[:, 3])


def _picture(held_out: scenes.Scenes, maps: dict[str, np.ndarray], zoom: int) -> np.ndarray:
    """uint8: a row per scene (the scene, its box outlined, then each map over it), the methods named below."""
    panels = []
    for i, image in enumerate(held_out.images):
        big = np.kron(io.round_pixels(image), np.ones((zoom, zoom, 1), np.uint8))  # sharp pixels
        boxed = big.copy()
        y0, x0, y1, x1 = (int(v) * zoom for v in held_out.boxes[i])
        cv2.rectangle(boxed, (x0, y0), (x1 - 1, y1 - 1), BOX_COLOUR, max(1, zoom // 2))
        size = big.shape[1::-1]  # (width, height), as OpenCV takes it
        panels += [boxed] + [io.overlay(big, cv2.resize(m[i], size, interpolation=cv2.INTER_LINEAR))
                             for m in maps.values()]
    cols = 1 + len(maps)
    labels = io.labelled_row(panels[-cols:], ["scene, box", *maps])
    if len(panels) == cols:
        return labels
    body = io.grid(np.stack(panels[:-cols]), cols=cols)
    return np.concatenate([body, np.full((2, body.shape[1], 3), 255, np.uint8), labels])


def readme_examples(out: str, *, weights: str = "auto", overwrite: bool = False,
                    bars: _jobs.Bars | None = None, smoke: bool = False) -> list[str]:
    """Writes `vit_rollout_scenes.png` (+ .json) into `out` with README's settings (SMOKE's with `smoke`, and
    the sidecar says so); returns its path. `weights` is accepted for the parts' one shape: the ViT is
    trained here, from a seed."""
    del weights
    settings = SMOKE if smoke else README
    return _jobs.readme_pngs([
        run(os.path.join(out, "vit_rollout_scenes.png"), count=settings["count"], training=settings["training"],
            zoom=settings["zoom"], overwrite=overwrite, progress=_jobs.bar(bars, "ViT on scenes")),
    ], smoke=smoke)
