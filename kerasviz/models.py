"""Model names -> keras.applications constructors, preprocessing, layer listing."""

from __future__ import annotations

import dataclasses
import difflib
import logging
from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf

from kerasviz import weights as weights_lib
from kerasviz.errors import KerasvizError

log = logging.getLogger("kerasviz")

# keras.applications' per-family input conventions (keras/src/applications/imagenet_utils.py):
# "caffe": RGB -> BGR, minus the ImageNet channel means; "tf": scaled to [-1, 1].
_CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """What kerasviz knows about one keras.applications network."""

    constructor: str  # attribute of keras.applications
    preprocessing: str  # "caffe" or "tf"
    default_size: int  # the size its classifier was trained at
    min_size: int  # the smallest input it accepts


MODELS: dict[str, ModelSpec] = {
    "vgg16": ModelSpec("VGG16", "caffe", 224, 32),
    "resnet50": ModelSpec("ResNet50", "caffe", 224, 32),
    "inceptionv3": ModelSpec("InceptionV3", "tf", 299, 75),
}


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    """Recorded on every model that load_model returns (see model_info)."""

    name: str
    weights: str  # where the weights came from, as written in JSON sidecars
    preprocessing: str
    include_top: bool


def load_model(name: str, weights: str | None = "auto", *, include_top: bool = False) -> keras.Model:
    """Builds a keras.applications network with weights chosen as in DESIGN.md.

    Args:
      name: "vgg16", "resnet50" or "inceptionv3" (case-insensitive).
      weights: "auto", "imagenet", "offline", a path to a Keras weights file, or None (random).
      include_top: keep the ImageNet classifier. Its last layer gives logits (no softmax), and the
        input size is then fixed at the network's default size. Without it, any size works.

    Returns:
      A Keras model that takes the network's own preprocessed input; model_info(model) tells
      which preprocessing and which weights it has.
    """
    key = name.lower() if isinstance(name, str) else name
    if key not in MODELS:
        raise KerasvizError(f"unknown model {name!r}; valid: {', '.join(MODELS)}")
    spec = MODELS[key]
    source = weights_lib.resolve(key, weights, include_top=include_top)
    constructor = getattr(keras.applications, spec.constructor)
    kwargs = {"include_top": include_top, "weights": source.path}
    if include_top:
        kwargs["classifier_activation"] = None  # logits: saliency needs them, not softmax
    else:
        kwargs["input_shape"] = (None, None, 3)
    try:
        model = constructor(**kwargs)
    except (OSError, ValueError) as err:
        raise KerasvizError(f"cannot load weights {source.description!r} into {key}: {err}") from err
    if source.offline:
        weights_lib.load_offline_vgg16(model)
    object.__setattr__(model, "kerasviz_info", ModelInfo(key, source.description, spec.preprocessing, include_top))
    return model


def model_info(model: keras.Model) -> ModelInfo | None:
    """The ModelInfo of a model from load_model, or None for any other model."""
    return getattr(model, "kerasviz_info", None)


def preprocess_fn(model: keras.Model, preprocess: Callable | None = None) -> Callable[[tf.Tensor], tf.Tensor]:
    """The function from RGB float in 0-255, (N, H, W, 3), to the model's input.

    `preprocess`, when given, wins; then the model's own (for models from load_model);
    otherwise the model is taken to expect 0-255 RGB as it is.
    """
    if preprocess is not None:
        return preprocess
    info = model_info(model)
    if info is None:
        return _identity
    return _PREPROCESSORS[info.preprocessing]


def _identity(x: tf.Tensor) -> tf.Tensor:
    return x


def _caffe(x: tf.Tensor) -> tf.Tensor:
    return x[..., ::-1] - tf.constant(_CAFFE_MEAN_BGR, dtype=x.dtype)


def _tf(x: tf.Tensor) -> tf.Tensor:
    return x / 127.5 - 1.0


_PREPROCESSORS = {"caffe": _caffe, "tf": _tf}


def get_layer(model: keras.Model, name: str) -> keras.layers.Layer:
    """model.get_layer with an error that names the closest valid layers."""
    names = [layer.name for layer in model.layers]
    if name in names:
        return model.get_layer(name)
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
    if close:
        hint = f"closest: {', '.join(close)}"
    else:
        hint = f"valid layers include: {', '.join(conv_layers(model)[:5] or names[:5])}, ..."
    raise KerasvizError(f"layer {name!r} not in {_model_name(model)}; {hint}")


def conv_layers(model: keras.Model) -> list[str]:
    """Names of the model's 2-D convolution layers, input to output."""
    return [layer.name for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]


def num_channels(model: keras.Model, layer: str) -> int:
    """The number of channels (filters) of a layer's output."""
    return int(get_layer(model, layer).output.shape[-1])


def _model_name(model: keras.Model) -> str:
    info = model_info(model)
    return info.name if info else model.name


def receptive_field(model: keras.Model, layer: str, size: int) -> int:
    """The side in input pixels (at most `size`) that one central position of `layer` sees.

    Measured, not looked up, so it holds for any model: the extent of the input gradient of the
    layer's central position (all channels) on a random `size` x `size` picture. Where the layer's
    map has an even side, the two central positions are taken, so the extent may be one stride more.
    """
    features = keras.Model(model.input, get_layer(model, layer).output)
    image = tf.constant(np.random.default_rng(0).uniform(0, 255, (1, size, size, 3)), tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(image)
        out = tf.cast(features(preprocess_fn(model)(image)), tf.float32)
        if out.shape.rank != 4:
            return size
        h, w = out.shape[1], out.shape[2]
        centre = out[:, (h - 1) // 2:h // 2 + 1, (w - 1) // 2:w // 2 + 1]
        score = tf.reduce_sum(tf.abs(centre))
    grad = np.abs(tape.gradient(score, image).numpy()[0]).sum(axis=-1)
    rows, cols = np.nonzero(grad.sum(axis=1))[0], np.nonzero(grad.sum(axis=0))[0]
    if rows.size == 0:
        return size
    return int(max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1)
