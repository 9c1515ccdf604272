"""Tiny models for fast tests."""

import keras
import numpy as np


def tiny_cnn(seed: int = 0, *, dead_filter: int | None = None) -> keras.Model:
    """A 3-conv model taking 0-255 RGB of any size.

    `dead_filter` of conv2 gets the bias that makes it silent (ReLU at zero) everywhere on grey
    and near-grey inputs, but not on every image: what a "dead" unit is at the start of ascent.
    """
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((None, None, 3))
    x = keras.layers.Rescaling(1 / 127.5, offset=-1.0)(inputs)
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv1")(x)
    x = keras.layers.MaxPooling2D(name="pool1")(x)
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv2")(x)
    x = keras.layers.Conv2D(4, 3, padding="same", name="conv3")(x)
    x = keras.layers.Activation("relu", name="relu3")(x)
    model = keras.Model(inputs, x, name="tiny")
    if dead_filter is not None:
        conv2 = model.get_layer("conv2")
        kernel, bias = conv2.get_weights()
        probe = keras.Model(model.input, conv2.input)
        noisy_grey = 128 + np.random.default_rng(seed).uniform(-20, 20, (8, 32, 32, 3)).astype(np.float32)
        pre = keras.ops.convert_to_numpy(conv2.convolution_op(probe(noisy_grey), conv2.kernel))[..., dead_filter]
        bias[dead_filter] = -pre.max() - 0.05
        conv2.set_weights([kernel, bias])
    return model


def to_unit(x):
    """0-255 RGB -> [-1, 1]: the `preprocess` of the models from `relu_convs`."""
    return x / 127.5 - 1.0


def relu_convs(seed: int = 0, widths=(8, 8, 8), pool_after=(1,)) -> keras.Model:
    """ReLU 3x3 convolutions c1, c2, ... of `widths` filters, max pooling p<i> after the i-th of `pool_after`;
    random weights, any input size."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((None, None, 3))
    x = inputs
    for i, width in enumerate(widths, 1):
        x = keras.layers.Conv2D(width, 3, padding="same", activation="relu", name=f"c{i}")(x)
        if i in pool_after:
            x = keras.layers.MaxPooling2D(name=f"p{i}")(x)
    return keras.Model(inputs, x)


def activation_of(model, layer: str, images: np.ndarray, filters) -> np.ndarray:
    """Mean activation of each image's filter, images uint8/float 0-255 (N, H, W, 3)."""
    features = keras.Model(model.input, model.get_layer(layer).output)
    acts = keras.ops.convert_to_numpy(features(np.asarray(images, np.float32)))
    return np.array([acts[i, ..., f].mean() for i, f in enumerate(filters)])


def stripes(kind: int, n: int, size: int = 24, seed: int = 0) -> np.ndarray:
    """n synthetic float32 0-255 images (n, size, size, 3) of one kind: 0 horizontal stripes,
    1 vertical stripes, 2 a smooth colour blob; period, phase and colours at random."""
    rng = np.random.default_rng(seed + 1000 * kind)
    yy, xx = np.mgrid[:size, :size].astype(np.float32)
    images = []
    for _ in range(n):
        period, phase = rng.uniform(4, 8), rng.uniform(0, 2 * np.pi)
        a = rng.uniform(0, 255, 3)
        b = 255 - a  # contrast enough to tell stripes apart
        if kind == 2:
            cy, cx, r = *rng.uniform(6, size - 6, 2), rng.uniform(4, 9)
            t = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r))
        else:
            t = 0.5 + 0.5 * np.sin(2 * np.pi * (yy if kind == 0 else xx) / period + phase)
        images.append(a * t[..., None] + b * (1 - t[..., None]))
    return np.clip(np.stack(images) + rng.normal(0, 4, (n, size, size, 3)), 0, 255).astype(np.float32)


def tiny_classifier(seed: int = 0, size: int = 24) -> keras.Model:
    """A 3-class classifier of `stripes` kinds (0 horizontal, 1 vertical, 2 blob), trained in seconds.

    Fixed input size and a softmax output on purpose: class pictures and fooling must take both off.
    """
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((size, size, 3))
    x = keras.layers.Rescaling(1 / 127.5, offset=-1.0)(inputs)
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv1")(x)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv2")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(3, activation="softmax", name="probs")(x)
    model = keras.Model(inputs, outputs, name="stripes")
    images = np.concatenate([stripes(k, 64, size, seed) for k in range(3)])
    labels = np.repeat(np.arange(3), 64)
    model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(images, labels, batch_size=32, epochs=15, shuffle=True, verbose=0)
    return model


def layer_outputs(model, layers, image, preprocess=None) -> list[np.ndarray]:
    """float64 (h, w, c) outputs of `layers` on one 0-255 image (H, W, 3), read with Keras alone: the tests' own
    yardstick, independent of kerasviz's feature code. A name is a layer of `model`, or "base/inner" for a layer
    of a nested base that takes the model's input as it is."""
    x = np.asarray(image, np.float32)[None]
    x = preprocess(x) if preprocess is not None else x
    outputs = []
    for name in layers:
        outer, _, inner = name.rpartition("/")
        host = model.get_layer(outer) if outer else model
        probe = keras.Model(host.inputs, host.get_layer(inner).output)
        outputs.append(keras.ops.convert_to_numpy(probe(x)).astype(np.float64)[0])
    return outputs


def gram_matrix(features: np.ndarray) -> np.ndarray:
    """(h, w, c) -> (c, c): F^T F / (h w), in numpy."""
    flat = features.reshape(-1, features.shape[-1])
    return flat.T @ flat / flat.shape[0]


def gram_distances(model, layers, image, target, preprocess=None) -> np.ndarray:
    """Per layer, the mean squared difference between the Gram matrices of `image` and `target` (each at its
    own size), computed with numpy."""
    ours = layer_outputs(model, layers, image, preprocess)
    theirs = layer_outputs(model, layers, target, preprocess)
    return np.array([np.mean((gram_matrix(a) - gram_matrix(b)) ** 2) for a, b in zip(ours, theirs)])


def bilinear(a: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(N, h, w, C) -> (N, H, W, C) by bilinear interpolation at half-pixel centres, edges held, without
    antialiasing: tf.image.resize's "bilinear" and jax.image.resize's "linear" when enlarging, written out here."""

    def taps(n: int, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        pos = (np.arange(m) + 0.5) * n / m - 0.5
        low = np.floor(pos)
        return np.clip(low, 0, n - 1).astype(int), np.clip(low + 1, 0, n - 1).astype(int), pos - low

    lo, hi, t = taps(a.shape[1], size[0])
    a = a[:, lo] * (1 - t)[None, :, None, None] + a[:, hi] * t[None, :, None, None]
    lo, hi, t = taps(a.shape[2], size[1])
    return a[:, :, lo] * (1 - t)[None, None, :, None] + a[:, :, hi] * t[None, None, :, None]


def input_gradient(loss_of, x: np.ndarray) -> np.ndarray:
    """d loss_of(x) / dx for a scalar loss of one float32 array, by the running Keras backend's own autodiff
    called here (tf.GradientTape, jax.grad, torch.autograd), not through kerasviz.backend."""
    name = keras.backend.backend()
    if name == "jax":
        import jax

        return np.asarray(jax.grad(loss_of)(jax.numpy.asarray(x)))
    if name == "torch":
        import torch

        t = torch.tensor(x, requires_grad=True)
        loss_of(t).backward()
        return t.grad.numpy()
    import tensorflow as tf

    t = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(t)
        loss = loss_of(t)
    return tape.gradient(loss, t).numpy()
