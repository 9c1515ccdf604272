"""The saliency methods' registry: each method declared once, as a `Method` with its own Options dataclass.

A method is `Method(name, attribute, options, to_map=None, smoothable=False, smoothed=False)`:
`attribute(scoring, **fields of options) -> Attribute` is its factory (kerasviz.attribution.methods),
`options` the frozen Options dataclass of the options it takes (defaults, bounds, the paper behind each
default; validation lives there), `to_map` what turns per-colour-channel attributions into a map (None:
the factory gives maps), `smoothable` whether smooth=True applies, `smoothed` whether it is always smoothed
(smoothgrad). SmoothGrad's own options are SmoothingOptions. `register(Method(...))` adds one; the order of
registration is the order of METHODS. Everything else (METHODS, APPLIES, the checks, saliency()) is
derived from REGISTRY.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import numpy as np

from kerasviz.errors import KerasvizError
from kerasviz.models.precision import PRECISIONS, resolve_precision
from kerasviz.options import Options, option

SMOOTHGRAD_SAMPLES = 50  # Smilkov et al. 2017, §3: "n = 50" samples suffice
SMOOTHGRAD_NOISE = 0.15  # Smilkov et al. 2017, §3: sigma 10-20% of (x_max - x_min)
IG_STEPS = 128  # Sundararajan et al. 2017, §5: 20-300 steps; with the trapezoid rule, completeness < 1% on ReLU CNNs
IG_BASELINE = 0.0  # Sundararajan et al. 2017: the black image (0 in 0-255 RGB)
# RISE (Petsiuk et al. 2018, §4): 4000 masks for ResNet50, s = 7 cells a side, p = 0.5. Each mask is one forward
# pass per image, so 1000 here, for CPUs: 4x fewer passes than the paper's, for a map whose Monte Carlo noise is
# 2x the paper's (it falls as 1/sqrt(masks)).
RISE_MASKS = 1000
RISE_CELLS = 7
RISE_PROBABILITY = 0.5
DEFAULT_PRECISION = "float32"
SCORECAM_WEIGHTINGS = ("channels", "classes")

Attribute = Callable[[np.ndarray], np.ndarray]  # a factory's result: 0-255 RGB (N, H, W, 3) -> attributions


@dataclasses.dataclass(frozen=True)
class MethodOptions(Options):
    """Base of a saliency method's options: NumPy integers are taken as ints, and a count (an int option
    with low=1) that is not a positive integer is an error saying so, before the fields' own checks."""

    WHAT = "this saliency method"

    def __post_init__(self):
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if isinstance(value, np.integer):
                value = int(value)
                object.__setattr__(self, field.name, value)
            count = field.metadata["kind"] == "int" and field.metadata["low"] == 1 and value is not None
            if count and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise KerasvizError(f"{field.name} must be a positive integer; got {value!r}")
        self.precheck()
        super().__post_init__()

    def precheck(self) -> None:
        """Checks whose message predates the fields' bounds (run before them); a subclass's own."""

    def per_image(self) -> int:
        """Model inputs per image in one call of the method's attribute (to size SmoothGrad's groups)."""
        return 1


@dataclasses.dataclass(frozen=True)
class NoOptions(MethodOptions):
    """A method that takes no options."""


@dataclasses.dataclass(frozen=True)
class SmoothingOptions(MethodOptions):
    """SmoothGrad (Smilkov et al. 2017): for smoothgrad, or any smoothable method with smooth=True."""

    WHAT = "SmoothGrad"
    samples: int = option(SMOOTHGRAD_SAMPLES, "Noisy copies of each image (Smilkov et al. 2017: n = 50).", low=1)
    noise: float = option(SMOOTHGRAD_NOISE, "Noise std as a fraction of (max - min) of each image "
                          "(Smilkov et al. 2017: 10-20%).", low=0.0)  # fmt: skip
    seed: int = option(0, "Seed of the noise.")

    def precheck(self) -> None:
        noise = self.noise
        if not (isinstance(noise, int | float) and not isinstance(noise, bool) and math.isfinite(noise) and noise >= 0):
            raise KerasvizError(f"noise must be a fraction of the input range >= 0; got {noise!r}")


@dataclasses.dataclass(frozen=True)
class PrecisionOptions(MethodOptions):
    """A gradient method whose model may run in reduced precision; "auto" is resolved on construction."""

    precision: str = option(DEFAULT_PRECISION, 'Compute type of the model: "float32", "bfloat16", "float16" (scaled '
                            'against underflow) or "auto"; inputs, scores and gradients stay float32.',
                            choices=PRECISIONS)  # fmt: skip

    def precheck(self) -> None:
        object.__setattr__(self, "precision", resolve_precision(self.precision))


@dataclasses.dataclass(frozen=True)
class GradientOptions(PrecisionOptions):
    """vanilla (Simonyan et al. 2014) and smoothgrad (its smoothed form)."""

    WHAT = "saliency methods 'vanilla' and 'smoothgrad'"


@dataclasses.dataclass(frozen=True)
class IntegratedGradientsOptions(PrecisionOptions):
    """integrated_gradients (Sundararajan et al. 2017)."""

    WHAT = "saliency method 'integrated_gradients'"
    steps: int = option(IG_STEPS, "Trapezoid steps (Sundararajan et al. 2017, §5: 20-300).", low=1)
    baseline: float = option(IG_BASELINE, "The 0-255 value (or, from Python, image) the path starts at "
                             "(Sundararajan et al. 2017: black).", flag=False)  # fmt: skip

    def __post_init__(self):
        baseline = self.baseline  # an image (or NumPy value) is checked against the images at run time
        image = not isinstance(baseline, int | float) or isinstance(baseline, bool)
        if image:
            object.__setattr__(self, "baseline", IG_BASELINE)
        super().__post_init__()
        if image:
            object.__setattr__(self, "baseline", baseline)

    def per_image(self) -> int:
        return self.steps + 1


@dataclasses.dataclass(frozen=True)
class OcclusionOptions(MethodOptions):
    """occlusion (Zeiler & Fergus 2014)."""

    WHAT = "saliency method 'occlusion'"
    patch: int | None = option(None, "Side of the grey square in pixels; None: 1/7 of the shorter side "
                               "(Zeiler & Fergus 2014, Fig. 7).", kind="int", low=1)  # fmt: skip
    stride: int | None = option(None, "Pixels the square moves by; None: half the patch.", kind="int", low=1)


@dataclasses.dataclass(frozen=True)
class ActivationOptions(MethodOptions):
    """activation: the mean over channels of a layer."""

    WHAT = "saliency method 'activation'"
    layer: str | None = option(None, "Layer to average; None: the target layer, else the last convolution.",
                               kind="str")  # fmt: skip


@dataclasses.dataclass(frozen=True)
class CamOptions(MethodOptions):
    """Base of the CAM family's options (kerasviz.attribution.cams): the layer whose channels make the map."""

    layer: str | None = option(None, "Layer whose channels make the map: (N, H, W, C), or (N, T, C) tokens; "
                               "None: the last 4-D output with height and width > 1 before the target.",
                               kind="str")  # fmt: skip


@dataclasses.dataclass(frozen=True)
class GradCamOptions(CamOptions):
    """gradcam (Selvaraju et al. 2017), one of the CAM family (kerasviz.attribution.cams)."""

    WHAT = "saliency method 'gradcam'"


@dataclasses.dataclass(frozen=True)
class GradCamPlusPlusOptions(CamOptions):
    """gradcam_plus_plus (Chattopadhay et al. 2018)."""

    WHAT = "saliency method 'gradcam_plus_plus'"


@dataclasses.dataclass(frozen=True)
class ScoreCamOptions(CamOptions):
    """scorecam (Wang et al. 2020)."""

    WHAT = "saliency method 'scorecam'"
    weighting: str = option(
        "channels", "How the masked copies' scores weight the channels: channels (a softmax over the channels, "
        "pytorch-grad-cam's reading of Wang et al. 2020's Algorithm 1; any target) or classes (each copy's softmax "
        "probability of the class, as the authors' code and tf-keras-vis weight; a class target only).",
        choices=SCORECAM_WEIGHTINGS)


@dataclasses.dataclass(frozen=True)
class LayerCamOptions(CamOptions):
    """layercam (Jiang et al. 2021)."""

    WHAT = "saliency method 'layercam'"


@dataclasses.dataclass(frozen=True)
class EigenCamOptions(CamOptions):
    """eigencam (Muhammad & Yeasin 2020)."""

    WHAT = "saliency method 'eigencam'"


@dataclasses.dataclass(frozen=True)
class HiResCamOptions(CamOptions):
    """hirescam (Draelos & Carin 2020)."""

    WHAT = "saliency method 'hirescam'"


@dataclasses.dataclass(frozen=True)
class RiseOptions(MethodOptions):
    """rise (Petsiuk et al. 2018)."""

    WHAT = "saliency method 'rise'"
    masks: int = option(RISE_MASKS, "Random masks, one forward pass each per image (Petsiuk et al. 2018: 4000 "
                        "for ResNet50; fewer here for CPUs).", low=1)  # fmt: skip
    cells: int = option(RISE_CELLS, "Cells a side of each mask's low-resolution grid (Petsiuk et al. 2018: s = 7).",
                        low=1)  # fmt: skip
    probability: float = option(RISE_PROBABILITY, "Chance that a cell is kept (Petsiuk et al. 2018: p = 0.5).",
                                low=0.0, high=1.0)  # fmt: skip
    seed: int = option(0, "Seed of the masks.")

    def check(self) -> None:
        if self.probability == 0:
            raise KerasvizError(f"probability of {self.WHAT} must be in (0, 1]; got 0.0: no mask would keep a cell")

    def per_image(self) -> int:
        return self.masks


@dataclasses.dataclass(frozen=True)
class Method:
    """One saliency method; see the module's docstring."""

    name: str
    attribute: Callable
    options: type[MethodOptions] = NoOptions
    to_map: Callable[[np.ndarray], np.ndarray] | None = None
    smoothable: bool = False
    smoothed: bool = False


REGISTRY: dict[str, Method] = {}


def register(method: Method) -> Method:
    """Adds `method` to REGISTRY (after the others); a name registered already is an error."""
    if method.name in REGISTRY:
        raise KerasvizError(f"saliency method {method.name!r} is registered already")
    if method.smoothable and method.smoothed:
        raise KerasvizError(f"saliency method {method.name!r} is smoothed already; it cannot be smoothable")
    REGISTRY[method.name] = method
    return method


def option_names(options: type[Options]) -> tuple[str, ...]:
    return tuple(field.name for field in dataclasses.fields(options))


def applies_table() -> dict[str, tuple[str, ...]]:
    """Option -> the registered methods it applies to (SmoothGrad's options: the always-smoothed ones)."""
    table: dict[str, list[str]] = {name: [] for name in option_names(SmoothingOptions)}
    for method in REGISTRY.values():
        names = option_names(method.options) + (option_names(SmoothingOptions) if method.smoothed else ())
        for name in names:
            table.setdefault(name, []).append(method.name)
    return {name: tuple(methods) for name, methods in table.items()}
