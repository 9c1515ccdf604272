"""Models from files: load_model(PATH), --model=PATH.keras|.h5 with --preprocess in every script, and
DeepDream at the input's size past the image-loading cap."""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile

import imageio.v3 as iio
import keras
import numpy as np
import pytest

from kerasviz import io, models
from kerasviz.apps import style as style_app
from kerasviz.errors import KerasvizError
from kerasviz.synthesis import style as style_lib
from tests.helpers import tiny_cnn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@keras.saving.register_keras_serializable(package="kerasviz_tests")
class Doubling(keras.layers.Layer):
    """A custom layer: registered while this module is imported, unknown to a fresh process."""

    def call(self, x):
        return 2.0 * x


def _classifier(extra=None) -> keras.Model:
    """tiny_cnn with a global-pooling and Dense(5) head: a small fine-tuned classifier, random weights."""
    base = tiny_cnn()
    x = base.output if extra is None else extra(base.output)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    return keras.Model(base.input, keras.layers.Dense(5, name="head")(x), name="tinyclf")


def _sha256(path) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    model = _classifier()
    paths = {"keras": str(folder / "tinyclf.keras"), "h5": str(folder / "tinyclf.h5")}
    model.save(paths["keras"])
    model.save(paths["h5"])
    model.save_weights(str(folder / "tinyclf.weights.h5"))
    _classifier(Doubling(name="doubling")).save(str(folder / "custom.keras"))
    _classifier(keras.layers.Lambda(lambda t: t + 1.0)).save(str(folder / "lambda.keras"))
    rng = np.random.default_rng(0)
    iio.imwrite(folder / "photo.png", rng.integers(0, 256, (40, 56, 3), dtype=np.uint8))
    iio.imwrite(folder / "texture.png", rng.integers(0, 256, (32, 32, 3), dtype=np.uint8))
    # Longer than io.MAX_IMAGE_SIDE, yet few pixels: a cheap dream past the image-loading cap.
    wide = np.tile(np.linspace(0, 255, io.MAX_IMAGE_SIDE + 52, dtype=np.float32)[None, :, None], (36, 1, 3))
    iio.imwrite(folder / "wide.png", wide.astype(np.uint8))
    (folder / "photos").mkdir()
    for i in range(3):
        iio.imwrite(folder / "photos" / f"p{i}.png", rng.integers(0, 256, (24, 32, 3), dtype=np.uint8))
    return {"folder": folder, "model": model, **paths}


@pytest.mark.parametrize("kind", ["keras", "h5"])
def test_a_model_file_loads_with_its_weights_name_and_hash(files, kind):
    model = models.load_model(files[kind], preprocess="torch")
    info = models.model_info(model)
    assert (info.name, info.file, info.preprocessing, info.include_top) == ("tinyclf", files[kind], "torch", True)
    assert info.sha256 == _sha256(files[kind])
    x = np.random.default_rng(1).uniform(0, 255, (2, 24, 24, 3)).astype(np.float32)
    ours, theirs = (keras.ops.convert_to_numpy(net(x)) for net in (model, files["model"]))
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)
    facts = models.model_facts(model)
    assert facts["model_file"] == files[kind] and facts["model_sha256"] == info.sha256


def test_a_model_file_defaults_to_no_preprocessing_and_refuses_other_weights(files):
    model = models.load_model(files["keras"])
    assert models.model_info(model).preprocessing == "none"
    x = np.array([[[[10.0, 20.0, 30.0]]]], np.float32)
    got = models.preprocess_fn(model)(keras.ops.convert_to_tensor(x))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(got), x)
    with pytest.raises(KerasvizError, match="brings its own weights"):
        models.load_model(files["keras"], "imagenet")


def test_torch_preprocessing_matches_keras_applications():
    x = np.random.default_rng(0).uniform(0, 255, (2, 5, 5, 3)).astype(np.float32)
    expected = keras.applications.imagenet_utils.preprocess_input(x.copy(), mode="torch")
    got = keras.ops.convert_to_numpy(models.preprocess_fn(tiny_cnn(), "torch")(keras.ops.convert_to_tensor(x)))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_a_named_model_keeps_its_own_preprocessing_unless_told():
    assert models.model_info(models.load_model("vgg16", None)).preprocessing == "caffe"
    assert models.model_info(models.load_model("vgg16", None, preprocess="torch")).preprocessing == "torch"
    with pytest.raises(KerasvizError, match="unknown preprocessing 'imagenet'; valid: caffe, tf, torch, none"):
        models.load_model("vgg16", None, preprocess="imagenet")


def _bad_files(folder):
    shutil.copy(folder / "tinyclf.weights.h5", folder / "weights_renamed.keras")
    (folder / "junk.keras").write_text("not a model")
    (folder / "junk.h5").write_text("not a model")
    with zipfile.ZipFile(folder / "other.keras", "w") as archive:
        archive.writestr("readme.txt", "a zip, not a model")
    (folder / "model.onnx").write_text("")
    (folder / "saved_model").mkdir(exist_ok=True)


@pytest.mark.parametrize(
    "name,says",
    [
        ("missing.keras", "does not exist"),
        ("saved_model", "is a folder; Keras 3 loads .keras and .h5 files"),
        ("tinyclf.weights.h5", "holds weights only, not a model"),
        ("weights_renamed.keras", "holds weights only, not a model"),
        ("junk.keras", "is not a saved Keras model"),
        ("junk.h5", "is not an HDF5 file"),
        ("other.keras", "is a zip archive but not a saved Keras model"),
        ("model.onnx", "is neither .keras nor .h5"),
        ("lambda.keras", "has a Lambda layer holding Python code, which safe mode does not run"),
    ],
)
def test_bad_model_files_say_what_is_wrong_in_one_line(files, name, says):
    _bad_files(files["folder"])
    with pytest.raises(KerasvizError) as err:
        models.load_model(str(files["folder"] / name))
    assert says in str(err.value) and "\n" not in str(err.value)


def _script(name, *args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=ROOT)
    return subprocess.run([sys.executable, os.path.join(ROOT, "scripts", name), *args], capture_output=True,
                          text=True, env=env, timeout=300)


def test_a_custom_layer_not_registered_is_one_line_and_exit_2(files):
    result = _script("visualize_filters.py", f"--model={files['folder'] / 'custom.keras'}", "--layer=conv1",
                     f"--out={files['folder'] / 'never'}")
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2, result.stderr[-2000:]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert "needs the custom object 'Doubling', which is not registered" in lines[0]


# (script, file kind, its arguments, the sidecar written, the picture and its expected (H, W) or None)
SCRIPTS = [
    ("visualize_filters.py", "keras", ["--layer=conv2", "--filters=0-2", "--size=24", "--steps=2", "--tiles",
                                       "--method=classic", "--preprocess=tf"], "tinyclf_conv2.json",
     "tinyclf_conv2/0002.png", (24, 24)),
    ("saliency_maps.py", "h5", ["--image={photo}", "--target=3", "--method=gradcam", "--segment",
                                "--segment_method=threshold", "--preprocess=caffe"], "photo_saliency.json",
     "photo_mask.png", (40, 56)),
    ("style_transfer.py", "keras", ["--content={photo}", "--style={texture}", "--size=32", "--steps=2",
                                    "--preprocess=torch", "--out={out}/styled.png"], "styled.json", "styled.png", None),
    ("style_layers_study.py", "h5", ["--content={photo}", "--style={texture}", "--size=24", "--steps=1",
                                     "--preprocess=none", "--out={out}/study.png"], "study.json", "study.md", None),
    ("deep_dream.py", "keras", ["--image={wide}", "--layers=conv2:1", "--octaves=2", "--steps=1",
                                "--preprocess=tf", "--out={out}/wide_dream.png"], "wide_dream.json", "wide_dream.png",
     (36, io.MAX_IMAGE_SIDE + 52)),
]


@pytest.mark.parametrize("script,kind,args,sidecar,picture,shape", SCRIPTS, ids=[s[0] for s in SCRIPTS])
def test_every_script_runs_on_a_model_file(files, tmp_path, script, kind, args, sidecar, picture, shape):
    folder, out = files["folder"], str(tmp_path)
    names = {"photo": folder / "photo.png", "texture": folder / "texture.png", "wide": folder / "wide.png", "out": out}
    argv = [f"--model={files[kind]}", *(a.format(**names) for a in args)]
    if not any(a.startswith("--out=") for a in argv):
        argv.append(f"--out={out}")
    result = _script(script, *argv)
    assert result.returncode == 0, result.stderr[-3000:]
    with open(os.path.join(out, sidecar)) as f:
        facts = json.load(f)
    preprocessing = next(a for a in args if a.startswith("--preprocess=")).split("=")[1]
    assert facts["model"] == "tinyclf" and facts["preprocessing"] == preprocessing
    assert facts["model_file"] == files[kind] and facts["model_sha256"] == _sha256(files[kind])
    assert os.path.isfile(os.path.join(out, picture))
    if shape is not None:
        assert iio.imread(os.path.join(out, picture)).shape[:2] == shape


# The lecture scripts on the same file, --preprocess=none: (script, arguments, the picture, facts its sidecar holds).
# The layers the file's model lacks (VGG's names) default by stage: conv_stages(tinyclf) is [[conv1], [conv2, conv3]].
LECTURE_SCRIPTS = [
    ("dataset_exemplars.py", ["--images={photos}", "--filters=0-1", "--top=2", "--size=32", "--nosynthetic"],
     "tinyclf_conv1_exemplars.png", {"layer": "conv1", "images_seen": 3}),
    ("feature_map.py", ["--images={photos}", "--layer=conv3", "--method=pca", "--size=32", "--k=1", "--queries=2",
                        "--out={out}/map.png"], "map.png", {"layer": "conv3"}),
    ("first_layer_weights.py", ["--out={out}/kernels.png"], "kernels.png", {"layer": "conv1", "kernels": 8}),
    ("invert_features.py", ["--image={photo}", "--size=16", "--steps=1", "--out={out}/inv.png"], "inv.png",
     {"layers": ["conv1", "conv3"]}),
    ("texture_synthesis.py", ["--style={texture}", "--size=16,16", "--steps=1", "--out={out}/tex.png"], "tex.png",
     {"layers": ["conv1", "conv2"]}),
    ("visualize_classes.py", ["--classes=1,3", "--size=16", "--steps=1"], "tinyclf_classes.png", {"classes": [1, 3]}),
    ("fooling_images.py", ["--image={photo}", "--target_class=2", "--size=24", "--out={out}/fooled.png"],
     "fooled.png", {"target_class": 2}),
]


@pytest.mark.parametrize("script,args,picture,expected", LECTURE_SCRIPTS, ids=[s[0] for s in LECTURE_SCRIPTS])
def test_lecture_scripts_run_on_a_model_file(files, tmp_path, script, args, picture, expected):
    folder, out = files["folder"], str(tmp_path)
    names = {"photo": folder / "photo.png", "texture": folder / "texture.png", "photos": folder / "photos", "out": out}
    argv = [f"--model={files['keras']}", "--preprocess=none", *(a.format(**names) for a in args)]
    if not any(a.startswith("--out=") for a in argv):
        argv.append(f"--out={out}")
    result = _script(script, *argv)
    assert result.returncode == 0, result.stderr[-3000:]
    assert os.path.isfile(os.path.join(out, picture)), os.listdir(out)
    with open(os.path.join(out, os.path.splitext(picture)[0] + ".json")) as f:
        facts = json.load(f)
    assert (facts["model"], facts["preprocessing"]) == ("tinyclf", "none")
    assert facts["model_file"] == files["keras"] and facts["model_sha256"] == _sha256(files["keras"])
    assert {k: facts[k] for k in expected} == expected


def test_a_layer_that_the_file_lacks_is_one_line_and_exit_2(files, tmp_path):
    result = _script("dataset_exemplars.py", f"--model={files['keras']}", "--preprocess=none", "--layer=block4_conv3",
                     f"--images={files['folder'] / 'photos'}", f"--out={tmp_path}")
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2 and len(lines) == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert "layer 'block4_conv3' not in tinyclf" in lines[0]


def test_deep_dream_app_caps_only_when_asked(files, tmp_path):
    from kerasviz.apps import dream as dream_app

    facts = dream_app.run(str(files["folder"] / "wide.png"), str(tmp_path / "capped.png"), model=files["keras"],
                          layers={"conv2": 1.0}, octaves=1, steps=1, max_side=512)
    assert iio.imread(facts["png"]).shape == (round(36 * 512 / (io.MAX_IMAGE_SIDE + 52)), 512, 3)


def test_conv_stages_and_the_layer_rules():
    vgg = models.load_model("vgg16", None)
    stages = models.conv_stages(vgg)
    assert stages == [[f"block{b}_conv{c}" for c in range(1, n + 1)] for b, n in zip(range(1, 6), (2, 2, 3, 3, 3))]
    # The stage rule on VGG16 picks the layers the study and Gatys name.
    assert tuple(s[1] for s in stages) == style_app.STUDY_CONTENT_LAYERS
    assert tuple(s[0] for s in stages) == style_app.STUDY_STYLE_SETS["gatys"]
    # The lecture defaults: VGG16's named layers, which the stage rule also gives.
    from kerasviz.apps import exemplars as exemplars_app
    from kerasviz.synthesis import reconstruct

    assert exemplars_app.default_layer(vgg) == "block4_conv3" == stages[-2][-1]
    assert reconstruct.inversion_layers(vgg) == reconstruct.INVERT_LAYERS == tuple(s[-1] for s in stages)
    assert reconstruct.texture_layers(vgg) == reconstruct.TEXTURE_LAYERS == tuple(s[0] for s in stages)
    tiny = _classifier()
    assert models.conv_stages(tiny) == [["conv1"], ["conv2", "conv3"]]
    # Content from the stage before the last (block4_conv2 on VGG16), style from each stage's first.
    assert style_lib.default_layers(tiny) == (("conv1",), ("conv1", "conv2"))
    assert exemplars_app.default_layer(tiny) == "conv1"
    assert reconstruct.inversion_layers(tiny) == ("conv1", "conv3")
    assert reconstruct.texture_layers(tiny) == ("conv1", "conv2")
    rows, columns = style_app.study_layers(tiny)
    assert rows == ("conv1", "conv3") and columns == {"stage1": ("conv1",), "stage2": ("conv2",),
                                                      "all": ("conv1", "conv2")}


def test_a_saved_sequential_works_where_a_functional_model_does(tmp_path):
    from kerasviz.optvis import render

    keras.utils.set_random_seed(0)
    sequential = keras.Sequential([
        keras.Input((None, None, 3)), keras.layers.Rescaling(1 / 255), keras.layers.Conv2D(4, 3, name="c1"),
        keras.layers.Conv2D(4, 3, name="c2"), keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(3),
    ])
    path = str(tmp_path / "seq.keras")
    sequential.save(path)
    model = models.load_model(path)
    images, activations = render.visualize_filters(model, "c2", [0, 3], size=16, steps=2, method="classic")
    assert images.shape == (2, 16, 16, 3) and np.all(np.isfinite(activations))
    assert models.model_info(model).name == "seq" and models.conv_stages(model) == [["c1", "c2"]]
