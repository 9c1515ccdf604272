"""Dataset exemplars (Zeiler & Fergus 2014): the image patches that excite each filter most.

Images are streamed in batches and only a running top-k per filter is kept (its activation, its
image's name, the position of the maximum and the patch), so any number of images fits in memory.
Each patch is the unit's receptive field, measured from the model, around the position where
the filter's activation peaks in that image.
"""

from __future__ import annotations

import dataclasses
import heapq
from collections.abc import Callable, Sequence

import keras
import numpy as np
from keras import ops

from kerasviz import models
from kerasviz.dataset import imagesets
from kerasviz.errors import KerasvizError
from kerasviz.options import Options, option

TOP = 9  # patches per filter, the 3x3 blocks of Zeiler & Fergus (2014), fig. 2
BATCH_SIZE = 16
SIZE = 224  # longer image side the network sees: the size VGG16 and ResNet50 were trained at
PATCH_FILL = 128  # grey where a receptive field reaches past the image's border
# A position counts only when at least this share of its receptive field lies inside the image:
# units tuned to edges fire hardest where the zero padding meets the picture, which is not a
# property of any image (with no rule, and with a rule of one half, about half the block4_conv3
# patches of the sample photos were partly grey).
MIN_INSIDE = 0.9


@dataclasses.dataclass(frozen=True)
class Exemplar:
    """One image's best response of one filter."""

    filter: int
    image: str  # the image's file name in a folder, or its position in the iterable (or the name given)
    activation: float  # the filter's maximum over the image
    position: tuple[int, int]  # (row, col) of that maximum in the layer's map
    box: tuple[int, int, int, int]  # (top, left, bottom, right) in the original image's pixels, end exclusive
    patch: np.ndarray = dataclasses.field(repr=False)  # uint8 (R, R, 3), R the receptive field in seen pixels


@dataclasses.dataclass(frozen=True)
class ExemplarOptions(Options):
    """The options of dataset_exemplars (and of the exemplars job, which relays them)."""

    WHAT = "dataset exemplars"
    top: int = option(TOP, "Patches per filter (one per image at most); 9: the 3x3 blocks of Zeiler & Fergus "
                      "(2014), fig. 2.", low=1)
    size: int | None = option(SIZE, "Longer image side the network sees, pixels (None: as given); 224, the side "
                              "VGG16 and ResNet50 were trained at.", low=8, kind="int", optional=True)
    batch_size: int = option(BATCH_SIZE, "Images per forward pass (consecutive images of the same shape share one).",
                             low=1)


def dataset_exemplars(
    model: keras.Model,
    layer: str,
    filters: Sequence[int] | int,
    images: imagesets.Images,
    *,
    options: ExemplarOptions | None = None,
    preprocess: Callable | None = None,
    progress: Callable[[int], None] | None = None,
    **overrides,
) -> list[list[Exemplar]]:
    """The `top` images (and patches) where each filter of `layer` responds most, best first.

    Args:
      model: a Keras model; models from load_model bring their own preprocessing.
      layer: the layer whose channels are ranked.
      filters: channel indices of `layer`.
      images: a folder of image files, or an iterable of RGB 0-255 `(H, W, 3)` arrays or
        `(name, array)` pairs. Read once, `batch_size` images at a time; never held all together.
      options: an ExemplarOptions, with `overrides` (top=, size=, batch_size=) replacing its values:
        top: exemplars kept per filter (at most one per image: its maximum).
        batch_size: images per forward pass (consecutive images of the same shape share one).
        size: each image is resized so its longer side is `size` pixels (None: as given).
      preprocess: RGB 0-255 -> model input, for models not from load_model.
      progress: called with the number of images seen so far after each batch.

    Returns:
      One list per filter, in the order of `filters`, of at most `top` Exemplars by decreasing
      activation (ties: the earlier image first). Boxes are in each original image's pixels.
    """
    options = ExemplarOptions.create(options, **overrides)
    filters = [filters] if isinstance(filters, int | np.integer) else [int(f) for f in filters]
    features = _layer_model(model, layer, filters)
    prep = models.preprocess_fn(model, preprocess)
    chosen = ops.convert_to_tensor(filters, "int32")
    field = _Field(model, layer, features)
    best = _Best(filters, options.top)
    for batch in imagesets.batches(images, options.batch_size, max_side=options.size):
        acts = ops.take(imagesets.features_of(features, prep, batch, layer), chosen, axis=-1)
        n, h, w, f = acts.shape
        side = field.side(batch[0][1].shape[:2])
        eligible = inside_share((h, w), batch[0][1].shape[:2], side) >= MIN_INSIDE
        if not eligible.any():  # a receptive field larger than the image: every position is as good
            eligible[:] = True
        acts = ops.where(eligible[None, :, :, None], acts, ops.convert_to_tensor(-np.inf, acts.dtype))
        flat = ops.convert_to_numpy(ops.reshape(ops.transpose(acts, (0, 3, 1, 2)), (n, f, h * w)))
        peak, where = flat.max(axis=-1), flat.argmax(axis=-1)
        best.offer(batch, peak, where, (h, w), side)
        if progress:
            progress(best.seen)
    return best.ranked()


def _layer_model(model: keras.Model, layer: str, filters: list[int]) -> keras.Model:
    """`model` up to `layer` (one tensor out), after checking the layer is spatial and has `filters`."""
    features = models.feature_model(model, [layer])  # reaches layers inside nested models too
    features = keras.Model(features.inputs[0], features.outputs[0])  # one tensor, not a list of one
    shape = tuple(features.outputs[0].shape)
    if len(shape) != 4:
        raise KerasvizError(f"layer {layer!r} has output shape {shape}; exemplars need a "
                            "spatial (N, H, W, C) layer such as a convolution")
    channels = int(shape[-1])
    bad = [f for f in filters if not 0 <= f < channels]
    if bad or not filters:
        given = f"filter {bad[0]} out of range" if bad else "no filters given"
        raise KerasvizError(f"{given} for {layer}: valid filters are 0-{channels - 1}")
    return features


class _Best:
    """A running top-`top` per filter: min-heaps of (activation, -sequence, Exemplar); ties keep the earlier image."""

    def __init__(self, filters: list[int], top: int):
        self.filters, self.top, self.seen = filters, top, 0
        self.heaps: list[list] = [[] for _ in filters]

    def offer(self, batch, peak: np.ndarray, where: np.ndarray, map_shape: tuple[int, int], side: int) -> None:
        """One batch's (name, picture, scale) with each filter's peak activation and its flat position."""
        for i, (name, picture, scale) in enumerate(batch):
            sequence = self.seen + i
            for j, heap in enumerate(self.heaps):
                key = (float(peak[i, j]), -sequence)
                if len(heap) == self.top and key <= heap[0][:2]:
                    continue
                row, col = divmod(int(where[i, j]), map_shape[1])
                box, patch = _cut(picture, (row, col), map_shape, side)
                box = tuple(int(round(v / scale)) for v in box)
                item = (*key, Exemplar(self.filters[j], name, key[0], (row, col), box, patch))
                if len(heap) < self.top:
                    heapq.heappush(heap, item)
                else:
                    heapq.heapreplace(heap, item)
        self.seen += len(batch)

    def ranked(self) -> list[list[Exemplar]]:
        return [[item[2] for item in sorted(heap, key=lambda e: e[:2], reverse=True)] for heap in self.heaps]


class _Field:
    """The receptive field of one position of `layer`, measured once by models.receptive_field.

    receptive_field takes the two central positions of an even map, one stride too wide, so it
    is measured on a square whose map side is odd. It is a property of the network, measured again
    only if it filled the whole square (it may be larger) and a larger image comes.
    """

    def __init__(self, model: keras.Model, layer: str, features: keras.Model):
        self.model, self.layer, self.features = model, layer, features
        self.measured_at, self.value = 0, 0

    def side(self, shape: tuple[int, int]) -> int:
        square = max(shape)
        if self.value and (self.value < self.measured_at or square <= self.measured_at):
            return self.value
        map_side = self.features.compute_output_shape((1, square, square, 3))[1]
        if map_side and map_side % 2 == 0:
            square += -(-square // map_side)  # one stride more: the map gains a row
        self.measured_at, self.value = square, models.receptive_field(self.model, self.layer, square)
        return self.value


def box_around(position: tuple[int, int], map_shape: tuple[int, int], image_shape: tuple[int, int],
               side: int) -> tuple[int, int, int, int]:
    """The `side` x `side` box (top, left, bottom, right), unclipped, centred on a map position's input centre.

    A position (i, j) of an (h, w) map over an (H, W) image is centred at ((i + 0.5) H / h - 0.5, ...),
    exact for chains of 'same'-padded convolutions and poolings.
    """
    corner = []
    for index, cells, pixels in zip(position, map_shape, image_shape):
        centre = (index + 0.5) * pixels / cells - 0.5
        corner.append(int(np.floor(centre - side / 2 + 0.5)))
    return corner[0], corner[1], corner[0] + side, corner[1] + side


def inside_share(map_shape: tuple[int, int], image_shape: tuple[int, int], side: int) -> np.ndarray:
    """float `(h, w)`: the share of each map position's `side` x `side` receptive field inside the image."""
    shares = []
    for axis, (cells, pixels) in enumerate(zip(map_shape, image_shape)):
        starts = np.array([box_around((i, i), map_shape, image_shape, side)[axis] for i in range(cells)])
        shares.append((np.minimum(starts + side, pixels) - np.maximum(starts, 0)).clip(0) / side)
    return np.outer(*shares)


def _cut(picture: np.ndarray, position, map_shape, side: int) -> tuple[tuple[int, int, int, int], np.ndarray]:
    """The box clipped to the picture, and the (side, side, 3) patch, grey outside the picture."""
    height, width = picture.shape[:2]
    top, left, bottom, right = box_around(position, map_shape, (height, width), side)
    clipped = max(top, 0), max(left, 0), min(bottom, height), min(right, width)
    patch = np.full((side, side, 3), PATCH_FILL, np.uint8)
    patch[clipped[0] - top:clipped[2] - top, clipped[1] - left:clipped[3] - left] = \
        picture[clipped[0]:clipped[2], clipped[1]:clipped[3]]
    return clipped, patch
