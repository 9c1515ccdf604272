"""Scores of saliency maps: does a map rank first the pixels that the model's score depends on?

- `deletion` (Petsiuk et al. 2018, RISE, §4.1): the map's most important pixels are set to `fill`
  (black) first, in `steps` equal fractions of the image; the area under the score's curve, lower is better.
- `insertion` (same paper): the pixels are put back, most important first, into a blurred copy of the
  image; the area under the curve, higher is better.
- `mufidelity` (Bhatt et al. 2020, "Evaluating and aggregating feature-based model explanations"):
  random subsets of a grid of cells (as xplique's MuFidelity) are set to `fill`; the Pearson correlation
  between the map's sum over each subset and the drop of the score; 1 is best.
- `randomization` (Adebayo et al. 2018, "Sanity checks for saliency maps"; it lives in
  attribution/sanity.py beside the model copies it uses): the Spearman rank correlation between the maps
  of the model and of copies whose layers are re-drawn from the top down (cascading); a map that
  explains the model falls towards 0.

The score a metric follows (option `score`): "probability" is the softmax probability of a class target
(Petsiuk et al. use the class probability; the softmax is applied to the model's logits, so a model
that ends in a softmax gives its own output); "relative" is the target's score as saliency() explains
it (a logit, a layer's mean activation, a callable's value) divided by its magnitude on the image as
given (NaN where that is 0), so curves of different images share one scale; "auto" (the default) is
"probability" for a class target on an output of two or more classes, "relative" otherwise. Maps are
ordered as given (largest first; pixels the map ties in a seeded random order, not row by row, which
would favour or punish a map that is flat over much of the image): pass np.abs(map) to rank by magnitude.
The area is the trapezoid rule over the fraction of pixels in [0, 1], as RISE's `auc`. All perturbed
images of all steps go through one compiled step in chunks of the attribution budget.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import cv2
import keras
import numpy as np

from kerasviz import io, models
from kerasviz.attribution.budget import chunk_size, run_chunked
from kerasviz.attribution.compiled import compile_images_step, compiled
from kerasviz.attribution.sanity import RandomizationOptions, randomization
from kerasviz.attribution.targets import Target, logits_head, parse_target, scored_model
from kerasviz.errors import KerasvizError
from kerasviz.options import Options, option

__all__ = [
    "DeletionOptions",
    "InsertionOptions",
    "MetricOptions",
    "MuFidelityOptions",
    "RandomizationOptions",
    "deletion",
    "insertion",
    "mufidelity",
    "randomization",
]

SCORES = ("auto", "probability", "relative")
CURVE_STEPS = 50  # equal fractions of the pixels; RISE's code takes 224 of 224 px per step (224 steps)
DELETION_FILL = 0.0  # Petsiuk et al. 2018, §4.1: removed pixels are zero; black here (RISE zeroes a normalised input)
INSERTION_BLUR = 5.0  # Petsiuk et al. 2018, §4.1: insertion starts from a blurred copy (RISE: gkern(11, sigma 5))
MUFIDELITY_SUBSETS = 200  # xplique's MuFidelity: nb_samples=200
MUFIDELITY_FRACTION = 0.2  # xplique's MuFidelity: subset_percent=0.2
MUFIDELITY_GRID = 9  # xplique's MuFidelity: grid_size=9 (9 x 9 cells)
MUFIDELITY_FILL = 0.0  # xplique's MuFidelity: baseline_mode=0.0 (black)


@dataclasses.dataclass(frozen=True)
class MetricOptions(Options):
    """What every metric scores with."""

    WHAT = "the metric"
    score: str = option(
        "auto",
        "What the curve follows: probability (softmax of a class target, as Petsiuk et "
        "al. 2018), relative (the target's score over its magnitude on the image), or auto "
        "(probability for a class of two or more, else relative).",
        choices=SCORES,
    )


@dataclasses.dataclass(frozen=True)
class _CurveOptions(MetricOptions):
    steps: int = option(
        CURVE_STEPS,
        "Steps of equal fractions of the pixels (the curve has steps + 1 points; RISE's code: 224 px a step).",
        low=1,
    )
    seed: int = option(
        0, "Seed of the order among pixels the map ties: random, not row by row (a CAM that is 0 on most of the "
        "image would otherwise delete the rest from the top down).", low=0)


@dataclasses.dataclass(frozen=True)
class DeletionOptions(_CurveOptions):
    """Deletion's options (Petsiuk et al. 2018, §4.1)."""

    WHAT = "deletion"
    fill: float = option(
        DELETION_FILL, "The 0-255 value deleted pixels take (Petsiuk et al. 2018: black).", low=0, high=255
    )


@dataclasses.dataclass(frozen=True)
class InsertionOptions(_CurveOptions):
    """Insertion's options (Petsiuk et al. 2018, §4.1)."""

    WHAT = "insertion"
    blur: float = option(
        INSERTION_BLUR,
        "Gaussian sigma, pixels, of the blurred copy pixels are inserted into "
        "(Petsiuk et al. 2018; RISE's code: sigma 5).",
        low=0.1,
    )


@dataclasses.dataclass(frozen=True)
class MuFidelityOptions(MetricOptions):
    """MuFidelity's options (Bhatt et al. 2020; defaults as xplique's MuFidelity)."""

    WHAT = "mufidelity"
    subsets: int = option(MUFIDELITY_SUBSETS, "Random subsets per image (xplique: nb_samples=200).", low=2)
    fraction: float = option(
        MUFIDELITY_FRACTION, "Fraction of the cells in each subset (xplique: 0.2).", low=0.001, high=1
    )
    grid: int = option(
        MUFIDELITY_GRID,
        "Cells per side of the grid the subsets are drawn from (xplique: 9); the image's side gives one cell a pixel.",
        low=1,
    )
    fill: float = option(
        MUFIDELITY_FILL, "The 0-255 value a subset's pixels take (xplique: 0, black).", low=0, high=255
    )
    seed: int = option(0, "Random seed of the subsets; the same seed gives the same value.", low=0)


@dataclasses.dataclass(frozen=True)
class _Scored:
    """Images at the size the model sees, their maps at that size, and the compiled score step."""

    images: np.ndarray  # float32 (N, H, W, 3), 0-255
    maps: np.ndarray  # float32 (N, H, W)
    step: Callable
    chunk: int
    relative: bool  # divide by |score of the image as given|

    def scores(self, perturbed: Callable[[int, int], np.ndarray], count: int) -> np.ndarray:
        return run_chunked(self.step, perturbed, self.chunk, count=count)[0]


def deletion(
    model: keras.Model,
    images,
    maps,
    target: Target,
    *,
    options: DeletionOptions | None = None,
    preprocess: Callable | None = None,
    batch_size: int | None = None,
    output: int | str | None = None,
    **overrides,
) -> np.ndarray:
    """Deletion AUC of `maps` (Petsiuk et al. 2018): float32 `(N,)`, lower is better.

    Args:
      model, target, preprocess, output: as for kerasviz.saliency (target: a class index, "LAYER",
        "LAYER:FILTER" or a callable).
      images: RGB 0-255, `(N, H, W, 3)` or one `(H, W, 3)`.
      maps: `(N, h, w)` or one `(h, w)`, any resolution (resized to the image's, bilinear).
      options: DeletionOptions; `overrides` (steps=, fill=, score=) replace its values.
      batch_size: images per compiled call; default: as many as fit the attribution budget.
    """
    options = DeletionOptions.create(options, **overrides)
    scored = _prepare(
        model, images, maps, target, options.score, preprocess=preprocess, batch_size=batch_size, output=output
    )
    return _auc(scored, np.full_like(scored.images, options.fill), options, deleting=True)


def insertion(
    model: keras.Model,
    images,
    maps,
    target: Target,
    *,
    options: InsertionOptions | None = None,
    preprocess: Callable | None = None,
    batch_size: int | None = None,
    output: int | str | None = None,
    **overrides,
) -> np.ndarray:
    """Insertion AUC of `maps` (Petsiuk et al. 2018): float32 `(N,)`, higher is better. The pixels go,
    most important first, from the image into a copy blurred by a Gaussian of sigma `blur` pixels.
    Arguments as for `deletion`; `overrides`: steps=, blur=, score=."""
    options = InsertionOptions.create(options, **overrides)
    scored = _prepare(
        model, images, maps, target, options.score, preprocess=preprocess, batch_size=batch_size, output=output
    )
    blurred = np.stack([cv2.GaussianBlur(image, (0, 0), options.blur) for image in scored.images])
    return _auc(scored, blurred, options, deleting=False)


def _auc(scored: _Scored, substrate: np.ndarray, options: _CurveOptions, *, deleting: bool) -> np.ndarray:
    """The trapezoid area under the score after 0, 1/steps, ..., 1 of the pixels, most important first (ties
    in a seeded random order), are taken from the image to the substrate (deleting) or from the substrate to
    the image."""
    n, h, w = scored.maps.shape
    steps = options.steps
    ties = np.broadcast_to(np.random.default_rng(options.seed).random(h * w), (n, h * w))  # one key per position
    order = np.lexsort((ties, -scored.maps.reshape(n, -1)), axis=1)  # by the map, then the random key
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(h * w)[None], axis=1)
    rank = rank.reshape(n, h, w, 1)
    counts = np.round(np.linspace(0, h * w, steps + 1)).astype(int)
    start, end = (scored.images, substrate) if deleting else (substrate, scored.images)

    def perturbed(first: int, stop: int) -> np.ndarray:
        index = np.arange(first, stop)
        image, step = index // (steps + 1), index % (steps + 1)
        moved = rank[image] < counts[step][:, None, None, None]
        return np.where(moved, end[image], start[image])

    curves = scored.scores(perturbed, n * (steps + 1)).reshape(n, steps + 1)
    if scored.relative:
        curves = curves / _magnitude(curves[:, 0] if deleting else curves[:, -1])[:, None]
    return np.trapezoid(curves, dx=1.0 / steps, axis=1).astype(np.float32)


def mufidelity(
    model: keras.Model,
    images,
    maps,
    target: Target,
    *,
    options: MuFidelityOptions | None = None,
    preprocess: Callable | None = None,
    batch_size: int | None = None,
    output: int | str | None = None,
    **overrides,
) -> np.ndarray:
    """MuFidelity of `maps` (Bhatt et al. 2020): float32 `(N,)`, the Pearson correlation, over `subsets`
    random subsets of `fraction` of a `grid` x `grid` grid of cells (the same subsets for every image,
    seeded), between the map summed over a subset and the drop of the score when the subset is set to
    `fill`; NaN where either does not vary. Arguments as for `deletion`; `overrides`: subsets=,
    fraction=, grid=, fill=, seed=, score=."""
    options = MuFidelityOptions.create(options, **overrides)
    scored = _prepare(
        model, images, maps, target, options.score, preprocess=preprocess, batch_size=batch_size, output=output
    )
    n, h, w = scored.maps.shape
    subsets = _subsets(options, (h, w))  # bool (S, H, W)
    count = len(subsets) + 1  # the image as given, then each subset set to fill

    def perturbed(first: int, stop: int) -> np.ndarray:
        index = np.arange(first, stop)
        image, subset = index // count, index % count
        hidden = (subset > 0)[:, None, None, None] & subsets[np.maximum(subset - 1, 0)][..., None]
        return np.where(hidden, np.float32(options.fill), scored.images[image])

    scores = scored.scores(perturbed, n * count).reshape(n, count)
    drops = scores[:, :1] - scores[:, 1:]  # (N, S); a positive scale (relative) leaves the correlation as is
    sums = np.einsum("nhw,shw->ns", scored.maps.astype(np.float64), subsets.astype(np.float64))
    return np.array([_pearson(a, b) for a, b in zip(sums, drops, strict=True)], np.float32)


def _subsets(options: MuFidelityOptions, size: tuple[int, int]) -> np.ndarray:
    """bool (subsets, H, W): each subset a random `fraction` of the grid's cells, seeded."""
    rng = np.random.default_rng(options.seed)
    cells = options.grid**2
    chosen = np.zeros((options.subsets, cells), bool)
    for row in chosen:
        row[rng.permutation(cells)[: max(1, round(options.fraction * cells))]] = True
    rows, cols = (np.arange(side) * options.grid // side for side in size)
    return chosen[:, rows[:, None] * options.grid + cols[None, :]]


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    norm = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / norm) if norm > 0 else float("nan")


# --- inputs and the score --------------------------------------------------------------------


def _prepare(
    model: keras.Model, images, maps, target: Target, score: str, *, preprocess, batch_size, output
) -> _Scored:
    """Checks the inputs; images at the model's fixed input size (if any), maps resized to them, the score step."""
    batch, _ = io.as_batch(images)
    maps = _maps(maps, len(batch))
    size = models.fixed_input_size(model) or batch.shape[1:3]
    if batch.shape[1:3] != tuple(size):
        batch = _resized(batch, size, antialias=True)
    if maps.shape[1:3] != tuple(size):
        maps = _resized(maps[..., None], size)[..., 0]
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1):
        raise KerasvizError(f"batch_size must be a positive integer; got {batch_size!r}")
    target = parse_target(model, target, output=output)
    output = None if isinstance(target, str) else models.resolve_output(model, output)
    mode = _mode(model, target, output, score)
    step = _score_step(
        model, target, models.preprocess_fn(model, preprocess), output, probability=mode == "probability"
    )
    chunk = batch_size or chunk_size(model, tuple(size))
    return _Scored(batch, maps.astype(np.float32), step, chunk, relative=mode == "relative")


def _resized(batch: np.ndarray, size: tuple[int, int], *, antialias: bool = False) -> np.ndarray:
    resized = keras.ops.image.resize(batch, tuple(size), interpolation="bilinear", antialias=antialias)
    return keras.ops.convert_to_numpy(resized)


def _maps(maps, count: int) -> np.ndarray:
    """`maps` as float32 (N, h, w), checked against the number of images."""
    try:
        array = np.asarray(maps, np.float32)
    except (TypeError, ValueError):
        raise KerasvizError(f"maps must be an array (N, H, W) or one (H, W); got {type(maps).__name__}") from None
    if array.ndim == 2:
        array = array[None]
    if array.ndim != 3 or 0 in array.shape:
        raise KerasvizError(f"maps must be (N, H, W) or one (H, W); got shape {np.shape(maps)}")
    if len(array) != count:
        raise KerasvizError(f"{len(array)} maps for {count} images; give one map per image")
    if not np.all(np.isfinite(array)):
        raise KerasvizError("maps hold NaN or infinite values")
    return array


def _mode(model: keras.Model, target: Target, output: int | None, score: str) -> str:
    classes = isinstance(target, int) and int(model.outputs[output].shape[-1]) >= 2
    if score == "probability" and not classes:
        raise KerasvizError(
            f"score='probability' needs a class target on an output of 2 or more classes; "
            f"got target {target!r}; use score='relative'"
        )
    if score == "auto":
        return "probability" if classes else "relative"
    return score


def _score_step(
    model: keras.Model, target: Target, preprocess: Callable, output: int | None, *, probability: bool
) -> Callable:
    """One compiled step: 0-255 RGB (B, H, W, 3) -> (scores (B,),): the target's score, or its softmax probability."""
    net, on_copy = logits_head(model, target, output=output)

    def build():
        scored = scored_model(net, target)

        def score(x):
            if not probability:
                return scored(x)[0]
            outs = net(x, training=False)
            logits = keras.ops.cast(outs[0] if isinstance(outs, list | tuple) else outs, "float32")
            return keras.ops.softmax(logits, axis=-1)[:, target]

        def step(x):
            return (score(preprocess(x)),)

        return compile_images_step(step, [net])

    key = ("metric", probability, target, preprocess, output)
    return compiled(model, key, build, on_copy=on_copy)


def _magnitude(scores: np.ndarray) -> np.ndarray:
    magnitude = np.abs(scores)
    return np.where(magnitude > 0, magnitude, np.nan)
