"""The first-layer weights job: FILE.png (a grid of kernel pictures) and FILE.json."""

from __future__ import annotations

import os

from kerasviz import io, kernels, models

README_NAME = "first_layer_vgg16.png"


def run(model, out: str, *, layer: str | None = None, zoom: int | None = None, overwrite: bool = False) -> dict:
    """Writes the kernels of `layer` (default: the first convolution) as a grid to `out` (PNG) and its JSON.

    A finished picture is kept unless `overwrite`. Returns the JSON facts.
    """
    png, sidecar = _paths(out)
    if not overwrite and os.path.isfile(png) and os.path.isfile(sidecar):
        return {"skipped": True, "png": png}
    io.check_writable(os.path.dirname(os.path.abspath(png)))
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
    io.write_json(sidecar, facts)
    return {**facts, "png": png}


def readme_examples(out: str, *, weights: str = "auto", overwrite: bool = False) -> list[str]:
    """The README's picture: the 64 kernels of VGG16's block1_conv1."""
    facts = run(models.load_model("vgg16", weights), os.path.join(out, README_NAME), overwrite=overwrite)
    return [facts["png"]]


def _paths(out: str) -> tuple[str, str]:
    stem = out[:-4] if out.lower().endswith(".png") else out
    return stem + ".png", stem + ".json"
