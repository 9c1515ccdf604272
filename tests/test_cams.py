"""The CAM family and RISE (kerasviz.attribution.cams): each map against its formula computed here on hand-set
or random models, token layers of a small ViT, synthetic scenes, seeds, options and batching."""

import os
import sys

import keras
import numpy as np
import pytest

from kerasviz import models
from kerasviz.attribution import saliency
from kerasviz.attribution.registry import REGISTRY
from kerasviz.attribution.targets import Scoring
from kerasviz.attribution.tokens import token_grid
from kerasviz.errors import KerasvizError
from tests.helpers import bilinear

sys.path.insert(0, os.path.dirname(__file__))
import scenes  # noqa: E402
from test_saliency import COUNTS_CALLS, CountCalls, images, pointing_hits, small_cnn, trained  # noqa: E402, F401
from vit import build_vit  # noqa: E402

CAMS = ("gradcam_plus_plus", "scorecam", "layercam", "eigencam", "hirescam")
relu = lambda x: np.maximum(x, 0)


def attribute(method: str, model: keras.Model, x: np.ndarray, target, **options) -> np.ndarray:
    """The method's maps at the layer's resolution (before saliency() resizes them)."""
    scoring = Scoring(model, target, models.preprocess_fn(model), None, chunk=64)
    return REGISTRY[method].attribute(scoring, **options)(x)


def linear_head(shape: tuple, weights: np.ndarray, *, pooled: bool = False) -> keras.Model:
    """score = sum(W * A) (or W . mean_ab A, `pooled`) where A, the layer "features", is the 0-255 image itself."""
    inputs = keras.Input(shape)
    x = keras.layers.Activation("linear", name="features")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x) if pooled else keras.layers.Flatten()(x)
    dense = keras.layers.Dense(1, name="head")
    model = keras.Model(inputs, dense(x))
    dense.set_weights([weights.reshape(-1, 1).astype(np.float32), np.zeros(1, np.float32)])
    return model


# --- the gradient CAMs against their formulas -------------------------------------------------


@pytest.fixture(scope="module")
def flat_head():
    """A linear head on the image: the gradient of the score with respect to A is W, which varies in sign."""
    w = np.random.default_rng(1).normal(size=(4, 5, 3))
    return linear_head((4, 5, 3), w), w, images(2, (4, 5), seed=1).astype(np.float64)


def test_hirescam_and_layercam_on_a_linear_head(flat_head):
    model, w, a = flat_head
    hires = saliency(model, a, 0, method="hirescam", layer="features")
    np.testing.assert_allclose(hires, relu((w * a).sum(-1)), rtol=1e-5, atol=1e-3)  # Draelos & Carin 2020
    layer = saliency(model, a, 0, method="layercam", layer="features")
    np.testing.assert_allclose(layer, relu((relu(w) * a).sum(-1)), rtol=1e-5, atol=1e-3)  # Jiang et al. 2021, eq. 6
    assert hires.max() > 0 and not np.allclose(hires, layer, rtol=0.05)


def test_gradcam_plus_plus_on_a_linear_head(flat_head):
    """Chattopadhay et al. 2018, eq. 19 with Y = exp(S): dY/dA = Y g, d2Y/dA2 = Y g^2, d3Y/dA3 = Y g^3 with g = W."""
    model, g, a = flat_head
    alpha = g**2 / (2 * g**2 + a.sum(axis=(1, 2), keepdims=True) * g**3)
    weights = (alpha * relu(g)).sum(axis=(1, 2))  # (N, 3)
    expected = relu(np.einsum("nc,nhwc->nhw", weights, a))
    maps = saliency(model, a, 0, method="gradcam_plus_plus", layer="features")
    np.testing.assert_allclose(maps, expected, rtol=1e-4, atol=1e-6 * expected.max())
    assert expected.max() > 0


def test_gradcam_plus_plus_is_gradcam_where_one_positive_map_drives_a_linear_head():
    """With one channel feeding a pooled linear head, both weight only that channel: the maps agree up to scale.
    With two channels they do not: Grad-CAM++ weighs channel k by h w c_k / (2 + c_k sum A_k), c_k = w_k / (h w)."""
    x = images(3, (5, 6), seed=2)
    one = linear_head((5, 6, 3), np.array([0.7, 0.0, 0.0]), pooled=True)
    plus, grad = (saliency(one, x, 0, method=m, layer="features") for m in ("gradcam_plus_plus", "gradcam"))
    for maps in (plus, grad):
        np.testing.assert_allclose(maps / maps.max((1, 2), keepdims=True), x[..., 0] / x[..., 0].max((1, 2))[:, None,
                                   None], rtol=1e-5)  # fmt: skip
    w = np.array([0.7, 0.2, 0.0])
    two = linear_head((5, 6, 3), w, pooled=True)
    c = w / 30
    weights = 30 * c / (2 + c * x.sum(axis=(1, 2)))  # (N, 3)
    expected = relu(np.einsum("nc,nhwc->nhw", weights, x))
    np.testing.assert_allclose(saliency(two, x, 0, method="gradcam_plus_plus", layer="features"), expected, rtol=1e-4)
    gradcam = saliency(two, x, 0, method="gradcam", layer="features")
    assert not np.allclose(gradcam / gradcam.max(), expected / expected.max(), rtol=0.02)


def tape_grads(model: keras.Model, layer: str, x: np.ndarray, target: int) -> tuple[np.ndarray, np.ndarray]:
    """A and d score / dA for `layer`, computed here with tf.GradientTape."""
    import tensorflow as tf

    net = keras.Model(model.inputs, [model.get_layer(layer).output, model.outputs[0]])
    with tf.GradientTape() as tape:
        features, out = net(tf.constant(x, tf.float32))
        score = out[:, target]
    return features.numpy().astype(np.float64), tape.gradient(score, features).numpy().astype(np.float64)


@pytest.mark.tensorflow_only  # the expected maps come from tf.GradientTape
def test_hirescam_of_a_random_cnn_is_relu_of_gradient_times_activation():
    keras.utils.set_random_seed(3)
    inputs = keras.Input((6, 6, 3))
    x = keras.layers.Conv2D(5, 3, padding="same", activation="relu", name="features")(inputs / 255.0)
    x = keras.layers.Conv2D(4, 1, activation="tanh")(x)
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(x)))
    x = images(3, (6, 6), seed=3)
    a, g = tape_grads(model, "features", x, 1)
    expected = relu((g * a).sum(-1))
    hires, layer = (saliency(model, x, 1, method=m, layer="features") for m in ("hirescam", "layercam"))
    np.testing.assert_allclose(hires, expected, rtol=1e-4, atol=1e-6 * expected.max())
    np.testing.assert_allclose(layer, relu((relu(g) * a).sum(-1)), rtol=1e-4, atol=1e-6 * expected.max())


def test_hirescam_is_gradcam_where_a_pooled_linear_head_follows_the_layer():
    """Draelos & Carin 2020, §3: with global average pooling then a linear layer the gradient is the same at every
    position, so HiRes-CAM and Grad-CAM coincide (small_cnn: c2 -> ReLU -> GAP -> Dense); a ReLU after the layer
    makes them differ where it is off, so compare on the pooled head's own input."""
    model, x = small_cnn(4), images(3, seed=4)
    np.testing.assert_allclose(saliency(model, x, 2, method="hirescam", layer="r2"),
                               saliency(model, x, 2, method="gradcam", layer="r2"), rtol=1e-4, atol=1e-7)  # fmt: skip


# --- Eigen-CAM ----------------------------------------------------------------------------------


@pytest.mark.parametrize("direction", [[1.0, 0.5, 0.2], [-1.0, 0.3, -0.4]])
def test_eigencam_is_the_first_principal_component(direction):
    """A = 100 + t d + noise at every position: the first PC is d, the map t - mean(t) times |d|, signed to follow
    the mean activation (which rises with t when sum(d) > 0 and falls when sum(d) < 0)."""
    rng = np.random.default_rng(5)
    t = rng.normal(size=(2, 6, 7))
    a = 100 + t[..., None] * 20 * np.array(direction) + rng.normal(scale=0.5, size=(2, 6, 7, 3))
    model = linear_head((6, 7, 3), np.ones(3), pooled=True)
    maps = saliency(model, a, 0, method="eigencam", layer="features")
    for m, activation in zip(maps, a, strict=True):
        vectors = activation.reshape(-1, 3)
        centred = vectors - vectors.mean(0)
        pc = np.linalg.svd(centred, full_matrices=False)[2][0]
        expected = (centred @ pc).reshape(6, 7)
        expected *= np.sign(np.corrcoef(expected.ravel(), vectors.mean(1))[0, 1])
        np.testing.assert_allclose(m, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())
    follows = [np.corrcoef(m.ravel(), tt.ravel())[0, 1] for m, tt in zip(maps, t, strict=True)]
    assert np.all(np.array(follows) * np.sign(sum(direction)) > 0.99), follows


# --- tokens: a vision transformer's (N, T, C) layers -------------------------------------------


@pytest.mark.parametrize(
    ("shape", "size", "grid"),
    [
        ((None, 17, 32), (32, 32), (1, 4, 4)),  # ViT: class token + 4 x 4 patches of 8 px
        ((None, 197, 768), (224, 224), (1, 14, 14)),  # ViT-B/16
        ((None, 198, 384), (224, 224), (2, 14, 14)),  # DeiT: class and distillation tokens
        ((None, 140, 8), (224, 160), (0, 14, 10)),  # no class token, a portrait input
        ((None, 16, 8), (30, 30), (0, 4, 4)),  # 8 px patches, padded: ceil(30 / 8) = 4
        ((None, 4, 8), (8, 9), (0, 2, 2)),  # 2 x 2 patches, or 2 tokens and 1 x 2: the fewest leading tokens win
    ],
)
def test_token_grid(shape, size, grid):
    assert token_grid(shape[1], size) == grid


def test_tokens_that_fit_no_grid_are_a_one_line_error():
    for shape, size in (((None, 7, 8), (32, 320)), ((None, 197, 8), (224, 160))):
        message = r"tokens, which is no grid of square patches of its \d+ x \d+ input"
        with pytest.raises(KerasvizError, match=message) as error:
            token_grid(shape[1], size)
        assert "\n" not in str(error.value)


@pytest.mark.tensorflow_only  # the expected maps come from tf.GradientTape
@pytest.mark.parametrize("class_token", [True, False])
def test_gradient_cams_on_vit_tokens(class_token):
    """On a non-square ViT (4 x 6 patches), the maps are those of the patch tokens laid out row by row, with the
    class token dropped; computed here with tf.GradientTape on the last block's attention input."""
    model = build_vit((32, 48), patch=8, dim=16, depth=2, heads=2, class_token=class_token, seed=6)
    x = images(2, (32, 48), seed=6)
    a, g = tape_grads(model, "block1_norm1", x, 2)
    k = int(class_token)
    grid = lambda v: v[:, k:].reshape(2, 4, 6, -1)
    expected = {"hirescam": relu((grid(g) * grid(a)).sum(-1)), "layercam": relu((relu(grid(g)) * grid(a)).sum(-1)),
                "gradcam": relu((grid(g).mean((1, 2), keepdims=True) * grid(a)).sum(-1))}
    for method, want in expected.items():
        assert want.max() > 0
        got = attribute(method, model, x, 2, layer="block1_norm1")
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5 * want.max(), err_msg=method)
    for method in (*CAMS, "gradcam"):
        assert saliency(model, x, 2, method=method, layer="block1_norm1").shape == (2, 32, 48), method


# --- the masking methods on synthetic scenes ---------------------------------------------------


def colour_detector() -> keras.Model:
    """Two channels at half resolution, one per colour (red, green) on 2 x 2 patches, global max pooling, and a
    logit for "red is in the scene": green raises no score."""
    inputs = keras.Input((32, 32, 3))
    conv = keras.layers.Conv2D(2, 2, strides=2, activation="relu", name="detect")
    x = conv(inputs)
    kernel = np.zeros((2, 2, 3, 2), np.float32)
    kernel[..., 0] = np.array([1.0, -1.0, -1.0]) / (4 * 255)  # red
    kernel[..., 1] = np.array([-1.0, 1.0, -1.0]) / (4 * 255)  # green
    conv.set_weights([kernel, np.zeros(2, np.float32)])
    head = keras.layers.Dense(1)
    model = keras.Model(inputs, head(keras.layers.GlobalMaxPooling2D()(x)))
    head.set_weights([np.array([[4.0], [0.0]], np.float32), np.zeros(1, np.float32)])
    return model


def red_and_green_scenes(count: int, seed: int = 7):
    """Dark noise, a dim red square (the object) and a bright green one (a distractor whose channel answers more
    strongly than the object's) at opposite corners, on the detector's 2-pixel grid; the object's boxes."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 30, (count, 32, 32, 3)).astype(np.float32)
    boxes = []
    for i in range(count):
        (y0, x0), (y1, x1) = rng.integers(0, 5, 2) * 2, rng.integers(11, 13, 2) * 2  # 8-pixel squares, apart
        if rng.uniform() < 0.5:
            (y0, x0), (y1, x1) = (y1, x1), (y0, x0)
        x[i, y0 : y0 + 8, x0 : x0 + 8] = (150, 0, 0)
        x[i, y1 : y1 + 8, x1 : x1 + 8] = (0, 250, 0)
        boxes.append((y0, x0, y0 + 8, x0 + 8))
    return x, np.array(boxes)


def test_scorecam_weights_the_channel_that_keeps_the_score():
    """Only the red channel's mask keeps the score; uniform channel weights would point at the green square."""
    model = colour_detector()
    x, boxes = red_and_green_scenes(12)
    maps = saliency(model, x, 0, method="scorecam")
    assert pointing_hits(maps, boxes).all()
    activations = keras.ops.convert_to_numpy(keras.Model(model.inputs[0], model.get_layer("detect").output)(x))
    assert not pointing_hits(np.kron(activations.sum(-1), np.ones((2, 2))), boxes).any()  # the control


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def channel_masks(a: np.ndarray) -> list[np.ndarray]:
    """Score-CAM's masks, computed here: each channel of `a` upsampled bilinearly to 32 x 32 and scaled to 0-1."""
    masks = []
    for k in range(a.shape[-1]):
        mask = bilinear(a[..., k : k + 1], (32, 32))
        masks.append((mask - mask.min((1, 2, 3), keepdims=True)) / np.ptp(mask, axis=(1, 2, 3), keepdims=True))
    return masks


def test_scorecam_is_its_formula():
    """Wang et al. 2020, computed here: each channel of "detect" upsampled bilinearly to the image, scaled to 0-1,
    multiplied into the image; the scores of those copies, softmax over channels, weight the channels."""
    model = colour_detector()
    x, _ = red_and_green_scenes(3, seed=8)
    a = keras.ops.convert_to_numpy(keras.Model(model.inputs[0], model.get_layer("detect").output)(x)).astype(np.float64)
    scores = [keras.ops.convert_to_numpy(model(x * mask))[:, 0] for mask in channel_masks(a)]
    weights = np.exp(np.array(scores).T)
    weights /= weights.sum(1, keepdims=True)
    expected = relu(np.einsum("nhwc,nc->nhw", a, weights))
    np.testing.assert_allclose(attribute("scorecam", model, x, 0), expected, rtol=1e-4, atol=1e-6)
    assert expected.max() > 0


def test_scorecam_weighted_by_class_probabilities_is_the_authors_formula():
    """weighting="classes" (Wang et al.'s code, tf-keras-vis): each channel weighted by the class's softmax
    probability on its masked copy, computed here on a two-logit detector (red, green)."""
    model = colour_detector()
    two = keras.Model(model.inputs, keras.layers.Dense(2, name="two")(model.layers[-2].output))
    two.get_layer("two").set_weights([np.array([[4.0, 0.0], [0.0, 4.0]], np.float32), np.zeros(2, np.float32)])
    x, _ = red_and_green_scenes(3, seed=8)
    a = keras.ops.convert_to_numpy(keras.Model(two.inputs[0], two.get_layer("detect").output)(x)).astype(np.float64)
    weights = [softmax(keras.ops.convert_to_numpy(two(x * mask)).astype(np.float64))[:, 1] for mask in channel_masks(a)]
    expected = relu(np.einsum("nhwc,nc->nhw", a, np.array(weights).T))
    got = attribute("scorecam", two, x, 1, weighting="classes")
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)
    assert not np.allclose(got, attribute("scorecam", two, x, 1), rtol=1e-2)  # the other reading differs here
    with pytest.raises(KerasvizError, match="weighting='classes' needs a class target"):
        saliency(two, x, "detect", method="scorecam", weighting="classes")


@pytest.fixture(scope="module")
def held_out():
    return scenes.make_scenes(20, seed=99, positive_fraction=1.0)


def test_rise_points_at_the_plus_sign(trained, held_out):  # noqa: F811
    maps = saliency(trained, held_out.images, 1, method="rise", masks=400)
    rate = pointing_hits(maps, held_out.boxes).mean()
    assert rate >= 0.9, f"RISE's maximum is on the object in {rate:.0%} of scenes"


def test_rise_same_seed_same_bytes():
    model, x = small_cnn(8), images(2, seed=8)
    one, again = (saliency(model, x, 0, method="rise", masks=64, seed=1) for _ in range(2))
    assert one.tobytes() == again.tobytes()
    other = saliency(model, x, 0, method="rise", masks=64, seed=2)
    assert not np.allclose(one, other, rtol=1e-3)
    assert not np.allclose(one, saliency(model, x, 0, method="rise", masks=64, seed=1, cells=3), rtol=1e-3)


def test_rise_of_a_linear_model_follows_its_weights():
    """For score = sum(W * I), Petsiuk et al.'s eq. 6 in expectation is W * I summed over colours, blurred by the
    masks' correlation (a few pixels with 4 cells on 16): on a grey image and a smooth W the map follows W, and
    more closely with more masks."""
    yy, xx = np.mgrid[:16, :16] * (2 * np.pi / 16)
    w = (np.sin(yy) * np.cos(xx))[..., None] * np.array([1.0, 0.5, -0.2])
    model, x = linear_head((16, 16, 3), w), np.full((1, 16, 16, 3), 128.0)
    truth = (w * x).sum(-1).ravel()
    rho = [np.corrcoef(saliency(model, x, 0, method="rise", masks=m, cells=4)[0].ravel(), truth)[0, 1]
           for m in (20, 1000)]  # fmt: skip
    assert rho[1] > 0.85 and rho[1] > rho[0] + 0.05, rho  # measured 0.76 and 0.93


# --- options and batching ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "options", "message"),
    [
        ("gradcam_plus_plus", {"masks": 10}, "masks= applies to rise, not to method='gradcam_plus_plus'"),
        ("scorecam", {"probability": 0.3}, "probability= applies to rise, not to method='scorecam'"),
        ("vanilla", {"cells": 3}, "cells= applies to rise, not to method='vanilla'"),
        ("eigencam", {"seed": 1}, "seed= applies to smoothgrad, rise .* not to method='eigencam'"),
        (
            "rise",
            {"layer": "c1"},
            "layer= applies to gradcam, activation, gradcam_plus_plus, scorecam, layercam, "
            "eigencam, hirescam, not to method='rise'",
        ),
        ("hirescam", {"smooth": True}, "smooth=True applies to .* not to method='hirescam'"),
        ("rise", {"probability": 0.0}, r"probability of saliency method 'rise' must be in \(0, 1\]"),
        ("rise", {"probability": 1.5}, "probability of saliency method 'rise' must be in 0.0..1.0; got 1.5"),
        ("rise", {"masks": 0}, "masks must be a positive integer; got 0"),
        ("rise", {"cells": 2.5}, "cells must be a positive integer"),
        ("layercam", {"layer": "head"}, r"a CAM needs a layer with a \(N, H, W, C\) or \(N, T, C\) output; 'head'"),
    ],
)
def test_an_option_that_does_not_apply_is_an_error(method, options, message):
    with pytest.raises(KerasvizError, match=message):
        saliency(small_cnn(0), images(1), 0, method=method, **options)


def counting_cnn(channels: int = 16) -> tuple[keras.Model, CountCalls]:
    counter = CountCalls()
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(channels, 3, activation="relu", name="conv")(counter(inputs))
    return keras.Model(inputs, keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(x))), counter


@pytest.mark.parametrize(
    ("method", "options", "images_seen", "calls"),
    [
        ("scorecam", {}, 3 + 3 * 16, 1 + 1),  # the features, then the 48 masked copies in one call
        ("scorecam", {"batch_size": 10}, 3 + 3 * 16, 1 + 5),
        ("rise", {"masks": 40}, 3 * 40, 1),
        ("rise", {"masks": 40, "batch_size": 32}, 3 * 40, 4),
    ],
)
@COUNTS_CALLS
def test_masked_copies_go_through_the_model_in_batches(method, options, images_seen, calls):
    """As PAIR saliency's tests count calls: far fewer model calls than channels or masks."""
    model, counter = counting_cnn()
    saliency(model, images(3, (8, 8)), 1, method=method, **options)
    assert int(keras.ops.convert_to_numpy(counter.images)) == images_seen
    assert int(keras.ops.convert_to_numpy(counter.calls)) == calls
