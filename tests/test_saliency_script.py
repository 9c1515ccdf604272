"""scripts/saliency_maps.py and kerasviz.apps.saliency: outputs per image at its size; bad input: one line."""

import dataclasses
import json
import os
import re
import subprocess
import sys

import imageio.v3 as iio
import numpy as np
import pytest
from absl import flags

from kerasviz import _cli, load_model, saliency
from kerasviz.apps import saliency as app
from kerasviz.attribution.registry import REGISTRY, Method, MethodOptions, SmoothingOptions
from kerasviz.errors import KerasvizError
from kerasviz.options import option

SCRIPT = os.path.join(os.path.dirname(__file__), os.pardir, "scripts", "saliency_maps.py")
SIZE = 32  # the side VGG16 sees in these tests: small and fast


def write_image(path, shape=(40, 52, 3), seed=0):
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 80, shape).astype(np.uint8)
    image[10:26, 14:34] = (230, 40, 30)  # something to see
    iio.imwrite(path, image)
    return str(path)


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("photos")
    return [write_image(folder / "one.png"), write_image(folder / "two.jpg", shape=(30, 24, 3), seed=1)]


def test_run_writes_every_output_at_the_input_size(photos, tmp_path):
    out = str(tmp_path / "out")
    results = app.run(photos, out, target="block5_conv3", weights="offline", method="gradcam", segment=True, size=SIZE)
    for path, facts in zip(photos, results, strict=True):
        stem = os.path.splitext(os.path.basename(path))[0]
        height, width = iio.imread(path).shape[:2]
        saliency_map = np.load(os.path.join(out, f"{stem}_saliency.npy"))
        assert saliency_map.shape == (height, width) and saliency_map.dtype == np.float32
        overlay = iio.imread(os.path.join(out, f"{stem}_saliency.png"))
        assert overlay.shape == (height, width, 3) and overlay.dtype == np.uint8
        mask = iio.imread(os.path.join(out, f"{stem}_mask.png"))
        assert mask.shape == (height, width) and set(np.unique(mask)) <= {0, 255} and mask.max() == 255
        cutout = iio.imread(os.path.join(out, f"{stem}_cutout.png"))
        assert cutout.shape == (height, width, 4)
        np.testing.assert_array_equal(cutout[..., 3], mask)
        with open(os.path.join(out, f"{stem}_saliency.json")) as f:
            sidecar = json.load(f)
        assert sidecar["weights"].startswith("offline") and sidecar["target"] == "block5_conv3"
        assert sidecar["method"] == "gradcam" and sidecar["seconds"] == facts["seconds"] > 0

    again = app.run(photos, out, target="block5_conv3", weights="offline", method="gradcam", segment=True, size=SIZE)
    assert all(facts.get("skipped") for facts in again)
    # A kept image reports its facts, as the finished run wrote them.
    assert [(f["image"], f["method"], f["seconds"]) for f in again] == [(f["image"], f["method"], f["seconds"])
                                                                        for f in results]
    redone = app.run(photos[:1], out, target="block5_conv3", weights="offline", method="gradcam", segment=True,
                     overwrite=True, size=SIZE)
    assert not redone[0].get("skipped")


def test_run_records_the_options_that_shaped_the_map(photos, tmp_path):
    """Options left unset are the method's defaults in the sidecar; SmoothGrad wraps integrated gradients."""
    run = lambda method, **options: app.run(
        photos[:1], str(tmp_path / method), target="block5_conv3", weights="offline", method=method, size=SIZE,
        **options,
    )[0]
    gradcam = run("gradcam")
    assert gradcam["options"] == {"layer": None} and gradcam["precision"] == "float32" and not gradcam["smooth"]
    smoothed = run("integrated_gradients", smooth=True, method_options={"samples": 2, "steps": 3})
    assert smoothed["options"] == {"precision": "float32", "steps": 3, "baseline": 0.0, "samples": 2, "noise": 0.15,
                                   "seed": 0}
    assert smoothed["precision"] == "float32" and smoothed["smooth"]


def test_run_passes_the_layer_option_to_gradcam_plus_plus(tmp_path):
    """method_options reach saliency(): the map is the one of the layer asked for, which the sidecar records."""
    path = write_image(tmp_path / "square.png", shape=(SIZE, SIZE, 3))  # the size the model sees: no resizing
    out = str(tmp_path / "out")
    facts = app.run([path], out, target="block5_conv3", weights="offline", method="gradcam_plus_plus", size=SIZE,
                    method_options={"layer": "block4_conv3"})[0]
    with open(os.path.join(out, "square_saliency.json")) as f:
        assert json.load(f)["options"] == {"layer": "block4_conv3"} == facts["options"]
    image = iio.imread(path).astype(np.float32)
    model = load_model("vgg16", "offline")
    expected = saliency(model, image, "block5_conv3", method="gradcam_plus_plus", layer="block4_conv3")
    np.testing.assert_allclose(np.load(os.path.join(out, "square_saliency.npy")), expected, rtol=1e-5, atol=1e-6)
    assert not np.allclose(expected, saliency(model, image, "block5_conv3", method="gradcam_plus_plus"))


def define_method_flags() -> tuple[set[str], flags.FlagValues]:
    values = flags.FlagValues()
    return set(_cli.define_shared_option_flags(app.method_option_fields(), flag_values=values)), values


def test_the_method_flags_are_the_registrys_options(monkeypatch):
    """One flag per option (flag=True) of every registered method's Options and SmoothGrad's, default None; so a
    method or option added to the registry has its flag, help and bounds with no edit to the script or the job."""
    registered = {method.options for method in REGISTRY.values()} | {SmoothingOptions}
    union = {f.name for options in registered for f in dataclasses.fields(options) if f.metadata["flag"]}
    names, values = define_method_flags()
    assert names == union and "baseline" not in names  # baseline is flag=False
    assert {"layer", "masks", "cells", "probability", "seed", "head_fusion", "discard", "patch", "stride", "noise",
            "samples", "steps", "precision"} <= names
    assert all(values[name].default is None for name in names)
    assert values["head_fusion"].parser.enum_values == ["mean", "max", "min"]
    assert "Applies to rise." in values["masks"].help and "Default 1000." in values["masks"].help
    assert "For rise: Seed of the masks." in values["seed"].help
    with pytest.raises(flags.IllegalFlagValueError):
        values["probability"].parse("1.5")  # RiseOptions' bounds are the flag's

    @dataclasses.dataclass(frozen=True)
    class ToyOptions(MethodOptions):
        WHAT = "saliency method 'toy'"
        tiles: int = option(3, "Tiles a side.", low=2)
        masks: int = option(10, "Masks of the toy.", low=5)  # rise's masks have low=1: the flag has no bound

    monkeypatch.setitem(REGISTRY, "toy", Method("toy", lambda scoring, **options: None, ToyOptions))
    names, values = define_method_flags()
    assert names == union | {"tiles"}
    assert values["tiles"].help == "Tiles a side. Default 3. Applies to toy."
    with pytest.raises(flags.IllegalFlagValueError):
        values["tiles"].parse("1")
    values["masks"].parse("1")  # no bound where the methods disagree: the Options class checks it
    assert "For toy: Masks of the toy. Default 10." in values["masks"].help


@pytest.mark.parametrize("segment_method", ["geodesic", "spectral", "grabcut", "threshold"])
def test_run_segment_methods_and_regions(photos, tmp_path, segment_method):
    out = str(tmp_path / "out")
    results = app.run(
        photos[:1], out, target="block5_conv3", weights="offline", method="gradcam", segment=True, size=SIZE,
        segment_method=segment_method, regions=3,
    )  # fmt: skip
    assert results[0]["segment_method"] == segment_method and results[0]["regions"] == 3
    height, width = iio.imread(photos[0]).shape[:2]
    mask = iio.imread(os.path.join(out, "one_mask.png"))
    assert mask.shape == (height, width) and set(np.unique(mask)) <= {0, 255}
    regions = iio.imread(os.path.join(out, "one_regions.png"))
    assert regions.shape == (height, width, 3) and len(np.unique(regions.reshape(-1, 3), axis=0)) == 3
    drawn = iio.imread(os.path.join(out, "one_cartoon.png"))
    assert drawn.shape == (height, width, 3) and drawn.dtype == np.uint8
    if segment_method == "geodesic":  # the red block of write_image is the object
        truth = np.zeros((height, width), bool)
        truth[10:26, 14:34] = True
        assert ((mask > 0) & truth).sum() / ((mask > 0) | truth).sum() > 0.7


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"segment_method": "kmeans"}, "unknown segment method 'kmeans'; valid: geodesic"),
        ({"regions": 1}, "regions must be an integer from 2 to 32"),
        ({"target": "281"}, "offline weights have none; use a layer target such as --target=block5_conv3"),
        ({"target": "block9_conv3"}, "layer 'block9_conv3' not in vgg16; closest"),
        ({"target": "block5_conv3:512"}, "valid filters are 0-511"),
        ({"method": "lime"}, "valid: vanilla"),
        ({"images": ["missing.png"]}, "'missing.png' does not exist"),
        ({"images": []}, "no images given"),
        ({"method": "gradcam", "method_options": {"samples": 8}}, "samples= applies to smoothgrad"),
        ({"method": "vanilla", "method_options": {"masks": 8}}, "masks= applies to rise, not to method='vanilla'"),
        ({"method": "rise", "method_options": {"probability": 0.0}}, "probability of saliency method 'rise'"),
        ({"method_options": {"colour": 1}}, "unknown saliency option 'colour'; valid: samples"),
        ({"method": "smoothgrad", "method_options": {"precision": "bf16"}}, "unknown precision 'bf16'"),
        ({"method": "occlusion", "smooth": True}, "smooth=True applies to vanilla"),
    ],
)
def test_run_bad_input(photos, tmp_path, kwargs, message):
    args = {"images": photos, "target": "block5_conv3", "method": "vanilla"} | kwargs
    extra = {k: v for k, v in args.items() if k in ("segment_method", "regions", "method_options", "smooth")}
    with pytest.raises(KerasvizError, match=message):
        app.run(
            args["images"], str(tmp_path), target=args["target"], weights="offline", method=args["method"], size=SIZE,
            **extra,
        )


def test_run_refuses_unreadable_images_and_clashing_names(tmp_path, photos):
    text = tmp_path / "notes.png"
    text.write_text("not a picture")
    with pytest.raises(KerasvizError, match="notes.png.*not an image file"):
        app.run([str(text)], str(tmp_path), target="block5_conv3", weights="offline", method="vanilla", size=SIZE)
    other = tmp_path / "sub"
    other.mkdir()
    clash = write_image(other / "one.png")
    with pytest.raises(KerasvizError, match="share the name 'one'"):
        app.run([photos[0], clash], str(tmp_path), target="block5_conv3", weights="offline", method="vanilla")


# TensorFlow's C++ runtime prints these at import, before any flag or environment variable can
# silence them (TF 2.21); they are not the script's output.
TF_RUNTIME_LINES = re.compile(r"^(WARNING: All log messages before absl::InitializeLog|[IWE]\d{4} )")


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip() and not TF_RUNTIME_LINES.match(line)]


def run_script(*args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True, env=env, timeout=300)


def test_script_writes_outputs(photos, tmp_path):
    """Every output, with the method's options from their flags (RISE's here) in the sidecars."""
    out = tmp_path / "out"
    done = run_script(
        "--weights=offline", f"--image={photos[0]},{photos[1]}", "--target=block5_conv3", "--method=rise",
        "--masks=4", "--cells=3", "--seed=1", "--segment", "--regions=4", f"--out={out}", f"--size={SIZE}",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert error_lines(done.stderr) == []
    assert sorted(os.listdir(out)) == sorted(
        f"{stem}{suffix}"
        for stem in ("one", "two")
        for suffix in (*app.SUFFIXES, *app.MASK_SUFFIXES, *app.REGION_SUFFIXES)
    )
    with open(out / "one_saliency.json") as f:
        sidecar = json.load(f)
    assert sidecar["method"] == "rise" and sidecar["options"] == {"masks": 4, "cells": 3, "probability": 0.5, "seed": 1}
    saliency_map = np.load(out / "one_saliency.npy")
    assert saliency_map.shape == (40, 52) and np.isfinite(saliency_map).all() and np.ptp(saliency_map) > 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--weights=offline", "--target=281"], "error: class target 281 needs the ImageNet classifier"),
        (["--weights=offline", "--target=block5_conv3", "--method=magic"], "error: flag --method=magic"),
        (["--weights=offline", "--target=block5_conv3", "--regions=1"], "error: flag --regions=1"),
        (["--weights=offline", "--target=block5_conv3", "--segment_method=kmeans"], "error: flag --segment_method"),
        (["--weights=offline", "--target=block5_conv3", "--method=vanilla", "--masks=4"],
         "error: masks= applies to rise, not to method='vanilla'"),
    ],
)
def test_script_bad_input_is_one_line_and_exit_2(photos, tmp_path, args, message):
    done = run_script(f"--image={photos[0]}", f"--out={tmp_path}", *args)
    assert done.returncode == 2
    lines = error_lines(done.stderr)
    assert len(lines) == 1 and lines[0].startswith(message), done.stderr
    assert "Traceback" not in done.stderr
