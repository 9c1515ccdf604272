"""First-layer weights as pictures: known kernels give known pixels; the script writes PNG + JSON."""

import json
import os
import subprocess
import sys

import imageio.v3 as iio
import keras
import numpy as np
import pytest

from kerasviz import load_model
from kerasviz.apps import first_layer
from kerasviz.dataset.kernels import kernel_pictures
from kerasviz.errors import KerasvizError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def two_by_two() -> keras.Model:
    inputs = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(2, 2, name="c1")(inputs)
    x = keras.layers.Conv2D(3, 1, name="c2")(x)
    model = keras.Model(inputs, x, name="two")
    kernel = np.zeros((2, 2, 3, 2), np.float32)
    kernel[:, :, 0, 0] = [[2.0, -2.0], [1.0, 0.0]]  # red; max |w| = 2
    kernel[1, 1, 2, 0] = -1.0  # blue
    model.get_layer("c1").set_weights([kernel, np.zeros(2, np.float32)])  # filter 1 stays all zero
    return model


def test_a_known_kernel_renders_to_the_expected_pixels():
    pictures, scales = kernel_pictures(two_by_two(), zoom=3)
    assert pictures.shape == (2, 6, 6, 3) and pictures.dtype == np.uint8
    np.testing.assert_allclose(scales, [2.0, 0.0])
    expected = np.array([  # 0.5 + 0.5 w / 2, times 255, rounded
        [[255, 128, 128], [0, 128, 128]],
        [[191, 128, 128], [128, 128, 64]],
    ], np.uint8)
    np.testing.assert_array_equal(pictures[0], expected.repeat(3, axis=0).repeat(3, axis=1))
    assert (pictures[1] == 128).all()  # a zero kernel is plain grey
    swapped, _ = kernel_pictures(two_by_two(), zoom=1, bgr=True)
    np.testing.assert_array_equal(swapped[0], expected[..., ::-1])


def test_caffe_models_are_drawn_with_their_bgr_weights_reversed():
    model = load_model("vgg16", None)
    pictures, scales = kernel_pictures(model, zoom=1)
    kernel = keras.ops.convert_to_numpy(model.get_layer("block1_conv1").kernel)[..., 5]  # (3, 3, BGR)
    scale = np.abs(kernel).max()
    np.testing.assert_allclose(scales[5], scale, rtol=1e-6)
    expected = np.round((0.5 + 0.5 * kernel[..., ::-1] / scale) * 255)
    np.testing.assert_array_equal(pictures[5], expected.astype(np.uint8))
    assert pictures.shape == (64, 3, 3, 3)


@pytest.mark.parametrize(
    "layer,message",
    [("c2", "layer 'c2' takes 2 channels"), ("c3", "layer 'c3' not in two")],
)
def test_bad_layers_say_what_is_valid(layer, message):
    with pytest.raises(KerasvizError, match=message):
        kernel_pictures(two_by_two(), layer)


def test_app_writes_grid_and_sidecar_and_keeps_it(tmp_path):
    out = str(tmp_path / "k.png")
    facts = first_layer.run(out, model=two_by_two(), zoom=4)
    grid = iio.imread(out)
    assert grid.shape == (8, 8 + 2 + 8, 3)  # two 8-pixel kernels side by side, 2 pixels apart
    with open(tmp_path / "k.json") as f:
        assert json.load(f)["max_abs_weight"] == [2.0, 0.0] == facts["max_abs_weight"]
    assert first_layer.run(out, model=two_by_two()).get("skipped")


def _script(*args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "first_layer_weights.py"), *args],
                          capture_output=True, text=True, env=env, timeout=300)


def test_script_writes_png_and_json_and_fails_in_one_line(tmp_path):
    out = str(tmp_path / "first.png")
    done = _script("--weights=none", f"--out={out}")
    assert done.returncode == 0, done.stderr[-2000:]
    assert iio.imread(out).shape[2] == 3
    with open(tmp_path / "first.json") as f:
        facts = json.load(f)
    assert facts["layer"] == "block1_conv1" and facts["kernels"] == 64 and facts["kernel_size"] == [3, 3]
    bad = _script("--weights=none", "--layer=block1_conv2", f"--out={out}", "--overwrite")
    lines = [line for line in bad.stderr.splitlines() if line.strip()]
    assert bad.returncode == 2 and len(lines) == 1 and "takes 64 channels" in lines[0], bad.stderr
