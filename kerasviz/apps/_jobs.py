"""What the jobs share (see kerasviz.apps): output paths, keeping finished outputs, models and images."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable

import keras
import numpy as np

from kerasviz import backend, io, models
from kerasviz.optvis.render import ProgressFn

log = logging.getLogger("kerasviz")

Bars = Callable[[str], ProgressFn]  # label -> a progress callback for one long step


def paths(out: str) -> tuple[str, str]:
    """(FILE.png, FILE.json) for an output named FILE.png (or FILE)."""
    stem = out[:-4] if out.lower().endswith(".png") else out
    return stem + ".png", stem + ".json"


def kept(png: str, sidecar: str, *more: str, overwrite: bool = False, same: dict | None = None,
         asked: dict | None = None) -> dict | None:
    """The facts of an earlier run whose outputs (`png`, `sidecar`, `more`) all exist, or None to do the work.

    `same`: facts the earlier run must have had (e.g. the same filters) for its outputs to be kept.
    `asked`: settings of this run; an earlier output made otherwise is still kept (nothing finished is
    replaced without `overwrite`), with a warning that names what differs.
    """
    if overwrite or not all(os.path.isfile(p) for p in (png, sidecar, *more)):
        return None
    try:
        with open(sidecar) as f:
            facts = json.load(f)
    except (OSError, ValueError):
        return None  # an unreadable sidecar: make the outputs again
    if not isinstance(facts, dict) or any(facts.get(k) != v for k, v in _as_json(same or {}).items()):
        return None
    differs = [f"{k} {facts.get(k)!r} (asked {v!r})" for k, v in _as_json(asked or {}).items() if facts.get(k) != v]
    if differs:
        log.warning("%s exists, made with %s; kept: pass --overwrite (overwrite=True) to redo it, or choose "
                    "another output", png, ", ".join(differs))
    else:
        log.info("%s exists; skipped", png)
    return {**facts, "png": png, "skipped": True}


def _as_json(facts: dict) -> dict:
    """`facts` as a JSON sidecar gives them back (tuples as lists), to compare with one."""
    return json.loads(json.dumps(facts))


def start(out: str, *, overwrite: bool = False, also: tuple[str, ...] = ()) -> tuple[str, str, dict | None]:
    """(FILE.png, FILE.json, the earlier run's facts or None: see `kept`) for the output `out`; `also`:
    other endings of FILE that a finished run leaves (".md"). With work to do, a folder that cannot be
    written is a clear error before it starts."""
    png, sidecar = paths(out)
    earlier = kept(png, sidecar, *(png[:-4] + ending for ending in also), overwrite=overwrite)
    if earlier is None:
        check_folder_of(png)
    return png, sidecar, earlier


def finish(png: str, sidecar: str, facts: dict) -> dict:
    """Writes the JSON sidecar (last: it marks the outputs finished), with `environment()`, and returns the
    job's result."""
    facts = {**facts, **environment()}
    io.write_json(sidecar, facts)
    return {**facts, "png": png}


def environment() -> dict:
    """What every sidecar records of how it was made beyond its settings: the Keras backend and version."""
    return {"backend": backend.NAME, "keras": keras.__version__}


def readme_pngs(results: list[dict], *, smoke: bool = False) -> list[str]:
    """The PNGs of the README jobs' `results` (their facts, see kerasviz.apps). With `smoke` (visualize_all
    --smoke: tiny pictures that only show the job runs), each sidecar written now (not kept) also records
    "smoke": true, so a tiny picture is never taken for one of the README's."""
    for facts in results if smoke else ():
        if not facts.get("skipped"):
            sidecar = paths(facts["png"])[1]
            with open(sidecar) as f:
                io.write_json(sidecar, {**json.load(f), "smoke": True})
    return [facts["png"] for facts in results]


def check_folder_of(path: str) -> None:
    """A clear error, before any work, when the folder that will hold `path` cannot be written."""
    io.check_writable(os.path.dirname(os.path.abspath(path)))


def network(model: str | keras.Model, weights: str | None, preprocess: str | None) -> keras.Model:
    """`model` itself when loaded, else models.load_model(model, weights, preprocess=preprocess)."""
    if isinstance(model, keras.Model):
        return model
    return models.load_model(model, weights, preprocess=preprocess)


def image(picture: str | np.ndarray, *, max_side: int | None = io.MAX_IMAGE_SIDE) -> np.ndarray:
    """An image file (its longer side capped at `max_side`) or an array as float32 RGB 0-255 (H, W, 3)."""
    if isinstance(picture, str):
        picture = io.load_image(picture, max_side=max_side)
    return io.as_batch(picture)[0][0]


def describe(picture: str | np.ndarray) -> str:
    """How the JSON names an input: its path, or 'array [H, W, C]'."""
    return picture if isinstance(picture, str) else f"array {list(np.shape(picture))}"


def fit(picture: np.ndarray, side: int) -> np.ndarray:
    """The image resized (aspect kept) so its longer side is `side` pixels; float32 0-255."""
    shape = io.fit_shape(picture.shape[:2], side)
    return picture.astype(np.float32) if shape == tuple(picture.shape[:2]) else io.resize(picture, shape)


def square(picture: np.ndarray, side: int) -> np.ndarray:
    """The centred square crop, resized to side x side, uint8."""
    h, w = picture.shape[:2]
    k = min(h, w)
    top, left = (h - k) // 2, (w - k) // 2
    crop = io.resize(np.asarray(picture, np.float32)[top:top + k, left:left + k], (side, side))
    return io.round_pixels(crop)


def bar(bars: Bars | None, label: str) -> ProgressFn | None:
    """bars(label), or None without bars."""
    return bars(label) if bars is not None else None
