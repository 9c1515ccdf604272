"""kerasviz.synthesis.dream: tiled gradients equal untiled ones on one tile, output sizes, the objective rises."""

import keras
import numpy as np
import pytest

from kerasviz.errors import KerasvizError
from kerasviz.synthesis import dream
from tests.helpers import input_gradient, relu_convs, to_unit

LAYERS = {"c2": 1.0, "c3": 0.5}


def tiny_model(seed: int = 0) -> keras.Model:
    """c1, p1, c2, c3: eight ReLU filters each."""
    return relu_convs(seed, widths=(8, 8, 8), pool_after=(1,))


@pytest.fixture(scope="module")
def model():
    return tiny_model()


def image(h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 255, (h, w, 3)).astype(np.float32)


def objective(model, picture) -> float:
    """sum_l w_l * mean(activation_l) of one 0-255 picture, computed with Keras alone."""
    extract = keras.Model(model.inputs, [model.get_layer(n).output for n in LAYERS])
    outputs = extract(to_unit(np.asarray(picture, np.float32)[None]))
    return float(sum(w * keras.ops.convert_to_numpy(o).mean() for w, o in zip(LAYERS.values(), outputs)))


def untiled_gradient(model, picture):
    extract = keras.Model(model.inputs, [model.get_layer(n).output for n in LAYERS])

    def loss(x):
        outputs = extract(to_unit(x[None]))
        return sum(w * keras.ops.mean(o) for w, o in zip(LAYERS.values(), outputs))

    grad = input_gradient(loss, picture)
    return grad / grad.std()


def test_one_tile_gives_the_untiled_gradient(model):
    picture = image(40, 56)
    tiled = dream.TiledGradients(model, LAYERS, to_unit)(picture, tile_size=64, seed=3)
    np.testing.assert_allclose(tiled, untiled_gradient(model, picture), atol=1e-4)


def test_many_tiles_cover_the_image(model):
    picture = image(70, 90)
    grad = dream.TiledGradients(model, LAYERS, to_unit)(picture, tile_size=32, seed=1)
    assert grad.shape == picture.shape and np.isfinite(grad).all()
    assert abs(grad.std() - 1) < 1e-3
    # every tile got a gradient: no 16x16 block of the image is left all zero
    blocks = np.abs(grad).reshape(70 // 14, 14, 90 // 18, 18, 3).max(axis=(1, 3, 4))
    assert (blocks > 0).all()
    untiled = untiled_gradient(model, picture)
    assert np.corrcoef(grad.ravel(), untiled.ravel())[0, 1] > 0.3  # same places, only tile borders differ


def test_dream_keeps_the_size_and_raises_the_objective(model):
    picture = image(45, 61)
    result = dream.deep_dream(picture, model=model, layers=LAYERS, octaves=2, steps=5, tile_size=32,
                              preprocess=to_unit)
    assert result.shape == picture.shape and result.dtype == np.uint8
    before, after = objective(model, picture), objective(model, result)
    assert after > before + 0.1 * abs(before), (before, after)
    assert np.abs(result.astype(np.float64) - np.round(picture)).mean() > 1.0  # more than rounding


def test_same_seed_same_bytes(model):
    picture = image(40, 40)
    run = lambda: dream.deep_dream(picture, model=model, layers=LAYERS, octaves=2, steps=3, tile_size=32,
                                   preprocess=to_unit, seed=5)
    np.testing.assert_array_equal(run(), run())


def test_a_second_dream_reuses_its_steps_and_reads_the_weights_of_the_moment():
    kept, other = tiny_model(0), tiny_model(1)
    picture = image(40, 40)
    run = lambda m: dream.deep_dream(picture, model=m, layers=LAYERS, octaves=2, steps=3, tile_size=32,  # noqa: E731
                                     preprocess=to_unit)
    first = run(kept)
    steps = dream._kept_gradients(kept, LAYERS, to_unit)
    kept.set_weights(other.get_weights())
    np.testing.assert_array_equal(run(kept), run(other))
    assert dream._kept_gradients(kept, LAYERS, to_unit) is steps
    assert not np.array_equal(first, run(other))  # the weights change the dream


def test_bad_arguments(model):
    with pytest.raises(KerasvizError, match="not in"):
        dream.deep_dream(image(32, 32), model=model, layers={"mixed3": 1.0})
    with pytest.raises(KerasvizError, match="no default DeepDream layers"):
        dream.deep_dream(image(32, 32), model=model)
    with pytest.raises(KerasvizError, match=r"tile_size of DeepDream must be in 32\.\.; got 8"):
        dream.deep_dream(image(32, 32), model=model, layers=LAYERS, tile_size=8)


def test_options_are_checked_where_declared_and_what_does_not_apply_is_an_error():
    with pytest.raises(KerasvizError, match="option 'content_weight' does not apply to DeepDream; valid: layers"):
        dream.deep_dream(image(32, 32), content_weight=1)
    for bad, says in [({"octaves": 0}, "octaves of DeepDream must be in 1..; got 0"),
                      ({"steps": -1}, "steps of DeepDream must be in 0..; got -1"),
                      ({"octave_scale": 0.5}, "octave_scale of DeepDream must be in 1..; got 0.5"),
                      ({"layers": ("c2:heavy",)}, "cannot read DeepDream layer weight 'c2:heavy'"),
                      ({"layers": ()}, "no DeepDream layers given")]:
        with pytest.raises(KerasvizError, match=says):
            dream.DreamOptions(**bad)
    with pytest.raises(KerasvizError, match="options for DeepDream are DreamOptions, not StyleOptions"):
        from kerasviz.synthesis import style

        dream.deep_dream(image(32, 32), options=style.StyleOptions())


def test_layers_as_names_weighted_names_or_a_mapping(model):
    given = dream.DreamOptions(layers=("c2", "c3:0.5"))
    assert given.layers == ("c2", "c3:0.5") and given.layer_weights(model) == LAYERS
    assert dream.DreamOptions(layers=LAYERS).layer_weights(model) == LAYERS
    with pytest.raises(KerasvizError, match="no default DeepDream layers"):
        dream.DreamOptions().layer_weights(model)


def test_options_and_overrides_give_the_same_dream(model):
    picture = image(36, 36)
    options = dream.DreamOptions(layers=LAYERS, octaves=2, steps=2, tile_size=32, seed=4)
    by_options = dream.deep_dream(picture, model=model, options=options, preprocess=to_unit)
    by_keywords = dream.deep_dream(picture, model=model, layers={"c2": 1, "c3": 0.5}, octaves=2, steps=2,
                                   tile_size=32, seed=4, preprocess=to_unit)
    np.testing.assert_array_equal(by_options, by_keywords)
    overridden = dream.deep_dream(picture, model=model, options=options, octaves=1, steps=0, preprocess=to_unit)
    np.testing.assert_array_equal(overridden, np.round(picture).astype(np.uint8))  # overrides win: the picture back


def test_the_sidecar_records_the_options(model, tmp_path):
    import json

    from kerasviz.apps import dream as dream_app

    options = dream.DreamOptions(layers=("c2", "c3:0.5"), octaves=1, steps=1, tile_size=32)
    facts = dream_app.run(image(24, 24), str(tmp_path / "d.png"), model=model, options=options, seed=3)
    saved = json.loads((tmp_path / "d.json").read_text())
    assert saved["layers"] == LAYERS and saved["steps_per_octave"] == 1 and saved["seed"] == 3
    assert saved["options"] == {"layers": ["c2:1.0", "c3:0.5"], "octaves": 1, "octave_scale": dream.OCTAVE_SCALE,
                                "steps": 1, "step_size": dream.STEP_SIZE, "tile_size": 32, "seed": 3}
    assert facts["options"] == saved["options"]


@pytest.mark.parametrize(("weights", "preprocess", "expected"), [
    ("offline", None, ("vgg16", "offline", None)),
    ("imagenet", None, ("inceptionv3", "imagenet", None)),
    (None, "tf", ("inceptionv3", None, "tf")),
    ("my.weights.h5", None, ("inceptionv3", "my.weights.h5", None)),
])
def test_weights_without_a_model_are_used_as_given(monkeypatch, tmp_path, weights, preprocess, expected):
    # --weights and --preprocess without --model pick the dream's network; only "auto" may fall back
    from kerasviz.apps import _jobs
    from kerasviz.apps import dream as dream_app

    asked = []

    def network(model, weights, preprocess):
        asked.append((model, weights, preprocess))
        raise KerasvizError("stop here")

    monkeypatch.setattr(_jobs, "network", network)
    monkeypatch.setattr(dream, "default_model", lambda *a: pytest.fail("fell back to the default network"))
    with pytest.raises(KerasvizError, match="stop here"):
        dream_app.run(np.zeros((8, 8, 3), np.uint8), str(tmp_path / "d.png"), weights=weights, preprocess=preprocess)
    assert asked == [expected]


def test_auto_weights_without_a_model_take_the_default_network_with_its_preprocessing(monkeypatch, tmp_path):
    from kerasviz.apps import dream as dream_app

    asked = []

    def default_model(preprocess=None):
        asked.append(preprocess)
        raise KerasvizError("stop here")

    monkeypatch.setattr(dream, "default_model", default_model)
    with pytest.raises(KerasvizError, match="stop here"):
        dream_app.run(np.zeros((8, 8, 3), np.uint8), str(tmp_path / "d.png"), weights="auto", preprocess="torch")
    assert asked == ["torch"]
