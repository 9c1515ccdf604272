"""Image parameterisations: how optimised variables become images.

A Parameterization is a pair of pure functions: `init(seeds (B, 2)) -> variable value` and
`to_image(value) -> (B, H, W, 3)` float RGB in 0-1, in keras.ops (backend.irfft2 and the per-image draws
are the backend's). The render loop carries the value, so one compiled step serves every batch of the same
shape.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable

import numpy as np
from keras import ops

from kerasviz import backend

Tensor = object  # a tensor of the Keras backend

# Square root of the colour correlation of ImageNet pixels (lucid, optvis/param/color.py):
# decorrelated colour makes Fourier-space ascent follow natural-image statistics.
_COLOR_CORRELATION_SVD_SQRT = np.array(
    [[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]], np.float32
)
COLOR_CORRELATION = _COLOR_CORRELATION_SVD_SQRT / np.max(np.linalg.norm(_COLOR_CORRELATION_SVD_SQRT, axis=0))


def color_correlation(chroma_power: float = 1.0) -> np.ndarray:
    """(3, 3): decorrelated channels (rows of the result's transpose) -> RGB.

    The columns are ImageNet's colour axes (luminance, then two chroma axes); their lengths are the
    axes' spread relative to luminance raised to `chroma_power`: 1 gives photos' own colour statistics
    (lucid), 0 lets chroma move as freely as luminance, 0.5 halfway on a log scale.
    """
    norms = np.linalg.norm(_COLOR_CORRELATION_SVD_SQRT, axis=0)
    return (_COLOR_CORRELATION_SVD_SQRT / norms * (norms / norms.max()) ** chroma_power).astype(np.float32)


@dataclasses.dataclass(frozen=True)
class Parameterization:
    """Variables <-> images: `init(seeds)` gives the variable's first value, `to_image` the picture."""

    shape: tuple[int, ...]
    init: Callable[[Tensor], Tensor]
    to_image: Callable[[Tensor], Tensor]
    # resize(value, size, power): the value of the same picture at `size` pixels, band-limited;
    # power 1 maps the value, -1 a gradient or Adam's first moment, -2 its second moment. None where
    # not possible.
    resize: Callable[[Tensor, int, int], Tensor] | None = None


def pixel(batch: int, size: int, *, mean: float = 0.5, noise: float = 20 / 255) -> Parameterization:
    """Plain pixels in 0-1: grey plus uniform noise (Chollet 2016: 128 + 20 * U(0, 1) of 255)."""

    def init(seeds):
        return backend.stateless_uniform(seeds, (size, size, 3), mean - noise / 2, mean + noise / 2)

    return Parameterization((batch, size, size, 3), init, lambda value: value)


def _spectrum_scale(size: int, decay_power: float, receptive_field: int | None = None) -> np.ndarray:
    """1/f amplitude scaling of an rfft2d spectrum (lucid, optvis/param/spatial.py).

    With a `receptive_field` (pixels), frequencies below one cycle per receptive field share the
    scale of that frequency instead of growing further, and the whole scale is then set so that
    the picture's pixel variance per unit of spectrum is what the plain 1/f scale gives. A unit sees
    no structure coarser than its receptive field, so those frequencies would only spend the
    picture's contrast on slow colour washes, drowning the fine patterns a small unit needs.
    """
    fy = np.fft.fftfreq(size)[:, None]
    fx = np.fft.rfftfreq(size)[None, :]
    freqs = np.sqrt(fx * fx + fy * fy)
    plain = 1.0 / np.maximum(freqs, 1.0 / size) ** decay_power
    if receptive_field is None or receptive_field >= size:
        scale = plain
    else:
        scale = 1.0 / np.maximum(freqs, 1.0 / max(receptive_field, 2)) ** decay_power
        scale *= np.sqrt(np.sum(plain**2) / np.sum(scale**2))
    return (scale * size).astype(np.float32)  # size = sqrt(h * w): keeps pixel variance near 1


def fourier(
    batch: int,
    size: int,
    *,
    decay_power: float = 1.0,
    sd: float = 0.01,
    decorrelate: bool = True,
    chroma_power: float = 1.0,
    receptive_field: int | None = None,
) -> Parameterization:
    """A 1/f-scaled Fourier spectrum in a decorrelated colour space, squashed by a sigmoid.

    Mordvintsev et al. 2018 ("Differentiable Image Parameterizations"): steepest ascent in
    this space favours natural-image statistics over high-frequency noise. `receptive_field`
    flattens the scale below one cycle per receptive field (see _spectrum_scale); `chroma_power`
    sets how freely colour moves against brightness (see color_correlation).
    """
    scale = ops.convert_to_tensor(_spectrum_scale(size, decay_power, receptive_field))  # (H, W//2+1)
    correlation = color_correlation(chroma_power).T if decorrelate else np.eye(3, dtype=np.float32)
    correlation = ops.convert_to_tensor(correlation)
    shape = (batch, 3, size, size // 2 + 1, 2)

    def init(seeds):
        return backend.stateless_normal(seeds, shape[1:], sd)

    def to_image(value):
        image = backend.irfft2(value[..., 0], value[..., 1], size, scale)  # (B, 3, H, W)
        image = ops.transpose(image, [0, 2, 3, 1]) / 4.0  # lucid's magic 4: start in sigmoid's linear range
        image = ops.einsum("bhwc,cd->bhwd", image, correlation)
        return ops.sigmoid(image)

    def resize(value, to_size, power=1):
        return _resize_spectrum(value, size, to_size, decay_power, power, receptive_field)

    return Parameterization(shape, init, to_image, resize)


def _resize_spectrum(
    value: Tensor, size: int, to_size: int, decay_power: float, power: int, receptive_field: int | None = None
) -> Tensor:
    """(B, 3, s, s//2+1, 2) spectrum of `fourier` at `size` -> the same picture's at `to_size` >= size.

    Each frequency keeps its coefficient (rescaled for the two sizes' 1/f scaling and irfft's 1/(h w);
    the small size's Nyquist column, counted once by irfft, is halved as it becomes an ordinary column
    counted twice), new higher frequencies start at 0: the larger picture is the band-limited
    interpolation of the smaller. A value scales by the factor f (power 1); gradients, and so Adam's
    moments, by 1/f (power -1) and 1/f^2 (power -2).
    """
    if to_size < size:
        raise ValueError(f"can only enlarge a spectrum: {size} -> {to_size}")
    positive = (size + 1) // 2  # rows 0..positive-1 are frequencies 0.., the rest negative ones
    rows = np.concatenate([np.arange(positive), np.arange(positive, size) - size + to_size])
    cols = np.arange(size // 2 + 1)
    low = _spectrum_scale(size, decay_power, receptive_field)
    high = _spectrum_scale(to_size, decay_power, receptive_field)
    factor = (to_size / size) ** 2 * low / high[rows][:, cols]  # keeps irfft2d(coefficient * scale) / (h w)
    if size % 2 == 0 and to_size > size:
        factor[:, size // 2] *= 0.5
    value = value * ops.cast((factor**power)[None, None, :, :, None], value.dtype)
    # rows 0..positive-1 stay, the negative frequencies move to the end, the new rows between start at 0
    batch, channels = value.shape[:2]
    new_rows = ops.zeros((batch, channels, to_size - size, size // 2 + 1, 2), value.dtype)
    moved = ops.concatenate([value[:, :, :positive], new_rows, value[:, :, positive:]], axis=2)
    return ops.pad(moved, [[0, 0], [0, 0], [0, 0], [0, to_size // 2 - size // 2], [0, 0]])


def magnitude_constrained(batch: int, size: int) -> Parameterization:
    """Fourier phase only, the magnitude fixed to photos' mean spectrum, in decorrelated colour.

    MaCo (Fel et al. 2023, "Unlocking Feature Visualization for Deeper Networks with MAgnitude
    Constrained Optimization"): every picture keeps a natural image's amplitude spectrum, so ascent
    can only move where things are, not how much of each frequency there is. The magnitude is
    measured from scikit-image's photos (natural_spectrum); the phase starts uniform at random.
    """
    magnitude = ops.convert_to_tensor(natural_spectrum(size))  # (3, H, W//2+1)
    correlation = ops.convert_to_tensor(COLOR_CORRELATION.T)
    shape = (batch, 3, size, size // 2 + 1)

    def init(seeds):
        return backend.stateless_uniform(seeds, shape[1:], -np.pi, np.pi)

    def to_image(phase):
        image = backend.irfft2(magnitude * ops.cos(phase), magnitude * ops.sin(phase), size)  # (B, 3, H, W)
        image = ops.einsum("bchw,cd->bhwd", image, correlation)  # zero mean
        return ops.sigmoid(4.0 * image)  # slope 1 at grey: the photos' contrast, softly bounded

    return Parameterization(shape, init, to_image)


@functools.cache
def natural_spectrum(size: int) -> np.ndarray:
    """float32 (3, size, size//2+1): the mean rfft2 amplitude of photos at `size` x `size` pixels
    (0-1 scale, mean removed) in the decorrelated colour space, averaged over rings of equal frequency.

    The photos are scikit-image's (chelsea, astronaut, coffee, rocket), centre-cropped square.
    Averaging over rings keeps the spectrum's fall-off and drops each photo's own orientations and
    the cross that its non-periodic borders add.
    """
    from skimage import data
    from skimage.transform import resize

    to_decorrelated = np.linalg.inv(COLOR_CORRELATION.T)
    amplitude = np.zeros((3, size, size // 2 + 1))
    names = ("chelsea", "astronaut", "coffee", "rocket")
    for name in names:
        photo = getattr(data, name)().astype(np.float64) / 255.0
        h, w = photo.shape[:2]
        side = min(h, w)
        photo = photo[(h - side) // 2:(h + side) // 2, (w - side) // 2:(w + side) // 2]
        photo = resize(photo, (size, size), anti_aliasing=True) @ to_decorrelated
        photo = photo - photo.mean(axis=(0, 1))
        amplitude += np.abs(np.fft.rfft2(np.moveaxis(photo, -1, 0)))
    amplitude /= len(names)
    fy = np.fft.fftfreq(size)[:, None] * size
    fx = np.fft.rfftfreq(size)[None, :] * size
    ring = np.round(np.sqrt(fx * fx + fy * fy)).astype(int)
    counts = np.bincount(ring.ravel())
    for channel in amplitude:
        means = np.bincount(ring.ravel(), channel.ravel()) / np.maximum(counts, 1)
        channel[:] = means[ring]
    amplitude[:, 0, 0] = 0.0  # no mean: the picture is centred on grey
    return amplitude.astype(np.float32)
