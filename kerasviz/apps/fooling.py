"""Fooling images as a job: an image and a target class in, PNG + JSON out, a finished file skipped.

It needs a classifier: an ImageNet network with its head or a saved Keras model file
(synthesis.classes.load_classifier). The README's fooling image is made by apps.classes.readme_examples.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence

import keras
import numpy as np

from kerasviz import io, models
from kerasviz.apps import _jobs
from kerasviz.synthesis import adversarial
from kerasviz.synthesis import classes as classes_lib

log = logging.getLogger("kerasviz")

DEFAULT_SIDE = 224  # longer side of the picture for a classifier that takes any size (ImageNet's crops)


def run(
    image: str | np.ndarray,
    target_class: int,
    out: str,
    *,
    model: str | keras.Model = "vgg16", weights: str | None = "auto", preprocess: str | Callable | None = None,
    class_names: Sequence[str] | Mapping[int, str] | None = None,
    options: adversarial.FoolOptions | None = None,
    size: int | None = None,
    about: dict | None = None,
    overwrite: bool = False,
    progress: _jobs.ProgressFn | None = None,
) -> dict:
    """Writes `out` (PNG: the image, the fooled image, the perturbation magnified) and `out` with .json;
    returns the facts (see kerasviz.apps).

    `options`: a FoolOptions (default: its defaults), recorded whole in the sidecar. The image is resized
    to the classifier's fixed input size, or to a longer side of `size` pixels (default DEFAULT_SIDE) for a
    classifier that takes any size. `model` is a name, a file or a Keras classifier (then `preprocess` is a
    function or None); `about` adds facts to the JSON. `progress` is accepted for the jobs' one shape; a
    fooling image takes seconds and reports none.
    """
    options = adversarial.FoolOptions.create(options)
    png, sidecar, earlier = _jobs.start(out, overwrite=overwrite)
    if earlier:
        return earlier
    picture = _jobs.image(image)
    net, fn, description = classes_lib.load_classifier(model, weights, preprocess)
    classes_lib.check_classes(net, [target_class])
    picture = _fit_input(net, picture, size)
    result = adversarial.fool(net, picture, target_class, options=options, preprocess=fn)
    if not result.flipped:
        log.warning("the classifier still answers %d, not %d, within epsilon %d", result.after.cls, target_class,
                    options.epsilon)

    original = io.round_pixels(picture)
    before, after = result.before, result.after
    magnification = 127.5 / max(result.linf, 1e-6)
    labels = [f"{classes_lib.class_label(before.cls, class_names)} {before.score:.2f}",
              f"{classes_lib.class_label(after.cls, class_names)} {after.score:.2f}", f"change x{magnification:.0f}"]
    io.write_png(png, io.labelled_row([original, result.image, adversarial.magnified(result.perturbation)], labels))
    return _jobs.finish(png, sidecar, {
        "image": _jobs.describe(image),
        "classifier": description,
        **models.model_facts(net),
        **(about or {}),
        "target_class": int(target_class),
        "before": before.facts(),
        "after": after.facts(),
        "flipped": result.flipped,
        "method": result.method,
        "epsilon": result.epsilon,
        "epsilon_budget": options.epsilon,
        "steps": result.steps,
        "linf": result.linf,
        "l2": round(result.l2, 3),
        "units": "0-255 pixel levels; score = softmax probability",
        "magnification": round(magnification, 2),
        "size": list(result.image.shape[:2]),
        "options": options.facts(),
    })


def _fit_input(net: keras.Model, picture: np.ndarray, size: int | None) -> np.ndarray:
    """The picture at the classifier's fixed input size, or at a longer side of `size` (default DEFAULT_SIDE)."""
    fixed = tuple(net.input_shape[1:3])
    if None in fixed:
        return _jobs.fit(picture, size or DEFAULT_SIDE)
    shape = (int(fixed[0]), int(fixed[1]))
    return picture.astype(np.float32) if picture.shape[:2] == shape else io.resize(picture, shape)
