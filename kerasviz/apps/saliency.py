"""The saliency job: maps, overlays, masks and cut-outs for image files; and the README's pictures."""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Mapping, Sequence
from typing import Any

import cv2
import keras
import numpy as np

from kerasviz import io, models
from kerasviz.apps import _jobs
from kerasviz.attribution import METHODS, SMOOTHABLE, check_options, options_for, parse_target, saliency
from kerasviz.attribution.registry import REGISTRY, SmoothingOptions, applies_table, option_names
from kerasviz.errors import KerasvizError
from kerasviz.metrics import DeletionOptions, InsertionOptions, MuFidelityOptions, deletion, insertion, mufidelity
from kerasviz.segmentation import (
    DEFAULT_FEATURE_METHOD,
    FEATURE_METHODS,
    MAX_REGIONS,
    SEGMENT_METHODS,
    cartoon,
    colour_regions,
    feature_layers,
    soft_map,
)
from kerasviz.segmentation import segment as segment_mask

SUFFIXES = ("_saliency.png", "_saliency.npy", "_saliency.json")
MASK_SUFFIXES = ("_mask.png", "_cutout.png")
REGION_SUFFIXES = ("_regions.png", "_cartoon.png")
OFFLINE_LAYER = "block5_conv3"  # the offline VGG16 has no classifier: its last convolution instead
FILE_MODEL_SIZE = 224  # longer side a model file without a classifier sees, unless --size says otherwise

# The README's pictures: photos that ship inside scikit-image, and the methods side by side.
README_PHOTOS = ("chelsea", "coffee", "astronaut")
# The methods of the first release, side by side; the CAM family and RISE have their own picture (apps/cams.py).
README_METHODS = ("vanilla", "smoothgrad", "integrated_gradients", "guided_backprop", "gradcam", "occlusion",
                  "activation")
README_SIZE = 224
# Fewer samples, steps and occlusion patches than the defaults, so the README's pictures are quick to remake.
README_OPTIONS = {"samples": 16, "steps": 16, "patch": 40, "stride": 32}
# visualize_all --smoke: the same pictures, tiny and with few samples, steps, patches and masks, to show the job runs.
SMOKE_SIZE = 32
SMOKE_OPTIONS = {"samples": 2, "steps": 2, "patch": 8, "stride": 8, "masks": 8}
README_REGIONS = 5  # regions in the README's cartoons: a few big parts of a photo


def run(
    images: Sequence[str],
    out: str,
    *,
    target: str,
    model: str | keras.Model = "vgg16", weights: str | None = "auto", preprocess: str | None = None,
    method: str = "smoothgrad",
    segment: bool = False,
    size: int | None = None,
    method_options: Mapping[str, Any] | None = None,
    smooth: bool = False,
    segment_method: str = DEFAULT_FEATURE_METHOD,
    regions: int | None = None,
    metrics: bool = False,
    overwrite: bool = False,
    progress: _jobs.ProgressFn | None = None,
) -> list[dict]:
    """Writes, per image file STEM in the folder `out`: STEM_saliency.png (overlay), STEM_saliency.npy
    (float map, the input's H, W), STEM_saliency.json and, with `segment`, STEM_mask.png (0/255) and
    STEM_cutout.png (RGBA, transparent background) by `segment_method` (a feature method of
    kerasviz.segment uses the model's features; "grabcut" and "threshold" use the saliency map); with
    `regions=K`, STEM_regions.png (a colour per region) and STEM_cartoon.png. With `metrics`, the
    sidecar's "metrics" holds the map's deletion, insertion and MuFidelity scores (see `map_scores`).

    `method_options` are saliency's options by name ({"masks": 500}, {"layer": "block4_conv3"}; see
    kerasviz.attribution.APPLIES): one left out or None takes the method's default, and one the method
    does not take is an error; `smooth` wraps the method in SmoothGrad. The sidecar's "options" are the
    options that shaped the map, defaults filled in (see `method_settings`).

    `target` is a class index ("281"; needs the ImageNet classifier, or a model whose output is
    class scores), "LAYER" or "LAYER:FILTER".
    Without a classifier the image is resized so its longer side is `size` pixels (default: the
    network's own input size; 224 for a model file) and the map is resized back. Returns one result
    per image (see kerasviz.apps; an image whose outputs all exist is kept unless `overwrite`);
    `progress` sees (images done, images).
    """
    _check_options(images, method, segment_method, regions)
    given, options = method_settings(method, smooth, method_options or {})  # before loading a model
    stems = _stems(images)
    io.check_writable(out)
    model, parsed = _load(model, weights, target, preprocess)
    info = models.model_info(model)
    size = _work_size(info, size)
    results = []
    for done, (path, stem) in enumerate(zip(images, stems, strict=True), 1):
        suffixes = SUFFIXES + (MASK_SUFFIXES if segment else ()) + (REGION_SUFFIXES if regions else ())
        outputs = [os.path.join(out, stem + s) for s in suffixes]
        sidecar = os.path.join(out, stem + "_saliency.json")
        earlier = _kept(outputs, sidecar, overwrite=overwrite, metrics=metrics,
                        asked={"target": target, "method": method, "options": options})
        if earlier is not None:  # its facts, as the sidecar that marked it finished has them
            results.append(earlier)
            continue
        start = time.perf_counter()
        image = io.load_image(path)
        work = image if info.include_top else _jobs.fit(image, size)
        saliency_map = saliency(model, work, parsed, method=method, smooth=smooth, **given)
        facts = {
            "image": path,
            **models.model_facts(model),
            "target": target,
            "method": method,
            "size": list(work.shape[:2]) if not info.include_top else None,
            "precision": options.get("precision", "float32"),
            "smooth": smooth,
            "options": options,
            **(map_scores(model, work, saliency_map, parsed) if metrics else {}),
        }
        write_outputs(
            os.path.join(out, stem), image, _resize_map(saliency_map, image.shape[:2]), segment=segment, facts=facts,
            model=model, segment_method=segment_method, regions=regions,
        )  # fmt: skip
        facts["seconds"] = round(time.perf_counter() - start, 2)
        results.append(_jobs.finish(outputs[0], sidecar, facts))  # last: it marks the image done
        if progress is not None:
            progress(done, len(images))
    return results


def _kept(outputs: list[str], sidecar: str, *, overwrite: bool, asked: dict, metrics: bool) -> dict | None:
    """An earlier run's facts (see _jobs.kept), unless the map's metrics are asked for and it has none."""
    earlier = _jobs.kept(outputs[0], sidecar, *outputs[1:], overwrite=overwrite, asked=asked)
    return None if earlier is not None and metrics and "metrics" not in earlier else earlier


def map_scores(model: keras.Model, image: np.ndarray, saliency_map: np.ndarray, target: int | str) -> dict:
    """The sidecar's "metrics": {"deletion", "insertion", "mufidelity"}, kerasviz.metrics' scores of the map
    (as given, largest first) on the image the model saw, 4 decimals, None where undefined; and
    "metric_options", the options (each metric's defaults) that gave them."""
    options = {"deletion": DeletionOptions(), "insertion": InsertionOptions(), "mufidelity": MuFidelityOptions()}
    scores = {f.__name__: f(model, image, saliency_map, target, options=options[f.__name__])[0]
              for f in (deletion, insertion, mufidelity)}  # fmt: skip
    return {"metrics": {name: round(float(value), 4) if np.isfinite(value) else None for name, value in scores.items()},
            "metric_options": {name: o.facts() for name, o in options.items()}}  # fmt: skip


def _check_options(images: Sequence[str], method: str, segment_method: str, regions: int | None) -> None:
    if method not in METHODS:
        raise KerasvizError(f"unknown saliency method {method!r}; valid: {', '.join(METHODS)}")
    if not images:
        raise KerasvizError("no images given; pass --image=PATH (comma-separated or repeated)")
    missing = [path for path in images if not os.path.isfile(path)]
    if missing:
        raise KerasvizError(f"image {missing[0]!r} does not exist")
    if segment_method not in SEGMENT_METHODS:
        raise KerasvizError(f"unknown segment method {segment_method!r}; valid: {', '.join(SEGMENT_METHODS)}")
    bad_regions = isinstance(regions, bool) or not isinstance(regions, int) or not 2 <= regions <= MAX_REGIONS
    if regions is not None and bad_regions:
        raise KerasvizError(f"regions must be an integer from 2 to {MAX_REGIONS}; got {regions!r}")


def _work_size(info: models.ModelInfo, size: int | None) -> int:
    """The longer side a model without a classifier sees: `size`, else the network's own (FILE_MODEL_SIZE)."""
    spec = models.MODELS.get(info.name) if info.file is None else None
    size = size or (spec.default_size if spec else FILE_MODEL_SIZE)
    min_size = spec.min_size if spec else 1
    if isinstance(size, bool) or not isinstance(size, int) or size < min_size:
        raise KerasvizError(f"size must be an integer >= {min_size}; got {size!r}")
    return size


def write_outputs(
    prefix: str,
    image: np.ndarray,
    saliency_map: np.ndarray,
    *,
    segment: bool,
    facts: dict,
    model: keras.Model | None = None,
    segment_method: str = DEFAULT_FEATURE_METHOD,
    regions: int | None = None,
) -> None:
    """PREFIX_saliency.npy and .png; with `segment`, PREFIX_mask.png and PREFIX_cutout.png; with
    `regions`, PREFIX_regions.png and PREFIX_cartoon.png. Feature methods and regions need `model`."""
    with io.atomic_path(prefix + "_saliency.npy") as tmp, open(tmp, "wb") as f:
        np.save(f, saliency_map.astype(np.float32))
    shown = np.abs(saliency_map)  # integrated gradients are signed; the heat map shows magnitude
    io.write_png(prefix + "_saliency.png", io.overlay(image, shown))
    if segment:
        if segment_method in FEATURE_METHODS:
            mask = segment_mask(image, method=segment_method, model=model)
        else:
            mask = segment_mask(image, shown, method=segment_method)
        io.write_png(prefix + "_mask.png", mask.astype(np.uint8) * 255)
        io.write_png(prefix + "_cutout.png", cutout(image, mask))
        facts["segment_method"] = segment_method
        facts["mask_fraction"] = round(float(mask.mean()), 4)
    if regions:
        labels = segment_mask(image, model=model, regions=regions)
        io.write_png(prefix + "_regions.png", colour_regions(labels))
        io.write_png(prefix + "_cartoon.png", cartoon(image, labels))
        facts["regions"] = regions


def _mask_panels(photo: np.ndarray, model: keras.Model) -> np.ndarray:
    """uint8 (6, H, W, 3): the photo, the default feature method's map, its mask, the cut-out on white,
    README_REGIONS regions in colour and the cartoon."""
    soft = soft_map(photo, model, DEFAULT_FEATURE_METHOD)
    mask = segment_mask(photo, model=model)
    labels = segment_mask(photo, model=model, regions=README_REGIONS)
    panels = [photo, io.overlay(photo, soft), np.repeat(mask[..., None].astype(np.uint8) * 255, 3, -1),
              np.where(mask[..., None], photo, 255), colour_regions(labels), cartoon(photo, labels)]
    return np.stack(panels).astype(np.uint8)


def cutout(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """uint8 RGBA (H, W, 4): the image where the mask is set, transparent elsewhere."""
    return np.dstack([image, mask.astype(np.uint8) * 255])


def readme_examples(out: str, *, weights: str = "auto", overwrite: bool = False,
                    bars: _jobs.Bars | None = None, smoke: bool = False) -> list[str]:
    """Writes the README's saliency pictures into `out`; returns the paths of the files it wrote or found.

    For each photo (README_PHOTOS, from scikit-image) at README_SIZE px with VGG16:
    `saliency_PHOTO.png`, one row: the photo, then a heat-map overlay per method in the order of
    README_METHODS; `saliency_PHOTO_masks.png`: the photo, the default feature method's map (see
    kerasviz.segment), its mask, the cut-out on white, README_REGIONS regions in colour and the
    cartoon. With ImageNet weights the saliency target is the photo's top class; offline (no
    classifier) it is the mean of block5_conv3. `smoke`: SMOKE_SIZE and SMOKE_OPTIONS instead.
    `saliency_examples.json` says which weights, targets and options made them. Files that exist
    are kept unless `overwrite`.
    """
    paths = [os.path.join(out, f"saliency_{p}{s}.png") for p in README_PHOTOS for s in ("", "_masks")]
    sidecar = os.path.join(out, "saliency_examples.json")
    if not overwrite and all(os.path.exists(p) for p in [*paths, sidecar]):
        return [*paths, sidecar]
    io.check_writable(out)
    start = time.perf_counter()
    size, options = (SMOKE_SIZE, SMOKE_OPTIONS) if smoke else (README_SIZE, README_OPTIONS)
    photos = np.stack([_jobs.square(_photo(name), size) for name in README_PHOTOS])
    model, targets = _readme_model(weights, photos)
    progress, steps = _jobs.bar(bars, "saliency"), len(README_METHODS) + len(README_PHOTOS)
    maps = {}
    for done, method in enumerate(README_METHODS, 1):
        t0 = time.perf_counter()
        maps[method] = _maps(model, photos, targets, method, options)
        maps[method + "_seconds"] = round(time.perf_counter() - t0, 2)
        if progress is not None:
            progress(done, steps)
    mask_seconds = {}
    for i, name in enumerate(README_PHOTOS):
        row = [photos[i]] + [io.overlay(photos[i], np.abs(maps[m][i])) for m in README_METHODS]
        io.write_png(os.path.join(out, f"saliency_{name}.png"), io.grid(np.stack(row), cols=len(row)))
        t0 = time.perf_counter()
        panels = _mask_panels(photos[i], model)
        mask_seconds[name] = round(time.perf_counter() - t0, 2)
        io.write_png(os.path.join(out, f"saliency_{name}_masks.png"), io.grid(panels, cols=len(panels)))
        if progress is not None:
            progress(len(README_METHODS) + i + 1, steps)
    info = models.model_info(model)
    io.write_json(
        sidecar,
        {
            "model": info.name,
            "weights": info.weights,
            "photos": {n: f"skimage.data.{n}()" for n in README_PHOTOS},
            "targets": dict(zip(README_PHOTOS, [str(t) for t in targets], strict=True)),
            "columns": ["photo", *README_METHODS],
            "mask_columns": [
                "photo", f"{DEFAULT_FEATURE_METHOD} map", "mask", "cut-out", f"{README_REGIONS} regions", "cartoon",
            ],
            "feature_layers": feature_layers(model),
            "mask_seconds": mask_seconds,
            "size": size,
            "options": options,
            **({"smoke": True} if smoke else {}),
            "method_seconds": {m: maps[m + "_seconds"] for m in README_METHODS},
            "seconds": round(time.perf_counter() - start, 2),
            **_jobs.environment(),
        },
    )
    return [*paths, sidecar]


# --- helpers ---------------------------------------------------------------------------------


def _load(
    model_name: str | keras.Model, weights: str | None, target: str, preprocess: str | None = None
) -> tuple[keras.Model, int | str]:
    """The model the target needs (with its classifier for a class index) and the checked target."""
    text = str(target).strip()
    is_class = text.lstrip("-").isdigit()
    if isinstance(model_name, keras.Model):  # a model from load_model, as it is
        return model_name, parse_target(model_name, int(text) if is_class else text)
    if models.is_model_file(model_name):  # used as saved: its own head, if any, gives the classes
        model = models.load_model(model_name, weights, preprocess=preprocess)
        return model, parse_target(model, int(text) if is_class else text)
    if is_class and weights == "offline":
        raise KerasvizError(
            f"class target {text} needs the ImageNet classifier, and the offline weights have none; "
            f"use a layer target such as --target={OFFLINE_LAYER} or --target={OFFLINE_LAYER}:42"
        )
    try:
        model = models.load_model(model_name, weights, include_top=is_class, preprocess=preprocess)
    except KerasvizError as err:
        if is_class:
            raise KerasvizError(f"{err}; or use a layer target such as --target={OFFLINE_LAYER}") from None
        raise
    return model, parse_target(model, int(text) if is_class else text)


def method_settings(method: str, smooth: bool, options: Mapping[str, Any]) -> tuple[dict, dict]:
    """saliency()'s options from `options` (None: the method's default), checked before any work, and the
    sidecar's record of them: the facts() of the method's Options (and of SmoothGrad's, when smoothed), defaults
    filled in. A name that is no saliency option, or one the method does not take, is an error."""
    unknown = sorted(set(options) - set(applies_table()))
    if unknown:
        raise KerasvizError(f"unknown saliency option {unknown[0]!r}; valid: {', '.join(applies_table())}")
    given = check_options(method, smooth, **options)
    declared = REGISTRY[method]
    facts: dict = {}
    for used in (declared.options, *([SmoothingOptions] if smooth or declared.smoothed else [])):
        facts |= used(**{name: value for name, value in given.items() if name in option_names(used)}).facts()
    return given, facts


def method_option_fields() -> dict[str, dict[str, dataclasses.Field]]:
    """Each saliency option -> {each method it applies to (APPLIES): its field in that method's Options}; SmoothGrad's
    options also apply to the smoothable methods with --smooth. The script's flags (_cli.define_shared_option_flags)."""
    smoothing = {field.name: field for field in dataclasses.fields(SmoothingOptions)}
    table: dict[str, dict[str, dataclasses.Field]] = {}
    for name, methods in applies_table().items():
        owners = table.setdefault(name, {})
        for method in methods:
            own = {field.name: field for field in dataclasses.fields(REGISTRY[method].options)}
            owners[method] = own.get(name, smoothing.get(name))
        if name in smoothing:
            owners[f"{'/'.join(SMOOTHABLE)} with --smooth"] = smoothing[name]
    return table


def _stems(paths: Sequence[str]) -> list[str]:
    stems = [os.path.splitext(os.path.basename(p))[0] for p in paths]
    seen: dict[str, str] = {}
    for stem, path in zip(stems, paths, strict=True):
        if stem in seen:
            raise KerasvizError(
                f"images {seen[stem]!r} and {path!r} share the name {stem!r}; their outputs would clash"
            )
        seen[stem] = path
    return stems


def _resize_map(saliency_map: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    if saliency_map.shape == tuple(shape):
        return saliency_map.astype(np.float32)
    return cv2.resize(saliency_map.astype(np.float32), (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)


def _photo(name: str) -> np.ndarray:
    try:
        import skimage.data
    except ImportError:
        raise KerasvizError("the README pictures use photos from scikit-image: pip install scikit-image") from None
    return io.as_batch(getattr(skimage.data, name)())[0][0].astype(np.uint8)


def _readme_model(weights: str, photos: np.ndarray) -> tuple[keras.Model, list]:
    """VGG16 with its classifier and the photos' top classes when ImageNet weights load, else offline."""
    if weights in ("auto", "imagenet"):
        try:
            model = models.load_model("vgg16", "imagenet", include_top=True)
        except KerasvizError:
            if weights == "imagenet":
                raise
        else:
            preprocess = models.preprocess_fn(model)
            logits = model(preprocess(photos.astype(np.float32)), training=False)
            return model, [int(k) for k in np.argmax(np.asarray(logits), axis=-1)]
    model = models.load_model("vgg16", weights)
    return model, [OFFLINE_LAYER] * len(photos)


def _maps(model: keras.Model, photos: np.ndarray, targets: list, method: str, settings: dict) -> np.ndarray:
    options = options_for(method, settings)
    if len(set(targets)) == 1:  # one call for all photos: one compiled step
        return saliency(model, photos, targets[0], method=method, **options)
    return np.stack([saliency(model, p, t, method=method, **options) for p, t in zip(photos, targets, strict=True)])
