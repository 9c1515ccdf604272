"""kerasviz.metrics: deletion, insertion and MuFidelity on linear models whose exact attribution is known,
a deletion AUC worked out by hand, the cascading randomisation test, and --metrics in the saliency job."""

import json
import math
import os
import subprocess
import sys

import imageio.v3 as iio
import keras
import numpy as np
import pytest

import kerasviz
from kerasviz import metrics
from kerasviz.apps import saliency as app
from kerasviz.errors import KerasvizError

SCRIPT = os.path.join(os.path.dirname(__file__), os.pardir, "scripts", "saliency_maps.py")


def linear_model(weights: np.ndarray, classes: int = 1) -> keras.Model:
    """score = sum(weights * x) over pixels and channels (class 0); with 2 classes, class 1's logit is 0."""
    inputs = keras.Input(weights.shape)
    dense = keras.layers.Dense(classes, use_bias=False, name="dense")
    model = keras.Model(inputs, dense(keras.layers.Flatten()(inputs)))
    kernel = np.zeros((weights.size, classes), np.float32)
    kernel[:, 0] = weights.ravel()
    dense.set_weights([kernel])
    return model


def sparse_images(count: int, side: int, seed: int) -> np.ndarray:
    """Mostly black images with a fifth of their pixels white: a blurred copy is dim everywhere, so the
    pixels that matter for insertion are those w * x ranks first."""
    rng = np.random.default_rng(seed)
    return np.where(rng.uniform(size=(count, side, side, 1)) < 0.2, 255.0, 0.0).repeat(3, -1).astype(np.float32)


@pytest.fixture(scope="module")
def linear():
    rng = np.random.default_rng(0)
    weights = rng.normal(size=(16, 16, 3)).astype(np.float32)
    images = sparse_images(3, 16, seed=1)
    exact = (weights * images).sum(-1)  # the score's exact attribution, per pixel
    return weights, images, exact, rng.uniform(size=exact.shape).astype(np.float32)


@pytest.mark.parametrize("classes", [1, 2])  # relative score (one output), softmax probability (two classes)
def test_the_exact_map_ranks_best_a_random_one_between_the_reversed_one_worst(linear, classes):
    weights, images, exact, random_map = linear
    model = linear_model(weights / (1000.0 if classes == 2 else 1.0), classes)  # logits of a few units
    auc = {
        name: (metrics.deletion(model, images, m, 0, steps=16), metrics.insertion(model, images, m, 0, steps=16))
        for name, m in (("exact", exact), ("random", random_map), ("reversed", -exact))
    }
    deletion, insertion = ({name: pair[i] for name, pair in auc.items()} for i in (0, 1))
    assert np.all(deletion["exact"] < deletion["random"]) and np.all(deletion["random"] < deletion["reversed"])
    assert np.all(insertion["exact"] > insertion["random"]) and np.all(insertion["random"] > insertion["reversed"])
    if classes == 2:  # probabilities: the areas lie in [0, 1]
        assert all(np.all((a >= 0) & (a <= 1)) for a in (*deletion.values(), *insertion.values()))


def test_pixels_a_map_ties_go_in_random_order_not_row_by_row():
    """Only the bottom half counts (weights 1 there, 0 above). Row by row, a flat map would delete the
    top half first and score as badly as a map pointing at it; in random order it scores as random maps do."""
    weights = np.zeros((16, 16, 3), np.float32)
    weights[8:] = 1.0
    model, image = linear_model(weights), np.full((16, 16, 3), 100.0, np.float32)
    flat = metrics.deletion(model, image, np.zeros((16, 16)), 0, steps=16)[0]
    top_first = metrics.deletion(model, image, -np.arange(256.0).reshape(16, 16), 0, steps=16)[0]
    rng = np.random.default_rng(5)
    random = [metrics.deletion(model, image, rng.uniform(size=(16, 16)), 0, steps=16)[0] for _ in range(8)]
    assert top_first > 0.7  # the rows in raster order: the score holds for half the curve
    assert abs(flat - np.mean(random)) < 0.05 < top_first - flat, (flat, np.mean(random), top_first)
    again = metrics.deletion(model, image, np.zeros((16, 16)), 0, steps=16)[0]
    other = metrics.deletion(model, image, np.zeros((16, 16)), 0, steps=16, seed=1)[0]
    assert again == flat and other != flat  # the order is seeded


# A 2 x 2 image, the same value in its three channels, and a linear model with the same weight in them.
PIXELS = np.array([[10.0, 20.0], [30.0, 40.0]])
WEIGHTS = np.array([[1.0, -2.0], [3.0, 0.5]])
# Contributions 3 * w * x: [[30, -120], [270, 60]]; the score of the whole image is 240.
MAP = np.array([[4.0, 1.0], [3.0, 2.0]])  # removes (0,0), then (1,0), (1,1), (0,1)
SCORES = [240.0, 210.0, -60.0, -120.0, 0.0]  # after 0, 1, 2, 3, 4 pixels are black


def tiny_square(classes: int = 1) -> tuple[keras.Model, np.ndarray]:
    return linear_model(np.repeat(WEIGHTS[..., None], 3, -1), classes), np.repeat(PIXELS[..., None], 3, -1)


def test_deletion_auc_by_hand():
    model, image = tiny_square()
    # Relative score: each over 240 -> 1, 0.875, -0.25, -0.5, 0; trapezoids of width 1/4.
    by_hand = 0.25 * (1 / 2 + 0.875 - 0.25 - 0.5 + 0 / 2)
    assert by_hand == pytest.approx(0.15625)
    np.testing.assert_allclose(metrics.deletion(model, image, MAP, 0, steps=4), [by_hand], rtol=1e-6)
    # Two steps: 0, 2 and 4 pixels black -> 1, -0.25, 0.
    np.testing.assert_allclose(metrics.deletion(model, image, MAP, 0, steps=2), [0.5 * (0.5 - 0.25)], rtol=1e-6)
    # A map at twice the resolution is resized to the image first: the same order, the same area.
    finer = np.kron(MAP, np.ones((2, 2)))
    np.testing.assert_allclose(metrics.deletion(model, image, finer, 0, steps=4), [by_hand], rtol=1e-6)


def test_deletion_auc_by_hand_on_the_class_probability():
    model, image = tiny_square(classes=2)  # logits (score, 0): class 0's probability is sigmoid(score)
    probability = [1 / (1 + math.exp(-s / 100)) for s in SCORES]
    model.layers[-1].set_weights([model.layers[-1].get_weights()[0] / 100])
    by_hand = 0.25 * (probability[0] / 2 + sum(probability[1:4]) + probability[4] / 2)
    np.testing.assert_allclose(metrics.deletion(model, image, MAP, 0, steps=4), [by_hand], rtol=1e-5)
    relative = metrics.deletion(model, image, MAP, 0, steps=4, score="relative")  # the logit over its start
    np.testing.assert_allclose(relative, [0.15625], rtol=1e-5)


def test_mufidelity_of_the_exact_attribution_is_one_of_a_random_map_near_zero(linear):
    weights, images, exact, random_map = linear
    model = linear_model(weights)
    side = images.shape[1]
    np.testing.assert_allclose(metrics.mufidelity(model, images, exact, 0), 1, atol=1e-4)  # 9 x 9 cells
    np.testing.assert_allclose(metrics.mufidelity(model, images, exact, 0, grid=side), 1, atol=1e-4)  # pixels
    chance = metrics.mufidelity(model, images, random_map, 0, grid=side)
    assert chance.shape == (3,) and chance.dtype == np.float32 and np.all(np.abs(chance) < 0.3)
    same = metrics.mufidelity(model, images, random_map, 0, grid=side)
    other = metrics.mufidelity(model, images, random_map, 0, grid=side, seed=1)
    np.testing.assert_array_equal(chance, same)
    assert not np.array_equal(chance, other)


def test_shapes_one_image_and_batching(linear):
    weights, images, exact, _ = linear
    model = linear_model(weights / 1000, classes=2)  # probabilities away from 0 and 1
    for metric in (metrics.deletion, metrics.insertion, metrics.mufidelity):
        batch = metric(model, images, exact, 0)
        assert batch.shape == (3,) and batch.dtype == np.float32 and np.all(np.isfinite(batch))
        one = metric(model, images[1].astype(np.uint8), exact[1], 0)  # one (H, W, 3) image, one (H, W) map
        assert one.shape == (1,) and one[0] == pytest.approx(batch[1], abs=1e-5)
        np.testing.assert_allclose(metric(model, images, exact, 0, batch_size=7), batch, atol=1e-5)
    assert kerasviz.metrics.deletion is metrics.deletion


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda m, x, s: metrics.deletion(m, x, s[:2], 0), "2 maps for 3 images"),
        (lambda m, x, s: metrics.insertion(m, x, s[:, None], 0), r"maps must be \(N, H, W\)"),
        (lambda m, x, s: metrics.deletion(m, x, s, 0, steps=0), "steps of deletion must be in 1.."),
        (lambda m, x, s: metrics.deletion(m, x, s, 0, blur=2.0), "option 'blur' does not apply to deletion"),
        (lambda m, x, s: metrics.mufidelity(m, x, s, 0, fraction=0), "fraction of mufidelity must be in"),
        (lambda m, x, s: metrics.deletion(m, x, s, 0, score="logit"), "score 'logit' is not valid"),
        (lambda m, x, s: metrics.deletion(m, x, s, "dense", score="probability"), "needs a class target"),
        (lambda m, x, s: metrics.deletion(m, x, s, 5), "class 5 out of range"),
        (lambda m, x, s: metrics.deletion(m, x, s * np.nan, 0), "NaN or infinite"),
        (lambda m, x, s: metrics.deletion(m, x, [s[0], s[1, :3]], 0), "maps must be an array"),
    ],
)
def test_bad_input_is_a_kerasviz_error(linear, call, message):
    weights, images, exact, _ = linear
    with pytest.raises(KerasvizError, match=message):
        call(linear_model(weights), images, exact)


def test_cascading_randomization():
    inputs = keras.Input((8, 8, 3))
    hidden = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(1, name="dense")(keras.layers.Flatten()(hidden)))
    images = np.random.default_rng(0).uniform(0, 255, (2, 8, 8, 3)).astype(np.float32)
    before = [w.copy() for w in model.get_weights()]
    result = metrics.randomization(model, images, 0)
    assert list(result) == ["dense", "conv"]  # from the output down
    assert all(r.shape == (2,) and r.dtype == np.float32 for r in result.values())
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights(), strict=True))  # model unchanged
    # On a linear model the vanilla map is max |w| over channels: re-drawn weights rank pixels at random.
    linear = linear_model(np.random.default_rng(1).normal(size=(8, 8, 3)).astype(np.float32))
    redrawn = metrics.randomization(linear, images, 0)["dense"]
    assert np.all(np.abs(redrawn) < 0.5)
    np.testing.assert_array_equal(redrawn, metrics.randomization(linear, images, 0)["dense"])
    with pytest.raises(KerasvizError, match="method 'magic' is not valid"):
        metrics.randomization(model, images, 0, method="magic")


def classifier_file(folder) -> str:
    inputs = keras.Input((None, None, 3))
    hidden = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(keras.layers.Rescaling(1 / 255)(inputs))
    outputs = keras.layers.Dense(3, name="logits")(keras.layers.GlobalAveragePooling2D()(hidden))
    path = os.path.join(folder, "tiny.keras")
    keras.Model(inputs, outputs).save(path)
    return path


def test_script_metrics_in_the_sidecar(tmp_path):
    image = str(tmp_path / "cat.png")
    iio.imwrite(image, np.random.default_rng(0).integers(0, 256, (20, 28, 3), dtype=np.uint8))
    out = tmp_path / "out"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    args = [f"--model={classifier_file(tmp_path)}", f"--image={image}", "--target=1", "--method=vanilla"]
    done = subprocess.run([sys.executable, SCRIPT, *args, f"--out={out}", "--metrics"], capture_output=True,
                          text=True, env=env, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    with open(out / "cat_saliency.json") as f:
        sidecar = json.load(f)
    assert set(sidecar["metrics"]) == {"deletion", "insertion", "mufidelity"}
    assert all(isinstance(v, float) for v in sidecar["metrics"].values())
    assert sidecar["metric_options"]["deletion"] == {"score": "auto", "steps": 50, "seed": 0, "fill": 0.0}
    assert sidecar["method"] == "vanilla" and sidecar["target"] == "1"  # the other keys stay
    assert sorted(os.listdir(out)) == sorted("cat" + suffix for suffix in app.SUFFIXES)


def test_job_adds_metrics_to_an_image_made_without_them(tmp_path):
    image = str(tmp_path / "dog.png")
    iio.imwrite(image, np.random.default_rng(1).integers(0, 256, (18, 22, 3), dtype=np.uint8))
    model, out = classifier_file(tmp_path), str(tmp_path / "out")
    first = app.run([image], out, target="2", model=model, method="vanilla")[0]
    assert "metrics" not in first
    scored = app.run([image], out, target="2", model=model, method="vanilla", metrics=True)[0]
    assert not scored.get("skipped") and set(scored["metrics"]) == {"deletion", "insertion", "mufidelity"}
    kept = app.run([image], out, target="2", model=model, method="vanilla", metrics=True)[0]
    assert kept["skipped"] and kept["metrics"] == scored["metrics"]
