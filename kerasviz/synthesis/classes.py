"""Class model visualisation (Simonyan, Vedaldi & Zisserman 2014, "Deep Inside Convolutional Networks"):
the image that maximises one class's logit, made with the filter pictures' recipe (render.py).

Any classifier works: its last layer must give (N, classes) scores; a softmax or sigmoid at the end
is taken off (maximising a probability would also push the other classes down, Simonyan et al. 2014,
section 2), and a model with a fixed input size sees the picture resized to it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence

import keras
import numpy as np
from keras import ops

from kerasviz import models
from kerasviz.errors import KerasvizError
from kerasviz.options import Options, option
from kerasviz.optvis import objectives as obj
from kerasviz.optvis import render

LOGITS = "kerasviz_logits"  # the name of the logits layer of logits_model
DEFAULT_SIZE = 128  # picture side for a classifier that takes any input size


@dataclasses.dataclass(frozen=True)
class ClassOptions(Options):
    """Class pictures' options (Simonyan et al. 2014), drawn as the filter pictures are (render.METHODS, where
    each method's source is given)."""

    WHAT = "class pictures"
    size: int | None = option(
        None, f"Picture side in pixels (default: the model's input size, else {DEFAULT_SIZE}).", low=8, kind="int")
    steps: int | None = option(None, "Optimisation steps (default: the method's, as for the filter pictures).",
                               low=1, kind="int")
    method: str = option(render.DEFAULT_METHOD, "How the picture is drawn, as the filter pictures are: fft (Olah et "
                         "al. 2017), maco (Fel et al. 2023), fft_progressive, fft_roll or classic (Chollet 2016).",
                         choices=tuple(render.METHODS))
    seed: int = option(0, "Random seed of the starting images; the same seed gives the same output.")


def load_classifier(model: str | keras.Model, weights: str | None = "auto", preprocess: str | Callable | None = None
                    ) -> tuple[keras.Model, Callable, str]:
    """(classifier, RGB 0-255 -> its input, description) for a model name, a saved model file or a Keras model.

    Names load with their ImageNet head ("auto" means ImageNet here); the offline weights have none, which
    is one clear error. A file loads through models.load_model (Keras' safe mode; its stem and sha256 in
    model_facts). A Keras model is taken as it is, with `preprocess` (a function, or None: its own).
    """
    if isinstance(model, keras.Model):
        return model, models.preprocess_fn(model, preprocess), model.name
    models.check_preprocessing(preprocess)
    key = model.lower()
    if key not in models.MODELS:
        net = models.load_model(model, weights, preprocess=preprocess)
        return net, models.preprocess_fn(net), f"file:{model}"
    if weights == "offline":
        raise KerasvizError(
            "class pictures and fooling images need a classifier, and the offline VGG16 weights have none (no "
            "head): use --weights=imagenet (where it can be downloaded, e.g. on Colab) or --model=PATH to a saved "
            "classifier (.keras, .h5)")
    try:
        net = models.load_model(key, "imagenet" if weights == "auto" else weights, include_top=True,
                                preprocess=preprocess)
    except KerasvizError as err:
        raise KerasvizError(
            f"{err}; class pictures and fooling images need a classifier (the offline weights have none): "
            "connect once so Keras caches the ImageNet file, or pass --model=PATH to a saved classifier") from None
    return net, models.preprocess_fn(net), f"{key} ({models.model_info(net).weights})"


def logits_model(model: keras.Model) -> keras.Model:
    """The classifier with its output squashing (models.squashes: softmax or sigmoid) taken off: (N, H, W, 3)
    model input -> (N, classes) logits.

    The output layer of the result is named LOGITS. A model with a fixed input size gets a resizing
    layer in front, so it takes any picture size (and a picture of its own size unchanged).
    """
    if len(model.outputs) != 1 or len(model.outputs[0].shape) != 2:
        shapes = [tuple(o.shape) for o in model.outputs]
        raise KerasvizError(f"a classifier gives one (N, classes) output; {model.name} gives {shapes}")
    last = model.layers[-1]
    activation = getattr(last, "activation", None)
    squashing = isinstance(last, keras.layers.Activation) and models.squashes(activation)
    if isinstance(last, keras.layers.Softmax) or squashing:
        logits = last.input
    elif isinstance(last, keras.layers.Dense) and models.squashes(activation):
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


def class_label(c: int, names: Sequence[str] | Mapping[int, str] | None = None) -> str:
    """'281: tabby cat' where `names` has the class, else '281'."""
    try:
        return f"{c}: {names[c]}" if names is not None else str(c)
    except (IndexError, KeyError):
        return str(c)


def visualize_classes(
    model: keras.Model,
    classes: Sequence[int] | int,
    *,
    options: ClassOptions | None = None,
    preprocess: Callable | None = None,
    progress: Callable[[int, int], None] | None = None,
    **overrides,
) -> tuple[np.ndarray, np.ndarray]:
    """The picture that maximises each class's logit.

    Args:
      model: a classifier (see logits_model); models from load_model(..., include_top=True) bring
        their own preprocessing, others take `preprocess`.
      classes: class indices.
      options: a ClassOptions; `overrides` (any of its fields, e.g. `steps=30`) replace its values: `size`
        (picture side in pixels; default: the model's fixed input size, else DEFAULT_SIZE), `steps`,
        `method` and `seed` as for render.visualize_filters.
      preprocess: RGB 0-255 -> model input.
      progress: called as progress(image_steps_done, image_steps_total).

    Returns:
      (images, logits): uint8 (N, size, size, 3), and float32 (N, classes) every class's logit on
      each saved picture.
    """
    options = ClassOptions.create(options, **overrides)
    classes = [classes] if isinstance(classes, int | np.integer) else list(classes)
    classes = check_classes(model, classes)
    fixed = tuple(model.input_shape[1:3])
    size = options.size or (int(fixed[0]) if None not in fixed else DEFAULT_SIZE)
    net = logits_model(model)
    preprocess = models.preprocess_fn(model, preprocess)
    images, _ = render.visualize_filters(
        net, LOGITS, classes, size=size, steps=options.steps, method=options.method, seed=options.seed,
        objective=obj.class_logit(LOGITS), preprocess=preprocess, precision="float32", progress=progress,
    )
    return images, logits(net, images, preprocess)


def logits(model: keras.Model, images: np.ndarray, preprocess: Callable | None = None) -> np.ndarray:
    """float32 (N, classes): the logits of RGB 0-255 images (N, H, W, 3) under a logits_model."""
    preprocess = models.preprocess_fn(model, preprocess)
    scores = model(preprocess(ops.convert_to_tensor(np.asarray(images, np.float32))), training=False)
    return np.asarray(ops.convert_to_numpy(scores), np.float32)
