"""Model names -> keras.applications constructors, preprocessing, layer listing."""

from __future__ import annotations

import dataclasses
import difflib
import logging
import math
import os
from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf

from kerasviz import weights as weights_lib
from kerasviz.errors import KerasvizError

log = logging.getLogger("kerasviz")

# keras.applications' per-family input conventions (keras/src/applications/imagenet_utils.py):
# "caffe": RGB -> BGR, minus the ImageNet channel means; "tf": scaled to [-1, 1];
# "torch": scaled to [0, 1], then standardised per channel with the ImageNet mean and std.
_CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
_TORCH_MEAN_RGB = (0.485, 0.456, 0.406)
_TORCH_STD_RGB = (0.229, 0.224, 0.225)
PREPROCESSING = ("caffe", "tf", "torch", "none")  # "none": the model takes 0-255 RGB as it is
MODEL_FILE_EXTENSIONS = (".keras", ".h5")  # what keras.saving.load_model reads as a whole model


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

    name: str  # the keras.applications name, or a model file's stem
    weights: str  # where the weights came from, as written in JSON sidecars
    preprocessing: str  # one of PREPROCESSING
    include_top: bool  # has a classifier (logits) as its output
    file: str | None = None  # the model file, for models loaded from one
    sha256: str | None = None  # of that file


def load_model(
    name: str | os.PathLike,
    weights: str | None = "auto",
    *,
    include_top: bool = False,
    preprocess: str | None = None,
) -> keras.Model:
    """Builds a keras.applications network with weights chosen as in DESIGN.md, or loads a model file.

    Args:
      name: "vgg16", "resnet50" or "inceptionv3" (case-insensitive), or the path of a whole saved
        model (`.keras`, or legacy `.h5`), loaded with Keras' safe mode (model_files.load_model_file).
      weights: "auto", "imagenet", "offline", a path to a Keras weights file, or None (random).
        A model file brings its own weights: leave this at "auto".
      include_top: keep the ImageNet classifier. Its last layer gives logits (no softmax), and the
        input size is then fixed at the network's default size. Without it, any size works.
        A model file is used as it was saved.
      preprocess: how the model's inputs are scaled, one of PREPROCESSING; default: the network's
        own for the three names, "none" (0-255 RGB) for a model file.

    Returns:
      A Keras model that takes the network's own preprocessed input; model_info(model) tells
      which preprocessing and which weights it has.
    """
    _check_preprocessing(preprocess)
    if is_model_file(name):
        if weights != "auto":
            raise KerasvizError(
                f"weights {weights!r} apply to {', '.join(MODELS)} only; the model file {os.fspath(name)!r} "
                "brings its own weights (leave weights at 'auto')"
            )
        from kerasviz import model_files  # it builds on this module

        return model_files.load_model_file(name, preprocess=preprocess)
    key = name.lower() if isinstance(name, str) else name
    if key not in MODELS:
        raise KerasvizError(
            f"unknown model {name!r}; valid: {', '.join(MODELS)}, or the path of a saved model "
            f"({' or '.join(MODEL_FILE_EXTENSIONS)})"
        )
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
    info = ModelInfo(key, source.description, preprocess or spec.preprocessing, include_top)
    object.__setattr__(model, "kerasviz_info", info)
    return model


def is_model_file(name) -> bool:
    """Whether load_model takes `name` as a path: it is no model name and ends like a model file,
    or names something on disk."""
    if not isinstance(name, str | os.PathLike):
        return False
    text = os.fspath(name)
    if text.lower() in MODELS:
        return False
    return text.lower().endswith((*MODEL_FILE_EXTENSIONS, ".hdf5")) or os.path.exists(text) or os.sep in text


def _check_preprocessing(preprocess) -> None:
    if preprocess is not None and preprocess not in PREPROCESSING:
        raise KerasvizError(f"unknown preprocessing {preprocess!r}; valid: {', '.join(PREPROCESSING)}")


def model_facts(model: keras.Model) -> dict:
    """What JSON sidecars record about a model: name, weights, preprocessing, and for a model file
    the file and its sha256."""
    info = model_info(model)
    if info is None:
        return {"model": model.name, "weights": "user model"}
    facts = {"model": info.name, "weights": info.weights, "preprocessing": info.preprocessing}
    if info.file is not None:
        facts.update(model_file=info.file, model_sha256=info.sha256)
    return facts


def model_info(model: keras.Model) -> ModelInfo | None:
    """The ModelInfo of a model from load_model, or None for any other model."""
    return getattr(model, "kerasviz_info", None)


def preprocess_fn(model: keras.Model, preprocess: Callable | None = None) -> Callable[[tf.Tensor], tf.Tensor]:
    """The function from RGB float in 0-255, (N, H, W, 3), to the model's input.

    `preprocess`, when given (a function, or a name in PREPROCESSING), wins; then the model's own
    (for models from load_model); otherwise the model is taken to expect 0-255 RGB as it is.
    """
    if isinstance(preprocess, str):
        _check_preprocessing(preprocess)
        return _PREPROCESSORS[preprocess]
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


def _torch(x: tf.Tensor) -> tf.Tensor:
    mean = tf.constant(_TORCH_MEAN_RGB, dtype=x.dtype)
    std = tf.constant(_TORCH_STD_RGB, dtype=x.dtype)
    return (x / 255.0 - mean) / std


_PREPROCESSORS = {"caffe": _caffe, "tf": _tf, "torch": _torch, "none": _identity}


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


STAGE_PROBE_SIZE = 224  # input side at which conv_stages traces a model whose input size is not fixed


def conv_stages(model: keras.Model) -> list[list[str]]:
    """The model's 2-D convolution layers (conv_layers) in runs of the same stride, input to output.

    A layer's stride is the input side over its output side, to the nearest power of two (so that
    unpadded convolutions, a few pixels smaller, stay in their stage). Shapes are traced symbolically
    (nothing is computed) at the model's fixed input size, or at STAGE_PROBE_SIZE px when it takes any
    size. VGG16 gives its five blocks.
    """
    convs = conv_layers(model)
    if not convs:
        return []
    fixed = tuple(model.inputs[0].shape[1:3])
    height, width = fixed if None not in fixed else (STAGE_PROBE_SIZE, STAGE_PROBE_SIZE)
    probe = keras.Model(model.inputs[0], [model.get_layer(name).output for name in convs])
    specs = probe.compute_output_spec(keras.KerasTensor((1, height, width, model.inputs[0].shape[-1])))
    stages: list[list[str]] = []
    previous = None
    for name, spec in zip(convs, specs if isinstance(specs, list | tuple) else [specs], strict=True):
        resolution = round(math.log2(height / max(1, spec.shape[1])))
        if resolution != previous:
            stages.append([])
            previous = resolution
        stages[-1].append(name)
    return stages
