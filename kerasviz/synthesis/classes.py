"""Class model visualisation (Simonyan, Vedaldi & Zisserman 2014, "Deep Inside Convolutional Networks"):
the image that maximises one class's logit, made with the filter pictures' recipe (render.py).

Any classifier works: its last layer must give (N, classes) scores; a softmax or sigmoid at the end
is taken off (maximising a probability would also push the other classes down, Simonyan et al. 2014,
section 2), and a model with a fixed input size sees the picture resized to it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import keras
import numpy as np
import tensorflow as tf

from kerasviz import models
from kerasviz.errors import KerasvizError
from kerasviz.optvis import objectives as obj
from kerasviz.optvis import render

LOGITS = "kerasviz_logits"  # the name of the logits layer of logits_model
DEFAULT_SIZE = 128  # picture side for a classifier that takes any input size


def logits_model(model: keras.Model) -> keras.Model:
    """The classifier with its output activation taken off: (N, H, W, 3) model input -> (N, classes) logits.

    The output layer of the result is named LOGITS. A model with a fixed input size gets a resizing
    layer in front, so it takes any picture size (and a picture of its own size unchanged).
    """
    if len(model.outputs) != 1 or len(model.outputs[0].shape) != 2:
        shapes = [tuple(o.shape) for o in model.outputs]
        raise KerasvizError(f"a classifier gives one (N, classes) output; {model.name} gives {shapes}")
    last = model.layers[-1]
    activation = last.get_config().get("activation")
    if isinstance(last, keras.layers.Softmax) or (
        isinstance(last, keras.layers.Activation) and activation in ("softmax", "sigmoid")
    ):
        logits = last.input
    elif isinstance(last, keras.layers.Dense) and activation not in (None, "linear"):
        linear = keras.layers.Dense(last.units, use_bias=last.use_bias, name=f"{last.name}_logits")
        logits = linear(last.input)
        linear.set_weights(last.get_weights())
    else:
        logits = model.outputs[0]
    body = keras.Model(model.inputs, logits)
    fixed = tuple(model.input_shape[1:3])
    inputs = keras.Input((None, None, model.input_shape[-1]))
    x = inputs if None in fixed else keras.layers.Resizing(*fixed, interpolation="bilinear")(inputs)
    out = keras.layers.Identity(name=LOGITS)(body(x))
    result = keras.Model(inputs, out, name=f"{model.name}_logits")
    info = models.model_info(model)
    if info is not None:  # keeps the model's own preprocessing and its weights' description
        models.set_model_info(result, info)
    return result


def num_classes(model: keras.Model) -> int:
    """The number of classes of a classifier (its output's last axis)."""
    return int(model.outputs[0].shape[-1])


def check_classes(model: keras.Model, classes: Sequence[int]) -> list[int]:
    """`classes` as ints, or KerasvizError naming the valid range."""
    count = num_classes(model)
    classes = [int(c) for c in classes]
    if not classes:
        raise KerasvizError(f"no classes given; valid classes are 0-{count - 1}")
    bad = [c for c in classes if not 0 <= c < count]
    if bad:
        raise KerasvizError(f"class {bad[0]} out of range: valid classes are 0-{count - 1}")
    return classes


def visualize_classes(
    model: keras.Model,
    classes: Sequence[int] | int,
    *,
    size: int | None = None,
    steps: int | None = None,
    method: str | None = None,
    seed: int = 0,
    preprocess: Callable | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The picture that maximises each class's logit.

    Args:
      model: a classifier (see logits_model); models from load_model(..., include_top=True) bring
        their own preprocessing, others take `preprocess`.
      classes: class indices.
      size: picture side in pixels (default: the model's fixed input size, else DEFAULT_SIZE).
      steps, method, seed: as for render.visualize_filters (default: its default method, fft).
      preprocess: RGB 0-255 -> model input.
      progress: called as progress(image_steps_done, image_steps_total).

    Returns:
      (images, logits): uint8 (N, size, size, 3), and float32 (N, classes) every class's logit on
      each saved picture.
    """
    classes = [classes] if isinstance(classes, int | np.integer) else list(classes)
    classes = check_classes(model, classes)
    fixed = tuple(model.input_shape[1:3])
    size = size or (int(fixed[0]) if None not in fixed else DEFAULT_SIZE)
    net = logits_model(model)
    preprocess = models.preprocess_fn(model, preprocess)
    images, _ = render.visualize_filters(
        net, LOGITS, classes, size=size, steps=steps, method=method, seed=seed, objective=obj.class_logit(LOGITS),
        preprocess=preprocess, precision="float32", progress=progress,
    )
    return images, logits(net, images, preprocess)


def logits(model: keras.Model, images: np.ndarray, preprocess: Callable | None = None) -> np.ndarray:
    """float32 (N, classes): the logits of RGB 0-255 images (N, H, W, 3) under a logits_model."""
    preprocess = models.preprocess_fn(model, preprocess)
    return np.asarray(model(preprocess(tf.constant(images, tf.float32)), training=False), np.float32)
