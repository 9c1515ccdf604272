import json
import logging
import os
import subprocess
import sys

import imageio.v3 as iio
import numpy as np
import pytest

from kerasviz import _cli
from kerasviz.apps import filters as filters_app
from kerasviz.errors import KerasvizError
from tests.helpers import tiny_cnn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "scripts", "visualize_filters.py")


def _run(*args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True, env=env, timeout=300)


def test_script_writes_grid_sidecar_and_tiles(tmp_path):
    out = str(tmp_path / "out")
    result = _run("--model=vgg16", "--weights=none", "--layer=block2_conv1", "--filters=3-5,9", "--size=32",
                  "--steps=2", f"--out={out}", "--tiles")
    assert result.returncode == 0, result.stderr[-3000:]
    grid = iio.imread(os.path.join(out, "vgg16_block2_conv1.png"))
    assert grid.ndim == 3 and grid.shape[2] == 3 and grid.shape[0] >= 64
    tiles = sorted(os.listdir(os.path.join(out, "vgg16_block2_conv1")))
    assert tiles == ["0003.png", "0004.png", "0005.png", "0009.png"]
    assert iio.imread(os.path.join(out, "vgg16_block2_conv1", "0009.png")).shape == (32, 32, 3)
    with open(os.path.join(out, "vgg16_block2_conv1.json")) as f:
        facts = json.load(f)
    for key in ("model", "weights", "layer", "filters", "method", "steps", "size", "seed", "seconds", "activations"):
        assert key in facts
    assert facts["filters"] == [3, 4, 5, 9] and facts["weights"] == "random" and len(facts["activations"]) == 4
    again = _run("--model=vgg16", "--weights=none", "--layer=block2_conv1", "--filters=3-5,9", "--size=32",
                 "--steps=2", f"--out={out}", "--tiles")
    assert again.returncode == 0 and "kept" in again.stdout


@pytest.mark.parametrize(
    "args,message",
    [
        (["--layer=block6_conv1"], "layer 'block6_conv1' not in vgg16; closest: block5_conv1"),
        (["--layer=block1_conv1", "--filters=60-64"], "filter 64 out of range: valid filters are 0-63"),
        (["--model=alexnet"], "--model"),
        (["--layer=block1_conv1", "--filters=1-x"], "cannot read filters '1-x'"),
        (["--layer=block1_conv1", "--out=/dev/null/sub"], "cannot create output folder"),
    ],
)
def test_bad_input_is_one_line_and_status_2(args, message):
    result = _run("--weights=none", "--steps=1", "--size=16", *args)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in result.stderr, result.stderr


def test_parse_indices():
    assert _cli.parse_indices("0-2,7, 5", 8) == [0, 1, 2, 5, 7]
    assert _cli.parse_indices("all", 3) == [0, 1, 2]
    with pytest.raises(KerasvizError, match="filter 3 out of range: valid filters are 0-2"):
        _cli.parse_indices("1-3", 3)
    with pytest.raises(KerasvizError, match="cannot read"):
        _cli.parse_indices("5-2", 8)


def test_interrupted_layer_resumes_and_matches_an_uninterrupted_run(tmp_path, monkeypatch):
    monkeypatch.setattr(filters_app, "CHUNK", 2)
    model = tiny_cnn()
    kwargs = dict(size=24, steps=3, tiles=True)
    calls = []

    def interrupt_in_second_chunk(done, total):
        calls.append(done)
        if done > 2 * 3:  # past the first chunk of 2 filters x 3 steps
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        filters_app.run("conv2", [0, 1, 2, 3, 4], str(tmp_path), model=model, progress=interrupt_in_second_chunk,
                        **kwargs)
    assert sorted(os.listdir(tmp_path / "tiny_conv2")) == ["0000.png", "0001.png"]  # the finished chunk is kept
    facts = filters_app.run("conv2", [0, 1, 2, 3, 4], str(tmp_path), model=model, **kwargs)
    assert facts["resumed_filters"] == 2
    fresh = filters_app.run("conv2", [0, 1, 2, 3, 4], str(tmp_path / "fresh"), model=model, **kwargs)
    resumed_grid = iio.imread(tmp_path / "tiny_conv2.png")
    np.testing.assert_array_equal(resumed_grid, iio.imread(tmp_path / "fresh" / "tiny_conv2.png"))
    assert facts["activations"] == fresh["activations"]
    assert not [name for name in os.listdir(tmp_path) if name.startswith(".")]  # no checkpoint or temp left


def test_an_interrupted_run_of_other_settings_is_not_resumed(tmp_path, monkeypatch):
    # a checkpoint of fft pictures must not open a grid asked of another method (or size, seed, steps)
    monkeypatch.setattr(filters_app, "CHUNK", 2)
    model = tiny_cnn()

    def interrupt_in_second_chunk(done, total):
        if done > 2 * 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        filters_app.run("conv2", [0, 1, 2, 3], str(tmp_path), model=model, size=24, steps=3,
                        progress=interrupt_in_second_chunk)
    assert any(name.endswith(".partial.npz") for name in os.listdir(tmp_path))
    facts = filters_app.run("conv2", [0, 1, 2, 3], str(tmp_path), model=model, size=24, steps=3, method="classic")
    assert facts["resumed_filters"] == 0 and facts["method"] == "classic"
    filters_app.run("conv2", [0, 1, 2, 3], str(tmp_path / "fresh"), model=model, size=24, steps=3, method="classic")
    np.testing.assert_array_equal(iio.imread(tmp_path / "tiny_conv2.png"),
                                  iio.imread(tmp_path / "fresh" / "tiny_conv2.png"))


def test_a_finished_grid_of_other_settings_is_kept_with_a_warning(tmp_path, caplog):
    model = tiny_cnn()
    first = filters_app.run("conv2", [0, 1], str(tmp_path), model=model, size=16, steps=2)
    before = (tmp_path / "tiny_conv2.png").read_bytes()
    with caplog.at_level(logging.WARNING, logger="kerasviz"):
        again = filters_app.run("conv2", [0, 1], str(tmp_path), model=model, size=16, steps=2)
    assert again.get("skipped") and not caplog.records  # same settings: kept quietly
    with caplog.at_level(logging.WARNING, logger="kerasviz"):
        other = filters_app.run("conv2", [0, 1], str(tmp_path), model=model, size=16, steps=2, method="classic",
                                seed=3)
    assert other.get("skipped") and other["method"] == first["method"]  # nothing finished is replaced
    assert (tmp_path / "tiny_conv2.png").read_bytes() == before
    message = " ".join(record.getMessage() for record in caplog.records)
    assert "method 'fft' (asked 'classic')" in message and "seed 0 (asked 3)" in message and "--overwrite" in message
    redone = filters_app.run("conv2", [0, 1], str(tmp_path), model=model, size=16, steps=2, method="classic",
                             overwrite=True)
    assert not redone.get("skipped") and redone["method"] == "classic"
