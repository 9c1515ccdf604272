"""Model inputs: the image input's shape and channels, and the preprocessing from RGB 0-255 to the model's input."""

from __future__ import annotations

import functools
from collections.abc import Callable

import keras

from kerasviz.errors import KerasvizError
from kerasviz.models.catalogue import _CAFFE_MEAN_BGR, _TORCH_MEAN_RGB, _TORCH_STD_RGB, check_preprocessing, model_info

Tensor = object  # a tensor of the Keras backend (tf.Tensor, jax.Array, torch.Tensor)


def preprocess_fn(model: keras.Model, preprocess: Callable | None = None) -> Callable[[Tensor], Tensor]:
    """The function from RGB float in 0-255, (N, H, W, 3), to the model's input.

    `preprocess`, when given (a function, which must give the model's channels, or a name in
    PREPROCESSING), wins; then the model's own (for models from load_model); otherwise the model is
    taken to expect 0-255 as it is, in the channels of its input (see adapt_channels: grey for one
    channel, RGB plus opaque alpha for four). The named scalings other than "none" are for RGB models.
    """
    if isinstance(preprocess, str):
        check_preprocessing(preprocess)
        name = preprocess
    elif preprocess is not None:
        return preprocess
    else:
        info = model_info(model)
        name = info.preprocessing if info is not None else "none"
    channels = input_channels(model)
    if name != "none":
        if channels != 3:
            raise KerasvizError(
                f"preprocessing {name!r} scales RGB images, but the model's input has {channels} channels; pass "
                "preprocess='none' (kerasviz maps RGB to 1 or 4 channels) or a function giving the model's channels"
            )
        return _PREPROCESSORS[name]
    if channels == 3:
        return _identity
    return _channel_adapter(channels)


@functools.cache
def _channel_adapter(channels: int) -> Callable[[Tensor], Tensor]:
    """One function per channel count, so compiled steps keyed by the preprocessing are reused."""
    adapt_channels(keras.ops.zeros((1, 1, 1, 3)), channels)  # the error for other counts, now rather than in a step
    return functools.partial(adapt_channels, channels=channels)


def adapt_channels(rgb: Tensor, channels: int) -> Tensor:
    """RGB 0-255 (N, H, W, 3) -> (N, H, W, channels): 3 as is; 1 the luma (ITU-R BT.601 weights, as
    PIL's "L"); 4 RGB plus a fourth channel of 255 (opaque alpha: kerasviz composites RGBA over white
    when it loads images, so a picture is opaque). Other channel counts need `preprocess=`."""
    if channels == 3:
        return rgb
    if channels == 1:
        return keras.ops.sum(rgb * keras.ops.convert_to_tensor(LUMA_WEIGHTS, rgb.dtype), axis=-1, keepdims=True)
    if channels == 4:
        return keras.ops.concatenate([rgb, keras.ops.full_like(rgb[..., :1], 255.0)], axis=-1)
    raise KerasvizError(
        f"the model's input has {channels} channels; kerasviz maps RGB to 1, 3 or 4 channels itself, for "
        f"{channels} pass preprocess= taking RGB 0-255 (N, H, W, 3) to (N, H, W, {channels})"
    )


LUMA_WEIGHTS = (0.299, 0.587, 0.114)


def input_channels(model: keras.Model) -> int:
    """The channel count of the model's one image input (N, H, W, C)."""
    shape = image_input_shape(model)
    return int(shape[-1])


def image_input_shape(model: keras.Model) -> tuple:
    """The shape (None, H, W, C) of the model's one image input; H and W are None where any size works.

    Raises KerasvizError for a model with several inputs, an unbuilt model, or a non-image input.
    """
    inputs = defined_inputs(model)
    if not inputs:
        raise KerasvizError(
            f"model {model.name!r} has no defined input (a Sequential model never called, or a subclassed "
            "model); build it with keras.Input((H, W, C)) as its first layer, or wrap it in "
            "keras.Model(inputs, outputs)"
        )
    if len(inputs) != 1:
        names = ", ".join(f"{t.name} {tuple(t.shape)}" for t in inputs)
        raise KerasvizError(
            f"model {model.name!r} has {len(inputs)} inputs ({names}); kerasviz explains one image input: "
            "wrap the model in keras.Model(image_input, outputs) with the other inputs fixed"
        )
    shape = tuple(inputs[0].shape)
    if len(shape) != 4 or shape[-1] is None:
        raise KerasvizError(
            f"model {model.name!r} takes input of shape {shape}; kerasviz needs images (N, H, W, C) with a known C"
        )
    return shape


def defined_inputs(model: keras.Model) -> list:
    """The model's input tensors; [] where it has none defined (a Sequential never called, a subclassed model)."""
    try:
        return list(model.inputs or [])
    except (AttributeError, ValueError):
        return []


def fixed_input_size(model: keras.Model) -> tuple[int, int] | None:
    """(H, W) of a model whose input size is fixed (e.g. include_top classifiers), else None."""
    height, width = image_input_shape(model)[1:3]
    if height is None or width is None:
        return None
    return int(height), int(width)


def _identity(x: Tensor) -> Tensor:
    return x


def _caffe(x: Tensor) -> Tensor:
    return keras.ops.flip(x, axis=-1) - keras.ops.convert_to_tensor(_CAFFE_MEAN_BGR, dtype=x.dtype)


def _tf(x: Tensor) -> Tensor:
    return x / 127.5 - 1.0


def _torch(x: Tensor) -> Tensor:
    mean = keras.ops.convert_to_tensor(_TORCH_MEAN_RGB, dtype=x.dtype)
    std = keras.ops.convert_to_tensor(_TORCH_STD_RGB, dtype=x.dtype)
    return (x / 255.0 - mean) / std


_PREPROCESSORS = {"caffe": _caffe, "tf": _tf, "torch": _torch, "none": _identity}
