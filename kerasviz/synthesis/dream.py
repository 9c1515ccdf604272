"""DeepDream (Mordvintsev, Olah & Tyka 2015): gradient ascent on layer activations, over octaves.

Octaves with lost-detail reinjection follow keras-io `deep_dream.py`; tiled gradients under a random
roll follow the TensorFlow DeepDream tutorial, so any image size runs in bounded memory.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

import keras
import numpy as np
import tensorflow as tf

from kerasviz import backend, io, models
from kerasviz.errors import KerasvizError
from kerasviz.optvis import engine, optim

log = logging.getLogger("kerasviz")

# keras-io deep_dream.py's InceptionV3 layer weights ("mixed4": 1.0 ... "mixed7": 2.5), lightened.
INCEPTION_LAYERS = {"mixed3": 1.0, "mixed5": 1.5}  # TensorFlow DeepDream tutorial's layers, weighted
# For the offline VGG16 backbone: chosen by eye (eyes and fur patterns, not only stripes).
VGG16_LAYERS = {"block4_conv3": 1.0, "block5_conv1": 0.5}
DEFAULT_LAYERS = {"inceptionv3": INCEPTION_LAYERS, "vgg16": VGG16_LAYERS}
OCTAVES = 3  # keras-io deep_dream.py num_octave
OCTAVE_SCALE = 1.4  # keras-io deep_dream.py octave_scale
STEPS = 20  # per octave; keras-io deep_dream.py iterations
STEP_SIZE = 1.5  # pixels (0-255) per step, on std-normalised gradients (~0.01 in [-1, 1], keras-io's step)
TILE_SIZE = 512  # TensorFlow DeepDream tutorial tile size


def default_model(preprocess: str | None = None) -> keras.Model:
    """InceptionV3 with ImageNet weights, or VGG16 with the offline weights when ImageNet is out of reach
    (`preprocess`: as load_model takes it; None is the network's own)."""
    try:
        return models.load_model("inceptionv3", "imagenet", preprocess=preprocess)
    except KerasvizError as err:
        log.warning("DeepDream falls back to offline VGG16 (%s)", err)
        return models.load_model("vgg16", "offline", preprocess=preprocess)


def default_layers(model: keras.Model) -> dict[str, float]:
    """The default {layer: weight} for a model from load_model."""
    info = models.model_info(model)
    if info is None or info.name not in DEFAULT_LAYERS:
        name = info.name if info else model.name
        raise KerasvizError(
            f"no default DeepDream layers for {name}; pass layers, e.g. {{'{models.last_conv(model)}': 1.0}} "
            f"(--layers={models.last_conv(model)}:1 in deep_dream.py)"
        )
    return dict(DEFAULT_LAYERS[info.name])


class TiledGradients:
    """Normalised gradient of the weighted mean layer activations, computed tile by tile.

    The loss is sum_l w_l * mean(activation_l); each tile contributes its mean weighted by its share
    of the image, so an image that fits one tile gets exactly the untiled gradient.
    """

    def __init__(self, model: keras.Model, layers: Mapping[str, float], preprocess: Callable | None = None):
        if not layers:
            raise KerasvizError("no DeepDream layers given; pass {layer: weight}, e.g. {'block5_conv1': 1.0}")
        self._extract = models.feature_model(model, list(layers))
        self._fixed = models.fixed_input_size(model)  # each tile is resized to it
        self._weights = tf.constant([float(w) for w in layers.values()], tf.float32)
        self._preprocess = models.preprocess_fn(model, preprocess)
        spec = [tf.TensorSpec((None, None, 3), tf.float32), tf.TensorSpec((), tf.int32), tf.TensorSpec((2,), tf.int32)]
        self._grad = backend.compile_step(self._tiled, input_signature=spec)

    def __call__(self, image: np.ndarray, tile_size: int = TILE_SIZE, seed: int = 0) -> np.ndarray:
        """Gradient (H, W, 3) of the loss at a 0-255 (H, W, 3) image, divided by its standard deviation."""
        h, w = image.shape[:2]
        rng = np.random.default_rng(seed)
        one_tile = h <= tile_size and w <= tile_size
        shift = (0, 0) if one_tile else (int(rng.integers(-tile_size // 2, tile_size // 2)),) * 2
        return self._grad(tf.constant(image, tf.float32), tf.constant(tile_size), tf.constant(shift)).numpy()

    def loss(self, tile: tf.Tensor) -> tf.Tensor:
        """sum_l w_l * mean(activation_l) for a (h, w, 3) 0-255 tile."""
        x = tile[None]
        if self._fixed is not None:
            x = tf.image.resize(x, self._fixed, method="bilinear", antialias=True)
        outputs = self._extract(self._preprocess(x))
        outputs = outputs if isinstance(outputs, list | tuple) else [outputs]
        return tf.reduce_sum(self._weights * tf.stack([tf.reduce_mean(o) for o in outputs]))

    def _tile_loss(self, tile: tf.Tensor, share: tf.Tensor) -> tuple[tf.Tensor, tuple]:
        """The loss of one tile, weighted by its share of the image's area."""
        return self.loss(tile) * share, ()

    def _tiled(self, image: tf.Tensor, tile_size: tf.Tensor, shift: tf.Tensor) -> tf.Tensor:
        rolled = tf.roll(image, shift=shift, axis=[0, 1])
        size = tf.shape(rolled)[:2]
        rows, cols = _splits(size[0], tile_size), _splits(size[1], tile_size)
        area = tf.cast(size[0] * size[1], tf.float32)
        grads = tf.TensorArray(tf.float32, size=0, dynamic_size=True, infer_shape=False)
        for i in tf.range(tf.size(rows) - 1):
            row_grads = tf.TensorArray(tf.float32, size=0, dynamic_size=True, infer_shape=False)
            for j in tf.range(tf.size(cols) - 1):
                tile = rolled[rows[i] : rows[i + 1], cols[j] : cols[j + 1]]
                share = tf.cast(tf.shape(tile)[0] * tf.shape(tile)[1], tf.float32) / area
                _, _, grad = engine.loss_and_grad(self._tile_loss, tile, share)
                row_grads = row_grads.write(j, tf.transpose(grad, [1, 0, 2]))
            grads = grads.write(i, tf.transpose(row_grads.concat(), [1, 0, 2]))
        gradient = tf.roll(grads.concat(), shift=-shift, axis=[0, 1])
        return gradient / tf.maximum(tf.math.reduce_std(gradient), 1e-30)  # scale-free: no additive epsilon


def _splits(length: tf.Tensor, tile_size: tf.Tensor) -> tf.Tensor:
    """Boundaries of ceil(length / tile_size) near-equal tiles: [0, ..., length]."""
    count = (length + tile_size - 1) // tile_size
    return tf.cast(tf.round(tf.linspace(0.0, tf.cast(length, tf.float32), count + 1)), tf.int32)


def deep_dream(
    image,
    *,
    model: keras.Model | None = None,
    layers: Mapping[str, float] | None = None,
    octaves: int = OCTAVES,
    octave_scale: float = OCTAVE_SCALE,
    steps: int = STEPS,
    step_size: float = STEP_SIZE,
    tile_size: int = TILE_SIZE,
    seed: int = 0,
    preprocess: Callable | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """Dreams on an RGB 0-255 image (H, W, 3), uint8 or float; returns uint8 (H, W, 3), same size.

    Args:
      model: any Keras model; default InceptionV3 (ImageNet), offline VGG16 without the network.
      layers: {layer name: weight}; default per model (INCEPTION_LAYERS, VGG16_LAYERS).
      octaves: number of scales, each `octave_scale` times the previous, ending at the input's size.
      steps: gradient-ascent steps per octave; step_size: pixels per step on normalised gradients.
      tile_size: largest tile side (pixels) for one gradient computation; bounds memory.
      progress: called with (steps done, octaves * steps).
    """
    batch, _ = io.as_batch(image)
    if batch.shape[0] != 1:
        raise KerasvizError(f"deep_dream takes one image (H, W, 3); got a batch of {batch.shape[0]}")
    if octaves < 1 or steps < 0 or octave_scale < 1 or tile_size < 32:
        raise KerasvizError(
            f"need octaves >= 1, steps >= 0, octave_scale >= 1 and tile_size >= 32; got octaves={octaves}, "
            f"steps={steps}, octave_scale={octave_scale}, tile_size={tile_size}"
        )
    model = model if model is not None else default_model()
    layers = dict(layers) if layers is not None else default_layers(model)
    with models.model_errors(model, "building DeepDream's gradients"):
        gradients = TiledGradients(model, layers, preprocess)
    original = batch[0]
    shapes = [tuple(max(1, round(s / octave_scale**k)) for s in original.shape[:2]) for k in range(octaves)][::-1]
    dream = io.resize(original, shapes[0])
    shrunk = dream
    rng = np.random.default_rng(seed)
    rule, pixels = optim.scaled(step_size), engine.box(0.0, 255.0)
    done = 0
    for shape in shapes:
        if dream.shape[:2] != shape:
            # keras-io: upscale the dream, then put back the detail that shrinking the original lost.
            dream = io.resize(dream, shape) + (io.resize(original, shape) - io.resize(shrunk, shape))
            shrunk = io.resize(original, shape)
        for _ in range(steps):
            with models.model_errors(model, f"dreaming at {shape[0]} x {shape[1]}"):
                grad = gradients(dream, tile_size, int(rng.integers(2**31)))
            dream = np.asarray(engine.apply(rule, dream, grad, (), pixels)[0])
            done += 1
            if progress is not None:
                progress(done, octaves * steps)
    return np.clip(np.round(dream), 0, 255).astype(np.uint8)
