"""Synthetic scenes with a known object, and small networks that learn to find it in seconds.

A sanity set for saliency maps: every scene says where its object is (a box and a pixel mask), so a map can
be scored against the truth (the pointing game: is the map's maximum on the object?), and a model trained on
them is one whose evidence is known. The tests, benchmarks/deletion_insertion.py, benchmarks/cam_scenes.py
and the README's transformer picture use them.

A scene is dark noise with a few bright shapes of random colours: squares and bars (distractors) and, in a
fraction of the scenes, one plus sign (the object). Bars are the plus' arms, so a network has to find the
crossing, not a colour or a stroke. The same seed gives the same arrays.

    scenes = make_scenes(32, seed=5, positive_fraction=1.0)   # images (N, 40, 40, 3) 0-255, boxes, masks
    cnn, accuracy = trained_cnn()                              # ~4k weights, accuracy on 400 held-out scenes
    vit, accuracy = trained_vit()                              # a small ViT (kerasviz.models.vit)
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np

from kerasviz.models.vit import build_vit

SIZE = 40  # scene side, pixels
PLUS = 13  # plus sign side; its arms are ARM pixels wide
ARM = 5
SQUARE = 9
DISTRACTORS = 3
TRAIN_SCENES = 1600
TEST_SCENES = 400
EPOCHS = 8
LEARNING_RATE = 3e-3
# trained_vit: 5-pixel patches (an 8 x 8 grid; a plus sign spans about 3 x 3 patches), measured to reach
# well above chance in about a minute on two CPU cores; ViTs need more scenes and epochs than the CNN.
VIT = {"patch": 5, "dim": 32, "depth": 2, "heads": 2}
VIT_TRAIN_SCENES = 3200
VIT_EPOCHS = 12
VIT_LEARNING_RATE = 1e-3


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


def train(model: keras.Model, seed: int = 0, *, scenes: int = TRAIN_SCENES, epochs: int = EPOCHS,
          learning_rate: float = LEARNING_RATE) -> float:
    """Trains `model` (0-255 RGB in, 2 logits out) in place to say whether a scene holds a plus sign, on
    `scenes` scenes of seed `seed + 1` (Adam, batches of 32); returns its accuracy on TEST_SCENES held-out
    scenes (seed `seed + 2`)."""
    train_set = make_scenes(scenes, seed=seed + 1)
    test = make_scenes(TEST_SCENES, seed=seed + 2)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(train_set.images, train_set.labels, batch_size=32, epochs=epochs, verbose=0)
    return float(np.mean(np.argmax(model.predict(test.images, verbose=0), -1) == test.labels))


def trained_cnn(seed: int = 0, *, scenes: int = TRAIN_SCENES, epochs: int = EPOCHS) -> tuple[keras.Model, float]:
    """A tiny_cnn trained to say whether a scene holds a plus sign; returns it and its held-out accuracy."""
    model = tiny_cnn(seed)
    return model, train(model, seed, scenes=scenes, epochs=epochs)


def trained_vit(seed: int = 0, *, scenes: int = VIT_TRAIN_SCENES,
                epochs: int = VIT_EPOCHS) -> tuple[keras.Model, float]:
    """A small ViT (kerasviz.models.vit.build_vit with VIT's settings, a class token, 2 logits) trained as
    trained_cnn is; returns it and its held-out accuracy."""
    model = build_vit(SIZE, classes=2, seed=seed, **VIT)
    return model, train(model, seed, scenes=scenes, epochs=epochs, learning_rate=VIT_LEARNING_RATE)
