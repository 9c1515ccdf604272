"""The first-layer weights job: FILE.png (a grid of kernel pictures) and FILE.json."""

from __future__ import annotations

import os

import keras

from kerasviz import io, models
from kerasviz.apps import _jobs
from kerasviz.dataset import kernels

README_NAME = "first_layer_vgg16.png"


def run(
    out: str,
    *,
    model: str | keras.Model = "vgg16", weights: str | None = "auto", preprocess: str | None = None,
    layer: str | None = None,
    zoom: int | None = None,
    overwrite: bool = False,
    progress: _jobs.ProgressFn | None = None,
) -> dict:
    """Writes the kernels of `layer` (default: the first convolution) as a grid to `out` (PNG) and its JSON;
    returns the facts (see kerasviz.apps). `progress` is accepted for the jobs' one shape; this job is
    quick and reports none.
    """
    png, sidecar, earlier = _jobs.start(out, overwrite=overwrite)
    if earlier:
        return earlier
    model = _jobs.network(model, weights, preprocess)
    name = layer or kernels.first_conv(model)
    pictures, scales = kernels.kernel_pictures(model, name, zoom=zoom)
    kernel = models.get_layer(model, name).kernel
    info = models.model_info(model)
    bgr = info is not None and info.preprocessing == "caffe" and kernel.shape[2] == 3
    facts = {
        **models.model_facts(model),
        "layer": name,
        "kernels": int(kernel.shape[3]),
        "kernel_size": [int(kernel.shape[0]), int(kernel.shape[1])],
        "input_channels": int(kernel.shape[2]),
        "zoom": int(pictures.shape[1] // kernel.shape[0]),
        "shown_as": "RGB (the weights are BGR, reversed)" if bgr else "RGB" if kernel.shape[2] == 3 else "grey",
        "normalisation": "each kernel: 0.5 + 0.5 * w / max|w| (grey = 0)",
        "max_abs_weight": [round(float(s), 5) for s in scales],
    }
    io.write_png(png, io.grid(pictures, pad=max(2, pictures.shape[1] // 12)))
    return _jobs.finish(png, sidecar, facts)


def readme_examples(out: str, *, weights: str = "auto", overwrite: bool = False,
                    bars: _jobs.Bars | None = None, smoke: bool = False) -> list[str]:
    """The README's picture: the 64 kernels of VGG16's block1_conv1. It is quick: `smoke` (visualize_all
    --smoke) draws the same picture, and its sidecar says "smoke"."""
    facts = run(os.path.join(out, README_NAME), model="vgg16", weights=weights, overwrite=overwrite)
    return _jobs.readme_pngs([facts], smoke=smoke)
