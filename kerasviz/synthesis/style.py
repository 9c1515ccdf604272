"""Neural style transfer (Gatys, Ecker & Bethge 2016) with any content and style layers.

A recipe on the engine: the loss is optvis.feature_losses.StyleLoss (content feature distance, style Gram
distance, total variation), optimised in RGB 0-255 pixels by engine.minimize (L-BFGS-B, or Adam), coarse
to fine. The model's own preprocessing is applied inside the loss. One compiled loss-and-gradient serves
every layer weighting of one layer set (weights are tensors), so a layer study traces once.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence

import keras
import numpy as np

from kerasviz import io, models
from kerasviz.errors import KerasvizError
from kerasviz.models.precision import PRECISIONS, resolve_precision
from kerasviz.options import Options, option
from kerasviz.optvis import engine
from kerasviz.optvis.feature_losses import NORMALIZATIONS, StyleLoss, gram, total_variation, weight_vectors  # noqa: F401  (style's losses, also reached here)

# Content: conv4_2 as in Gatys et al. 2016 (keras-io's block5_conv2, the earlier default, kept too little
# of the photo: benchmarks/style_pairs.py); style: conv1_1 ... conv5_1 with equal weights, Gatys et al. 2016.
CONTENT_LAYERS = ("block4_conv2",)
STYLE_LAYERS = ("block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1")
# Weights of the relative terms (see StyleLoss, normalization "distance"), one choice for every pair,
# chosen on five scikit-image photo + style pairs with benchmarks/style_pairs.py; a style weight of 1-2
# keeps more photo and less style. Shared out over the style layers.
CONTENT_WEIGHT = 1.0
STYLE_WEIGHT = 3.0
TV_WEIGHT = 0.01
DEFAULT_SIZE = 384  # longer side of the result, pixels
DEFAULT_STEPS = 100  # L-BFGS iterations (one or a few loss evaluations each)
ADAM_LEARNING_RATE = 8.0  # pixels (0-255) per step at the start; tuned in benchmarks/style.py
ADAM_DECAY = 0.97  # per 10 steps
# Solve at half size first: L-BFGS then reaches a lower loss sooner than at one level, and sooner than
# Adam (benchmarks/style.py --levels).
DEFAULT_LEVELS = 2
INITS = ("content", "noise", "style")
DEFAULT_NORMALIZATION = "distance"
OPTIMIZERS = engine.MINIMIZERS
DEFAULT_PRECISION = "float32"

LayerWeights = Sequence[str] | Mapping[str, float]


@dataclasses.dataclass
class StyleResult:
    """What one style transfer gives: the picture and how it got there."""

    image: np.ndarray  # uint8 (H, W, 3)
    losses: dict[str, float]  # final "content", "style", "tv" (each weighted) and "total"
    history: list[tuple[float, float]]  # (seconds since start, total loss) after each iteration
    evaluations: int  # value-and-gradient calls


@dataclasses.dataclass(frozen=True)
class StyleOptions(Options):
    """Style transfer's options (Gatys, Ecker & Bethge 2016); each default's source is beside its constant."""

    WHAT = "style transfer"
    content_layers: tuple[str, ...] | None = option(
        None, "Content layers, joined by commas, each NAME or NAME:WEIGHT (default: "
        f"{','.join(CONTENT_LAYERS)} on VGG; otherwise the second convolution of the resolution stage before the "
        "last).", kind="layers")
    style_layers: tuple[str, ...] | None = option(
        None, "Style layers, joined by commas, each NAME or NAME:WEIGHT (default: "
        f"{','.join(STYLE_LAYERS)} on VGG; otherwise the first convolution of each of the last five resolution "
        "stages).", kind="layers")
    content_weight: float = option(CONTENT_WEIGHT, "Weight of the content term.", low=0)
    style_weight: float = option(STYLE_WEIGHT, "Weight of the style term (shared over the style layers).", low=0)
    tv_weight: float = option(TV_WEIGHT, "Weight of the total variation term.", low=0)
    size: int | None = option(DEFAULT_SIZE, "Longer side of the result, pixels (a model with a fixed input "
                              "size uses its own; in Python, None keeps the content's).", low=16, optional=True)
    steps: int = option(DEFAULT_STEPS, "Optimiser iterations per level.", low=1)
    init: str = option("content", "The start: the content image, noise, or the style image.", choices=INITS)
    optimizer: str = option("lbfgs", "lbfgs (scipy's L-BFGS-B in the 0-255 box) or adam.", choices=OPTIMIZERS)
    levels: int = option(DEFAULT_LEVELS, "Resolution levels: 2 solves at half size first, then full.", low=1)
    normalization: str = option(
        DEFAULT_NORMALIZATION, "distance: each term is 1 at the other image; target: over its target's size (the "
        "earlier default).", choices=NORMALIZATIONS)
    preserve_color: bool = option(False, "Keep the content's colours: transfer luminance only.")
    seed: int = option(0, "Random seed of the noise start.")
    adam_rate: float = option(ADAM_LEARNING_RATE, "Adam's step at the start, 0-255 pixels (optimizer=adam).", low=0)
    precision: str = option(DEFAULT_PRECISION, "Compute type of the network's features; reduced precision needs "
                            "--optimizer=adam.", choices=PRECISIONS)


def default_layers(model: keras.Model, stages: int = len(STYLE_LAYERS)) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(content layers, style layers) for `model`: CONTENT_LAYERS and STYLE_LAYERS when it has them (VGG);
    otherwise the same rule by resolution stage (models.conv_stages): style, the first convolution of each
    of the last `stages` stages; content, the second convolution of the stage before the last (its only
    one if single; the last stage's when there is one stage).
    """
    convs = set(models.conv_layers(model))
    if convs.issuperset([*CONTENT_LAYERS, *STYLE_LAYERS]):
        return CONTENT_LAYERS, STYLE_LAYERS
    found = models.conv_stages(model)[-stages:]
    if not found:
        raise KerasvizError(
            f"{models.model_facts(model)['model']} has no Conv2D layers of its own to take as content and style "
            "layers; name the layers"
        )
    content_stage = found[-2] if len(found) > 1 else found[-1]
    return (content_stage[min(1, len(content_stage) - 1)],), tuple(stage[0] for stage in found)


def style_transfer(content, style, **options) -> np.ndarray:
    """The stylised image, uint8 (H, W, 3); `options` are those of `transfer`."""
    return transfer(content, style, **options).image


def transfer(
    content,
    style,
    *,
    model: keras.Model | None = None,
    options: StyleOptions | None = None,
    preprocess: Callable | None = None,
    progress: Callable[[int, int], None] | None = None,
    callback: Callable[[int, np.ndarray], None] | None = None,
    **overrides,
) -> StyleResult:
    """Gatys et al. style transfer.

    Args:
      content, style: RGB 0-255 images, uint8 or float, (H, W, 3) (or a batch of one).
      model: any Keras model with named layers; default `load_model("vgg16", "auto")`.
      options: a StyleOptions; `overrides` (any of its fields, e.g. `steps=30`) replace its values. Layers
        are names (equal weights), "NAME:WEIGHT" strings or {name: weight}; by default default_layers(model)
        (Gatys' VGG layers, or the same rule by resolution stage). `size` is the longer side of the result
        (the style image is scaled to the same longer side; None keeps the content's size). `preserve_color`
        transfers luminance only and keeps the content's colour (Gatys et al. 2016, "Preserving color in
        neural artistic style transfer"): both images go in as grey, the style's luminance matched to the
        content's mean and spread; the result's luminance gets the content's YIQ chroma back (`callback`
        sees the grey images). Reduced `precision` needs optimizer="adam" ("auto" gives float32 with L-BFGS).
      preprocess: RGB 0-255 -> model input, for models not from load_model (models.preprocess_fn).
      progress: called with (iterations done, iterations in all).
      callback: called with (iteration, float32 (H, W, 3) 0-255 image) after each iteration.

    Returns:
      A StyleResult; `.image` is uint8 (H, W, 3) at the content's aspect ratio.
    """
    options = StyleOptions.create(options, **overrides)
    precision = _precision_for(options.optimizer, options.precision)
    model = model if model is not None else models.load_model("vgg16", "auto")
    content_layers, style_layers = options.content_layers, options.style_layers
    if content_layers is None or style_layers is None:
        default_content, default_style = default_layers(model)
        content_layers = default_content if content_layers is None else content_layers
        style_layers = default_style if style_layers is None else style_layers
    content_w, style_w = _layer_weights(content_layers, "content"), _layer_weights(style_layers, "style")
    with models.model_errors(model, "building the style transfer's features"):
        objective = StyleLoss(model, list(dict.fromkeys([*content_w, *style_w])), preprocess, precision)
    content_img, style_img = io.single(content, "content"), io.single(style, "style")
    shape = _output_shape(model, content_img.shape[:2], options.size)
    color_img = content_img
    if options.preserve_color:
        content_img, style_img = luminance_only(content_img, style_img)
    weights = weight_vectors(objective.layers, content_w, style_w, options.content_weight, options.style_weight,
                             options.tv_weight)
    x, losses, history, evaluations = _coarse_to_fine(
        model, objective, content_img, style_img, shape, weights, options, progress=progress, callback=callback)
    if options.preserve_color:
        x = with_chroma(x, io.resize(color_img, shape))
    return StyleResult(io.round_pixels(x), losses, history, evaluations)


def _coarse_to_fine(model, objective, content_img, style_img, shape, weights, options: StyleOptions, *,
                    progress, callback) -> tuple[np.ndarray, dict, list, int]:
    """`transfer`'s optimisation, from 1/2^(levels-1) of `shape` up to `shape`, each level starting from the
    last one's result upsampled: (float32 0-255 image (H, W, 3), final losses, history, evaluations), as in
    StyleResult."""
    init, optimizer, normalization = options.init, options.optimizer, options.normalization
    steps, levels, seed = options.steps, options.levels, options.seed
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    history: list[tuple[float, float]] = []
    evaluations = 0
    x = None
    for level in range(levels - 1, -1, -1):
        level_shape = (max(1, round(shape[0] / 2**level)), max(1, round(shape[1] / 2**level)))
        c = io.resize(content_img, level_shape)
        s = io.resize(style_img, io.fit_shape(style_img.shape[:2], max(level_shape)))
        with models.model_errors(model, f"computing style targets at {level_shape[0]} x {level_shape[1]}"):
            targets = objective.targets(c, s, normalization)
        if x is None:
            x = _initial(init, c, io.resize(style_img, level_shape), rng)
        else:
            x = np.clip(io.resize(x, level_shape), 0, 255)
        done = (levels - 1 - level) * steps

        def on_step(i: int, image: np.ndarray, loss: float, done: int = done) -> None:
            history.append((time.perf_counter() - start, loss))
            if progress is not None:
                progress(done + i, steps * levels)
            if callback is not None:
                callback(done + i, image)

        x, n = engine.minimize(lambda v, t=targets: objective.evaluate(v, t, weights)[:2], x, steps=steps,
                               method=optimizer, adam=(options.adam_rate, ADAM_DECAY), on_step=on_step)
        evaluations += n
    return x, objective.losses(x, targets, weights), history, evaluations


# NTSC YIQ from RGB (rows: Y, I, Q); Gatys et al. 2016 use YIQ for luminance-only transfer.
_YIQ = np.array([[0.299, 0.587, 0.114], [0.595716, -0.274453, -0.321263], [0.211456, -0.522591, 0.311135]],
                np.float32)


def to_yiq(image: np.ndarray) -> np.ndarray:
    """RGB (..., 3) -> YIQ (..., 3), float32; Y in the RGB's units, I and Q signed."""
    return np.asarray(image, np.float32) @ _YIQ.T


def from_yiq(image: np.ndarray) -> np.ndarray:
    """YIQ (..., 3) -> RGB (..., 3), float32 (not clipped)."""
    return np.asarray(image, np.float32) @ np.linalg.inv(_YIQ).T.astype(np.float32)


def luminance_only(content: np.ndarray, style: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both RGB 0-255 (H, W, 3) images as grey RGB, the style's luminance moved to the content's mean and
    standard deviation (Gatys et al. 2016's luminance matching); float32."""
    y_content, y_style = to_yiq(content)[..., 0], to_yiq(style)[..., 0]
    matched = (y_style - y_style.mean()) / max(float(y_style.std()), 1e-6) * y_content.std() + y_content.mean()
    grey = lambda y: np.repeat(np.clip(y, 0, 255)[..., None], 3, axis=-1)  # noqa: E731
    return grey(y_content), grey(matched)


def with_chroma(image: np.ndarray, color: np.ndarray) -> np.ndarray:
    """`image`'s luminance with `color`'s YIQ chroma, both RGB 0-255 (H, W, 3); float32 clipped to 0-255."""
    yiq = to_yiq(color)
    yiq[..., 0] = to_yiq(image)[..., 0]
    return np.clip(from_yiq(yiq), 0, 255)


def _precision_for(optimizer: str, precision: str) -> str:
    """Reduced precision suits Adam only: its rounding noise in the loss values stops L-BFGS's line
    search within a few iterations (tests/test_style.py: the style distance then barely moves)."""
    resolved = resolve_precision(precision)
    if optimizer != "lbfgs" or resolved == "float32":
        return resolved
    if precision == "auto":
        return "float32"
    raise KerasvizError(f"precision {precision!r} needs optimizer='adam': L-BFGS stops early on its noisy loss "
                        "values; use precision='float32' (or 'auto') with L-BFGS")


def _layer_weights(layers: LayerWeights, what: str) -> dict[str, float]:
    """{name: weight} from names (equal weights summing to 1), "NAME:WEIGHT" strings or a mapping."""
    if isinstance(layers, str):
        layers = [layers]
    if isinstance(layers, Mapping):
        weights = {str(k): float(v) for k, v in layers.items()}
    elif any(":" in name for name in layers):
        weights = dict(_weighted(name, what) for name in layers)
    else:
        names = list(layers)
        weights = {name: 1.0 / max(1, len(names)) for name in names}
    if not weights:
        raise KerasvizError(f"no {what} layers given; name at least one layer, e.g. {STYLE_LAYERS[0]}")
    return weights


def _weighted(item: str, what: str) -> tuple[str, float]:
    name, _, weight = item.rpartition(":")
    try:
        return name, float(weight)
    except ValueError:
        raise KerasvizError(f"cannot read {what} layer {item!r}: give NAME or NAME:WEIGHT for every layer") from None


def _output_shape(model: keras.Model, shape: tuple[int, int], size: int | None) -> tuple[int, int]:
    fixed = models.fixed_input_size(model)
    if fixed is not None:
        return int(fixed[0]), int(fixed[1])
    if size is None:
        return int(shape[0]), int(shape[1])
    if size < 1:
        raise KerasvizError(f"size must be a positive number of pixels; got {size}")
    return io.fit_shape(shape, size)


def _initial(init: str, content: np.ndarray, style: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    if init == "content":
        return content.astype(np.float32)
    if init == "style":
        return style.astype(np.float32)
    return rng.uniform(0, 255, content.shape).astype(np.float32)


STUDY_OWN = ("content_layers", "style_layers", "preserve_color")  # the study's own axes, and what it compares


def layer_study(
    content,
    style,
    *,
    model: keras.Model | None = None,
    content_layers: Sequence[str],
    style_sets: Mapping[str, Sequence[str]],
    options: StyleOptions | None = None,
    preprocess: Callable | None = None,
    progress: Callable[[int, int], None] | None = None,
    **overrides,
) -> tuple[np.ndarray, list[dict]]:
    """Style transfer for every (content layer, style layer set) pair, with one compiled step.

    Each cell is `transfer` with `options` (or StyleOptions' defaults) and `overrides`, its layers the row's
    content layer and the column's style set; content_layers, style_layers and preserve_color do not apply.
    Returns uint8 images (rows, cols, H, W, 3), rows following `content_layers` and columns `style_sets`,
    and one dict per cell: content layer, style set name, and the relative losses of the result:
    `content` (its own content layer), `style` (its own style set) and `style_all` (every layer of every
    style set, a yardstick shared by all cells); 0 is a perfect match, 1 as far as the starting point.
    """
    options = StyleOptions.create(options, **overrides)
    given = [name for name in STUDY_OWN if getattr(options, name) != getattr(StyleOptions, name)]
    if given:
        raise KerasvizError(f"option {given[0]!r} does not apply to the layer study: its rows are content_layers= "
                            "and its columns style_sets=, and it compares layers in full colour")
    model = model if model is not None else models.load_model("vgg16", "auto")
    if not content_layers or not style_sets:
        raise KerasvizError("layer_study needs at least one content layer and one style layer set")
    all_style = list(dict.fromkeys(n for s in style_sets.values() for n in s))
    precision = _precision_for(options.optimizer, options.precision)
    objective = StyleLoss(model, list(dict.fromkeys([*content_layers, *all_style])), preprocess, precision)
    content_img, style_img = io.single(content, "content"), io.single(style, "style")
    shape = _output_shape(model, content_img.shape[:2], options.size)
    c = io.resize(content_img, shape)
    yardstick_targets = objective.targets(c, io.resize(style_img, io.fit_shape(style_img.shape[:2], max(shape))))
    layer_index = {name: i for i, name in enumerate(objective.layers)}
    # Relative to the start: the content distance of the style image, the style distance of the content image.
    start_content = objective.layer_losses(io.resize(style_img, shape), yardstick_targets)[0]
    start_style = objective.layer_losses(c, yardstick_targets)[1]
    images = np.zeros((len(content_layers), len(style_sets), *shape, 3), np.uint8)
    table = []
    for r, content_layer in enumerate(content_layers):
        for k, (set_name, set_layers) in enumerate(style_sets.items()):
            weights = weight_vectors(objective.layers, _layer_weights([content_layer], "content"),
                                     _layer_weights(set_layers, "style"), options.content_weight,
                                     options.style_weight, options.tv_weight)
            x = _coarse_to_fine(model, objective, content_img, style_img, shape, weights, options,
                                progress=None, callback=None)[0]
            images[r, k] = io.round_pixels(x)
            content_loss, style_loss = objective.layer_losses(x, yardstick_targets)
            own = [layer_index[n] for n in set_layers]
            yardstick = [layer_index[n] for n in all_style]
            i = layer_index[content_layer]
            table.append({
                "content_layer": content_layer,
                "style_set": set_name,
                "content": float(content_loss[i] / start_content[i]),
                "style": float(np.mean(style_loss[own] / start_style[own])),
                "style_all": float(np.mean(style_loss[yardstick] / start_style[yardstick])),
            })
            if progress is not None:
                progress(len(table), len(content_layers) * len(style_sets))
    return images, table
