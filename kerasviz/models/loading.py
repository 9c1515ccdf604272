"""load_model: a keras.applications network with its weights, or a saved model file."""

from __future__ import annotations

import os

import keras

from kerasviz.errors import KerasvizError
from kerasviz.models import files
from kerasviz.models import weights as weights_lib
from kerasviz.models.catalogue import (
    MODEL_FILE_EXTENSIONS,
    MODELS,
    ModelInfo,
    check_preprocessing,
    is_model_file,
    set_model_info,
)


def load_model(
    name: str | os.PathLike,
    weights: str | None = "auto",
    *,
    include_top: bool = False,
    preprocess: str | None = None,
) -> keras.Model:
    """Builds a keras.applications network with weights chosen as in weights.py, or loads a model file.

    Args:
      name: "vgg16", "resnet50" or "inceptionv3" (case-insensitive), or the path of a whole saved
        model (`.keras`, or legacy `.h5`), loaded with Keras' safe mode (files.load_model_file).
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
    check_preprocessing(preprocess)
    if is_model_file(name):
        if weights != "auto":
            raise KerasvizError(
                f"weights {weights!r} apply to {', '.join(MODELS)} only; the model file {os.fspath(name)!r} "
                "brings its own weights (leave weights at 'auto')"
            )
        return files.load_model_file(name, preprocess=preprocess)
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
    set_model_info(model, info)
    return model

