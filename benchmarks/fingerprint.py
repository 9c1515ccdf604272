"""Fingerprints of every kind of picture kerasviz makes, to show that a refactor changes no pixel.

Runs each public method at a small size with a fixed seed on the offline VGG16 (and a tiny seeded
classifier for class pictures and fooling images) and prints the sha256 of every result's bytes.
On a CPU the same code gives the same bytes, so a refactor is checked by running this before and
after it:

  python benchmarks/fingerprint.py --out=/tmp/before.json      # on the old code
  python benchmarks/fingerprint.py --compare=/tmp/before.json  # on the new code: exit 1 on a change

It takes about two minutes. It uses the public API only, so it runs on both sides of a move.
--smoke (CI) runs the first case of each kind, writes and compares to a temporary file unless --out or
--compare is given, and exits 1 if a case raised.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

import kerasviz  # noqa: E402
from kerasviz.optvis import objectives as obj  # noqa: E402
from kerasviz.optvis import render  # noqa: E402
from kerasviz.synthesis import adversarial, classes, reconstruct  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("out", None, "Write the fingerprints to this JSON file.")
flags.DEFINE_string("compare", None, "Compare with fingerprints written by --out; exit 1 on any difference.")
flags.DEFINE_boolean("smoke", False, "CI: the first case of each kind only; exit 1 if one raised.")


def digest(result) -> str:
    arrays = result if isinstance(result, tuple | list) else [result]
    h = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(np.asarray(array))
        h.update(str((array.dtype, array.shape)).encode())
        h.update(array.tobytes())
    return h.hexdigest()[:16]


def photo(side: int) -> np.ndarray:
    from skimage import data, transform

    image = data.chelsea()
    return np.round(transform.resize(image, (side, round(side * 1.5)), anti_aliasing=True) * 255).astype(np.uint8)


def tiny_classifier() -> keras.Model:
    keras.utils.set_random_seed(0)
    inputs = keras.Input((None, None, 3))
    x = keras.layers.Rescaling(1 / 127.5, offset=-1)(inputs)
    x = keras.layers.Conv2D(8, 3, activation="relu", name="conv1")(x)
    x = keras.layers.Conv2D(8, 3, strides=2, activation="relu", name="conv2")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(4, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs)


def cases(vgg, image):
    """(name, thunk) pairs; each thunk returns arrays."""
    out = []
    for method in render.METHODS:
        for layer, filters in (("block1_conv2", [0, 5]), ("block4_conv1", [3])):
            out.append((f"filters/{method}/{layer}", lambda m=method, la=layer, f=filters: kerasviz.visualize_filters(
                vgg, la, f, size=64, steps=4, method=m, seed=1)))
    objective = obj.channel("block3_conv1", 2) + 0.5 * obj.layer("block3_conv2")
    out.append(("filters/objective", lambda: kerasviz.visualize_filters(vgg, "block3_conv1", [0], size=48, steps=3,
                                                                         objective=objective)))
    for method in ("vanilla", "smoothgrad", "integrated_gradients", "guided_backprop", "gradcam", "occlusion",
                   "activation"):
        options = {"samples": 3} if method == "smoothgrad" else {"steps": 4} if method == "integrated_gradients" else {}
        out.append((f"saliency/{method}", lambda m=method, o=options: kerasviz.saliency(
            vgg, image, "block4_conv3", method=m, **o)))
    saliency_map = np.abs(kerasviz.saliency(vgg, image, "block4_conv3"))
    out.append(("segment/grabcut", lambda: kerasviz.segment(image, saliency_map, method="grabcut")))
    out.append(("segment/threshold", lambda: kerasviz.segment(image, saliency_map, method="threshold")))
    for method in ("geodesic", "contrast", "spectral"):
        out.append((f"segment/{method}", lambda m=method: kerasviz.segment(image, method=m, model=vgg)))
    out.append(("segment/regions", lambda: kerasviz.segment(image, regions=3, model=vgg)))
    out.append(("segment/cartoon", lambda: kerasviz.cartoon(image, kerasviz.segment(image, regions=3, model=vgg))))
    style = np.roll(image, 17, axis=1)[:, ::-1]
    out.append(("style", lambda: kerasviz.style_transfer(image, style, model=vgg, size=48, steps=3)))
    out.append(("dream", lambda: kerasviz.deep_dream(image, model=vgg, octaves=2, steps=2)))
    out.append(("invert", lambda: reconstruct.invert_features(image, layers=["block2_conv2"], model=vgg, size=48,
                                                               steps=4).images))
    out.append(("texture", lambda: reconstruct.synthesize_texture(image, shape=(40, 40), model=vgg, steps=4).image))
    classifier = tiny_classifier()
    out.append(("classes", lambda: classes.visualize_classes(classifier, [0, 3], size=40, steps=3)))
    out.append(("fool", lambda: adversarial.fool(classifier, image, 2, max_steps=3).image))
    return out


def main(argv):
    del argv
    if FLAGS.smoke and not (FLAGS.out or FLAGS.compare):
        with tempfile.TemporaryDirectory() as folder:
            FLAGS.out = FLAGS.compare = os.path.join(folder, "fingerprints.json")
            run()
        return
    run()


def run():
    vgg = kerasviz.load_model("vgg16", "offline")
    image = photo(96)
    prints = {}
    kinds = set()
    for name, thunk in cases(vgg, image):
        kind = name.split("/")[0]
        if FLAGS.smoke and kind in kinds:
            continue
        kinds.add(kind)
        try:
            prints[name] = digest(thunk())
        except Exception as error:  # a case the code cannot run is a difference too
            prints[name] = f"error: {type(error).__name__}: {str(error).splitlines()[0][:120]}"
        print(f"{name:32s} {prints[name]}", flush=True)
    if FLAGS.out:
        with open(FLAGS.out, "w") as f:
            json.dump(prints, f, indent=1)
    if FLAGS.compare:
        with open(FLAGS.compare) as f:
            before = json.load(f)
        changed = sorted(name for name in before.keys() | prints.keys() if before.get(name) != prints.get(name))
        for name in changed:
            print(f"CHANGED {name}: {before.get(name)} -> {prints.get(name)}")
        print(f"{len(changed)} of {len(before.keys() | prints.keys())} fingerprints changed")
        if changed:
            sys.exit(1)
    failed = [name for name, value in prints.items() if value.startswith("error:")]
    if FLAGS.smoke and failed:
        sys.exit(f"{len(failed)} case(s) raised: {', '.join(failed)}")


if __name__ == "__main__":
    app.run(main)
