"""Class pictures as a job: plain arguments in, PNG + JSON out, finished files skipped; and the README's part
"classes", the class pictures and the fooling image (apps.fooling).

Both need a classifier: an ImageNet network with its head or a saved Keras model file
(synthesis.classes.load_classifier). The offline VGG16 weights have no head; for the README pictures made
offline, `skimage_classifier` trains a small, clearly labelled stand-in (see there).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence

import keras
import numpy as np

from kerasviz import io, models
from kerasviz.apps import _jobs, fooling
from kerasviz.errors import KerasvizError
from kerasviz.optvis import render
from kerasviz.synthesis import classes as classes_lib

log = logging.getLogger("kerasviz")


def run(
    classes: Sequence[int],
    out: str,
    *,
    model: str | keras.Model = "vgg16", weights: str | None = "auto", preprocess: str | Callable | None = None,
    class_names: Sequence[str] | Mapping[int, str] | None = None,
    options: classes_lib.ClassOptions | None = None,
    stem: str | None = None,
    about: dict | None = None,
    overwrite: bool = False,
    progress: _jobs.ProgressFn | None = None,
) -> dict:
    """Writes DIR/STEM.png (one labelled picture per class) and DIR/STEM.json; returns the facts (see
    kerasviz.apps).

    `options`: a ClassOptions (default: its defaults), recorded whole in the sidecar. STEM defaults to
    MODEL_classes. `model` is a name, a file or a Keras classifier (then `preprocess` is a function or
    None); `about` adds facts to the JSON.
    """
    options = classes_lib.ClassOptions.create(options)
    net, fn, description = classes_lib.load_classifier(model, weights, preprocess)
    classes = classes_lib.check_classes(net, classes)
    stem = stem or f"{_stem(net)}_classes"
    png, sidecar = os.path.join(out, f"{stem}.png"), os.path.join(out, f"{stem}.json")
    steps = options.steps or render.METHODS[options.method].steps
    asked = {"classes": list(classes), "method": options.method, "steps": steps, "seed": options.seed}
    earlier = _jobs.kept(png, sidecar, overwrite=overwrite,
                         asked=asked if options.size is None else {**asked, "size": options.size})
    if earlier:
        return earlier
    io.check_writable(out)
    start = time.perf_counter()
    images, logits = classes_lib.visualize_classes(net, classes, options=options, preprocess=fn, progress=progress)
    seconds = time.perf_counter() - start
    random_logits = classes_lib.logits(classes_lib.logits_model(net), _random_images(len(classes), images.shape[1]),
                                       fn)
    names = [classes_lib.class_label(c, class_names) for c in classes]
    io.write_png(png, io.labelled_row(images, names))
    return _jobs.finish(png, sidecar, {
        "classifier": description,
        **models.model_facts(net),
        **(about or {}),
        "classes": classes,
        "names": names,
        "objective": "class logit (pre-softmax)",
        "method": options.method,
        "steps": steps,
        "size": int(images.shape[1]),
        "seed": options.seed,
        "logit": [float(logits[i, c]) for i, c in enumerate(classes)],
        "best_other_logit": [float(np.max(np.delete(logits[i], c))) for i, c in enumerate(classes)],
        "random_image_logit": [float(random_logits[i, c]) for i, c in enumerate(classes)],
        "top_class": [int(np.argmax(row)) for row in logits],
        "options": options.facts(),
        "seconds": round(seconds, 2),
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


def skimage_classifier(backbone: keras.Model, *, seed: int = 0, per_photo: int = SKIMAGE_CROPS,
                       crop_size: int = SKIMAGE_CROP_SIZE) -> keras.Model:
    """A len(SKIMAGE_CLASSES)-way classifier: `backbone` (a load_model VGG16, kept frozen), mean-pooled at
    SKIMAGE_FEATURES, and a linear layer (logits) fitted to `per_photo` random crops (and flips) of each of
    scikit-image's pictures, `crop_size` pixels square. It knows six pictures, not the world; the README
    and every JSON say so.
    """
    from skimage import data

    rng = np.random.default_rng(seed)
    features = keras.Model(backbone.input, models.get_layer(backbone, SKIMAGE_FEATURES).output)
    preprocess = models.preprocess_fn(backbone)
    crops, labels = [], []
    for label, name in enumerate(SKIMAGE_CLASSES):
        photo = io.as_batch(getattr(data, name)())[0][0]
        h, w = photo.shape[:2]
        for _ in range(per_photo):
            side = int(rng.uniform(0.5, 1.0) * min(h, w))
            y, x = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
            crop = io.resize(photo[y:y + side, x:x + side], (crop_size, crop_size))
            crops.append(crop[:, ::-1] if rng.random() < 0.5 else crop)
            labels.append(label)
    batches = (keras.ops.convert_to_tensor(np.stack(crops[i:i + 16])) for i in range(0, len(crops), 16))
    pooled = np.concatenate([keras.ops.convert_to_numpy(keras.ops.mean(features(preprocess(batch)), axis=(1, 2)))
                             for batch in batches])
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


# The README's pictures (class picture options, the fooling image's side, the stand-in's training crops), and
# visualize_all --smoke's: tiny, to show the job runs.
README = {"classes": classes_lib.ClassOptions(size=128), "fooling_size": 224, "stand_in": {}}
SMOKE = {"classes": classes_lib.ClassOptions(size=32, steps=2), "fooling_size": 32,
         "stand_in": {"per_photo": 2, "crop_size": 32}}


def readme_examples(out: str, *, weights: str = "auto", overwrite: bool = False,
                    bars: _jobs.Bars | None = None, smoke: bool = False) -> list[str]:
    """Writes the README's class pictures and fooling image into `out` (README's settings; SMOKE's with
    `smoke`, and the sidecars say so); returns their paths.

    With ImageNet weights: VGG16's own classes. Otherwise (the offline backbone) the skimage_classifier
    stand-in, labelled as such in the pictures' JSON.
    """
    from skimage import data

    settings = SMOKE if smoke else README
    try:
        if weights == "offline":
            raise KerasvizError("offline weights have no classifier")
        net, fn, description = classes_lib.load_classifier("vgg16", "imagenet" if weights == "auto" else weights)
        about, names = {"classifier": description}, IMAGENET_NAMES
        classes, target = [281, 76, 130, 417, 947], 9
    except KerasvizError as err:
        log.warning("no ImageNet classifier (%s): the README's class pictures use a stand-in head", err)
        net = skimage_classifier(models.load_model("vgg16", weights), **settings["stand_in"])
        fn, names = models.preprocess_fn(net), list(SKIMAGE_CLASSES)
        about = {"classifier": SKIMAGE_ABOUT}
        classes, target = list(range(len(SKIMAGE_CLASSES))), SKIMAGE_CLASSES.index("rocket")
    return _jobs.readme_pngs([
        run(classes, out, model=net, preprocess=fn, class_names=names, options=settings["classes"],
            stem="classes_vgg16", about=about, overwrite=overwrite, progress=_jobs.bar(bars, "class pictures")),
        fooling.run(data.chelsea(), target, os.path.join(out, "fooling_chelsea.png"), model=net, preprocess=fn,
                    class_names=names, about=about, size=settings["fooling_size"], overwrite=overwrite),
    ], smoke=smoke)


def _stem(net: keras.Model) -> str:
    info = models.model_info(net)
    return info.name if info else net.name  # a model file: its stem


def _random_images(n: int, size: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 255, (n, size, size, 3)).astype(np.float32)
