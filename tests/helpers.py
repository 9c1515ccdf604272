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
        pre = np.asarray(conv2.convolution_op(probe(noisy_grey), conv2.kernel))[..., dead_filter]
        bias[dead_filter] = -pre.max() - 0.05
        conv2.set_weights([kernel, bias])
    return model


def activation_of(model, layer: str, images: np.ndarray, filters) -> np.ndarray:
    """Mean activation of each image's filter, images uint8/float 0-255 (N, H, W, 3)."""
    features = keras.Model(model.input, model.get_layer(layer).output)
    acts = np.asarray(features(np.asarray(images, np.float32)))
    return np.array([acts[i, ..., f].mean() for i, f in enumerate(filters)])
