"""Saliency maps on every Keras backend (kerasviz.backend): which input pixels a model's score depends on.

`saliency(model, images, target, method=...)` is the entry point (kerasviz.saliency). The package:
registry (each method declared once: `Method` and its Options dataclass), targets (what the score is),
methods (one factory per method, their registration, and SmoothGrad around them), cams (the CAM family
and RISE, registered after them),
compiled (the compiled steps and model copies), budget (images per compiled call), sanity
(`randomized_copy`, `redraw_weights`: the randomisation tests of Adebayo et al. 2018) and maps
(`saliency` itself and the checks of its options).
"""

from kerasviz.attribution.budget import MEMORY_BUDGET_BYTES
from kerasviz.attribution.maps import (
    APPLIES,
    DEFAULT_PRECISION,
    METHODS,
    PRECISION_METHODS,
    check_options,
    options_for,
    saliency,
)
from kerasviz.attribution.methods import (
    IG_BASELINE,
    IG_STEPS,
    OCCLUSION_FILL,
    OCCLUSION_FRACTION,
    SMOOTHABLE,
    SMOOTHGRAD_NOISE,
    SMOOTHGRAD_SAMPLES,
)
from kerasviz.attribution.sanity import randomized_copy, redraw_weights
from kerasviz.attribution.targets import Target, parse_target

__all__ = [
    "APPLIES",
    "DEFAULT_PRECISION",
    "IG_BASELINE",
    "IG_STEPS",
    "MEMORY_BUDGET_BYTES",
    "METHODS",
    "OCCLUSION_FILL",
    "OCCLUSION_FRACTION",
    "PRECISION_METHODS",
    "SMOOTHABLE",
    "SMOOTHGRAD_NOISE",
    "SMOOTHGRAD_SAMPLES",
    "Target",
    "check_options",
    "options_for",
    "parse_target",
    "randomized_copy",
    "redraw_weights",
    "saliency",
]
