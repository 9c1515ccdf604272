"""Class pictures and fooling images as jobs: plain arguments in, PNG + JSON out, finished files skipped.

Both need a classifier: an ImageNet network with its head (load_model(..., include_top=True)) or a
saved Keras model file. The offline VGG16 weights have no head; for the README pictures made offline,
`skimage_classifier` trains a small, clearly labelled stand-in (see there).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence

import keras
import numpy as np
import tensorflow as tf

from kerasviz import io, models
from kerasviz.apps import _jobs
from kerasviz.errors import KerasvizError
from kerasviz.optvis import render
from kerasviz.synthesis import adversarial
from kerasviz.synthesis import classes as classes_lib

log = logging.getLogger("kerasviz")

PREPROCESS = models.PREPROCESSING


def load_classifier(model: str, weights: str | None = "auto", preprocess: str | None = None
                    ) -> tuple[keras.Model, Callable, str]:
    """(classifier, RGB 0-255 -> its input, description) for a model name or a saved model file.

    Names load with their ImageNet head; the offline weights have none, which is one clear error.
    A file loads through models.load_model (Keras' safe mode; its stem and sha256 in model_facts).
    """
    models.check_preprocessing(preprocess)
    key = model.lower()
    if key in models.MODELS:
        if weights == "offline":
            raise KerasvizError(
                "class pictures and fooling images need a classifier, and the offline VGG16 weights have none (no "
                "head): use --weights=imagenet (where it can be downloaded, e.g. on Colab) or --model=PATH to a saved "
                "classifier (.keras, .h5)")
        try:  # "auto" means ImageNet here: the offline fallback has no head
            net = models.load_model(key, "imagenet" if weights == "auto" else weights, include_top=True,
                                    preprocess=preprocess)
        except KerasvizError as err:
            raise KerasvizError(
                f"{err}; class pictures and fooling images need a classifier (the offline weights have none): "
                "connect once so Keras caches the ImageNet file, or pass --model=PATH to a saved classifier") from None
        return net, models.preprocess_fn(net), f"{key} ({models.model_info(net).weights})"
    net = models.load_model(model, weights, preprocess=preprocess)
    return net, models.preprocess_fn(net), f"file:{model}"


def run_classes(
    classes: Sequence[int],
    out: str,
    *,
    model: str | keras.Model = "vgg16", weights: str | None = "auto", preprocess: str | Callable | None = None,
    class_names: Sequence[str] | Mapping[int, str] | None = None,
    size: int | None = None,
    steps: int | None = None,
    seed: int = 0,
    stem: str | None = None,
    about: dict | None = None,
    overwrite: bool = False,
    progress: _jobs.ProgressFn | None = None,
) -> dict:
    """Writes DIR/STEM.png (one labelled picture per class) and DIR/STEM.json; returns the facts (see
    kerasviz.apps).

    STEM defaults to MODEL_classes. `model` is a name, a file or a Keras classifier (then `preprocess`
    is a function or None); `about` adds facts to the JSON.
    """
    net, fn, description = _classifier(model, weights, preprocess)
    classes = classes_lib.check_classes(net, classes)
    stem = stem or f"{_stem(net)}_classes"
    png, sidecar = os.path.join(out, f"{stem}.png"), os.path.join(out, f"{stem}.json")
    resolved_steps = steps or render.METHODS[render.DEFAULT_METHOD].steps
    asked = {"classes": list(classes), "steps": resolved_steps, "seed": seed}
    earlier = _jobs.kept(png, sidecar, overwrite=overwrite, asked=asked if size is None else {**asked, "size": size})
    if earlier:
        return earlier
    io.check_writable(out)
    start = time.perf_counter()
    images, logits = classes_lib.visualize_classes(net, classes, size=size, steps=steps, seed=seed, preprocess=fn,
                                                   progress=progress)
    seconds = time.perf_counter() - start
    random_logits = classes_lib.logits(classes_lib.logits_model(net), _random_images(len(classes), images.shape[1]),
                                       fn)
    io.write_png(png, io.labelled_row(images, [_name(class_names, c) for c in classes]))
    return _jobs.finish(png, sidecar, {
        "classifier": description,
        **_facts(net),
        **(about or {}),
        "classes": classes,
        "names": [_name(class_names, c) for c in classes],
        "objective": "class logit (pre-softmax)",
        "method": render.DEFAULT_METHOD,
        "steps": resolved_steps,
        "size": int(images.shape[1]),
        "seed": seed,
        "logit": [float(logits[i, c]) for i, c in enumerate(classes)],
        "best_other_logit": [float(np.max(np.delete(logits[i], c))) for i, c in enumerate(classes)],
        "random_image_logit": [float(random_logits[i, c]) for i, c in enumerate(classes)],
        "top_class": [int(np.argmax(row)) for row in logits],
        "seconds": round(seconds, 2),
    })


def run_fooling(
    image: str | np.ndarray,
    target_class: int,
    out: str,
    *,
    model: str | keras.Model = "vgg16", weights: str | None = "auto", preprocess: str | Callable | None = None,
    class_names: Sequence[str] | Mapping[int, str] | None = None,
    method: str = adversarial.DEFAULT_METHOD,
    epsilon: int = adversarial.EPSILON,
    size: int | None = None,
    about: dict | None = None,
    overwrite: bool = False,
    progress: _jobs.ProgressFn | None = None,
) -> dict:
    """Writes `out` (PNG: the image, the fooled image, the perturbation magnified) and `out` with .json;
    returns the facts (see kerasviz.apps).

    The image is resized to the classifier's fixed input size, or to a longer side of `size` pixels
    (default 224) for a classifier that takes any size. `progress` is accepted for the jobs' one shape;
    a fooling image takes seconds and reports none.
    """
    png, sidecar, earlier = _jobs.start(out, overwrite=overwrite)
    if earlier:
        return earlier
    picture = _jobs.image(image)
    net, fn, description = _classifier(model, weights, preprocess)
    classes_lib.check_classes(net, [target_class])
    picture = _fit_input(net, picture, size)
    result = adversarial.fool(net, picture, target_class, method=method, epsilon=epsilon, preprocess=fn)
    if not result.flipped:
        log.warning("the classifier still answers %d, not %d, within epsilon %d", result.after.cls, target_class,
                    epsilon)

    original = np.clip(np.round(picture), 0, 255).astype(np.uint8)
    before, after = result.before, result.after
    labels = [f"{_name(class_names, before.cls)} {before.score:.2f}",
              f"{_name(class_names, after.cls)} {after.score:.2f}", f"change x{127.5 / max(result.linf, 1e-6):.0f}"]
    io.write_png(png, io.labelled_row([original, result.image, adversarial.magnified(result.perturbation)], labels))
    return _jobs.finish(png, sidecar, {
        "image": _jobs.describe(image),
        "classifier": description,
        **_facts(net),
        **(about or {}),
        "target_class": int(target_class),
        "before": result.before.facts(),
        "after": result.after.facts(),
        "flipped": result.flipped,
        "method": result.method,
        "epsilon": result.epsilon,
        "epsilon_budget": int(epsilon),
        "steps": result.steps,
        "linf": result.linf,
        "l2": round(result.l2, 3),
        "units": "0-255 pixel levels; score = softmax probability",
        "magnification": round(127.5 / max(result.linf, 1e-6), 2),
        "size": list(result.image.shape[:2]),
    })


# The README's stand-in classifier where only the offline VGG16 backbone is available: scikit-image photos,
# one class each, told apart by a linear layer on the backbone's mean-pooled block5_conv3 features.
SKIMAGE_CLASSES = ("chelsea", "coffee", "rocket", "astronaut", "brick", "grass")
SKIMAGE_FEATURES = "block5_conv3"
SKIMAGE_CROPS = 24  # random crops per photo to train on
SKIMAGE_CROP_SIZE = 128
IMAGENET_NAMES = {281: "tabby cat", 76: "tarantula", 130: "flamingo", 417: "balloon", 947: "mushroom", 9: "ostrich"}
SKIMAGE_ABOUT = (
    "NOT an ImageNet classifier: the offline VGG16 backbone (mean-pooled block5_conv3) with a linear head trained "
    "here on random crops of six scikit-image pictures, one class each: "
    + ", ".join(SKIMAGE_CLASSES)
)


def skimage_classifier(backbone: keras.Model, *, seed: int = 0) -> keras.Model:
    """A len(SKIMAGE_CLASSES)-way classifier: `backbone` (a load_model VGG16, kept frozen), mean-pooled at
    SKIMAGE_FEATURES, and a linear layer (logits) fitted to random crops and flips of scikit-image's
    pictures. It knows six pictures, not the world; the README and every JSON say so.
    """
    from skimage import data

    rng = np.random.default_rng(seed)
    features = keras.Model(backbone.input, models.get_layer(backbone, SKIMAGE_FEATURES).output)
    preprocess = models.preprocess_fn(backbone)
    crops, labels = [], []
    for label, name in enumerate(SKIMAGE_CLASSES):
        photo = io.as_batch(getattr(data, name)())[0][0]
        h, w = photo.shape[:2]
        for _ in range(SKIMAGE_CROPS):
            side = int(rng.uniform(0.5, 1.0) * min(h, w))
            y, x = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
            crop = io.resize(photo[y:y + side, x:x + side], (SKIMAGE_CROP_SIZE, SKIMAGE_CROP_SIZE))
            crops.append(crop[:, ::-1] if rng.random() < 0.5 else crop)
            labels.append(label)
    pooled = np.concatenate([
        np.asarray(tf.reduce_mean(features(preprocess(tf.constant(np.stack(crops[i:i + 16])))), axis=(1, 2)))
        for i in range(0, len(crops), 16)
    ])
    scale = float(np.std(pooled)) or 1.0
    keras.utils.set_random_seed(seed)
    head = keras.Sequential([keras.Input((pooled.shape[1],)),
                             keras.layers.Dense(len(SKIMAGE_CLASSES), kernel_regularizer=keras.regularizers.l2(1e-3))])
    head.compile(keras.optimizers.Adam(0.01), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    head.fit(pooled / scale, np.array(labels), epochs=60, batch_size=32, verbose=0)
    kernel, bias = head.layers[-1].get_weights()
    x = keras.layers.GlobalAveragePooling2D()(features.output)
    logits = keras.layers.Dense(len(SKIMAGE_CLASSES), name="skimage_logits")
    model = keras.Model(backbone.input, logits(x), name="vgg16_skimage")
    logits.set_weights([kernel / scale, bias])
    models.set_model_info(model, models.model_info(backbone))  # its preprocessing and weights
    return model


def readme_examples(out: str, *, weights: str = "auto", overwrite: bool = False,
                    bars: _jobs.Bars | None = None) -> list[str]:
    """Writes the README's class pictures and fooling image into `out`; returns their paths.

    With ImageNet weights: VGG16's own classes. Otherwise (the offline backbone) the skimage_classifier
    stand-in, labelled as such in the pictures' JSON.
    """
    from skimage import data

    try:
        if weights == "offline":
            raise KerasvizError("offline weights have no classifier")
        net, fn, description = load_classifier("vgg16", "imagenet" if weights == "auto" else weights)
        about, names = {"classifier": description}, IMAGENET_NAMES
        classes, target = [281, 76, 130, 417, 947], 9
    except KerasvizError as err:
        log.warning("no ImageNet classifier (%s): the README's class pictures use a stand-in head", err)
        net = skimage_classifier(models.load_model("vgg16", weights))
        fn, names = models.preprocess_fn(net), list(SKIMAGE_CLASSES)
        about = {"classifier": SKIMAGE_ABOUT}
        classes, target = list(range(len(SKIMAGE_CLASSES))), SKIMAGE_CLASSES.index("rocket")
    return [
        run_classes(classes, out, model=net, preprocess=fn, class_names=names, stem="classes_vgg16", about=about,
                    size=128, overwrite=overwrite, progress=_jobs.bar(bars, "class pictures"))["png"],
        run_fooling(data.chelsea(), target, os.path.join(out, "fooling_chelsea.png"), model=net, preprocess=fn,
                    class_names=names, about=about, size=224, overwrite=overwrite)["png"],
    ]


def _name(names, c: int) -> str:
    """'281: tabby cat' where the class has a name, else '281'."""
    try:
        return f"{c}: {names[c]}" if names is not None else str(c)
    except (IndexError, KeyError):
        return str(c)


def _classifier(model, weights, preprocess) -> tuple[keras.Model, Callable, str]:
    if isinstance(model, keras.Model):
        return model, models.preprocess_fn(model, preprocess), model.name
    return load_classifier(model, weights, preprocess)


def _stem(net: keras.Model) -> str:
    info = models.model_info(net)
    return info.name if info else net.name  # a model file: its stem


def _facts(net: keras.Model) -> dict:
    """model_facts for a classifier from load_model (name, weights, preprocessing, file and sha256); {} else."""
    return models.model_facts(net) if models.model_info(net) else {}


def _fit_input(net: keras.Model, picture: np.ndarray, size: int | None) -> np.ndarray:
    fixed = tuple(net.input_shape[1:3])
    if None in fixed:
        return _jobs.fit(picture, size or 224)
    shape = (int(fixed[0]), int(fixed[1]))
    return picture.astype(np.float32) if picture.shape[:2] == shape else io.resize(picture, shape)


def _random_images(n: int, size: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 255, (n, size, size, 3)).astype(np.float32)
