"""Images from feature statistics: feature inversion and texture synthesis.

Both solve for the picture whose features at chosen layers match a target's, starting from noise,
with the losses of optvis.feature_losses.StyleLoss (relative feature distance, relative Gram distance, total
variation) and its L-BFGS in 0-255 pixels, coarse to fine:
- feature inversion (Mahendran & Vedaldi 2015, "Understanding Deep Image Representations by
  Inverting Them"): one layer's features of a photo, with a total-variation prior;
- texture synthesis (Gatys, Ecker & Bethge 2015, "Texture Synthesis Using Convolutional Neural
  Networks"): the Gram matrices of a texture's features at several layers, at any output size.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import keras
import numpy as np

from kerasviz import io, models
from kerasviz.errors import KerasvizError
from kerasviz.options import Options, option
from kerasviz.optvis import engine
from kerasviz.optvis.feature_losses import StyleLoss

# Total variation weight of inversion, relative to the feature distance (both terms are relative,
# see optvis.feature_losses.StyleLoss): chosen by eye on the offline VGG16 at 192 px, block1 to block5.
INVERT_TV_WEIGHT = 0.02
INVERT_STEPS = 100  # L-BFGS iterations per level
INVERT_SIZE = 192  # longer side of the reconstructions, pixels
# One reconstruction per depth, as Mahendran & Vedaldi 2015 invert every layer: the last convolution of
# each of VGG16's blocks (the rule of inversion_layers).
INVERT_LAYERS = ("block1_conv2", "block2_conv2", "block3_conv3", "block4_conv3", "block5_conv3")
TEXTURE_STEPS = 100
TEXTURE_TV_WEIGHT = 0.0  # Gatys et al. 2015 use no image prior for textures
# Gatys et al. 2015's texture layers conv1_1, pool1, pool2, pool3, pool4 (VGG19); VGG16's conv layers
# that begin those blocks.
TEXTURE_LAYERS = ("block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1")
TEXTURE_SHAPE = (256, 256)  # (H, W) of a texture, pixels; any size works, as the Gram matrices average over it
MIN_SIDE = 16  # the smallest output side, pixels (as style transfer's size)
LEVELS = 2  # solve at half size first (as style.DEFAULT_LEVELS)
START_NOISE = 8.0  # the start: grey plus Gaussian noise of this standard deviation (0-255)


@dataclasses.dataclass
class InversionResult:
    """Reconstructions of one photo, one per layer."""

    images: np.ndarray  # uint8 (L, H, W, 3)
    layers: list[str]
    distances: np.ndarray  # (L,) |F(x) - F(photo)| / |F(photo)| at each layer, for the reconstruction
    start_distances: np.ndarray  # (L,) the same for the starting noise


@dataclasses.dataclass
class TextureResult:
    """A synthesised texture and how close its Gram matrices came."""

    image: np.ndarray  # uint8 (H, W, 3)
    layers: list[str]
    gram_distances: np.ndarray  # (L,) |G(x) - G(source)|^2 / |G(start) - G(source)|^2 per layer


def _check_layers(options: Options) -> None:
    if options.layers == ():
        raise KerasvizError(f"no layers given for {options.WHAT}; name at least one, e.g. block3_conv1")


@dataclasses.dataclass(frozen=True)
class InversionOptions(Options):
    """Feature inversion's options (Mahendran & Vedaldi 2015); each default's source is beside its constant."""

    WHAT = "feature inversion"
    layers: tuple[str, ...] | None = option(
        None, f"Layers, joined by commas: one reconstruction each (default: {','.join(INVERT_LAYERS)} where the "
        "model has them, else the last convolution of each resolution stage: one per depth, as Mahendran & "
        "Vedaldi 2015 invert every layer).", kind="list")
    size: int | None = option(INVERT_SIZE, "Longer side of the reconstructions, pixels (in Python, None keeps "
                              "the photo's).", low=MIN_SIDE, optional=True)
    steps: int = option(INVERT_STEPS, "L-BFGS iterations per resolution level.", low=1)
    tv_weight: float = option(INVERT_TV_WEIGHT, "Total variation weight, relative to the feature distance "
                              "(Mahendran & Vedaldi's image prior; chosen by eye on the offline VGG16).", low=0)
    levels: int = option(LEVELS, "Resolution levels: 2 solves at half size first, then full (as style "
                         "transfer).", low=1)
    seed: int = option(0, "Random seed of the starting noise; the same seed gives the same output.", low=0)

    def check(self) -> None:
        _check_layers(self)


@dataclasses.dataclass(frozen=True)
class TextureOptions(Options):
    """Texture synthesis' options (Gatys, Ecker & Bethge 2015); each default's source is beside its constant."""

    WHAT = "texture synthesis"
    layers: tuple[str, ...] | None = option(
        None, f"Layers whose Gram matrices to match, joined by commas (default: {','.join(TEXTURE_LAYERS)} where "
        "the model has them, else the first convolution of each resolution stage; Gatys et al. 2015 take "
        "conv1_1 and pool1-4 of VGG19).", kind="list")
    shape: tuple[int, int] = option(TEXTURE_SHAPE, "Output size H,W in pixels (independent of the source's "
                                    "size; one number for a square).", kind="list")
    steps: int = option(TEXTURE_STEPS, "L-BFGS iterations per resolution level.", low=1)
    tv_weight: float = option(TEXTURE_TV_WEIGHT, "Total variation weight, relative to the Gram distance (Gatys "
                              "et al. 2015 use no image prior for textures).", low=0)
    levels: int = option(LEVELS, "Resolution levels: 2 solves at half size first, then full (as style "
                         "transfer).", low=1)
    seed: int = option(0, "Random seed of the starting noise; the same seed gives the same output.", low=0)

    def __post_init__(self):
        # A "list" option holds strings: the shape is read as (H, W) ints before and after the common checks.
        object.__setattr__(self, "shape", _shape(self.shape))
        super().__post_init__()
        object.__setattr__(self, "shape", _shape(self.shape))

    def check(self) -> None:
        _check_layers(self)


def _shape(value) -> tuple[int, int]:
    """(H, W) from "H,W", "HxW", one number (a square) or a pair; both at least MIN_SIDE pixels."""
    parts = [value] if isinstance(value, str) or np.ndim(value) == 0 else list(value)
    try:
        sides = [int(p) for part in parts for p in str(part).lower().replace("x", ",").split(",") if p.strip()]
    except ValueError:
        sides = []
    sides = sides * 2 if len(sides) == 1 else sides
    if len(sides) != 2 or min(sides) < MIN_SIDE:
        raise KerasvizError(f"shape (--size) of texture synthesis must be H,W in pixels, each at least {MIN_SIDE} "
                            f"(e.g. 256,384); got {value!r}")
    return sides[0], sides[1]


def inversion_layers(model: keras.Model) -> tuple[str, ...]:
    """INVERT_LAYERS when the model has them (VGG16); otherwise the last convolution of each resolution
    stage (models.conv_stages), the same rule that gives INVERT_LAYERS on VGG16."""
    return _stage_layers(model, INVERT_LAYERS, -1)


def texture_layers(model: keras.Model) -> tuple[str, ...]:
    """TEXTURE_LAYERS when the model has them (VGG); otherwise the first convolution of each resolution
    stage, the rule that gives TEXTURE_LAYERS on VGG16."""
    return _stage_layers(model, TEXTURE_LAYERS, 0)


def _stage_layers(model: keras.Model, named: Sequence[str], position: int) -> tuple[str, ...]:
    if set(models.conv_layers(model)).issuperset(named):
        return tuple(named)
    stages = models.conv_stages(model)
    if not stages:
        raise KerasvizError(f"{models.model_facts(model)['model']} has no Conv2D layers of its own to take by "
                            "default; name them (layers=, --layers)")
    return tuple(stage[position] for stage in stages)


def invert_features(
    image,
    *,
    model: keras.Model | None = None,
    options: InversionOptions | None = None,
    preprocess: Callable | None = None,
    progress: Callable[[int, int], None] | None = None,
    **overrides,
) -> InversionResult:
    """For each layer, the image whose features at that layer match the photo's.

    Args:
      image: the photo, RGB 0-255, (H, W, 3).
      model: any Keras model with named layers; default `load_model("vgg16", "auto")`.
      options: an InversionOptions; `overrides` (any of its fields, e.g. `steps=30`) replace its values.
        `layers`: one reconstruction each (default: inversion_layers(model)); `size`: longer side of the
        reconstructions in pixels (None: the photo's size); `steps`: L-BFGS iterations per level; `levels`:
        1 solves at full size, 2 or more at half, quarter... size first; `tv_weight`: weight of the total
        variation prior, relative to the feature distance; `seed`: the starting noise.
      preprocess: RGB 0-255 -> model input, for models not from load_model.
      progress: called with (iterations done, iterations in all).

    Returns:
      An InversionResult: uint8 (L, H, W, 3) at the photo's aspect ratio, and the relative feature
      distances of the reconstructions and of the start.
    """
    options = InversionOptions.create(options, **overrides)
    steps, levels = options.steps, options.levels
    model = model if model is not None else models.load_model("vgg16", "auto")
    layers = list(options.layers or inversion_layers(model))
    photo = io.single(image, "the photo")
    shape = _output_shape(photo.shape[:2], options.size)
    total = len(layers) * steps * levels
    images, distances, starts = [], [], []
    for i, layer in enumerate(layers):
        objective = StyleLoss(model, [layer], preprocess)
        weights = (np.ones(1, np.float32), np.zeros(1, np.float32), float(options.tv_weight))
        start = _start(shape, options.seed)
        full = objective.targets(io.resize(photo, shape), io.resize(photo, shape))
        starts.append(np.sqrt(objective.layer_losses(start, full)[0][0]))

        def targets(level_shape, objective=objective):
            level_photo = io.resize(photo, level_shape)
            return objective.targets(level_photo, level_photo)

        report = None if progress is None else (lambda done, i=i: progress(i * steps * levels + done, total))
        x = _solve(objective, targets, weights, start, shape, steps, levels, report)
        images.append(io.round_pixels(x))
        distances.append(np.sqrt(objective.layer_losses(io.round_pixels(x).astype(np.float32), full)[0][0]))
    return InversionResult(np.stack(images), layers, np.array(distances, np.float32), np.array(starts, np.float32))


def synthesize_texture(
    texture,
    *,
    model: keras.Model | None = None,
    options: TextureOptions | None = None,
    preprocess: Callable | None = None,
    progress: Callable[[int, int], None] | None = None,
    **overrides,
) -> TextureResult:
    """A new texture of `shape` (H, W) pixels whose Gram matrices at `layers` match `texture`'s.

    `options`: a TextureOptions; `overrides` (any of its fields, e.g. `shape=(128, 256)`) replace its values;
    `layers` default to texture_layers(model). The texture is read at its own pixel scale (its patterns keep
    their size in pixels), so the output's size is free. Returns a TextureResult with uint8 (H, W, 3) and
    the Gram distance per layer relative to that of the starting noise.
    """
    options = TextureOptions.create(options, **overrides)
    steps, levels, shape = options.steps, options.levels, options.shape
    model = model if model is not None else models.load_model("vgg16", "auto")
    layers = list(options.layers or texture_layers(model))
    source = io.single(texture, "the texture")
    objective = StyleLoss(model, layers, preprocess)
    n = len(layers)
    weights = (np.zeros(n, np.float32), np.full(n, 1.0 / n, np.float32), float(options.tv_weight))

    def targets(level_shape):
        # The source shrinks with the level as the output does, so patterns keep their relative size;
        # its own (resized) self stands in for the unused content target and sets the TV scale.
        factor = level_shape[0] / shape[0]
        level_source = source if factor == 1 else io.resize(source, _scaled(source.shape[:2], factor))
        return objective.targets(io.resize(level_source, level_shape), level_source)

    start = _start(shape, options.seed)
    x = _solve(objective, targets, weights, start, shape, steps, levels, progress and
               (lambda done: progress(done, steps * levels)))
    image = io.round_pixels(x)
    full = targets(shape)
    before = objective.layer_losses(start, full)[1]
    after = objective.layer_losses(image.astype(np.float32), full)[1]
    return TextureResult(image, layers, (after / np.maximum(before, 1e-30)).astype(np.float32))


def _solve(objective, targets_at, weights, start, shape, steps, levels, report) -> np.ndarray:
    """L-BFGS coarse to fine: each level starts from the previous level's result, enlarged."""
    x = None
    for level in range(levels - 1, -1, -1):
        level_shape = (max(8, round(shape[0] / 2**level)), max(8, round(shape[1] / 2**level)))
        x = io.resize(start, level_shape) if x is None else np.clip(io.resize(x, level_shape), 0, 255)
        targets = targets_at(level_shape)
        done = (levels - 1 - level) * steps
        on_step = None if report is None else (lambda i, image, loss, done=done: report(done + i))
        # L-BFGS-B's first step and its stopping test are not scale-free: a loss whose pixel gradients are
        # tiny (a layer close to the pixels, whose relative distance barely moves per level) would stop at
        # once. The loss is scaled so that its gradient has unit RMS at the level's start.
        _, grad = objective.evaluate(x, targets, weights)[:2]
        scale = 1.0 / max(float(np.sqrt(np.mean(np.square(grad)))), 1e-30)

        def scaled(v, t=targets, scale=scale):
            value, g = objective.evaluate(v, t, weights)[:2]
            return value * scale, g * scale

        x, _ = engine.minimize(scaled, x, steps=steps, on_step=on_step)
    return x


def _start(shape: tuple[int, int], seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(127.5 + START_NOISE * rng.standard_normal((*shape, 3)), 0, 255).astype(np.float32)


def _output_shape(shape: tuple[int, int], size: int | None) -> tuple[int, int]:
    if size is None:
        return int(shape[0]), int(shape[1])
    return io.fit_shape(shape, size)


def _scaled(shape: tuple[int, int], factor: float) -> tuple[int, int]:
    return max(1, round(shape[0] * factor)), max(1, round(shape[1] * factor))
