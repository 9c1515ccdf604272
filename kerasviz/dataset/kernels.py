"""First-layer weights as pictures: each kernel of the first convolution drawn as a small RGB image."""

from __future__ import annotations

import keras
import numpy as np

from kerasviz import models
from kerasviz.errors import KerasvizError

TILE_PIXELS = 48  # the default zoom enlarges a kernel to about this side (3x3 -> 48, 7x7 -> 42, 11x11 -> 44)


def first_conv(model: keras.Model) -> str:
    """The name of the model's first 2-D convolution layer."""
    names = models.conv_layers(model)
    if not names:
        raise KerasvizError(f"{model.name} has no Conv2D layer; first-layer weights need one")
    return names[0]


def kernel_pictures(
    model: keras.Model,
    layer: str | None = None,
    *,
    zoom: int | None = None,
    bgr: bool | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The kernels of a convolution (default: the first) as uint8 RGB pictures, and their scales.

    Each kernel `w` (kh, kw, 3) is normalised symmetrically around 0, `0.5 + 0.5 w / max|w|`, so
    grey is a zero weight, and each pixel is enlarged to `zoom` x `zoom` (nearest neighbour).

    Args:
      model: a Keras model.
      layer: a Conv2D layer whose input has 1 or 3 channels (1: drawn grey); default the first.
      zoom: pixels per weight (default: about TILE_PIXELS per kernel side).
      bgr: the layer's input channels are blue, green, red (drawn reversed, as RGB); default: True
        for models from load_model with caffe preprocessing (VGG16, ResNet50), else False.

    Returns:
      (pictures, scales): uint8 (N, kh * zoom, kw * zoom, 3) for the layer's N filters, and
      float32 (N,) each kernel's max |w| (what full white and full black stand for).
    """
    name = layer or first_conv(model)
    target = models.get_layer(model, name)
    if not isinstance(target, keras.layers.Conv2D):
        raise KerasvizError(f"layer {name!r} is a {type(target).__name__}, not a Conv2D; "
                            f"convolutions: {', '.join(models.conv_layers(model)[:5])}")
    kernel = np.asarray(keras.ops.convert_to_numpy(target.kernel), np.float32)  # (kh, kw, in, out)
    if kernel.shape[2] not in (1, 3):
        raise KerasvizError(f"layer {name!r} takes {kernel.shape[2]} channels; kernels can be drawn as pictures "
                            f"only for 1 or 3 (the first convolution: {first_conv(model)})")
    if zoom is None:
        zoom = max(1, round(TILE_PIXELS / max(kernel.shape[:2])))
    if isinstance(zoom, bool) or not isinstance(zoom, int | np.integer) or zoom < 1:
        raise KerasvizError(f"zoom must be a positive integer; got {zoom!r}")
    if bgr is None:
        info = models.model_info(model)
        bgr = info is not None and info.preprocessing == "caffe"
    kernels = np.moveaxis(kernel, -1, 0)  # (N, kh, kw, in)
    if kernels.shape[-1] == 1:
        kernels = np.repeat(kernels, 3, axis=-1)
    elif bgr:
        kernels = kernels[..., ::-1]
    scales = np.abs(kernels).reshape(len(kernels), -1).max(axis=1)
    unit = kernels / np.where(scales > 0, scales, 1.0)[:, None, None, None]
    pictures = np.clip(np.round((0.5 + 0.5 * unit) * 255.0), 0, 255).astype(np.uint8)
    pictures = pictures.repeat(zoom, axis=1).repeat(zoom, axis=2)
    return pictures, scales.astype(np.float32)
