"""Robust activation: how strongly a filter responds to a saved picture, under small changes of view.

Feeds the saved uint8 PNG (not the internal tensor) through the model with its preprocessing,
under 8 random views (rescale 0.8-1.25, shift up to 16 px, reflected borders), and averages the
filter's mean activation. It rewards pictures the filter truly responds to, not pixel noise.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf

from kerasviz import models

VIEWS = 8
SCALES = (0.8, 1.25)
SHIFT = 16


def robust_activation(model, layer: str, images: np.ndarray, filters, *, seed: int = 1234) -> np.ndarray:
    """float32 (N,): mean over VIEWS views of each image's own filter's mean activation."""
    preprocess = models.preprocess_fn(model)
    features = tf.keras.Model(model.input, models.get_layer(model, layer).output)
    rng = np.random.default_rng(seed)
    images = tf.constant(np.asarray(images), tf.float32)
    size = images.shape[1]
    filters = tf.constant(np.asarray(filters), tf.int32)
    total = np.zeros(len(filters), np.float64)
    for _ in range(VIEWS):
        scale = math.exp(rng.uniform(math.log(SCALES[0]), math.log(SCALES[1])))
        side = max(32, round(size * scale))
        view = tf.image.resize(images, (side, side), method="bilinear")
        dx, dy = rng.integers(-SHIFT, SHIFT + 1, size=2)
        matrix = tf.constant([[1, 0, -float(dx), 0, 1, -float(dy), 0, 0]], tf.float32)
        view = tf.raw_ops.ImageProjectiveTransformV3(
            images=view, transforms=tf.tile(matrix, [len(filters), 1]), output_shape=[side, side],
            fill_value=0.0, interpolation="BILINEAR", fill_mode="REFLECT",
        )
        acts = tf.cast(features(preprocess(view)), tf.float32)
        chosen = tf.gather(acts, filters, axis=-1, batch_dims=1)
        total += tf.reduce_mean(chosen, axis=(1, 2)).numpy()
    return (total / VIEWS).astype(np.float32)


def spread_filters(channels: int, count: int) -> list[int]:
    """`count` filter indices spread evenly over 0..channels-1, first and last included."""
    return sorted(set(np.linspace(0, channels - 1, min(count, channels)).round().astype(int).tolist()))


# -- naturalness, frames and specificity ---------------------------------------------------------
HALF_NYQUIST = 0.25  # cycles per pixel: half of the 0.5 that a pixel grid can show
RING = 0.06  # the outer ring (and the band inside it) as a share of the picture's side


def high_frequency_share(images: np.ndarray) -> np.ndarray:
    """float (N,): share of each picture's grey-level spectral power above half the Nyquist frequency.

    Mean removed, no window. scikit-image's photos at 128 px score 0.02-0.03, white noise about 0.8
    (the share of the frequency square outside the radius-0.25 disc).
    """
    grey = np.asarray(images, np.float64).mean(axis=-1)
    grey = grey - grey.mean(axis=(1, 2), keepdims=True)
    power = np.abs(np.fft.fft2(grey)) ** 2
    fy = np.fft.fftfreq(grey.shape[1])[:, None]
    fx = np.fft.fftfreq(grey.shape[2])[None, :]
    high = np.sqrt(fx * fx + fy * fy) > HALF_NYQUIST
    return power[:, high].sum(axis=1) / np.maximum(power.sum(axis=(1, 2)), 1e-12)


def frame_scores(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean_difference, std_ratio), float (N,) each: how much the outer ring of each picture differs
    from the band just inside it.

    The ring is the outer RING share of the side, the band the next RING share inwards. The mean
    difference is the distance between their mean colours (RGB) in units of the picture's std; the std
    ratio is the ring's std over the band's (each about its own mean colour). A picture without a frame
    scores near 0 and 1.
    """
    images = np.asarray(images, np.float64)
    n, h, w, _ = images.shape
    k = max(1, round(RING * min(h, w)))
    ring = np.ones((h, w), bool)
    ring[k:h - k, k:w - k] = False
    band = np.zeros((h, w), bool)
    band[k:h - k, k:w - k] = True
    band[2 * k:h - 2 * k, 2 * k:w - 2 * k] = False
    std = images.reshape(n, -1).std(axis=1) + 1e-6
    ring_px, band_px = images[:, ring], images[:, band]  # (N, P, 3)
    difference = np.linalg.norm(ring_px.mean(axis=1) - band_px.mean(axis=1), axis=-1) / std
    spread = lambda px: np.sqrt(((px - px.mean(axis=1, keepdims=True)) ** 2).mean(axis=(1, 2)))  # noqa: E731
    return difference, spread(ring_px) / (spread(band_px) + 1e-6)


def reference_photos(size: int) -> np.ndarray:
    """uint8 (4, size, size, 3): scikit-image's photos, centre-cropped square and resized."""
    from skimage import data

    photos = []
    for name in ("chelsea", "astronaut", "coffee", "rocket"):
        photo = getattr(data, name)()
        h, w = photo.shape[:2]
        side = min(h, w)
        crop = photo[(h - side) // 2:(h + side) // 2, (w - side) // 2:(w + side) // 2]
        photos.append(tf.image.resize(crop, (size, size), antialias=True).numpy())
    return np.clip(np.round(np.stack(photos)), 0, 255).astype(np.uint8)


def specificity_rank(model, layer: str, images: np.ndarray, filters, *, photos: np.ndarray | None = None) -> np.ndarray:
    """int (N,): rank of each picture's own unit among all units of `layer` by their response to the
    picture, each unit's response divided by its mean response on reference photos (0: the picture
    excites its own unit more, relative to photos, than any other unit). The photo means are floored
    (photo_means), so a unit photos leave silent is not divided by zero.
    """
    images = np.asarray(images)
    photos = reference_photos(images.shape[1]) if photos is None else photos
    relative = _mean_responses(model, layer, images) / photo_means(model, layer, photos)  # (N, C)
    own = relative[np.arange(len(images)), np.asarray(filters)]
    return (relative > own[:, None]).sum(axis=1)


def _mean_responses(model, layer: str, images: np.ndarray) -> np.ndarray:
    """float32 (N, C): each unit's spatial mean response of `layer` to each uint8 image."""
    features = keras.Model(model.input, models.get_layer(model, layer).output)
    outputs = features(models.preprocess_fn(model)(keras.ops.convert_to_tensor(images, "float32")))
    return keras.ops.convert_to_numpy(keras.ops.mean(keras.ops.cast(outputs, "float32"), axis=(1, 2)))


def photo_means(model, layer: str, photos: np.ndarray) -> np.ndarray:
    """float32 (C,): each unit's mean response on `photos`, at least a tenth of the layer's median (a
    unit photos leave silent would otherwise outrank every other unit on any faint response)."""
    on_photos = _mean_responses(model, layer, photos).mean(axis=0)
    return np.maximum(on_photos, 0.1 * max(float(np.median(on_photos)), 1e-6)).astype(np.float32)


# -- the baseline every method is measured against ------------------------------------------------
BASELINE_STEPS = 30
BASELINE_STEP = 10.0 / 255.0  # each step adds this times g / RMS(g), on the 0-1 scale
BASELINE_NOISE = 0.125  # uniform noise around grey 0.5
BASELINE_STD = 0.15  # contrast of the saved picture around 0.5


def baseline(model, layer: str, filters: list[int], size: int, seed: int = 0) -> np.ndarray:
    """The baseline: pixel-space ascent from grey 0.5 plus uniform noise +-BASELINE_NOISE, BASELINE_STEPS
    steps each adding BASELINE_STEP * g / RMS(g), contrast-normalised to BASELINE_STD around 0.5:
    uint8 (N, size, size, 3)."""
    preprocess = models.preprocess_fn(model)
    features = tf.keras.Model(model.input, models.get_layer(model, layer).output)
    index = tf.constant(filters, tf.int32)

    @tf.function
    def step(image):
        with tf.GradientTape() as tape:
            tape.watch(image)
            acts = tf.cast(features(preprocess(image * 255.0)), tf.float32)
            loss = tf.reduce_sum(tf.reduce_mean(tf.gather(acts, index, axis=-1, batch_dims=1), axis=(1, 2)))
        grad = tape.gradient(loss, image)
        rms = tf.sqrt(tf.reduce_mean(tf.square(grad), axis=(1, 2, 3), keepdims=True))
        return image + BASELINE_STEP * grad / (rms + 1e-12)

    rng = np.random.default_rng(seed)
    image = tf.constant(0.5 + rng.uniform(-BASELINE_NOISE, BASELINE_NOISE, (len(filters), size, size, 3)), tf.float32)
    for _ in range(BASELINE_STEPS):
        image = step(image)
    image = image.numpy()
    image = image - image.mean(axis=(1, 2, 3), keepdims=True)
    image = image / (image.std(axis=(1, 2, 3), keepdims=True) + 1e-8) * BASELINE_STD + 0.5
    return np.clip(np.round(image * 255), 0, 255).astype(np.uint8)
