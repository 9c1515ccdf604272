"""Images in and out: loading any image, grids, heat maps, atomic PNG and JSON writing."""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
import warnings
from collections.abc import Iterator

import numpy as np

from kerasviz.errors import KerasvizError

MAX_IMAGE_SIDE = 2048  # larger inputs are resized so their longer side is this many pixels


def as_batch(images) -> tuple[np.ndarray, bool]:
    """Images as people have them -> float32 (N, H, W, 3) in 0-255, and whether one was given.

    Accepts uint8 or float, RGB 0-255, `(N, H, W, 3)` or one `(H, W, 3)`; greyscale
    `(H, W)` / `(H, W, 1)` and RGBA are converted.
    """
    array = np.asarray(images)
    if array.ndim == 2:
        array = array[..., None]
    single = array.ndim == 3
    if single:
        array = array[None]
    if array.ndim != 4 or array.shape[-1] not in (1, 3, 4):
        raise KerasvizError(f"images must be (H, W, 3) or (N, H, W, 3); got shape {np.shape(images)}")
    return _to_rgb(array.astype(np.float32)), single


def _to_rgb(array: np.ndarray) -> np.ndarray:
    if array.shape[-1] == 1:
        return np.repeat(array, 3, axis=-1)
    if array.shape[-1] == 4:  # alpha composited over white
        alpha = array[..., 3:] / 255.0
        return array[..., :3] * alpha + 255.0 * (1.0 - alpha)
    return array


def load_image(path: str, *, max_side: int | None = MAX_IMAGE_SIDE) -> np.ndarray:
    """Reads an image file as uint8 RGB `(H, W, 3)`.

    Any format Pillow reads (PNG, JPEG, GIF, BMP, TIFF, WebP, ...; the first frame of an animation).
    EXIF orientation is applied, alpha is composited over white, greyscale, palette, CMYK and 16-bit
    images are converted (16-bit: 0-65535 -> 0-255), and an image whose longer side exceeds `max_side`
    pixels is resized to fit (None: never). Unreadable input raises KerasvizError saying why.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    if max_side is not None and (isinstance(max_side, bool) or not isinstance(max_side, int) or max_side < 1):
        raise KerasvizError(f"max_side must be a positive integer or None; got {max_side!r}")
    if os.path.isdir(path):
        raise KerasvizError(f"image {path!r} is a folder; give an image file")
    if not os.path.isfile(path):
        raise KerasvizError(f"image {path!r} does not exist")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # large is fine: it is resized below
            with Image.open(path) as image:
                if max_side:
                    image.draft(None, (max_side, max_side))  # JPEG: decode at a reduced scale, never below max_side
                rgb = _pil_to_rgb(ImageOps.exif_transpose(image))
    except UnidentifiedImageError:
        raise KerasvizError(
            f"cannot read image {path!r}: not an image file; readable formats include {READABLE_FORMATS}"
        ) from None
    except Image.DecompressionBombError as err:
        raise KerasvizError(f"cannot read image {path!r}: too many pixels to decode safely ({err})") from None
    except (OSError, SyntaxError, EOFError) as err:  # what Pillow raises for truncated and corrupt files
        raise KerasvizError(f"cannot read image {path!r}: the file is truncated or corrupt ({err})") from None
    except ValueError as err:  # a mode Pillow cannot convert to RGB
        raise KerasvizError(f"cannot read image {path!r}: unsupported picture ({err})") from None
    if max_side and max(rgb.size) > max_side:
        height, width = fit_shape((rgb.height, rgb.width), max_side)
        rgb = rgb.resize((width, height), Image.Resampling.LANCZOS, reducing_gap=3.0)
    return np.asarray(rgb, np.uint8).copy()


READABLE_FORMATS = "PNG, JPEG, GIF, BMP, TIFF, WebP"
_SIXTEEN_BIT = ("I;16", "I;16B", "I;16L", "I;16N", "I")  # "I": 32-bit integers, as 16-bit PNG and TIFF load


def _pil_to_rgb(image):
    """A loaded Pillow image of any mode -> 8-bit RGB, with alpha composited over white."""
    from PIL import Image

    if image.mode in _SIXTEEN_BIT or image.mode == "F":
        values = np.asarray(image, np.float64)
        scale = 255.0 / 65535.0 if image.mode in _SIXTEEN_BIT else 1.0
        image = Image.fromarray(np.clip(np.round(values * scale), 0, 255).astype(np.uint8), "L")
    if image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image.convert("RGB")


def single(image, what: str = "the image") -> np.ndarray:
    """One image given as (H, W, 3) or a batch of one, as float32 RGB 0-255 (H, W, 3); a larger batch is an error."""
    batch, _ = as_batch(image)
    if batch.shape[0] != 1:
        raise KerasvizError(f"{what} must be one image (H, W, 3); got a batch of {batch.shape[0]}")
    return batch[0]


def fit_shape(shape: tuple[int, int], side: int) -> tuple[int, int]:
    """(H, W) scaled, aspect kept, so that the longer side is `side` pixels (each at least 1)."""
    scale = side / max(shape)
    return max(1, round(shape[0] * scale)), max(1, round(shape[1] * scale))


def resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(H, W, C) float -> `size` (H', W') float32: area averaging to shrink, bicubic to enlarge.

    On TensorFlow, tf.image.resize ("area", or "bicubic" with antialias: Keys' cubic, a = -0.5). On JAX
    and PyTorch, without TensorFlow: OpenCV's INTER_AREA to shrink (the same numbers) and the same
    bicubic in numpy to enlarge (equal to TensorFlow's within 0.01 grey levels).
    """
    from kerasviz import backend

    method = "area" if size[0] < image.shape[0] else "bicubic"
    image = np.asarray(image, np.float32)
    if backend.NAME == "tensorflow":
        import tensorflow as tf

        return tf.image.resize(image[None], size, method=method, antialias=True)[0].numpy()
    if method == "bicubic":
        rows, cols = _cubic_weights(int(size[0]), image.shape[0]), _cubic_weights(int(size[1]), image.shape[1])
        # Two matrix products (rows, then columns): a three-operand einsum sums the product naively, 13 s for
        # one picture made 200 x 300 against 4 ms
        tall = np.tensordot(rows, image, axes=(1, 0))  # (H', W, C)
        return np.ascontiguousarray(np.tensordot(cols, tall, axes=(1, 1)).transpose(1, 0, 2), np.float32)
    return _area_resize(image, size)


def _cubic_weights(out: int, size: int) -> np.ndarray:
    """(out, size) float32 weights of Keys' cubic (a = -0.5) at half-pixel centres; taps outside the image
    are dropped and the rest renormalised, as in TensorFlow's scale_and_translate."""
    x = (np.arange(out) + 0.5) * (size / out) - 0.5
    taps = np.floor(x)[:, None] + np.arange(-1, 3)[None, :]
    t = np.abs(x[:, None] - taps)
    w = np.where(t <= 1, (1.5 * t - 2.5) * t * t + 1, np.where(t < 2, ((-0.5 * t + 2.5) * t - 4) * t + 2, 0.0))
    w = np.where((taps >= 0) & (taps < size), w, 0.0)
    w /= w.sum(axis=1, keepdims=True)
    weights = np.zeros((out, size))
    np.add.at(weights, (np.repeat(np.arange(out), 4), np.clip(taps, 0, size - 1).astype(int).ravel()), w.ravel())
    return weights.astype(np.float32)


def _area_resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Area averaging by OpenCV, which takes at most 512 channels and gives (H, W) for one channel."""
    import cv2

    channels = [cv2.resize(image[..., i:i + 512], (int(size[1]), int(size[0])), interpolation=cv2.INTER_AREA)
                for i in range(0, image.shape[-1], 512)]
    channels = [c[..., None] if c.ndim == 2 else c for c in channels]
    return np.concatenate(channels, axis=-1).astype(np.float32)


def to_uint8(images) -> np.ndarray:
    """Float images in 0-1 -> uint8 0-255 (rounded, clipped)."""
    return np.clip(np.round(np.asarray(images, np.float32) * 255.0), 0, 255).astype(np.uint8)


def round_pixels(images) -> np.ndarray:
    """Float images in 0-255 -> uint8 (rounded to the nearest level, clipped), in the images' own precision."""
    return np.clip(np.round(images), 0, 255).astype(np.uint8)


def grid(images: np.ndarray, *, cols: int | None = None, pad: int = 2, background: int = 255) -> np.ndarray:
    """Tiles uint8 `(N, H, W, 3)` images into one `(rows*(H+pad)-pad, ..., 3)` image, row-major."""
    images = np.asarray(images)
    n, h, w = images.shape[:3]
    cols = cols or math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    out = np.full((rows * (h + pad) - pad, cols * (w + pad) - pad, images.shape[-1]), background, images.dtype)
    for i, image in enumerate(images):
        r, c = divmod(i, cols)
        out[r * (h + pad) : r * (h + pad) + h, c * (w + pad) : c * (w + pad) + w] = image
    return out


def labelled_row(images, labels, *, pad: int = 2, background: int = 255) -> np.ndarray:
    """uint8 (H, W, 3) images (the same height) side by side, each with its label written below it."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default()
    text_h = 14
    height = max(int(np.shape(image)[0]) for image in images)
    panels = []
    for image, label in zip(images, labels, strict=True):
        image = np.asarray(image, np.uint8)
        panel = np.full((height + text_h, image.shape[1], 3), background, np.uint8)
        panel[: image.shape[0]] = image
        canvas = Image.fromarray(panel)
        draw = ImageDraw.Draw(canvas)
        text = str(label)
        while len(text) > 1 and draw.textlength(text, font=font) > image.shape[1] - 2:
            text = text[:-1]  # cut to the panel's width
        draw.text((max(1, (image.shape[1] - draw.textlength(text, font=font)) / 2), height + 1), text,
                  fill=(0, 0, 0), font=font)
        panels.append(np.asarray(canvas))
    gap = np.full((height + text_h, pad, 3), background, np.uint8)
    row = [panels[0]]
    for panel in panels[1:]:
        row += [gap, panel]
    return np.concatenate(row, axis=1)

def normalize_map(saliency_map: np.ndarray, *, percentile: float = 99.5) -> np.ndarray:
    """A float map -> 0-1, clipped at a high percentile so one hot pixel does not rule the scale."""
    m = np.nan_to_num(np.asarray(saliency_map, np.float32))
    m = m - m.min()
    top = np.percentile(m, percentile)
    return np.clip(m / top, 0.0, 1.0) if top > 0 else np.zeros_like(m)


def colormap(values: np.ndarray) -> np.ndarray:
    """0-1 values (H, W) -> uint8 (H, W, 3) in a perceptual dark-purple-to-yellow ramp."""
    # Eight anchors sampled along an inferno-like ramp (dark purple, red, orange, pale yellow).
    anchors = np.array(
        [[0, 0, 4], [40, 11, 84], [101, 21, 110], [159, 42, 99],
         [212, 72, 66], [245, 125, 21], [250, 193, 39], [252, 255, 164]],
        np.float32,
    )
    x = np.clip(np.asarray(values, np.float32), 0, 1) * (len(anchors) - 1)
    lo = np.floor(x).astype(int).clip(0, len(anchors) - 2)
    t = (x - lo)[..., None]
    return np.round(anchors[lo] * (1 - t) + anchors[lo + 1] * t).astype(np.uint8)


def overlay(image: np.ndarray, saliency_map: np.ndarray, *, alpha: float = 0.55) -> np.ndarray:
    """A heat map of `saliency_map` (H, W) blended over uint8 `image` (H, W, 3)."""
    heat = colormap(normalize_map(saliency_map)).astype(np.float32)
    weight = alpha * normalize_map(saliency_map)[..., None] ** 0.5
    return np.round(image.astype(np.float32) * (1 - weight) + heat * weight).astype(np.uint8)


def check_writable(out: str) -> None:
    """Raises KerasvizError unless `out` is (or can be made) a writable folder."""
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as err:
        raise KerasvizError(f"cannot create output folder {out!r}: {err.strerror}") from None
    if not os.access(out, os.W_OK):
        raise KerasvizError(f"output folder {out!r} is not writable")


@contextlib.contextmanager
def atomic_path(path: str) -> Iterator[str]:
    """Yields a temporary name beside `path`, renamed onto `path` only when the block succeeds."""
    folder = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=os.path.splitext(path)[1], dir=folder)
    except OSError as err:
        raise KerasvizError(f"cannot write to {folder!r}: {err.strerror}") from None
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, _new_file_mode())  # mkstemp's 0600 would make a shared gallery unreadable to others
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _new_file_mode() -> int:
    """The mode the user's umask gives any new file (0o644 under the usual umask 022)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def write_png(path: str, image: np.ndarray) -> None:
    """Writes a uint8 (H, W, 3) or (H, W) image as PNG, atomically."""
    import imageio.v3 as iio

    with atomic_path(path) as tmp:
        iio.imwrite(tmp, np.asarray(image, np.uint8), extension=".png")


def write_json(path: str, facts: dict) -> None:
    """Writes `facts` as indented JSON, atomically."""
    with atomic_path(path) as tmp, open(tmp, "w") as f:
        json.dump(facts, f, indent=2, default=_jsonable)
        f.write("\n")


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
