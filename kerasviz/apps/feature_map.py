"""The feature-map job: a folder of images laid out by their features (t-SNE) plus nearest neighbours.

FILE.png: the thumbnails at their 2-D positions, and beneath them a panel of a few query images,
each followed by its k nearest neighbours by cosine similarity. FILE.json: the positions and every
image's neighbours.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time

import keras
import numpy as np

from kerasviz import io, models
from kerasviz.apps import _jobs, samples
from kerasviz.dataset import embedding, imagesets
from kerasviz.errors import KerasvizError
from kerasviz.options import Options, option

THUMB = 56  # thumbnail side on the map and in the neighbour panel, pixels
K = 5
QUERIES = 6
GAP = 12
README_NAME = "feature_map_photos.png"


@dataclasses.dataclass(frozen=True)
class FeatureMapOptions(Options):
    """The options of the feature map: how images are read and laid out, and how many neighbours are shown."""

    WHAT = "the feature map"
    method: str = option("tsne", "2-D layout: t-SNE (scikit-learn; van der Maaten & Hinton 2008, as in the cs231n "
                         "lecture's map of CNN codes) or PCA.", choices=embedding.MAP_METHODS)
    k: int = option(K, "Nearest neighbours per image (by cosine similarity).", low=1)
    queries: int = option(QUERIES, "Query images shown with their neighbours.", low=1)
    size: int | None = option(224, "Longer image side the network sees, pixels (in Python, None: as given); 224, "
                              "the side VGG16 and ResNet50 were trained at.", low=8, kind="int", optional=True)
    batch_size: int = option(16, "Images per forward pass (consecutive images of the same shape share one).", low=1)
    seed: int = option(0, "Random seed of t-SNE; the same seed gives the same output.", low=0)


def run(
    images: imagesets.Images,
    out: str,
    *,
    model: str | keras.Model = "vgg16", weights: str | None = "auto", preprocess: str | None = None,
    layer: str | None = None,
    options: FeatureMapOptions | None = None,
    overwrite: bool = False,
    progress: _jobs.ProgressFn | None = None,
    **overrides,
) -> dict:
    """Writes `out` (PNG: the map above the neighbour panel) and its JSON; returns the facts (see kerasviz.apps).
    `options`: a FeatureMapOptions, with `overrides` (method=, k=, queries=, size=, batch_size=, seed=)
    replacing its values.

    layer: default the model's last layer (its features are averaged over space). `images` are read
    once; only a thumbnail of each is kept. `progress` sees (images read, images in all or None).
    """
    options = FeatureMapOptions.create(options, **overrides)
    png, sidecar, earlier = _jobs.start(out, overwrite=overwrite)
    if earlier:
        return earlier
    model = _jobs.network(model, weights, preprocess)
    layer = layer or model.layers[-1].name
    models.get_layer(model, layer)  # an unknown layer fails before any image is read
    start = time.perf_counter()
    thumbs, names, features = _read(model, layer, images, options, progress)
    nearest, similarity = embedding.nearest_neighbours(features, options.k)
    xy = embedding.embed_2d(features, method=options.method, seed=options.seed)
    count = min(options.queries, len(names))
    chosen = sorted(set(np.linspace(0, len(names) - 1, count).round().astype(int).tolist()))
    io.write_png(png, picture(thumbs, xy, nearest, chosen))
    facts = {
        **models.model_facts(model),
        "layer": layer,
        "features": f"spatial mean of {layer}, {features.shape[1]} numbers per image",
        "method": options.method,
        "seed": options.seed,
        "size": options.size,
        "k": int(nearest.shape[1]),
        "similarity": "cosine",
        "options": options.facts(),
        "queries": [names[i] for i in chosen],
        "images": [{"image": n, "xy": [round(float(v), 4) for v in p]} for n, p in zip(names, xy)],
        "neighbours": _neighbours(names, nearest, similarity),
        "seconds": round(time.perf_counter() - start, 2),
    }
    return _jobs.finish(png, sidecar, facts)


def _read(model: keras.Model, layer: str, images: imagesets.Images, options: FeatureMapOptions,
          progress: _jobs.ProgressFn | None) -> tuple[list[np.ndarray], list[str], np.ndarray]:
    """(thumbnails, names, features) of `images`, read once; at least 2 of them."""
    thumbs: list[np.ndarray] = []
    total = len(imagesets.image_files(images)) if isinstance(images, str) else None

    def keep_thumbnails():
        for name, picture, _ in imagesets.stream(images):
            thumbs.append(thumbnail(picture))
            if progress is not None:
                progress(len(thumbs), total)
            yield name, picture

    names, features = embedding.image_features(model, layer, keep_thumbnails(), size=options.size,
                                               batch_size=options.batch_size)
    if len(names) < 2:
        raise KerasvizError(f"a feature map needs at least 2 images; got {len(names)}")
    return thumbs, names, features


def _neighbours(names: list[str], nearest: np.ndarray, similarity: np.ndarray) -> list[dict]:
    """The sidecar's neighbours: per image, its nearest images and their cosine similarities."""
    return [
        {"image": names[i], "nearest": [{"image": names[j], "similarity": round(float(s), 4)}
                                        for j, s in zip(nearest[i], similarity[i])]}
        for i in range(len(names))
    ]


def thumbnail(image: np.ndarray, side: int = THUMB) -> np.ndarray:
    """uint8 (h, w, 3) with max(h, w) == side: the image fitted inside a side x side square (area resampling)."""
    return io.round_pixels(io.resize(image, io.fit_shape(image.shape[:2], side)))


def _square(tile: np.ndarray, side: int) -> np.ndarray:
    out = np.full((side, side, 3), 255, np.uint8)
    top, left = (side - tile.shape[0]) // 2, (side - tile.shape[1]) // 2
    out[top:top + tile.shape[0], left:left + tile.shape[1]] = tile
    return out


def picture(thumbs: list[np.ndarray], xy: np.ndarray, nearest: np.ndarray, queries: list[int]) -> np.ndarray:
    """The map (thumbnails centred at `xy` in [0, 1]) above rows of query, gap, neighbours; uint8 (H, W, 3)."""
    side = max(max(t.shape[:2]) for t in thumbs)
    canvas = int(np.clip(side * math.ceil(math.sqrt(len(thumbs))) * 1.5, 400, 1000))
    top_map = np.full((canvas, canvas, 3), 255, np.uint8)
    centres = np.round(side / 2 + xy * (canvas - side)).astype(int)
    for tile, (x, y) in zip(thumbs, centres):
        h, w = tile.shape[:2]
        top_map[y - h // 2:y - h // 2 + h, x - w // 2:x - w // 2 + w] = _framed(tile)
    rows = []
    for q in queries:
        lead = np.full((side, side + GAP, 3), 255, np.uint8)
        lead[:, :side] = _square(_framed(thumbs[q], colour=(224, 160, 40)), side)
        neighbours = np.stack([_square(thumbs[j], side) for j in nearest[q]])
        rows.append(np.concatenate([lead, io.grid(neighbours, cols=nearest.shape[1])], axis=1))
    panel = io.grid(np.stack(rows), cols=1, pad=4)
    width = max(canvas, panel.shape[1])
    out = np.full((canvas + GAP * 2 + panel.shape[0], width, 3), 255, np.uint8)
    out[:canvas, :canvas] = top_map
    out[canvas + GAP, :] = 200  # a line between the map and the panel
    out[canvas + 2 * GAP:, :panel.shape[1]] = panel
    return out


def _framed(tile: np.ndarray, colour=(150, 150, 150)) -> np.ndarray:
    framed = tile.copy()
    framed[[0, -1], :] = colour
    framed[:, [0, -1]] = colour
    return framed


# The README's map (sample photos by name, options), and visualize_all --smoke's: few tiny photos, to show the
# job runs.
README = {"photos": samples.PHOTOS, "options": FeatureMapOptions()}
SMOKE = {"photos": samples.PHOTOS[:3], "options": FeatureMapOptions(size=64, k=2, queries=2)}


def readme_examples(out: str, *, weights: str = "auto", overwrite: bool = False,
                    bars: _jobs.Bars | None = None, smoke: bool = False) -> list[str]:
    """The README's map: scikit-image's sample photos (and crops, flips) by VGG16's last layer (README's
    settings; SMOKE's with `smoke`, and the sidecar says so)."""
    settings = SMOKE if smoke else README
    facts = run(samples.sample_photos(settings["photos"]), os.path.join(out, README_NAME), model="vgg16",
                weights=weights, options=settings["options"], overwrite=overwrite,
                progress=_jobs.bar(bars, "feature map"))
    return _jobs.readme_pngs([facts], smoke=smoke)
