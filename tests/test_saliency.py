"""kerasviz.saliency (package kerasviz.attribution): the maths on known models, sanity under randomisation,
truth on known scenes."""

import dataclasses
import os
import sys

import cv2
import keras
import numpy as np
import pytest
import scipy.stats

from kerasviz import models
from kerasviz.attribution import METHODS, SMOOTHABLE, options_for, randomized_copy, saliency
from kerasviz.attribution.methods import ATTRIBUTIONS, max_abs, noisy_copies
from kerasviz.attribution.registry import REGISTRY, Method, MethodOptions, register
from kerasviz.attribution.targets import Scoring
from kerasviz.attribution.transformers import ATTENTION_METHODS
from kerasviz.errors import KerasvizError
from kerasviz.models import conv_layers, model_info
from kerasviz.options import option
from kerasviz.segmentation import segment

sys.path.insert(0, os.path.dirname(__file__))
import scenes  # noqa: E402

GRADIENT_METHODS = ("vanilla", "smoothgrad", "integrated_gradients", "guided_backprop", "gradcam")
# Pointing game (Zhang et al. 2016): the share of held-out scenes where the maximum of the
# lightly smoothed map lands on the object.
POINTING = {"gradcam": 0.9, "integrated_gradients": 0.9, "guided_backprop": 0.9, "smoothgrad": 0.8, "vanilla": 0.5}
POINTING_SIGMA = 1.5  # pixels of Gaussian smoothing before the argmax
POINTING_TOLERANCE = 2  # pixels around the object's box (Zhang et al. use 15 px at 224 px)
SANITY_SPEARMAN = 0.3  # Adebayo et al. 2018: a map that survives randomisation explains nothing


# --- small models ----------------------------------------------------------------------------


def linear_model(seed: int = 0) -> tuple[keras.Model, np.ndarray]:
    """score = W^T vec(x) + b on 6x5x3 inputs; returns the model and W (6, 5, 3, 4)."""
    rng = np.random.default_rng(seed)
    w = rng.normal(size=(6 * 5 * 3, 4)).astype(np.float32)
    model = keras.Sequential([keras.Input((6, 5, 3)), keras.layers.Flatten(), keras.layers.Dense(4)])
    model.layers[-1].set_weights([w, rng.normal(size=4).astype(np.float32)])
    return model, w.reshape(6, 5, 3, 4)


def small_cnn(seed: int = 0, *, activation: str | None = None) -> keras.Model:
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((12, 12, 3))
    x = keras.layers.Rescaling(1 / 255.0)(inputs)
    x = keras.layers.Conv2D(6, 3, activation="relu", name="c1")(x)
    x = keras.layers.Conv2D(8, 3, name="c2")(x)
    x = keras.layers.ReLU(name="r2")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(3, activation=activation, name="head")(x)
    return keras.Model(inputs, outputs)


# jax.jit runs a layer's Python once per trace, and a variable cannot be assigned inside its trace
COUNTS_CALLS = pytest.mark.skipif(keras.backend.backend() == "jax", reason="CountCalls assigns a variable "
                                  "in the compiled step, which jax.jit cannot do")


class CountCalls(keras.layers.Layer):
    """Identity that counts how often the compiled graph runs it, and the images it saw."""

    def build(self, input_shape):
        self.calls = self.add_weight(shape=(), initializer="zeros", dtype="int32", trainable=False, name="calls")
        self.images = self.add_weight(shape=(), initializer="zeros", dtype="int32", trainable=False, name="images")

    def call(self, x):
        self.calls.assign_add(1)
        self.images.assign_add(keras.ops.shape(x)[0])
        return x


def counting_model() -> tuple[keras.Model, CountCalls]:
    counter = CountCalls()
    inputs = keras.Input((8, 8, 3))
    x = counter(inputs)
    x = keras.layers.Conv2D(4, 3, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(2)(x)), counter


def images(n: int, size: tuple[int, int] = (12, 12), seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 255, (n, *size, 3)).astype(np.float32)


@pytest.fixture(scope="module")
def trained():
    model, accuracy = scenes.trained_cnn(0)
    assert accuracy > 0.95, f"the scene CNN did not learn (held-out accuracy {accuracy:.2f})"
    return model


@pytest.fixture(scope="module")
def held_out():
    return scenes.make_scenes(40, seed=99, positive_fraction=1.0)


# --- maths -----------------------------------------------------------------------------------


def test_vanilla_of_linear_model_is_max_abs_weight():
    model, w = linear_model()
    for target in range(4):
        maps = saliency(model, images(2, (6, 5)), target)
        np.testing.assert_allclose(maps, np.broadcast_to(np.abs(w[..., target]).max(-1), (2, 6, 5)), rtol=1e-5)


def test_integrated_gradients_completeness_linear_and_relu():
    model, _ = linear_model()
    x = images(2, (6, 5))
    f = keras.ops.convert_to_numpy(model(x))[:, 1] - keras.ops.convert_to_numpy(model(np.zeros_like(x)))[:, 1]
    np.testing.assert_allclose(saliency(model, x, 1, method="integrated_gradients").sum((1, 2)), f, rtol=1e-4)

    cnn = small_cnn(1)
    x = images(3, seed=1)
    maps = saliency(cnn, x, 2, method="integrated_gradients")  # default step count
    f = keras.ops.convert_to_numpy(cnn(x))[:, 2] - keras.ops.convert_to_numpy(cnn(np.zeros_like(x)))[:, 2]
    np.testing.assert_allclose(maps.sum((1, 2)), f, rtol=0.01)


def test_integrated_gradients_completeness_on_trained_cnn(trained, held_out):
    x = held_out.images[:20]
    maps = saliency(trained, x, 1, method="integrated_gradients")  # default steps, black baseline
    f = keras.ops.convert_to_numpy(trained(x))[:, 1] - keras.ops.convert_to_numpy(trained(np.zeros_like(x)))[:, 1]
    relative = np.abs(maps.sum((1, 2)) - f) / np.abs(f)
    # ReLU kinks make the path integral converge unevenly: measured mean 0.3%, worst 0.9% of 20 scenes.
    assert relative.mean() < 0.01 and relative.max() < 0.02, relative


def test_smoothgrad_without_noise_is_vanilla():
    model = small_cnn(2)
    x = images(2, seed=2)
    np.testing.assert_allclose(
        saliency(model, x, 0, method="smoothgrad", noise=0.0, samples=5), saliency(model, x, 0), rtol=1e-5, atol=1e-9
    )


SMOOTH = {"samples": 6, "noise": 0.2, "seed": 3}


def test_smoothgrad_is_smoothed_vanilla():
    model, x = small_cnn(2), images(2, seed=2)
    smoothgrad = saliency(model, x, 0, method="smoothgrad", **SMOOTH)
    np.testing.assert_array_equal(smoothgrad, saliency(model, x, 0, method="vanilla", smooth=True, **SMOOTH))
    assert not np.allclose(smoothgrad, saliency(model, x, 0, method="vanilla"), rtol=0.05)  # the noise did something


@pytest.mark.parametrize(("method", "options"), [("integrated_gradients", {"steps": 6}), ("gradcam", {})])
def test_smoothed_map_is_the_mean_of_the_methods_maps_over_noisy_copies(method, options):
    """PAIR's GetSmoothedMask: these maps are linear in the attributions (a sum over colours; Grad-CAM's
    own map), so the smoothed map is the mean of the method's maps of the noisy copies."""
    model, x = small_cnn(9), images(2, seed=9)
    copies = next(noisy_copies(x, SMOOTH["samples"], SMOOTH["noise"], SMOOTH["seed"]))
    expected = saliency(model, copies, 1, method=method, **options).reshape(2, SMOOTH["samples"], 12, 12).mean(1)
    smoothed = saliency(model, x, 1, method=method, smooth=True, batch_size=5, **SMOOTH, **options)
    np.testing.assert_allclose(smoothed, expected, rtol=1e-4, atol=1e-6 * np.abs(expected).max())
    assert not np.allclose(smoothed, saliency(model, x, 1, method=method, **options), rtol=0.05)


@pytest.mark.parametrize("method", ["vanilla", "guided_backprop"])
def test_smoothed_gradient_is_the_mean_gradient_over_noisy_copies(method):
    """Smilkov et al. 2017, eq. 3: the map of the mean gradient (per colour channel) of the noisy copies."""
    model, x = small_cnn(10), images(2, seed=10)
    copies = next(noisy_copies(x, SMOOTH["samples"], SMOOTH["noise"], SMOOTH["seed"]))
    attribute = ATTRIBUTIONS[method](Scoring(model, 1, models.preprocess_fn(model), None, chunk=64))
    gradients = attribute(copies)
    assert gradients.shape == (2 * SMOOTH["samples"], 12, 12, 3)
    expected = max_abs(gradients.reshape(2, SMOOTH["samples"], 12, 12, 3).mean(1))
    smoothed = saliency(model, x, 1, method=method, smooth=True, **SMOOTH)
    np.testing.assert_allclose(smoothed, expected, rtol=1e-5, atol=1e-7 * expected.max())
    assert not np.allclose(smoothed, saliency(model, x, 1, method=method), rtol=0.05)


@pytest.mark.parametrize(
    ("method", "options", "message"),
    [
        ("gradcam", {"samples": 4}, "samples= applies to smoothgrad .or any of vanilla, .* with smooth=True., not to "
                                    "method='gradcam'"),
        ("vanilla", {"patch": 3}, "patch= applies to occlusion, not to method='vanilla'"),
        ("smoothgrad", {"steps": 8}, "steps= applies to integrated_gradients, not to method='smoothgrad'"),
        ("integrated_gradients", {"layer": "c1"}, "layer= applies to gradcam, activation, gradcam_plus_plus, "
                                                  "scorecam, layercam, eigencam, hirescam, not to"),
        ("vanilla", {"seed": 1}, "seed= applies to smoothgrad"),
        ("gradcam", {"precision": "bfloat16"}, "precision= applies to vanilla, smoothgrad, integrated_gradients, not"),
        ("guided_backprop", {"smooth": True, "precision": "float16"}, "precision= applies to"),
        ("occlusion", {"smooth": True}, "smooth=True applies to vanilla, integrated_gradients, guided_backprop, "
                                        "gradcam, not to method='occlusion'"),
        ("smoothgrad", {"smooth": True}, "smoothed vanilla already"),
    ],
)
def test_an_option_the_method_does_not_take_is_an_error(method, options, message):
    with pytest.raises(KerasvizError, match=message):
        saliency(small_cnn(0), images(1), 0, method=method, **options)
    assert set(SMOOTHABLE) < set(METHODS)


@dataclasses.dataclass(frozen=True)
class MeanColourOptions(MethodOptions):
    WHAT = "saliency method 'mean_colour'"
    steps: int = option(1, "A factor on the map.", low=1, high=4)


def test_a_method_is_one_declaration():
    """A toy method (the image's mean colour at each pixel, times steps) registered with one declaration
    runs through saliency(), smoothed or not, and its options are checked by its dataclass."""
    x = images(2, seed=3)
    mean_colour = Method("mean_colour", lambda scoring, *, steps: lambda batch: batch * steps, MeanColourOptions,
                         to_map=lambda attributions: attributions.mean(axis=-1), smoothable=True)  # fmt: skip
    register(mean_colour)
    try:
        maps = saliency(small_cnn(0), x, 0, method="mean_colour", steps=3)
        np.testing.assert_allclose(maps, 3 * x.mean(-1), rtol=1e-6)
        smoothed = saliency(small_cnn(0), x, 0, method="mean_colour", smooth=True, samples=3, noise=0.0)
        np.testing.assert_allclose(smoothed, x.mean(-1), rtol=1e-6)
        assert options_for("mean_colour", {"steps": 2, "patch": 5}) == {"steps": 2}
        with pytest.raises(KerasvizError, match="steps of saliency method 'mean_colour' must be in 1..4; got 9"):
            saliency(small_cnn(0), x, 0, method="mean_colour", steps=9)
        with pytest.raises(KerasvizError, match="patch= applies to occlusion, not to method='mean_colour'"):
            saliency(small_cnn(0), x, 0, method="mean_colour", patch=3)
        with pytest.raises(KerasvizError, match="registered already"):
            register(mean_colour)
    finally:
        del REGISTRY["mean_colour"]
    assert "mean_colour" not in METHODS
    with pytest.raises(KerasvizError, match="unknown saliency method 'mean_colour'"):
        saliency(small_cnn(0), x, 0, method="mean_colour")


def test_options_for_keeps_what_applies():
    settings = {"samples": 4, "steps": 8, "patch": 5, "batch_size": 2}
    assert options_for("smoothgrad", settings) == {"samples": 4, "batch_size": 2}
    assert options_for("integrated_gradients", settings, smooth=True) == {"samples": 4, "steps": 8, "batch_size": 2}
    assert options_for("gradcam", settings) == {"batch_size": 2}


@pytest.mark.parametrize(
    ("method", "options", "expected_images"),
    [
        ("smoothgrad", {"samples": 8}, 3 * 8),
        ("integrated_gradients", {"steps": 7}, 3 * 8),
        ("integrated_gradients", {"steps": 4, "smooth": True, "samples": 2}, 3 * 2 * 5),
    ],
)
@COUNTS_CALLS
def test_model_called_once_per_batch(method, options, expected_images):
    model, counter = counting_model()
    x = images(3, (8, 8))
    saliency(model, x, 1, method=method, batch_size=5, **options)
    assert int(keras.ops.convert_to_numpy(counter.images)) == expected_images
    assert int(keras.ops.convert_to_numpy(counter.calls)) == -(-expected_images // 5)  # ceil: one call per batch of 5

    counter.calls.assign(0)
    saliency(model, x, 1, method=method, **options)  # default: the memory budget fits all
    assert int(keras.ops.convert_to_numpy(counter.calls)) == 1


def test_batch_equals_one_by_one_and_shapes():
    model = small_cnn(3)
    x = images(3, seed=3)
    for method in (m for m in METHODS if m not in ATTENTION_METHODS):  # rollout reads attention; see test_transformers
        options = options_for(method, {"samples": 4, "steps": 8})
        maps = saliency(model, x, 1, method=method, **options)
        assert maps.shape == (3, 12, 12) and maps.dtype == np.float32, method
        one = saliency(model, x[1], 1, method=method, **options)
        assert one.shape == (12, 12)
        if method != "smoothgrad":  # its noise differs with the batch
            np.testing.assert_allclose(one, maps[1], rtol=1e-4, atol=1e-7, err_msg=method)


def test_uint8_greyscale_and_fixed_size_inputs():
    model = small_cnn(4)
    grey = np.random.default_rng(4).integers(0, 256, (20, 16)).astype(np.uint8)
    maps = saliency(model, grey, 0, method="gradcam")  # resized to 12x12, map back at 20x16
    assert maps.shape == (20, 16)
    rgba = np.dstack([np.repeat(grey[..., None], 3, -1), np.full_like(grey, 255)])
    np.testing.assert_allclose(saliency(model, rgba, 0), saliency(model, grey, 0), rtol=1e-5)


@pytest.mark.parametrize("squashing", ["softmax", "sigmoid"])
def test_a_squashing_head_is_removed_on_a_copy(squashing):
    """A class is scored on its logit, whether the head squashes with a softmax or a sigmoid (multi-label)."""
    soft = small_cnn(5, activation=squashing)
    logits = small_cnn(5)
    logits.set_weights(soft.get_weights())
    x = images(2, seed=5)
    for method in ("vanilla", "guided_backprop", "gradcam"):
        np.testing.assert_allclose(
            saliency(soft, x, 2, method=method), saliency(logits, x, 2, method=method), rtol=1e-4
        )
    assert soft.layers[-1].activation.__name__ == squashing  # the user's model is unchanged
    probabilities = keras.ops.convert_to_numpy(soft(x))
    assert ((probabilities > 0) & (probabilities < 1)).all()


def test_guided_backprop_leaves_the_model_unchanged():
    model = small_cnn(6)
    x = images(2, seed=6)
    before = keras.ops.convert_to_numpy(model(x))
    weights = [w.copy() for w in model.get_weights()]
    guided = saliency(model, x, 0, method="guided_backprop")
    assert not np.allclose(guided, saliency(model, x, 0))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(model(x)), before)
    for a, b in zip(weights, model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert model.get_layer("c1").activation.__name__ == "relu"
    assert type(model.get_layer("r2")) is keras.layers.ReLU


def test_layer_and_filter_targets():
    model = small_cnn(7)
    x = images(1, seed=7)
    by_layer = saliency(model, x, "c2")
    by_filter = saliency(model, x, "c2:3")
    assert by_layer.shape == by_filter.shape == (1, 12, 12)
    assert not np.allclose(by_layer, by_filter)
    assert saliency(model, x, lambda out: out[:, 1]).shape == (1, 12, 12)
    np.testing.assert_allclose(saliency(model, x, "1"), saliency(model, x, 1))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"target": "c9"}, "layer 'c9' not in"),
        ({"target": "c2:8"}, "valid filters are 0-7"),
        ({"target": 3}, "valid classes are 0-2"),
        ({"target": 1.5}, "target must be"),
        ({"target": 0, "method": "lime"}, "valid: vanilla"),
        ({"target": 0, "method": "smoothgrad", "samples": 0}, "samples must be a positive integer"),
        ({"target": 0, "method": "smoothgrad", "noise": -1.0}, "noise must be"),
        ({"target": 0, "method": "integrated_gradients", "baseline": np.zeros((3, 3))}, "baseline must be"),
    ],
)
def test_bad_input_says_what_is_valid(kwargs, message):
    with pytest.raises(KerasvizError, match=message):
        saliency(small_cnn(8), images(1), **kwargs)


def test_class_target_on_backbone_suggests_a_layer():
    inputs = keras.Input((None, None, 3))
    backbone = keras.Model(inputs, keras.layers.Conv2D(4, 3, name="last_conv")(inputs))
    with pytest.raises(KerasvizError, match="needs a classifier.*'last_conv'"):
        saliency(backbone, images(1), 3)
    maps = saliency(backbone, images(1, (16, 20)), "last_conv", method="gradcam")
    assert maps.shape == (1, 16, 20)


# --- sanity: cascading randomisation (Adebayo et al. 2018) ----------------------------------


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation, ties given their average rank (maps have many zeros)."""
    return float(scipy.stats.spearmanr(a.ravel(), b.ravel())[0])


@pytest.fixture(scope="module")
def randomised(trained):
    """A copy of the trained CNN with every weight layer re-initialised, cascading from the top."""
    model = keras.models.clone_model(trained)
    model.set_weights(trained.get_weights())
    rng = np.random.default_rng(0)
    for name in ("logits", "conv3", "conv2", "conv1"):
        layer = model.get_layer(name)
        layer.set_weights([rng.normal(0, np.std(w) + 1e-3, w.shape).astype(np.float32) for w in layer.get_weights()])
    return model


def _rank_correlation(trained, randomised, images, method) -> float:
    options = options_for(method, {"samples": 16, "steps": 16})
    before = saliency(trained, images, 1, method=method, **options)  # the maps as returned
    after = saliency(randomised, images, 1, method=method, **options)
    return float(np.mean([spearman(a, b) for a, b in zip(before, after, strict=True)]))


@pytest.mark.parametrize("method", ["integrated_gradients", "gradcam"])
def test_cascading_randomisation_changes_the_maps(trained, randomised, held_out, method):
    rho = _rank_correlation(trained, randomised, held_out.images[:12], method)
    assert rho < SANITY_SPEARMAN, f"{method}: Spearman {rho:.2f} after randomising every layer"


@pytest.fixture(scope="module")
def absolute_map_correlations(trained, randomised, held_out):
    return {m: _rank_correlation(trained, randomised, held_out.images[:12], m) for m in ("vanilla", "smoothgrad")}


@pytest.mark.parametrize("method", ["vanilla", "smoothgrad"])
def test_cascading_randomisation_changes_the_absolute_maps(absolute_map_correlations, method):
    """On these bright-shapes-on-dark scenes the absolute maps keep some rank correlation with the trained
    model's after every layer is re-drawn: the |gradient| of a random ReLU net with global max pooling still
    follows the input's bright shapes. Measured mean Spearman over the 12 scenes: 0.36 (vanilla) and 0.34
    (SmoothGrad), against ~0.96 with only the top layer re-drawn; so they stay above SANITY_SPEARMAN here,
    and fall below it on a trained VGG16 and photos (Adebayo et al.'s setting, the VGG16 test below)."""
    rho = absolute_map_correlations[method]
    assert rho < 0.5, f"{method}: Spearman {rho:.2f} after randomising every layer"  # margin ~0.15 over 0.36


@pytest.fixture(scope="module")
def vgg16_photos():
    from skimage import data

    from kerasviz import io, load_model

    photos = np.stack([io.resize(f(), (96, 96)) for f in (data.chelsea, data.coffee, data.astronaut)])
    return load_model("vgg16", "offline"), photos


@pytest.mark.parametrize("method", ["vanilla", "smoothgrad", "integrated_gradients", "gradcam"])
def test_cascading_randomisation_of_trained_vgg16_on_photos(vgg16_photos, method):
    """Adebayo et al.'s setting: a trained network, natural photos, every conv layer re-drawn from its initialiser."""
    model, photos = vgg16_photos
    random = randomized_copy(model, conv_layers(model)[::-1], seed=0)
    options = options_for(method, {"samples": 16, "steps": 16})
    before = saliency(model, photos, "block5_conv3", method=method, **options)
    after = saliency(random, photos, "block5_conv3", method=method, **options)
    rho = float(np.mean([spearman(a, b) for a, b in zip(before, after, strict=True)]))
    assert rho < SANITY_SPEARMAN, f"{method}: Spearman {rho:.2f} after randomising every layer"


def test_randomising_only_the_top_layer_leaves_the_maps_alike(vgg16_photos):
    """The control for the test above: the measure does see maps that still follow the trained network."""
    model, photos = vgg16_photos
    random = randomized_copy(model, ["block5_conv3"], seed=0)
    before, after = saliency(model, photos, "block5_conv3"), saliency(random, photos, "block5_conv3")
    assert np.mean([spearman(a, b) for a, b in zip(before, after, strict=True)]) > 0.5  # measured 0.80 at 128 px


def test_randomized_copy_redraws_only_the_named_layers_and_keeps_preprocessing(vgg16_photos):
    model, _ = vgg16_photos
    copy = randomized_copy(model, ["block5_conv3", "block5_conv2"], seed=3)
    redrawn = {"block5_conv3", "block5_conv2"}
    for layer, copied in zip(model.layers, copy.layers, strict=True):
        for a, b in zip(layer.get_weights(), copied.get_weights(), strict=True):
            assert np.array_equal(a, b) == (layer.name not in redrawn), layer.name
    assert model_info(copy) == model_info(model)
    again = randomized_copy(model, ["block5_conv3"], seed=3)
    kernel = lambda m: m.get_layer("block5_conv3").get_weights()[0]
    assert np.array_equal(kernel(again), kernel(copy))  # the same seed draws the same weights
    with pytest.raises(KerasvizError, match="layer 'block9_conv1' not in vgg16"):
        randomized_copy(model, ["block9_conv1"])


@pytest.mark.parametrize("precision", ["bfloat16", "float16"])
def test_reduced_precision_maps_rank_like_float32(trained, held_out, precision):
    x = held_out.images[:6]
    for method in ("vanilla", "smoothgrad", "integrated_gradients"):
        options = options_for(method, {"samples": 8, "steps": 16})
        exact = saliency(trained, x, 1, method=method, **options)
        reduced = saliency(trained, x, 1, method=method, precision=precision, **options)
        rho = float(np.mean([spearman(a, b) for a, b in zip(exact, reduced, strict=True)]))
        assert rho > 0.95, f"{method} in {precision}: Spearman {rho:.3f} with the float32 maps"


def test_reduced_precision_copy_follows_the_models_weights():
    model, x = small_cnn(0), images(2)
    old = saliency(model, x, 0)
    saliency(model, x, 0, precision="bfloat16")  # builds the bfloat16 copy
    model.set_weights([np.flip(w, axis=-1).copy() for w in model.get_weights()])
    exact, reduced = saliency(model, x, 0), saliency(model, x, 0, precision="bfloat16")
    assert np.mean([spearman(a, b) for a, b in zip(exact, old, strict=True)]) < 0.9  # a stale copy would show
    assert np.mean([spearman(a, b) for a, b in zip(exact, reduced, strict=True)]) > 0.95


def test_steps_on_a_softmax_copy_follow_the_models_weights():
    """A class target on a fused softmax is scored on a linear copy: rebuilt per call, so never stale."""
    model, x = small_cnn(11, activation="softmax"), images(2, seed=11)
    methods = ("occlusion", "gradcam", "vanilla")
    old = [saliency(model, x, 0, method=method) for method in methods]  # builds the steps once
    model.set_weights([np.flip(w, axis=-1).copy() for w in model.get_weights()])
    fresh = small_cnn(11, activation="softmax")
    fresh.set_weights(model.get_weights())
    for method, before in zip(methods, old, strict=True):
        now = saliency(model, x, 0, method=method)
        assert not np.allclose(now, before), method
        np.testing.assert_allclose(now, saliency(fresh, x, 0, method=method), rtol=1e-5, err_msg=method)


def test_an_unknown_precision_says_what_is_valid():
    with pytest.raises(KerasvizError, match="unknown precision 'bf16'; valid: auto, float32, bfloat16, float16"):
        saliency(small_cnn(0), images(1), 0, method="integrated_gradients", precision="bf16")


# --- truth: a known object in synthetic scenes ------------------------------------------------


def pointing_hits(maps: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    hits = []
    for saliency_map, (y0, x0, y1, x1) in zip(maps, boxes, strict=True):
        smooth = cv2.GaussianBlur(saliency_map.astype(np.float32), (0, 0), POINTING_SIGMA)
        y, x = np.unravel_index(np.argmax(smooth), smooth.shape)
        t = POINTING_TOLERANCE
        hits.append(y0 - t <= y < y1 + t and x0 - t <= x < x1 + t)
    return np.array(hits)


@pytest.mark.parametrize("method", list(POINTING))
def test_pointing_game(trained, held_out, method):
    maps = saliency(trained, held_out.images, 1, method=method, **options_for(method, {"samples": 25, "steps": 32}))
    rate = pointing_hits(maps, held_out.boxes).mean()
    assert rate >= POINTING[method], f"{method}: the map's maximum is on the object in {rate:.0%} of scenes"


def test_pointing_game_chance_is_low(held_out):
    rng = np.random.default_rng(0)
    rate = pointing_hits(rng.uniform(size=(len(held_out.images), scenes.SIZE, scenes.SIZE)), held_out.boxes).mean()
    assert rate < 0.35


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def test_grabcut_mask_beats_centred_ellipse(trained, held_out):
    maps = saliency(trained, held_out.images, 1)  # vanilla, as in Simonyan et al. 2014
    masks = [segment(image, m) for image, m in zip(held_out.images, maps, strict=True)]
    grabcut = np.mean([iou(m, truth) for m, truth in zip(masks, held_out.masks, strict=True)])
    yy, xx = np.mgrid[: scenes.SIZE, : scenes.SIZE] - (scenes.SIZE - 1) / 2
    ellipse = max(  # the best of several centred ellipses, a generous baseline
        np.mean([iou((yy / r) ** 2 + (xx / r) ** 2 <= 1, truth) for truth in held_out.masks])
        for r in scenes.SIZE * np.array([0.1, 0.15, 0.25, 0.35, 0.5])
    )
    assert grabcut >= ellipse + 0.3, f"GrabCut IoU {grabcut:.2f} vs centred ellipse {ellipse:.2f}"
