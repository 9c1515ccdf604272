"""What kerasviz knows about models: the keras.applications catalogue, the preprocessing names, and the
facts (ModelInfo) of every model that kerasviz made, kept beside the model rather than on it."""

from __future__ import annotations

import dataclasses
import os
import weakref

import keras

from kerasviz.errors import KerasvizError

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


# ModelInfo of the models kerasviz made (load_model, model files, logits and randomised copies), keyed weakly:
# nothing is stored on the model object, and an entry goes with its model.
_INFO: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


# Objects kerasviz derives from a model (its traced graph, feature models, compiled steps), also keyed weakly.
# They hold the model's layers, never the model object itself, so an entry goes with its model.
_CACHES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def model_cache(model: keras.Model, name: str) -> dict:
    """The dict named `name` of what kerasviz derived from `model`, kept beside the model, not on it."""
    return _CACHES.setdefault(model, {}).setdefault(name, {})


def set_model_info(model: keras.Model, info: ModelInfo) -> None:
    """Records `info` for `model` (see model_info)."""
    _INFO[model] = info


def is_model_file(name) -> bool:
    """Whether load_model takes `name` as a path: it is no model name and ends like a model file,
    or names something on disk."""
    if not isinstance(name, str | os.PathLike):
        return False
    text = os.fspath(name)
    if text.lower() in MODELS:
        return False
    return text.lower().endswith((*MODEL_FILE_EXTENSIONS, ".hdf5")) or os.path.exists(text) or os.sep in text


def check_preprocessing(preprocess) -> None:
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
    return _INFO.get(model)

