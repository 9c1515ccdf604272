"""Filter pictures, class pictures and fooling images on whichever Keras backend pytest runs under
(KERAS_BACKEND=tensorflow|jax|torch): the same public API, tiny models with random weights, a few steps."""

import keras
import numpy as np
import pytest

import kerasviz
from kerasviz import backend
from kerasviz.errors import KerasvizError
from kerasviz.optvis import render
from kerasviz.synthesis import adversarial, classes
from tests.helpers import tiny_cnn

SIZE = 24
FILTERS = [0, 1, 3]


@pytest.fixture(scope="module")
def cnn():
    return tiny_cnn(seed=0)


def random_classifier(seed: int = 0, classes: int = 3) -> keras.Model:
    """Conv, pooling and a softmax Dense of `classes` on 0-255 RGB of any size; random weights."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((None, None, 3))
    x = keras.layers.Rescaling(1 / 127.5, offset=-1.0)(inputs)
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="random_classifier")


def channel_means(model: keras.Model, layer: str, images: np.ndarray, filters) -> np.ndarray:
    """Each image's filter's mean activation, read with a plain Keras feature model."""
    features = keras.Model(model.input, model.get_layer(layer).output)
    acts = keras.ops.convert_to_numpy(features(np.asarray(images, np.float32)))
    return np.array([acts[i, ..., f].mean() for i, f in enumerate(filters)])


@pytest.mark.parametrize("method", ["fft", "maco", "classic"])
def test_filter_pictures_raise_their_objective(cnn, method):
    short, _ = kerasviz.visualize_filters(cnn, "conv2", FILTERS, size=SIZE, steps=1, method=method)
    long, scores = kerasviz.visualize_filters(cnn, "conv2", FILTERS, size=SIZE, steps=24, method=method)
    assert long.shape == (len(FILTERS), SIZE, SIZE, 3) and long.dtype == np.uint8
    before = channel_means(cnn, "conv2", short, FILTERS)  # after its ReLU: a silent unit must come alive
    after = channel_means(cnn, "conv2", long, FILTERS)
    assert np.all(after > before), (method, before, after)
    np.testing.assert_allclose(scores, after, rtol=1e-3, atol=1e-4)  # the returned objective is what the model says


@pytest.mark.parametrize(("method", "precision"), [("fft_progressive", "float32"), ("fft_roll", "auto"),
                                                   ("fft", "bfloat16"), ("classic", "bfloat16")])
def test_every_method_and_precision_gives_pictures(cnn, method, precision):
    images, scores = kerasviz.visualize_filters(cnn, "conv3", [2], size=SIZE, steps=2, method=method,
                                                precision=precision)
    assert images.shape == (1, SIZE, SIZE, 3) and images.dtype == np.uint8 and np.isfinite(scores).all()
    assert images.std() > 0


def test_same_seed_same_bytes(cnn):
    first, _ = kerasviz.visualize_filters(cnn, "conv2", [0, 5], size=SIZE, steps=3, seed=7)
    again, _ = kerasviz.visualize_filters(cnn, "conv2", [0, 5], size=SIZE, steps=3, seed=7)
    other, _ = kerasviz.visualize_filters(cnn, "conv2", [0, 5], size=SIZE, steps=3, seed=8)
    assert first.tobytes() == again.tobytes()
    assert first.tobytes() != other.tobytes()


def test_a_filter_picture_does_not_depend_on_its_batch(cnn):
    alone, _ = kerasviz.visualize_filters(cnn, "conv2", [5], size=SIZE, steps=3, method="classic")
    batched, _ = kerasviz.visualize_filters(cnn, "conv2", [0, 5], size=SIZE, steps=3, method="classic")
    np.testing.assert_allclose(alone[0].astype(float), batched[1].astype(float), atol=1)


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_a_kept_renderer_draws_with_the_weights_of_the_moment(precision):
    """Weights set between two calls: the second picture is the new weights' (a fresh model's, byte for byte),
    drawn by the kept renderer (no new trace). On JAX the weights go in as arguments, not trace constants; in
    bfloat16 the renderer's reduced-precision copy takes them."""
    model, other = tiny_cnn(seed=0), tiny_cnn(seed=1)
    settings = {"size": SIZE, "steps": 3, "precision": precision}
    kerasviz.visualize_filters(model, "conv2", [0, 1], **settings)
    traces = render.traces(model)
    model.set_weights(other.get_weights())
    again, _ = kerasviz.visualize_filters(model, "conv2", [0, 1], **settings)
    expected, _ = kerasviz.visualize_filters(other, "conv2", [0, 1], **settings)
    assert render.traces(model) == traces
    assert again.tobytes() == expected.tobytes()


def test_class_pictures_raise_their_logit():
    model = random_classifier()
    chosen = [0, 2]
    _, short = classes.visualize_classes(model, chosen, size=SIZE, steps=1)
    images, long = classes.visualize_classes(model, chosen, size=SIZE, steps=24)
    assert images.shape == (2, SIZE, SIZE, 3) and long.shape == (2, 3)
    assert all(long[i, c] > short[i, c] for i, c in enumerate(chosen)), (short, long)


def test_fooling_flips_a_tiny_classifier():
    model = random_classifier(seed=1)
    image = np.random.default_rng(0).integers(0, 256, (SIZE, SIZE, 3)).astype(np.uint8)
    logits = keras.ops.convert_to_numpy(model(image[None].astype(np.float32)))[0]
    target = int(np.argsort(logits)[-2])  # the runner-up: a random network's logits move little
    result = adversarial.fool(model, image, target, epsilon=64, step=2, max_steps=100)
    assert result.before.cls != target
    assert result.flipped and result.after.cls == target
    assert 0 < result.linf <= 64
    fgsm = adversarial.fool(model, image, target, method="fgsm", epsilon=64)
    assert fgsm.linf <= 64 and fgsm.steps >= 1


@pytest.mark.skipif(backend.NAME == "tensorflow", reason="tf.distribute is TensorFlow's")
def test_a_strategy_off_tensorflow_is_one_clear_error(cnn):
    with pytest.raises(KerasvizError, match="TensorFlow only"):
        kerasviz.visualize_filters(cnn, "conv2", [0], size=SIZE, steps=1, strategy=object())
