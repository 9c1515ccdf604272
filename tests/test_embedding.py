"""Features, nearest neighbours and the 2-D map: two kinds of pictures separate."""

import keras
import numpy as np
import pytest

from kerasviz.dataset.embedding import embed_2d, image_features, nearest_neighbours
from kerasviz.errors import KerasvizError


def edge_energy_model() -> keras.Model:
    """'edges': ReLU of +-Sobel-x and +-Sobel-y on the grey image: horizontal and vertical edge energy."""
    inputs = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(4, 3, padding="valid", activation="relu", name="edges")(inputs)
    model = keras.Model(inputs, x, name="edgy")
    sobel = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], np.float32) / 3 / 255
    kernel = np.zeros((3, 3, 3, 4), np.float32)
    for c in range(3):
        kernel[:, :, c, 0], kernel[:, :, c, 1] = sobel, -sobel  # vertical edges
        kernel[:, :, c, 2], kernel[:, :, c, 3] = sobel.T, -sobel.T  # horizontal edges
    model.get_layer("edges").set_weights([kernel, np.zeros(4, np.float32)])
    return model


def stripes(rng, vertical: bool, side: int = 32) -> np.ndarray:
    """A dark and a light random colour in stripes of random period and phase, with noise."""
    period, phase = rng.uniform(4, 10), rng.uniform(0, 2 * np.pi)
    wave = (np.sin(2 * np.pi * np.arange(side) / period + phase) > 0).astype(np.float32)
    mask = np.tile(wave[None, :], (side, 1)) if vertical else np.tile(wave[:, None], (1, side))
    a, b = rng.uniform(0, 100, 3), rng.uniform(155, 255, 3)
    image = a * mask[..., None] + b * (1 - mask[..., None]) + rng.normal(0, 4, (side, side, 3))
    return np.clip(image, 0, 255).astype(np.uint8)


def test_two_kinds_of_pictures_separate_in_neighbours_and_on_the_map():
    rng = np.random.default_rng(0)
    kinds = np.array([i % 2 for i in range(30)])
    images = ((f"{'v' if k else 'h'}{i}", stripes(rng, bool(k))) for i, k in enumerate(kinds))
    names, features = image_features(edge_energy_model(), "edges", images, size=None, batch_size=8)
    assert names[:3] == ["h0", "v1", "h2"] and features.shape == (30, 4)
    nearest, similarity = nearest_neighbours(features, 5)
    assert (kinds[nearest] == kinds[:, None]).all()  # every neighbour is of the same kind
    assert (np.diff(similarity, axis=1) <= 1e-6).all()  # most similar first
    xy = embed_2d(features, seed=0)
    assert xy.shape == (30, 2) and xy.min() == 0.0 and xy.max() == 1.0
    d = ((xy[:, None] - xy[None]) ** 2).sum(-1)
    within = d[kinds[:, None] == kinds[None]].mean()
    between = d[kinds[:, None] != kinds[None]].mean()
    assert between > 4 * within, (between, within)  # two clusters on the map
    np.fill_diagonal(d, np.inf)
    assert (kinds[d.argmin(axis=1)] == kinds).all()


def test_nearest_neighbours_by_cosine_on_known_vectors():
    features = np.array([[1, 0], [10, 1], [0, 1], [-1, 0], [1, 1]], np.float32)
    nearest, similarity = nearest_neighbours(features, 2)
    assert nearest[0].tolist() == [1, 4]  # scale does not matter: cosine
    np.testing.assert_allclose(similarity[0], [10 / np.sqrt(101), 1 / np.sqrt(2)], rtol=1e-6)
    assert nearest[3].tolist() == [2, 4]  # ties (cosine 0 with 2, and -0.7 with 4): lower index first
    assert nearest_neighbours(features, 99)[0].shape == (5, 4)  # k capped at N - 1


def test_pca_map_and_bad_input():
    rng = np.random.default_rng(1)
    xy = embed_2d(rng.normal(size=(6, 3)), method="pca")
    assert xy.shape == (6, 2) and np.isclose(xy.min(axis=0), 0).all() and np.isclose(xy.max(axis=0), 1).all()
    with pytest.raises(KerasvizError, match="unknown map method 'umap'; valid: tsne, pca"):
        embed_2d(np.ones((4, 2)), method="umap")
    with pytest.raises(KerasvizError, match="at least 2 feature vectors"):
        nearest_neighbours(np.ones((1, 3)), 1)
    with pytest.raises(KerasvizError, match="k must be a positive integer; got 0"):
        nearest_neighbours(np.ones((3, 3)), 0)


def test_feature_map_job_writes_map_panel_and_neighbours(tmp_path):
    import json

    import imageio.v3 as iio

    from kerasviz.apps import feature_map

    rng = np.random.default_rng(2)
    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(12):
        iio.imwrite(folder / f"{'v' if i % 2 else 'h'}{i:02d}.png", stripes(rng, bool(i % 2)))
    out = str(tmp_path / "map.png")
    facts = feature_map.run(str(folder), out, model=edge_energy_model(), k=3, queries=2, size=None)
    assert facts["layer"] == "edges" and len(facts["images"]) == 12 and facts["queries"] == ["h00.png", "v11.png"]
    with open(tmp_path / "map.json") as f:
        saved = json.load(f)
    for entry in saved["neighbours"]:
        assert {n["image"][0] for n in entry["nearest"]} == {entry["image"][0]}  # h with h, v with v
    drawn = iio.imread(out)
    assert drawn.shape[0] > drawn.shape[1] >= 400  # the map, then two rows of neighbours beneath
    assert feature_map.run(str(folder), out, model=edge_energy_model()).get("skipped")
    with pytest.raises(KerasvizError, match="image '0' seen at 2x2 pixels is too small for layer 'edges'"):
        feature_map.run([np.zeros((2, 2, 3))] * 2, str(tmp_path / "tiny.png"), model=edge_energy_model(), size=None)
    with pytest.raises(KerasvizError, match="at least 2 images"):
        feature_map.run([np.zeros((8, 8, 3))], str(tmp_path / "one.png"), model=edge_energy_model())


def test_feature_map_takes_options_and_records_them(tmp_path):
    import json

    from kerasviz.apps import feature_map

    rng = np.random.default_rng(4)
    images = [(f"{'v' if i % 2 else 'h'}{i}", stripes(rng, bool(i % 2))) for i in range(6)]
    options = feature_map.FeatureMapOptions(method="pca", k=2, queries=1, size=None, batch_size=4)
    out = str(tmp_path / "map.png")
    facts = feature_map.run(images, out, model=edge_energy_model(), options=options, seed=3)
    with open(tmp_path / "map.json") as f:
        saved = json.load(f)
    assert saved["options"] == {"method": "pca", "k": 2, "queries": 1, "size": None, "batch_size": 4, "seed": 3}
    assert saved["options"] == facts["options"] and saved["method"] == "pca" and saved["seed"] == 3
    assert saved["k"] == 2 and len(saved["queries"]) == 1 and saved["size"] is None
    with pytest.raises(KerasvizError, match="option 'top' does not apply to the feature map"):
        feature_map.run(images, str(tmp_path / "other.png"), model=edge_energy_model(), top=3)
    with pytest.raises(KerasvizError, match=r"k of the feature map must be in 1\.\.; got 0"):
        feature_map.run(images, str(tmp_path / "other.png"), model=edge_energy_model(), k=0)
    with pytest.raises(KerasvizError, match="method 'umap' is not valid for the feature map; valid: tsne, pca"):
        feature_map.FeatureMapOptions(method="umap")
