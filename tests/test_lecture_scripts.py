"""scripts/dataset_exemplars.py and scripts/feature_map.py end to end, and their one-line errors."""

import json
import os
import subprocess
import sys

import imageio.v3 as iio
import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(script, *args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run([sys.executable, os.path.join(ROOT, "scripts", script), *args], capture_output=True,
                          text=True, env=env, timeout=300)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    path = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    for i in range(5):
        iio.imwrite(path / f"img{i}.png", rng.integers(0, 256, (40, 48 if i % 2 else 40, 3), dtype=np.uint8))
    return str(path)


def _one_line(result, message):
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2 and len(lines) == 1 and message in lines[0] and "Traceback" not in result.stderr, \
        result.stderr[-2000:]


def test_dataset_exemplars_script(folder, tmp_path):
    out = str(tmp_path / "out")
    done = _run("dataset_exemplars.py", f"--images={folder}", "--weights=none", "--layer=block2_conv1",
                "--filters=3,5", "--top=3", "--size=40", "--nosynthetic", f"--out={out}")
    assert done.returncode == 0, done.stderr[-2000:]
    picture = iio.imread(os.path.join(out, "vgg16_block2_conv1_exemplars.png"))
    assert picture.shape[2] == 3 and picture.shape[1] > 3 * picture.shape[0] / 2 / 1.1  # two rows of three patches
    with open(os.path.join(out, "vgg16_block2_conv1_exemplars.json")) as f:
        facts = json.load(f)
    assert facts["filters"] == [3, 5] and facts["images_seen"] == 5 and facts["receptive_field"] == 10
    patches = facts["exemplars"][0]["patches"]
    assert len(patches) == 3 and {"image", "box", "activation"} <= set(patches[0])
    assert patches[0]["image"].startswith("img") and patches[0]["activation"] >= patches[1]["activation"]


@pytest.mark.parametrize(
    "args,message",
    [
        (["--top=0"], "--top"),
        (["--layer=block9_conv1"], "layer 'block9_conv1' not in vgg16"),
        (["--images=EMPTY"], "has no images"),
    ],
)
def test_dataset_exemplars_bad_input(folder, tmp_path, args, message):
    empty = tmp_path / "empty"
    empty.mkdir()
    args = [a.replace("EMPTY", str(empty)) for a in args]
    _one_line(_run("dataset_exemplars.py", f"--images={folder}", "--weights=none", "--nosynthetic",
                   f"--out={tmp_path}", *args), message)


def test_feature_map_script(folder, tmp_path):
    out = str(tmp_path / "map.png")
    done = _run("feature_map.py", f"--images={folder}", "--weights=none", "--size=64", "--k=2", f"--out={out}")
    assert done.returncode == 0, done.stderr[-2000:]
    assert iio.imread(out).shape[2] == 3
    with open(tmp_path / "map.json") as f:
        facts = json.load(f)
    assert facts["layer"] == "block5_pool" and len(facts["images"]) == 5 and facts["k"] == 2
    assert all(0 <= v <= 1 for entry in facts["images"] for v in entry["xy"])
    _one_line(_run("feature_map.py", f"--images={tmp_path / 'nowhere'}", f"--out={out}"), "does not exist")
    _one_line(_run("feature_map.py", f"--images={folder}", "--weights=none", "--layer=fc9", f"--out={out}",
                   "--overwrite"), "layer 'fc9' not in vgg16")


def test_gallery_has_a_section_for_each(tmp_path):
    from kerasviz import io
    from kerasviz.apps import gallery

    tile = np.zeros((8, 8, 3), np.uint8)
    for name, facts in (("vgg16_block4_conv3_exemplars", {"layer": "block4_conv3", "filters": [0, 1], "top": 9}),
                        ("feature_map_photos", {"layer": "block5_pool"}), ("first_layer_vgg16", {"kernels": 64})):
        io.write_png(str(tmp_path / f"{name}.png"), tile)
        io.write_json(str(tmp_path / f"{name}.json"), facts)
    with open(gallery.write_index(str(tmp_path))) as f:
        page = f.read()
    for section in ("exemplars", "feature_map", "first_layer"):
        assert f'<section id="{section}">' in page
    assert 'id="model-vgg16"' not in page  # an exemplars sidecar names a layer and filters, yet is not a filter grid
