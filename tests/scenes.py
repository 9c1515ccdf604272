"""Synthetic scenes with a known object, and a tiny CNN trained on them in seconds.

Shared by tests/test_saliency.py (pointing game, GrabCut IoU, sanity checks) and
benchmarks/deletion_insertion.py. Not part of the installed package.

A scene is dark noise with a few bright shapes of random colours: squares and bars
(distractors) and, in half of the scenes, one plus sign (the object). Bars are the plus'
arms, so the network has to find the crossing, not a colour or a stroke.
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np

SIZE = 40  # scene side, pixels
PLUS = 13  # plus sign side; its arms are ARM pixels wide
ARM = 5
SQUARE = 9
DISTRACTORS = 3
TRAIN_SCENES = 1600
EPOCHS = 8


@dataclasses.dataclass
class Scenes:
    images: np.ndarray  # float32 (N, SIZE, SIZE, 3), 0-255
    labels: np.ndarray  # int (N,): 1 where a plus sign is in the scene
    masks: np.ndarray  # bool (N, SIZE, SIZE): the plus sign's pixels
    boxes: np.ndarray  # int (N, 4): y0, x0, y1, x1 (exclusive) of the plus sign, -1 without one


def _plus() -> np.ndarray:
    shape = np.zeros((PLUS, PLUS), bool)
    lo = (PLUS - ARM) // 2
    shape[lo : lo + ARM, :] = True
    shape[:, lo : lo + ARM] = True
    return shape


def _colour(rng: np.random.Generator) -> np.ndarray:
    colour = rng.uniform(60, 255, 3)
    colour[rng.integers(3)] = rng.uniform(180, 255)  # always one bright channel
    return colour


def make_scenes(count: int, seed: int = 0, *, positive_fraction: float = 0.5) -> Scenes:
    """`count` scenes; a fraction of them hold a plus sign, every one holds DISTRACTORS other shapes."""
    rng = np.random.default_rng(seed)
    images = rng.uniform(0, 40, (count, SIZE, SIZE, 3)).astype(np.float32)
    labels = (rng.uniform(size=count) < positive_fraction).astype(int)
    masks = np.zeros((count, SIZE, SIZE), bool)
    boxes = np.full((count, 4), -1, int)
    square = np.ones((SQUARE, SQUARE), bool)
    bar = np.zeros((PLUS, PLUS), bool)
    bar[(PLUS - ARM) // 2 : (PLUS - ARM) // 2 + ARM, :] = True
    for i in range(count):
        taken = np.zeros((SIZE, SIZE), bool)
        shapes = [_plus()] if labels[i] else []
        shapes += [
            square if rng.uniform() < 0.5 else (bar if rng.uniform() < 0.5 else bar.T) for _ in range(DISTRACTORS)
        ]
        for k, shape in enumerate(shapes):
            for _ in range(50):  # rejection sampling: shapes never touch
                y, x = rng.integers(0, SIZE - shape.shape[0] + 1, 2)
                window = taken[max(y - 2, 0) : y + shape.shape[0] + 2, max(x - 2, 0) : x + shape.shape[1] + 2]
                if not window.any():
                    break
            else:
                continue
            h, w = shape.shape
            images[i, y : y + h, x : x + w][shape] = _colour(rng)
            taken[y : y + h, x : x + w] |= shape
            if labels[i] and k == 0:
                masks[i, y : y + h, x : x + w] = shape
                boxes[i] = (y, x, y + h, x + w)
    return Scenes(images, labels, masks, boxes)


def tiny_cnn(seed: int = 0) -> keras.Model:
    """Conv-pool-conv-conv, global max pooling, 2 logits; about 4k weights. Input 0-255 RGB."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.Rescaling(1 / 255.0)(inputs)
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv1")(x)
    x = keras.layers.MaxPooling2D(2, name="pool1")(x)
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv2")(x)
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv3")(x)
    x = keras.layers.GlobalMaxPooling2D(name="gmp")(x)
    outputs = keras.layers.Dense(2, name="logits")(x)
    return keras.Model(inputs, outputs, name="scene_cnn")


def trained_cnn(seed: int = 0, *, scenes: int = TRAIN_SCENES, epochs: int = EPOCHS) -> tuple[keras.Model, float]:
    """A tiny_cnn trained to say whether a scene holds a plus sign; returns it and its held-out accuracy."""
    model = tiny_cnn(seed)
    train = make_scenes(scenes, seed=seed + 1)
    test = make_scenes(400, seed=seed + 2)
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(train.images, train.labels, batch_size=32, epochs=epochs, verbose=0)
    accuracy = float(np.mean(np.argmax(model.predict(test.images, verbose=0), -1) == test.labels))
    return model, accuracy
