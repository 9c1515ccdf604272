"""The CAM family side by side on one photo, as a job; and the README's part "cams".

`run` writes one labelled row: the photo, then a heat-map overlay per method (the CAMs of
kerasviz.attribution.cams and RISE, all on one layer and one target), with a JSON sidecar of the model,
target, layer, options and each method's seconds.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence

import keras
import numpy as np

from kerasviz import io, models
from kerasviz.apps import _jobs
from kerasviz.apps import classes as classes_app
from kerasviz.attribution import options_for, parse_target, saliency
from kerasviz.errors import KerasvizError

log = logging.getLogger("kerasviz")

CAM_METHODS = ("gradcam", "gradcam_plus_plus", "scorecam", "layercam", "eigencam", "hirescam", "rise")
README_LAYER = "block5_conv3"  # VGG16's last convolution, 14 x 14 at 224 px (block5_pool, the default, is 7 x 7)
# The README's picture, and visualize_all --smoke's. RISE with 500 masks, half the library's default (1000):
# one VGG16 pass per mask is most of the part's time on a CPU; its map is noisier for it (the sidecar says so).
README = {"size": 224, "options": {"masks": 500}, "stand_in": {}}
SMOKE = {"size": 32, "options": {"masks": 8}, "stand_in": {"per_photo": 2, "crop_size": 32}}


def run(
    image: str | np.ndarray,
    target: int | str,
    out: str,
    *,
    model: str | keras.Model = "vgg16", weights: str | None = "auto", preprocess: str | Callable | None = None,
    methods: Sequence[str] = CAM_METHODS,
    layer: str | None = None,
    size: int = 224,
    options: dict | None = None,
    about: dict | None = None,
    overwrite: bool = False,
    progress: _jobs.ProgressFn | None = None,
) -> dict:
    """Writes `out` (FILE.png: the photo, centre-cropped to `size` x `size`, then one overlay per method in
    `methods`, each labelled) and FILE.json; returns the facts (see kerasviz.apps).

    `target` as for kerasviz.saliency; `layer` goes to every method that takes one (None: each method's
    default); `options` (e.g. {"masks": 500}) to every method it applies to, and the sidecar records them.
    `about` adds facts to the JSON. `progress` sees (methods done, methods).
    """
    png, sidecar, earlier = _jobs.start(out, overwrite=overwrite)
    if earlier is not None:
        return earlier
    start = time.perf_counter()
    net = _jobs.network(model, weights, preprocess if isinstance(preprocess, str) else None)
    parsed = parse_target(net, target)
    photo = _jobs.square(_jobs.image(image), size)
    fn = preprocess if callable(preprocess) else None
    panels, seconds = [photo], {}
    for done, method in enumerate(methods, 1):
        t0 = time.perf_counter()
        given = options_for(method, {**(options or {}), **({"layer": layer} if layer else {})})
        cam = saliency(net, photo, parsed, method=method, preprocess=fn, **given)
        panels.append(io.overlay(photo, cam))
        seconds[method] = round(time.perf_counter() - t0, 2)
        if progress is not None:
            progress(done, len(methods))
    io.write_png(png, io.labelled_row(panels, ["photo", *methods]))
    return _jobs.finish(png, sidecar, {
        "image": _jobs.describe(image),
        **models.model_facts(net),
        **(about or {}),
        "target": str(target),
        "layer": layer,
        "columns": ["photo", *methods],
        "size": size,
        "options": options or {},
        "method_seconds": seconds,
        "seconds": round(time.perf_counter() - start, 2),
    })


def readme_examples(out: str, *, weights: str = "auto", overwrite: bool = False,
                    bars: _jobs.Bars | None = None, smoke: bool = False) -> list[str]:
    """Writes `saliency_cams_chelsea.png` (+ .json) into `out`: scikit-image's chelsea, then CAM_METHODS on
    README_LAYER, at README's size and options (SMOKE's with `smoke`, and the sidecar says so); returns its path.

    With ImageNet weights: VGG16 with its classifier, the photo's top class. Otherwise (the offline backbone)
    the skimage_classifier stand-in of kerasviz.apps.classes, class "chelsea", labelled as such in the JSON.
    """
    from skimage import data

    settings = SMOKE if smoke else README
    path = os.path.join(out, "saliency_cams_chelsea.png")
    earlier = _jobs.kept(*_jobs.paths(path), overwrite=overwrite)
    if earlier is not None:
        return [earlier["png"]]
    net, target, about = _readme_classifier(weights, data.chelsea(), settings)
    about = {**about, "rise_masks": f"{settings['options']['masks']} masks, not the library's default: "
             "one forward pass per mask is most of this picture's time on a CPU; the map is noisier for it"}
    return _jobs.readme_pngs([
        run(data.chelsea(), target, path, model=net, layer=README_LAYER, size=settings["size"],
            options=settings["options"], about=about, overwrite=overwrite, progress=_jobs.bar(bars, "CAM family")),
    ], smoke=smoke)


def _readme_classifier(weights: str, photo: np.ndarray, settings: dict) -> tuple[keras.Model, int, dict]:
    """(classifier, class index, facts for the sidecar): VGG16 and the photo's top ImageNet class, or offline
    the skimage_classifier stand-in and its class "chelsea"."""
    try:
        if weights == "offline":
            raise KerasvizError("offline weights have no classifier")
        net = models.load_model("vgg16", "imagenet" if weights == "auto" else weights, include_top=True)
    except KerasvizError as err:
        log.warning("no ImageNet classifier (%s): the CAM picture uses a stand-in head", err)
        net = classes_app.skimage_classifier(models.load_model("vgg16", weights), **settings["stand_in"])
        target = classes_app.SKIMAGE_CLASSES.index("chelsea")
        return net, target, {"classifier": classes_app.SKIMAGE_ABOUT, "target_name": "chelsea"}
    square = _jobs.square(photo, 224).astype(np.float32)[None]
    target = int(np.argmax(np.asarray(net(models.preprocess_fn(net)(square), training=False))[0]))
    return net, target, {"classifier": "VGG16, ImageNet weights", "target_name": "the photo's top ImageNet class"}
