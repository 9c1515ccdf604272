import json
import os
import subprocess
import sys
import textwrap

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Runs scripts/visualize_all.py with each part's readme_examples replaced by a recorder, so the
# test checks what the script asks of the parts without rendering anything.
RECORD = textwrap.dedent("""
    import atexit, json, runpy, sys
    sys.path.insert(0, "scripts")
    from kerasviz.apps import classes, dream, exemplars, feature_map, first_layer, reconstruct, saliency, style
    calls = {}
    def recorder(name):
        def readme_examples(out, *, bars, **options):
            assert callable(bars(name))  # a progress callback per long step
            calls[name] = options
            return []
        return readme_examples
    for module in (saliency, style, dream, exemplars, feature_map, first_layer):
        module.readme_examples = recorder(module.__name__.rsplit(".", 1)[-1])
    reconstruct.readme_examples_inversion = recorder("inversion")
    reconstruct.readme_examples_texture = recorder("texture")
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
    assert all(options == {"weights": "offline", "overwrite": True} for options in redo.values())
    keep = _calls(tmp_path)
    assert set(keep) == {"saliency", "style", "dream", "inversion", "texture", "classes"}
    assert all(options["overwrite"] is False for options in keep.values())


def test_lecture_parts_are_made_by_visualize_all(tmp_path):
    calls = _calls(tmp_path, only="exemplars,feature_map,first_layer")
    assert calls == {part: {"weights": "offline", "overwrite": False}
                     for part in ("exemplars", "feature_map", "first_layer")}


def test_ends_with_the_gallery_path_and_the_time_taken(tmp_path):
    out = tmp_path / "fresh_gallery"  # a folder that does not exist yet: the newcomer's first command
    lines = _run(out, only="first_layer").stdout.splitlines()
    gallery = next(x for x in lines if x.startswith("gallery: "))[len("gallery: "):]
    assert os.path.isabs(gallery) and gallery == str(out / "index.html") and os.path.isfile(gallery)
    assert lines[-1] == "CALLS " + json.dumps({"first_layer": {"weights": "offline", "overwrite": False}})
    assert lines[-2].startswith("gallery: ") and lines[-3].startswith("done in ") and " s (first_layer " in lines[-3]
