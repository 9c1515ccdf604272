"""Foreground masks and regions without supervision: from a network's features, or from a saliency map.

Feature methods read what the network computes at its last stages (`feature_layers`), on a grid of
positions, and use one general cue: the image border is mostly background.
- "geodesic": each position's geodesic distance to the border through the feature graph (Wei et al.
  2012, "Geodesic saliency using background priors"): an object is what you cannot reach from the
  border without crossing a change of features.
- "contrast": each position's cosine distance to the mean border feature.
- "spectral": the Fiedler vector of the feature-affinity graph (Melas-Kyriazi et al. 2022, "Deep
  Spectral Methods"), its sign chosen so the side that touches the border less is the object.
Each soft map is cut at Otsu's threshold and snapped to the photo's edges and colours with GrabCut
(Rother et al. 2004) inside the box that holds the cut, at REFINE_SIDE pixels on the shorter side
whatever the photo's size (GrabCut's balance of edges and colours depends on the pixel count).
With `regions=K`, spectral clustering of the same features gives K regions; `cartoon` paints them
flat with dark edges.

Saliency methods (Simonyan et al. 2014, §3.2) take a saliency map instead: "grabcut" and "threshold".

Modules: arrays (checks of the inputs, small helpers), maps (the features and their soft maps), refine
(GrabCut and thresholds), regions (regions and the cartoon); `segment` here joins them. The building
blocks (`border_geodesic`, `distance_from_border`, `photo_map`, `grabcut_from_map`, `otsu_threshold`, ...)
are public, in `__all__`, for benchmarks/mask_maps.py, which tries other cues with them.
"""

from __future__ import annotations

import keras
import numpy as np

from kerasviz.errors import KerasvizError
from kerasviz.segmentation.arrays import _check_image, _check_map, l2_normalize, unit_range
from kerasviz.segmentation.maps import (
    DEFAULT_FEATURE_METHOD,
    FEATURE_METHODS,
    FEATURE_SIDE,
    FEATURE_STAGES,
    GRID_STRIDE,
    border_cells,
    border_geodesic,
    distance_from_border,
    feature_layers,
    features,
    grid_edges,
    photo_map,
    soft_map,
    stage_outputs,
    step_distances,
)
from kerasviz.segmentation.refine import (
    BACKGROUND_FRACTION,
    BACKGROUND_QUANTILE,
    BOX_GROWTH,
    FOREGROUND_QUANTILE,
    GRABCUT_ITERATIONS,
    GRABCUT_SEED,
    MIDDLE_LABELS,
    REFINE_SIDE,
    SALIENCY_METHODS,
    SALIENCY_OPTIONS,
    GrabCutOptions,
    ThresholdOptions,
    _grabcut,
    _threshold,
    grab_cut,
    grabcut_from_map,
    largest_component,
    otsu_threshold,
)
from kerasviz.segmentation.regions import (
    MAX_REGIONS,
    REGION_COLOUR_SIGMA,
    REGION_IMAGE_WEIGHT,
    REGION_POSITION_SIGMA,
    _check_regions,
    cartoon,
    colour_regions,
    kmeans,
    spectral_regions,
)

SEGMENT_METHODS = FEATURE_METHODS + SALIENCY_METHODS

__all__ = [
    "BACKGROUND_FRACTION",
    "BACKGROUND_QUANTILE",
    "BOX_GROWTH",
    "DEFAULT_FEATURE_METHOD",
    "FEATURE_METHODS",
    "FEATURE_SIDE",
    "FEATURE_STAGES",
    "FOREGROUND_QUANTILE",
    "GRABCUT_ITERATIONS",
    "GRABCUT_SEED",
    "GRID_STRIDE",
    "GrabCutOptions",
    "MAX_REGIONS",
    "MIDDLE_LABELS",
    "REFINE_SIDE",
    "REGION_COLOUR_SIGMA",
    "REGION_IMAGE_WEIGHT",
    "REGION_POSITION_SIGMA",
    "SALIENCY_METHODS",
    "SALIENCY_OPTIONS",
    "SEGMENT_METHODS",
    "ThresholdOptions",
    "border_cells",
    "border_geodesic",
    "cartoon",
    "colour_regions",
    "distance_from_border",
    "feature_layers",
    "feature_mask",
    "features",
    "grab_cut",
    "grabcut_from_map",
    "grid_edges",
    "kmeans",
    "l2_normalize",
    "largest_component",
    "otsu_threshold",
    "photo_map",
    "segment",
    "soft_map",
    "spectral_regions",
    "stage_outputs",
    "step_distances",
    "unit_range",
]


def segment(
    image,
    saliency_map=None,
    *,
    method: str | None = None,
    regions: int | None = None,
    model: keras.Model | None = None,
    preprocess=None,
    feature_side: int | None = None,
    options: GrabCutOptions | ThresholdOptions | None = None,
    **overrides,
) -> np.ndarray:
    """A boolean foreground mask `(H, W)` of `image`, or with `regions=K` an int32 label map `(H, W)`.

    Args:
      image: RGB 0-255 `(H, W, 3)` (uint8 or float; greyscale and RGBA are converted).
      saliency_map: float `(h, w)`, higher is more salient (use |map| for signed maps); resized to the
        image. Needed by the saliency methods; with a feature method it is a prior (geometric mean
        with the feature map).
      method: a feature method ("geodesic", "contrast", "spectral"; need `model`) or a saliency
        method ("grabcut", "threshold"; need `saliency_map`). None: DEFAULT_FEATURE_METHOD when a
        model is given, else "grabcut".
      regions: K >= 2 gives K regions from spectral clustering of the model's features, labels
        0..K-1 by decreasing area (needs `model`; `method` is then unused).
      model: a Keras model whose features are used (any size input, or a fixed one); models from
        `load_model` bring their own preprocessing, others take `preprocess=` (default: 0-255 RGB).
      feature_side: for the feature methods and regions, the image's shorter side as the model sees it
        (default FEATURE_SIDE; a fixed-size model: its size).
      options: the saliency method's options, GrabCutOptions or ThresholdOptions, or their fields as
        keywords (`overrides`): "grabcut" seeds OpenCV's GrabCut as in Simonyan et al. 2014 §3.2;
        "threshold" keeps pixels above a quantile of the map, or Otsu's threshold. An option that the
        method does not take is an error (the feature methods take none).

    Raises:
      KerasvizError: for an image of one colour or not finite, a map that is not finite or flat, a
        method without what it needs, or a bad argument; the message says what is valid.
    """
    if method is None:
        method = DEFAULT_FEATURE_METHOD if model is not None else "grabcut"
    if method not in SEGMENT_METHODS:
        raise KerasvizError(f"unknown segment method {method!r}; valid: {', '.join(SEGMENT_METHODS)}")
    rgb = _check_image(image)
    if regions is not None or method in FEATURE_METHODS:
        return _from_features(rgb, saliency_map, method, regions, model, preprocess, feature_side, options, overrides)
    if feature_side is not None:
        raise KerasvizError(f"feature_side applies to the feature methods ({', '.join(FEATURE_METHODS)}) and "
                            f"regions, not to segment method {method!r}")
    settings = SALIENCY_OPTIONS[method].create(options, **overrides)
    if saliency_map is None:
        raise KerasvizError(
            f"method {method!r} needs a saliency map; without one pass model= and a feature method: "
            f"{', '.join(FEATURE_METHODS)}"
        )
    saliency = _check_map(saliency_map, rgb.shape[:2])
    if method == "threshold":
        mask = _threshold(saliency, settings.threshold)
    else:
        mask = _grabcut(rgb, saliency, settings.foreground_quantile, settings.background_quantile, settings.middle,
                        settings.iterations)
    return largest_component(mask) if settings.largest_component else mask


def _from_features(rgb, saliency_map, method, regions, model, preprocess, feature_side, options, overrides):
    """segment() by a feature method, or regions: they take no saliency-method options."""
    what = f"regions={regions}" if regions is not None else f"segment method {method!r}"
    given = list(overrides) or ([type(options).__name__] if options is not None else [])
    if given:
        raise KerasvizError(f"{given[0]} does not apply to {what}; it takes model=, preprocess= and feature_side= "
                            f"(options belong to the saliency methods {', '.join(SALIENCY_METHODS)})")
    feature_side = FEATURE_SIDE if feature_side is None else feature_side
    if isinstance(feature_side, bool) or not isinstance(feature_side, int) or feature_side < 8:
        raise KerasvizError(f"feature_side must be an integer >= 8 (pixels); got {feature_side!r}")
    if regions is not None:
        _check_regions(regions)
        if model is None:
            raise KerasvizError(f"regions={regions} need model= (a Keras model whose features are clustered)")
        return spectral_regions(rgb, model, regions, preprocess=preprocess, feature_side=feature_side)
    if model is None:
        raise KerasvizError(
            f"method {method!r} needs model= (for example kerasviz.load_model('vgg16', weights='offline')); "
            f"methods that take a saliency map alone: {', '.join(SALIENCY_METHODS)}"
        )
    prior = None if saliency_map is None else _check_map(saliency_map, rgb.shape[:2])
    return feature_mask(rgb, model, method, preprocess=preprocess, prior=prior, feature_side=feature_side)


def feature_mask(
    rgb: np.ndarray, model: keras.Model, method: str, *, preprocess=None, prior=None, feature_side: int = FEATURE_SIDE
) -> np.ndarray:
    """Boolean `(H, W)` mask of a checked uint8 image from `method`'s soft map, snapped by GrabCut."""
    soft = soft_map(rgb, model, method, preprocess=preprocess, feature_side=feature_side)
    if prior is not None:
        soft = np.sqrt(soft * unit_range(prior))
    return grabcut_from_map(rgb, soft)


__all__ = [
    "BACKGROUND_FRACTION", "BACKGROUND_QUANTILE", "BOX_GROWTH", "DEFAULT_FEATURE_METHOD", "FEATURE_METHODS",
    "FEATURE_SIDE", "FEATURE_STAGES", "FOREGROUND_QUANTILE", "GRABCUT_ITERATIONS", "GRABCUT_SEED", "GRID_STRIDE",
    "MAX_REGIONS", "MIDDLE_LABELS", "REFINE_SIDE", "REGION_COLOUR_SIGMA", "REGION_IMAGE_WEIGHT",
    "REGION_POSITION_SIGMA", "SALIENCY_METHODS", "SALIENCY_OPTIONS", "SEGMENT_METHODS", "GrabCutOptions",
    "ThresholdOptions", "cartoon", "colour_regions", "feature_layers",
    "feature_mask", "features", "grab_cut", "segment", "soft_map", "spectral_regions", "stage_outputs",
]
