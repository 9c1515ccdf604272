"""Many images in, one at a time: a folder or any iterable, streamed so memory stays bounded."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator

import numpy as np

from kerasviz import io
from kerasviz.errors import KerasvizError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".webp")

Images = str | Iterable  # a folder, or an iterable of (H, W, 3) arrays or (name, array) pairs


def image_files(folder: str) -> list[str]:
    """The image files directly inside `folder` (by extension), sorted by name; an error if there are none."""
    if not os.path.isdir(folder):
        what = "a file" if os.path.exists(folder) else "does not exist"
        raise KerasvizError(f"images folder {folder!r} {what}; give a folder of images")
    names = sorted(n for n in os.listdir(folder) if n.lower().endswith(IMAGE_EXTENSIONS) and not n.startswith("."))
    if not names:
        raise KerasvizError(f"images folder {folder!r} has no images; readable formats: {io.READABLE_FORMATS}")
    return [os.path.join(folder, n) for n in names]


def stream(images: Images, *, max_side: int | None = None) -> Iterator[tuple[str, np.ndarray, float]]:
    """Yields (name, uint8 (H, W, 3) image, scale) one image at a time, reading files only when asked.

    A folder's images are named by file name; arrays by their position in the iterable unless given
    as (name, array) pairs. With `max_side`, an image whose longer side differs is resized to it and
    `scale` is its new side over its old (1.0 otherwise), so a box in the resized image divided by
    `scale` is the box in the original. An empty input raises KerasvizError.
    """
    if isinstance(images, str):
        items: Iterable = ((os.path.basename(path), path) for path in image_files(images))
    elif isinstance(images, np.ndarray) and images.ndim == 4:
        items = iter(images)
    else:
        items = images
    count = 0
    for index, item in enumerate(items):
        name, picture = item if isinstance(item, tuple) else (str(index), item)
        if isinstance(picture, str):
            picture = io.load_image(picture, max_side=None)
        batch, _ = io.as_batch(picture)
        if batch.shape[0] != 1:
            raise KerasvizError(f"image {name!r} must be one (H, W, 3) picture; got shape {np.shape(picture)}")
        rgb = batch[0]
        scale = 1.0
        if max_side is not None and max(rgb.shape[:2]) != max_side:
            scale = max_side / max(rgb.shape[:2])
            shape = (max(1, round(rgb.shape[0] * scale)), max(1, round(rgb.shape[1] * scale)))
            rgb = io.resize(rgb, shape)
        count += 1
        yield str(name), io.round_pixels(rgb), scale
    if count == 0:
        raise KerasvizError("no images given; give a folder with images or a non-empty list of (H, W, 3) arrays")


def features_of(features, preprocess, batch: list, layer: str):
    """float32 outputs of `features` (a model ending at `layer`) for one batch from `batches`.

    An image too small for the layer (its map would be empty, or a convolution cannot take it)
    raises KerasvizError naming the image and the size it was seen at.
    """
    import keras

    from kerasviz import backend

    pixels = np.stack([picture for _, picture, _ in batch]).astype(np.float32)
    name, (height, width) = batch[0][0], pixels.shape[1:3]
    small = (f"image {name!r} seen at {height}x{width} pixels is too small for layer {layer!r}; "
             "use larger images or a larger size")
    try:
        out = keras.ops.cast(features(preprocess(keras.ops.convert_to_tensor(pixels)), training=False), "float32")
    except (ValueError, *backend.runtime_errors()) as err:
        raise KerasvizError(small) from err
    if len(out.shape) == 4 and (out.shape[1] == 0 or out.shape[2] == 0):
        raise KerasvizError(small)
    return out


def batches(images: Images, batch_size: int, *, max_side: int | None = None) -> Iterator[list]:
    """Groups `stream(...)` into lists of at most `batch_size` consecutive images of one shape."""
    if batch_size < 1:
        raise KerasvizError(f"batch_size must be at least 1; got {batch_size}")
    pending: list = []
    for item in stream(images, max_side=max_side):
        if pending and (len(pending) == batch_size or pending[0][1].shape != item[1].shape):
            yield pending
            pending = []
        pending.append(item)
    if pending:
        yield pending
