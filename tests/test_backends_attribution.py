"""Saliency maps and metrics on whichever Keras backend runs the tests (TensorFlow, JAX or PyTorch).

Only keras and NumPy: tiny models with hand-set weights, and properties known from the mathematics (the map of
a linear model is |w|, integrated gradients are complete, Grad-CAM and HiRes-CAM are their formulas).
"""

import keras
import numpy as np

import kerasviz
from kerasviz import backend, metrics, models

IDENTITY = lambda x: x  # noqa: E731  (the models take 0-255 RGB as they are)
RNG = np.random.default_rng(0)


def _images(count: int, size: int) -> np.ndarray:
    return RNG.uniform(0, 255, (count, size, size, 3)).astype(np.float32)


def _linear(size: int = 4, classes: int = 2):
    """A linear classifier on the flattened image, and its weights (H, W, 3, classes)."""
    inputs = keras.Input((size, size, 3))
    dense = keras.layers.Dense(classes, name="dense")
    model = keras.Model(inputs, dense(keras.layers.Flatten()(inputs)))
    weights = RNG.normal(size=(size, size, 3, classes)).astype(np.float32)
    dense.set_weights([weights.reshape(-1, classes), RNG.normal(size=classes).astype(np.float32)])
    return model, weights


def test_vanilla_map_of_a_linear_model_is_abs_w():
    model, weights = _linear()
    maps = kerasviz.saliency(model, _images(2, 4), 1, method="vanilla", preprocess=IDENTITY)
    expected = np.abs(weights[..., 1]).max(axis=-1)
    np.testing.assert_allclose(maps, np.broadcast_to(expected, maps.shape), rtol=1e-5)


def test_maps_follow_the_models_weights():
    model, _ = _linear()
    images = _images(1, 4)
    kerasviz.saliency(model, images, 1, method="vanilla", preprocess=IDENTITY)  # a step kept would be stale
    model.get_layer("dense").set_weights([np.full((48, 2), 7.0, np.float32), np.zeros(2, np.float32)])
    np.testing.assert_allclose(kerasviz.saliency(model, images, 1, method="vanilla", preprocess=IDENTITY), 7.0)


def test_a_kept_step_is_reused_and_reads_the_weights_of_the_moment():
    """The second map reuses the first's compiled step (no new trace, on every backend), and that step reads the
    weights set in between: on JAX they go in as arguments, not as constants of the trace."""
    model, _ = _linear()
    images = _images(1, 4)
    kerasviz.saliency(model, images, 1, method="vanilla", preprocess=IDENTITY)
    steps = models.model_cache(model, "saliency_steps")
    traces = {key: backend.trace_count(step) for key, step in steps.items()}
    assert traces, "the step was not kept beside the model"
    model.get_layer("dense").set_weights([np.full((48, 2), -3.0, np.float32), np.zeros(2, np.float32)])
    np.testing.assert_allclose(kerasviz.saliency(model, images, 1, method="vanilla", preprocess=IDENTITY), 3.0)
    assert {key: backend.trace_count(step) for key, step in steps.items()} == traces


def test_guided_backprop_passes_only_positive_gradients():
    inputs = keras.Input((2, 2, 3))
    hidden = keras.layers.Dense(5, activation="relu", name="hidden")
    out = keras.layers.Dense(1, name="out")
    model = keras.Model(inputs, out(hidden(keras.layers.Flatten()(inputs))))
    w1, w2 = RNG.normal(size=(12, 5)).astype(np.float32), RNG.normal(size=(5, 1)).astype(np.float32)
    hidden.set_weights([w1, np.zeros(5, np.float32)])
    out.set_weights([w2, np.zeros(1, np.float32)])
    image = _images(1, 2)
    guided = kerasviz.saliency(model, image, 0, method="guided_backprop", preprocess=IDENTITY)
    active = (image.reshape(1, -1) @ w1 > 0)[0] & (w2[:, 0] > 0)  # ReLU open, and its gradient positive
    expected = np.abs((w1 * (w2[:, 0] * active)).sum(axis=1).reshape(2, 2, 3)).max(axis=-1)
    np.testing.assert_allclose(guided[0], expected, rtol=1e-4, atol=1e-6)


def test_integrated_gradients_are_complete():
    keras.utils.set_random_seed(1)
    inputs = keras.Input((6, 6, 3))
    x = keras.layers.Conv2D(4, 3, activation="tanh")(keras.layers.Rescaling(1 / 255)(inputs))
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(x)))
    images = _images(2, 6)
    maps = kerasviz.saliency(model, images, 0, method="integrated_gradients", steps=64, preprocess=IDENTITY)
    scores = keras.ops.convert_to_numpy(model(images))[:, 0]
    baseline = keras.ops.convert_to_numpy(model(np.zeros_like(images)))[:, 0]
    np.testing.assert_allclose(maps.sum(axis=(1, 2)), scores - baseline, rtol=1e-2, atol=1e-3)


def _cam_model(size: int = 5, channels: int = 3):
    """A 1x1 convolution 'conv' (A = x Wc + bc), flattened into a dense class layer (score = A . Wd[:, t])."""
    inputs = keras.Input((size, size, 3))
    conv = keras.layers.Conv2D(channels, 1, name="conv")
    dense = keras.layers.Dense(2, name="dense")
    model = keras.Model(inputs, dense(keras.layers.Flatten()(conv(inputs))))
    wc, bc = RNG.normal(size=(1, 1, 3, channels)).astype(np.float32), RNG.normal(size=channels).astype(np.float32)
    wd = RNG.normal(size=(size * size * channels, 2)).astype(np.float32)
    conv.set_weights([wc, bc])
    dense.set_weights([wd, np.zeros(2, np.float32)])
    return model, wc[0, 0], bc, wd.reshape(size, size, channels, 2)


def test_gradcam_and_hirescam_are_their_formulas():
    model, wc, bc, wd = _cam_model()
    images = _images(2, 5) / 255
    features = images @ wc + bc  # (N, 5, 5, C)
    grads = wd[..., 1]  # d score / d A, the same for every image
    gradcam = kerasviz.saliency(model, images, 1, method="gradcam", layer="conv", preprocess=IDENTITY)
    hirescam = kerasviz.saliency(model, images, 1, method="hirescam", layer="conv", preprocess=IDENTITY)
    np.testing.assert_allclose(gradcam, np.maximum((grads.mean(axis=(0, 1)) * features).sum(-1), 0), rtol=1e-4,
                               atol=1e-5)  # fmt: skip
    np.testing.assert_allclose(hirescam, np.maximum((grads * features).sum(-1), 0), rtol=1e-4, atol=1e-5)


def test_rise_same_seed_same_bytes():
    model, _ = _linear(8)
    images = _images(1, 8)
    first, again, other = (kerasviz.saliency(model, images, 0, method="rise", masks=16, seed=seed, preprocess=IDENTITY)
                           for seed in (3, 3, 4))  # fmt: skip
    assert first.tobytes() == again.tobytes()
    assert first.tobytes() != other.tobytes()


def test_rollout_of_uniform_attention_is_uniform():
    inputs = keras.Input((8, 8, 3))
    tokens = keras.layers.Reshape((4, 6))(keras.layers.Conv2D(6, 4, strides=4)(inputs))
    attention = keras.layers.MultiHeadAttention(2, 3, name="attention")
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.GlobalAveragePooling1D()(attention(tokens, tokens))))
    for variable in attention.weights:
        if "query" in variable.path or "key" in variable.path:  # equal scores: every token attends to all alike
            variable.assign(np.zeros(variable.shape, variable.dtype))
    maps = kerasviz.saliency(model, _images(2, 8), 0, method="rollout", preprocess=IDENTITY)
    np.testing.assert_allclose(maps, 0.25, rtol=1e-5)  # 2 x 2 patches


def test_deletion_of_the_exact_map_beats_a_random_map():
    model, weights = _linear(8, classes=1)
    images = _images(2, 8)
    exact = (images * weights[..., 0]).sum(axis=-1)  # each pixel's share of the score
    random = RNG.uniform(size=exact.shape).astype(np.float32)
    ours = metrics.deletion(model, images, exact, 0, preprocess=IDENTITY, steps=16)
    theirs = metrics.deletion(model, images, random, 0, preprocess=IDENTITY, steps=16)
    assert np.all(ours < theirs), (ours, theirs)
