"""Any image in (kerasviz.io.load_image), and outputs written atomically."""

import os
import stat
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from kerasviz import io
from kerasviz.errors import KerasvizError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ORIENTATION = 0x0112  # the EXIF tag


def _save(path, array, mode=None, **options):
    Image.fromarray(array, mode).save(path, **options) if mode else Image.fromarray(array).save(path, **options)
    return str(path)


def _photo(height=48, width=64, seed=0):
    """A smooth colour picture, so JPEG keeps it close."""
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([x * 255 // width, y * 255 // height, np.full_like(x, 90)], -1).astype(np.uint8)


def test_png_is_exact(tmp_path):
    photo = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    loaded = io.load_image(_save(tmp_path / "a.png", photo))
    assert loaded.dtype == np.uint8 and np.array_equal(loaded, photo)


def test_jpeg(tmp_path):
    loaded = io.load_image(_save(tmp_path / "a.jpg", _photo(), quality=95))
    assert loaded.shape == (48, 64, 3) and loaded.dtype == np.uint8
    assert np.abs(loaded.astype(int) - _photo()).mean() < 3


def test_rgba_alpha_over_white(tmp_path):
    rgba = np.zeros((2, 3, 4), np.uint8)
    rgba[0, 0] = (200, 100, 0, 255)  # opaque: kept
    rgba[0, 1] = (200, 100, 0, 0)  # transparent: white
    rgba[0, 2] = (200, 100, 0, 128)  # half: blended with white
    loaded = io.load_image(_save(tmp_path / "a.png", rgba, "RGBA"))
    assert loaded.shape == (2, 3, 3)
    assert loaded[0, 0].tolist() == [200, 100, 0] and loaded[0, 1].tolist() == [255, 255, 255]
    expected = np.array([200, 100, 0]) * 128 / 255 + 255 * 127 / 255
    assert np.abs(loaded[0, 2] - expected).max() <= 1


def test_greyscale_palette_and_one_bit(tmp_path):
    grey = np.arange(48, dtype=np.uint8).reshape(6, 8) * 5
    loaded = io.load_image(_save(tmp_path / "g.png", grey))
    assert loaded.shape == (6, 8, 3) and all(np.array_equal(loaded[..., c], grey) for c in range(3))
    palette = Image.fromarray(_photo()).quantize(16)
    palette.save(tmp_path / "p.png")
    assert np.abs(io.load_image(str(tmp_path / "p.png")).astype(int) - _photo()).mean() < 12
    Image.new("1", (5, 4), 1).save(tmp_path / "b.png")
    assert (io.load_image(str(tmp_path / "b.png")) == 255).all()


def test_cmyk_jpeg_is_converted_not_read_as_rgba(tmp_path):
    Image.new("CMYK", (4, 4), (0, 255, 0, 0)).save(tmp_path / "m.jpg", quality=100)
    r, g, b = io.load_image(str(tmp_path / "m.jpg"))[0, 0].astype(int)
    assert r > 230 and g < 25 and b > 230  # magenta


def test_sixteen_bit_png_is_scaled_not_clipped(tmp_path):
    levels = np.array([[0, 257 * 100, 65535, 3 * 257]], np.uint16)  # 16-bit values of 0, 100, 255, 3
    loaded = io.load_image(_save(tmp_path / "a.png", levels))
    assert Image.open(tmp_path / "a.png").mode.startswith("I")
    assert loaded[0, :, 0].tolist() == [0, 100, 255, 3]
    dark = np.full((2, 2), 200, np.uint16)  # a nearly black 16-bit picture stays nearly black
    assert io.load_image(_save(tmp_path / "d.png", dark)).max() <= 1


def test_exif_orientation_is_applied(tmp_path):
    picture = np.zeros((20, 40, 3), np.uint8)
    picture[:, :20] = (0, 0, 255)  # left half blue, right half red
    picture[:, 20:] = (255, 0, 0)
    exif = Image.Exif()
    exif[ORIENTATION] = 6  # "rotate 90 degrees clockwise to display"
    path = _save(tmp_path / "a.jpg", picture, quality=95, exif=exif.tobytes())
    loaded = io.load_image(path).astype(int)
    assert loaded.shape == (40, 20, 3)  # portrait, as a viewer shows it
    assert loaded[2, 10, 2] > 200 and loaded[-3, 10, 0] > 200  # blue on top, red at the bottom


def test_large_image_is_resized_to_the_limit(tmp_path):
    wide = np.tile(_photo(30, 64), (1, 50, 1))  # 30 x 3200
    path = _save(tmp_path / "wide.png", wide)
    loaded = io.load_image(path)
    assert loaded.shape == (round(30 * io.MAX_IMAGE_SIDE / 3200), io.MAX_IMAGE_SIDE, 3)
    assert io.load_image(path, max_side=None).shape == (30, 3200, 3)
    assert io.load_image(path, max_side=100).shape == (1, 100, 3)


def test_large_jpeg_decodes_reduced_but_not_below_the_limit(tmp_path):
    path = _save(tmp_path / "big.jpg", np.asarray(Image.fromarray(_photo()).resize((5000, 3000))), quality=90)
    loaded = io.load_image(path)
    assert loaded.shape == (round(3000 * io.MAX_IMAGE_SIDE / 5000), io.MAX_IMAGE_SIDE, 3)
    assert np.abs(loaded[::100, ::100].astype(int) - np.asarray(
        Image.fromarray(_photo()).resize(loaded.shape[1::-1]))[::100, ::100]).mean() < 8


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_truncated_file_is_a_clear_error(tmp_path, suffix):
    full = _save(tmp_path / f"full{suffix}", np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8))
    with open(full, "rb") as f:
        data = f.read()
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(KerasvizError, match=r"cannot read image .*cut.*truncated or corrupt"):
        io.load_image(str(cut))


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"hello, not a picture\n", r"not an image file; readable formats include PNG, JPEG"),
     (b"", r"not an image file")],
)
def test_non_image_file_is_a_clear_error(tmp_path, content, message):
    path = tmp_path / "notes.png"
    path.write_bytes(content)
    with pytest.raises(KerasvizError, match=message):
        io.load_image(str(path))


def test_missing_path_folder_and_bad_limit(tmp_path):
    with pytest.raises(KerasvizError, match=r"image '.*nope\.jpg' does not exist"):
        io.load_image(str(tmp_path / "nope.jpg"))
    with pytest.raises(KerasvizError, match="is a folder"):
        io.load_image(str(tmp_path))
    path = _save(tmp_path / "a.png", _photo())
    with pytest.raises(KerasvizError, match="max_side must be a positive integer"):
        io.load_image(path, max_side=0)


def test_script_with_truncated_image_exits_2_with_one_line(tmp_path):
    full = _save(tmp_path / "full.jpg", _photo(64, 64))
    with open(full, "rb") as f:
        data = f.read()
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(data[: len(data) // 3])
    done = subprocess.run(
        [sys.executable, os.path.join(ROOT, "scripts", "saliency_maps.py"), "--weights=none", f"--image={cut}",
         "--target=block1_conv1", "--method=vanilla", f"--out={tmp_path / 'out'}"],
        capture_output=True, text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"), timeout=300,
    )
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: cannot read image"), done.stderr
    assert "truncated or corrupt" in lines[0]


def test_atomic_path_leaves_nothing_on_error_and_keeps_the_old_file(tmp_path):
    target = tmp_path / "facts.json"
    target.write_text("old")
    with pytest.raises(RuntimeError, match="midway"), io.atomic_path(str(target)) as tmp:
        with open(tmp, "w") as f:
            f.write("half of the new")
        raise RuntimeError("midway")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["facts.json"]
    fresh = tmp_path / "new.png"
    with pytest.raises(KeyboardInterrupt), io.atomic_path(str(fresh)) as tmp:
        open(tmp, "wb").close()
        raise KeyboardInterrupt  # Ctrl-C mid-write
    assert sorted(os.listdir(tmp_path)) == ["facts.json"]


def test_atomic_writers_replace_whole_files(tmp_path):
    io.write_json(str(tmp_path / "a.json"), {"x": np.float32(1.5), "y": np.arange(2)})
    assert (tmp_path / "a.json").read_text() == '{\n  "x": 1.5,\n  "y": [\n    0,\n    1\n  ]\n}\n'
    io.write_png(str(tmp_path / "a.png"), _photo())
    assert np.array_equal(io.load_image(str(tmp_path / "a.png")), _photo())
    assert sorted(os.listdir(tmp_path)) == ["a.json", "a.png"]


def test_finished_files_get_the_mode_the_umask_gives(tmp_path):
    old = os.umask(0o022)
    try:
        io.write_png(str(tmp_path / "a.png"), np.zeros((4, 4, 3), np.uint8))
        io.write_json(str(tmp_path / "a.json"), {"x": 1})
        os.umask(0o077)
        io.write_json(str(tmp_path / "private.json"), {"x": 1})
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "a.png").st_mode) == 0o644  # readable when the gallery is shared
    assert stat.S_IMODE(os.stat(tmp_path / "a.json").st_mode) == 0o644
    assert stat.S_IMODE(os.stat(tmp_path / "private.json").st_mode) == 0o600
