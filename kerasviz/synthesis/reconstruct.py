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
from kerasviz.optvis import engine
from kerasviz.optvis.feature_losses import StyleLoss

# Total variation weight of inversion, relative to the feature distance (both terms are relative,
# see optvis.feature_losses.StyleLoss): chosen by eye on the offline VGG16 at 192 px, block1 to block5.
INVERT_TV_WEIGHT = 0.02
INVERT_STEPS = 100  # L-BFGS iterations per level
INVERT_SIZE = 192  # longer side of the reconstructions, pixels
TEXTURE_STEPS = 100
TEXTURE_TV_WEIGHT = 0.0  # Gatys et al. 2015 use no image prior for textures
# Gatys et al. 2015's texture layers conv1_1, pool1, pool2, pool3, pool4 (VGG19); VGG16's conv layers
# that begin those blocks.
TEXTURE_LAYERS = ("block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1")
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


def invert_features(
    image,
    *,
    layers: Sequence[str],
    model: keras.Model | None = None,
    size: int | None = INVERT_SIZE,
    steps: int = INVERT_STEPS,
    tv_weight: float = INVERT_TV_WEIGHT,
    levels: int = LEVELS,
    seed: int = 0,
    preprocess: Callable | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> InversionResult:
    """For each layer, the image whose features at that layer match the photo's.

    Args:
      image: the photo, RGB 0-255, (H, W, 3).
      layers: layer names; one reconstruction each.
      model: any Keras model with named layers; default `load_model("vgg16", "auto")`.
      size: longer side of the reconstructions in pixels (None: the photo's size).
      steps: L-BFGS iterations per level.
      tv_weight: weight of the total variation prior, relative to the feature distance.
      levels: 1 solves at full size; 2 or more at half, quarter... size first.
      seed: the starting noise.
      preprocess: RGB 0-255 -> model input, for models not from load_model.
      progress: called with (iterations done, iterations in all).

    Returns:
      An InversionResult: uint8 (L, H, W, 3) at the photo's aspect ratio, and the relative feature
      distances of the reconstructions and of the start.
    """
    layers = _layer_list(layers)
    _check_steps(steps, levels)
    model = model if model is not None else models.load_model("vgg16", "auto")
    photo = _single(image)
    shape = _output_shape(photo.shape[:2], size)
    total = len(layers) * steps * levels
    images, distances, starts = [], [], []
    for i, layer in enumerate(layers):
        objective = StyleLoss(model, [layer], preprocess)
        weights = (np.ones(1, np.float32), np.zeros(1, np.float32), float(tv_weight))
        start = _start(shape, seed)
        full = objective.targets(io.resize(photo, shape), io.resize(photo, shape))
        starts.append(np.sqrt(objective.layer_losses(start, full)[0][0]))

        def targets(level_shape, objective=objective):
            level_photo = io.resize(photo, level_shape)
            return objective.targets(level_photo, level_photo)

        report = None if progress is None else (lambda done, i=i: progress(i * steps * levels + done, total))
        x = _solve(objective, targets, weights, start, shape, steps, levels, report)
        images.append(_to_uint8(x))
        distances.append(np.sqrt(objective.layer_losses(_to_uint8(x).astype(np.float32), full)[0][0]))
    return InversionResult(np.stack(images), layers, np.array(distances, np.float32), np.array(starts, np.float32))


def synthesize_texture(
    texture,
    *,
    shape: tuple[int, int],
    layers: Sequence[str] = TEXTURE_LAYERS,
    model: keras.Model | None = None,
    steps: int = TEXTURE_STEPS,
    tv_weight: float = TEXTURE_TV_WEIGHT,
    levels: int = LEVELS,
    seed: int = 0,
    preprocess: Callable | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> TextureResult:
    """A new texture of `shape` (H, W) pixels whose Gram matrices at `layers` match `texture`'s.

    The texture is read at its own pixel scale (its patterns keep their size in pixels), so the output's
    size is free. Returns a TextureResult with uint8 (H, W, 3) and the Gram distance per layer relative
    to that of the starting noise.
    """
    layers = _layer_list(layers)
    _check_steps(steps, levels)
    if len(shape) != 2 or min(shape) < 16:
        raise KerasvizError(f"texture size must be H,W of at least 16 pixels each; got {tuple(shape)}")
    model = model if model is not None else models.load_model("vgg16", "auto")
    source = _single(texture)
    shape = (int(shape[0]), int(shape[1]))
    objective = StyleLoss(model, layers, preprocess)
    n = len(layers)
    weights = (np.zeros(n, np.float32), np.full(n, 1.0 / n, np.float32), float(tv_weight))

    def targets(level_shape):
        # The source shrinks with the level as the output does, so patterns keep their relative size;
        # its own (resized) self stands in for the unused content target and sets the TV scale.
        factor = level_shape[0] / shape[0]
        level_source = source if factor == 1 else io.resize(source, _scaled(source.shape[:2], factor))
        return objective.targets(io.resize(level_source, level_shape), level_source)

    start = _start(shape, seed)
    x = _solve(objective, targets, weights, start, shape, steps, levels, progress and
               (lambda done: progress(done, steps * levels)))
    image = _to_uint8(x)
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


def _layer_list(layers: Sequence[str]) -> list[str]:
    layers = [layers] if isinstance(layers, str) else [str(name) for name in layers]
    if not layers:
        raise KerasvizError("no layers given; name at least one, e.g. block3_conv1")
    return layers


def _check_steps(steps: int, levels: int) -> None:
    if steps < 1 or levels < 1:
        raise KerasvizError(f"steps and levels must be at least 1; got steps={steps}, levels={levels}")


def _single(image) -> np.ndarray:
    batch, _ = io.as_batch(image)
    if batch.shape[0] != 1:
        raise KerasvizError(f"give one image (H, W, 3); got a batch of {batch.shape[0]}")
    return batch[0]


def _output_shape(shape: tuple[int, int], size: int | None) -> tuple[int, int]:
    if size is None:
        return int(shape[0]), int(shape[1])
    if size < 16:
        raise KerasvizError(f"size must be at least 16 pixels; got {size}")
    return io.fit_shape(shape, size)


def _scaled(shape: tuple[int, int], factor: float) -> tuple[int, int]:
    return max(1, round(shape[0] * factor)), max(1, round(shape[1] * factor))


def _to_uint8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x), 0, 255).astype(np.uint8)
