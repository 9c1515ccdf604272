"""The filter-picture methods (parameterisation, transforms, update rule and schedule of each) and the
options of a filter-picture run, declared once (kerasviz.options)."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable

from kerasviz.errors import KerasvizError
from kerasviz.models.precision import PRECISIONS
from kerasviz.options import Options, option
from kerasviz.optvis import param, transforms


@dataclasses.dataclass(frozen=True)
class Method:
    """One way to visualise a filter: parameterisation, transforms, update rule and schedule."""

    name: str
    steps: int
    learning_rate: float
    update: str  # a rule of optim.RULES: "adam", or "normalized" (gradient divided by its RMS, Chollet 2016)
    # (batch, size, receptive field of the objective's layer in pixels) -> param
    parameterization: Callable[[int, int, int], param.Parameterization]
    transform: Callable[[int], transforms.Transform] | None  # size -> transform
    contrast_normalize: bool = False  # Chollet 2016's deprocessing: zero mean, std 0.1, centred on grey
    coarse_fraction: float = 0.0  # share of the steps run at half size first (progressive resolution)
    # Rolls per axis tried on the finished (periodic) picture: the one whose objective, seen whole,
    # is highest is saved (0: none). For pictures rolled during ascent, whose unit can be anywhere.
    recentre: int = 0


FFT_LEARNING_RATE = 0.1  # Adam step on the Fourier coefficients: twice lucid's 0.05 (benchmarks/filters.py)
FFT_CHROMA_POWER = 0.25  # colour axes at the fourth root of photos' chroma spread (param.color_correlation)
MACO_LEARNING_RATE = 0.2  # radians of phase per Adam step
METHODS: dict[str, Method] = {
    # Chollet 2016, "How convolutional neural networks see the world" (the classic recipe):
    # grey + noise start, 20 steps of RMS-normalised gradient ascent, step 1 on the 0-255 scale.
    "classic": Method(
        name="classic",
        steps=20,
        learning_rate=1.0 / 255.0,
        update="normalized",
        parameterization=lambda batch, size, receptive_field: param.pixel(batch, size),
        transform=None,
        contrast_normalize=True,
    ),
    # Olah et al. 2017 / Mordvintsev et al. 2018 (lucid): a 1/f Fourier image in decorrelated colour,
    # Adam under transformation robustness; the spectrum flattens below the unit's receptive
    # field and chroma moves more freely than photos' (benchmarks/filters.py measured both).
    "fft": Method(
        name="fft",
        steps=48,
        learning_rate=FFT_LEARNING_RATE,
        update="adam",
        parameterization=lambda batch, size, receptive_field: param.fourier(
            batch, size, chroma_power=FFT_CHROMA_POWER, receptive_field=receptive_field),
        transform=transforms.standard,
    ),
    # MaCo (Fel et al. 2023): the phase alone is optimised, the magnitude is photos' spectrum.
    "maco": Method(
        name="maco",
        steps=48,
        learning_rate=MACO_LEARNING_RATE,
        update="adam",
        parameterization=lambda batch, size, receptive_field: param.magnitude_constrained(batch, size),
        transform=transforms.standard,
    ),
}
# fft with progressive resolution: the first half of the steps at half size (a quarter of the
# compute), then the spectrum moves to full size. benchmarks/progressive.py measures it against fft.
METHODS["fft_progressive"] = dataclasses.replace(METHODS["fft"], name="fft_progressive", steps=64, coarse_fraction=0.5)
# fft with the picture rolled by a random offset over its whole side before each step's warp, so no
# part of it stays near the view's edge; the finished picture is saved rolled by the offset, of a
# 4 x 4 grid, at which its unit responds most. Opt-in: on 8 filters of each VGG16 layer it scored
# alike to fft (response, border, rank; docs/benchmarks.md, "A picture rolled over its whole side")
# at 16 extra forward passes a picture.
METHODS["fft_roll"] = dataclasses.replace(
    METHODS["fft"], name="fft_roll", transform=functools.partial(transforms.standard, rolled=True), recentre=4)
DEFAULT_METHOD = "fft"


@dataclasses.dataclass(frozen=True)
class FilterOptions(Options):
    """The options of visualize_filters (a method's own settings are in METHODS)."""

    WHAT = "filter pictures"
    size: int = option(128, "Image side in pixels.", low=8)
    steps: int | None = option(None, "Optimisation steps (default: the method's).", low=1, kind="int")
    method: str | None = option(
        DEFAULT_METHOD, "fft (default; Olah et al. 2017), maco (phase only, natural magnitude; Fel et al. 2023), "
        "fft_progressive (half size first), fft_roll (rolled over its whole side, saved at its best roll) or classic "
        "(pixel space, Chollet 2016).", kind="str", optional=True)
    seed: int = option(0, "Random seed of the starting images; the same seed gives the same output.")
    precision: str = option("auto", "Compute precision: auto takes bfloat16 where the hardware has it and it is faster "
                            "(on a CPU: TensorFlow and PyTorch, not JAX).",
                            choices=PRECISIONS)
    batch_size: int | None = option(None, "Images per compiled batch (default: from a memory budget).", low=1,
                                    kind="int")

    def check(self) -> None:
        if self.method is not None and self.method not in METHODS:  # METHODS may grow (benchmarks add variants)
            raise KerasvizError(f"unknown method {self.method!r}; valid: {', '.join(METHODS)}")
