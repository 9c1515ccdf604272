"""DeepDream (Mordvintsev, Olah & Tyka 2015): gradient ascent on layer activations, over octaves.

Octaves with lost-detail reinjection follow keras-io `deep_dream.py`; tiled gradients under a random
roll follow the TensorFlow DeepDream tutorial, so any image size runs in bounded memory.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping

import keras
import numpy as np
from keras import ops

from kerasviz import backend, io, models
from kerasviz.errors import KerasvizError
from kerasviz.options import Options, option
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


@dataclasses.dataclass(frozen=True)
class DreamOptions(Options):
    """DeepDream's options (Mordvintsev, Olah & Tyka 2015); each default's source is beside its constant."""

    WHAT = "DeepDream"
    layers: tuple[str, ...] | None = option(
        None, "Layers, joined by commas, each NAME (weight 1) or NAME:WEIGHT (default: the model's, e.g. "
        "mixed3:1,mixed5:1.5 on InceptionV3, the TensorFlow DeepDream tutorial's layers).", kind="layers")
    octaves: int = option(OCTAVES, "Number of scales, each octave_scale times the last (keras-io num_octave).", low=1)
    octave_scale: float = option(OCTAVE_SCALE, "Size ratio of one octave to the next (keras-io octave_scale).", low=1)
    steps: int = option(STEPS, "Gradient-ascent steps per octave (keras-io iterations).", low=0)
    step_size: float = option(STEP_SIZE, "Pixels (0-255) per step on std-normalised gradients (keras-io's step, "
                              "~0.01 in [-1, 1]).")
    tile_size: int = option(TILE_SIZE, "Largest tile side for one gradient, pixels; bounds memory (TensorFlow "
                            "DeepDream tutorial).", low=32)
    seed: int = option(0, "Random seed of the tile rolls; the same seed gives the same output.")

    def __post_init__(self):
        super().__post_init__()
        if self.layers is not None:
            _layer_weights(self.layers)  # names and weights readable, at least one layer

    def layer_weights(self, model: keras.Model) -> dict[str, float]:
        """{layer: weight}: the layers given, or default_layers(model) when None."""
        return default_layers(model) if self.layers is None else _layer_weights(self.layers)


def _layer_weights(layers: tuple[str, ...]) -> dict[str, float]:
    """("NAME:WEIGHT", "NAME", ...) -> {name: weight} (weight 1 when left out)."""
    if not layers:
        raise KerasvizError("no DeepDream layers given; name at least one, NAME or NAME:WEIGHT, e.g. mixed3:1")
    weights = {}
    for part in layers:
        name, _, weight = part.partition(":")
        try:
            weights[name.strip()] = float(weight) if weight.strip() else 1.0
        except ValueError:
            raise KerasvizError(f"cannot read DeepDream layer weight {part!r}; use NAME:WEIGHT, e.g. mixed3:1.5") \
                from None
    return weights


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
    of the image, so an image that fits one tile gets exactly the untiled gradient. On TensorFlow the
    whole tiling is one compiled graph (tf.function over dynamic tiles); on JAX and PyTorch the tiles
    are cut on the host and each tile's gradient is one compiled step (jax.jit per tile shape).
    """

    def __init__(self, model: keras.Model, layers: Mapping[str, float], preprocess: Callable | None = None):
        if not layers:
            raise KerasvizError("no DeepDream layers given; pass {layer: weight}, e.g. {'block5_conv1': 1.0}")
        self._extract = models.feature_model(model, list(layers))
        self._fixed = models.fixed_input_size(model)  # each tile is resized to it
        self._weights = ops.convert_to_tensor([float(w) for w in layers.values()], "float32")
        self._preprocess = models.preprocess_fn(model, preprocess)
        if backend.NAME == "tensorflow":
            spec = [backend.tensor_spec((None, None, 3)), backend.tensor_spec((), "int32"),
                    backend.tensor_spec((2,), "int32")]
            self._grad = backend.compile_step(self._tiled, input_signature=spec)
        else:
            self._tile_grad = backend.compile_step(self._one_tile, weights=[self._extract])

    def __call__(self, image: np.ndarray, tile_size: int = TILE_SIZE, seed: int = 0) -> np.ndarray:
        """Gradient (H, W, 3) of the loss at a 0-255 (H, W, 3) image, divided by its standard deviation."""
        h, w = image.shape[:2]
        rng = np.random.default_rng(seed)
        one_tile = h <= tile_size and w <= tile_size
        shift = (0, 0) if one_tile else (int(rng.integers(-tile_size // 2, tile_size // 2)),) * 2
        if backend.NAME != "tensorflow":
            return self._host_tiled(np.asarray(image, np.float32), tile_size, shift)
        tensor = ops.convert_to_tensor
        return ops.convert_to_numpy(self._grad(tensor(image, "float32"), tensor(tile_size), tensor(shift)))

    def loss(self, tile):
        """sum_l w_l * mean(activation_l) for a (h, w, 3) 0-255 tile."""
        x = tile[None]
        if self._fixed is not None:
            x = ops.image.resize(x, self._fixed, interpolation="bilinear", antialias=True)
        outputs = self._extract(self._preprocess(x))
        outputs = outputs if isinstance(outputs, list | tuple) else [outputs]
        return ops.sum(self._weights * ops.stack([ops.mean(o) for o in outputs]))

    def _tile_loss(self, tile, share) -> tuple:
        """The loss of one tile, weighted by its share of the image's area."""
        return self.loss(tile) * share, ()

    def _one_tile(self, tile, share):
        return engine.loss_and_grad(self._tile_loss, tile, share)[2]

    def _host_tiled(self, image: np.ndarray, tile_size: int, shift: tuple[int, int]) -> np.ndarray:
        """_tiled with the tiles cut in numpy: the same splits, shares, roll and normalisation."""
        rolled = np.roll(image, shift, axis=(0, 1))
        rows, cols = _host_splits(rolled.shape[0], tile_size), _host_splits(rolled.shape[1], tile_size)
        area = np.float32(rolled.shape[0] * rolled.shape[1])
        gradient = np.zeros_like(rolled)
        for r0, r1 in zip(rows[:-1], rows[1:]):
            for c0, c1 in zip(cols[:-1], cols[1:]):
                share = ops.convert_to_tensor(np.float32((r1 - r0) * (c1 - c0)) / area)
                tile = ops.convert_to_tensor(rolled[r0:r1, c0:c1])
                gradient[r0:r1, c0:c1] = ops.convert_to_numpy(self._tile_grad(tile, share))
        gradient = np.roll(gradient, (-shift[0], -shift[1]), axis=(0, 1))
        return gradient / max(np.float32(gradient.std()), np.float32(1e-30))

    def _tiled(self, image, tile_size, shift):
        """TensorFlow: the tiled gradient as one graph (tf.function), tiles of any size."""
        import tensorflow as tf

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


def _kept_gradients(model: keras.Model, layers: Mapping[str, float], preprocess: Callable | None) -> TiledGradients:
    """The model's TiledGradients for these layers and preprocessing, built once: a second dream on the model
    (another picture, the README's two) runs the compiled steps of the first (JAX compiles once per tile
    shape); the steps read the weights of the moment."""
    cache = models.model_cache(model, "dream_gradients")
    key = (tuple(layers.items()), preprocess)
    if key not in cache:
        cache[key] = TiledGradients(model, layers, preprocess)
    return cache[key]


def _splits(length, tile_size):
    """Boundaries of ceil(length / tile_size) near-equal tiles: [0, ..., length] (TensorFlow tensors)."""
    import tensorflow as tf

    count = (length + tile_size - 1) // tile_size
    return tf.cast(tf.round(tf.linspace(0.0, tf.cast(length, tf.float32), count + 1)), tf.int32)


def _host_splits(length: int, tile_size: int) -> list[int]:
    """_splits in numpy, for the host tiling."""
    count = (length + tile_size - 1) // tile_size
    return [int(b) for b in np.round(np.linspace(np.float32(0), np.float32(length), count + 1, dtype=np.float32))]


def deep_dream(
    image,
    *,
    model: keras.Model | None = None,
    options: DreamOptions | None = None,
    preprocess: Callable | None = None,
    progress: Callable[[int, int], None] | None = None,
    **overrides,
) -> np.ndarray:
    """Dreams on an RGB 0-255 image (H, W, 3), uint8 or float; returns uint8 (H, W, 3), same size.

    Args:
      model: any Keras model; default InceptionV3 (ImageNet), offline VGG16 without the network.
      options: a DreamOptions; `overrides` (any of its fields, e.g. `steps=5`) replace its values.
        layers: "NAME" (weight 1) or "NAME:WEIGHT" strings, or {layer name: weight}; default per model
        (INCEPTION_LAYERS, VGG16_LAYERS). octaves: number of scales, each `octave_scale` times the
        previous, ending at the input's size. steps: gradient-ascent steps per octave; step_size: pixels
        per step on normalised gradients. tile_size: largest tile side (pixels) for one gradient
        computation; bounds memory. seed: of the tile rolls.
      preprocess: RGB 0-255 -> model input, for models not from load_model (models.preprocess_fn).
      progress: called with (steps done, octaves * steps).
    """
    options = DreamOptions.create(options, **overrides)
    original = io.single(image, "deep_dream's image")
    model = model if model is not None else default_model()
    with models.model_errors(model, "building DeepDream's gradients"):
        gradients = _kept_gradients(model, options.layer_weights(model), preprocess)
    octaves, steps, scale = options.octaves, options.steps, options.octave_scale
    shapes = [tuple(max(1, round(s / scale**k)) for s in original.shape[:2]) for k in range(octaves)][::-1]
    dream = io.resize(original, shapes[0])
    shrunk = dream
    rng = np.random.default_rng(options.seed)
    rule, pixels = optim.scaled(options.step_size), engine.box(0.0, 255.0)
    done = 0
    for shape in shapes:
        if dream.shape[:2] != shape:
            # keras-io: upscale the dream, then put back the detail that shrinking the original lost.
            dream = io.resize(dream, shape) + (io.resize(original, shape) - io.resize(shrunk, shape))
            shrunk = io.resize(original, shape)
        for _ in range(steps):
            with models.model_errors(model, f"dreaming at {shape[0]} x {shape[1]}"):
                grad = gradients(dream, options.tile_size, int(rng.integers(2**31)))
            dream = np.asarray(engine.apply(rule, dream, grad, (), pixels)[0])
            done += 1
            if progress is not None:
                progress(done, octaves * steps)
    return io.round_pixels(dream)
