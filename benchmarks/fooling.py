"""FGSM against iterated steps: how much change each needs to make a classifier answer each other class.

For every photo and every target class other than the photo's own answer, runs both methods of
kerasviz.synthesis.adversarial.fool and prints whether it flipped, the steps, and the change's L-inf and L2
(0-255 levels); then the medians. The classifier is the README's offline stand-in (offline VGG16 +
a linear head fitted to six scikit-image pictures, apps/classes.skimage_classifier), or VGG16 with
its ImageNet head with --weights=imagenet.

  python benchmarks/fooling.py                     # offline stand-in, chelsea and coffee at 224 px
  python benchmarks/fooling.py --smoke             # CI: a tiny CNN, chelsea at 64 px, 3 iterated steps at most
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

from kerasviz import io, load_model, models  # noqa: E402
from kerasviz.apps import classes as classes_app  # noqa: E402
from kerasviz.synthesis import adversarial  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_list("photos", ["chelsea", "coffee"], "scikit-image photos.")
flags.DEFINE_string("weights", "offline", "offline (the stand-in classifier) or imagenet.")
flags.DEFINE_list("targets", None, "Target classes (default: every stand-in class; ImageNet: 9,130,417).")
flags.DEFINE_integer("epsilon", adversarial.EPSILON, "L-inf budget, 0-255 levels.")
flags.DEFINE_integer("size", 224, "Longer side of the photos (the stand-in takes any size).")
flags.DEFINE_integer("max_steps", adversarial.MAX_STEPS, "Iterated steps at most.", lower_bound=1)
flags.DEFINE_boolean("smoke", False, "CI: the whole run at a tiny size in seconds (flags given still win).")

SMOKE = {"photos": ["chelsea"], "size": 64, "max_steps": 3}


def smoke_classifier():
    """--smoke's classifier: a tiny seeded CNN, one logit per stand-in class (fitting the stand-in's head
    to VGG16 features of its crops takes about 20 s on two cores)."""
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((None, None, 3))
    x = keras.layers.Rescaling(1 / 127.5, offset=-1)(inputs)
    x = keras.layers.Conv2D(8, 3, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(len(classes_app.SKIMAGE_CLASSES))(x))


def fit_input(model, picture: np.ndarray, size: int) -> np.ndarray:
    """The photo as the model takes it, float32 0-255: its fixed input size, else the longer side `size`."""
    shape = models.fixed_input_size(model) or io.fit_shape(picture.shape[:2], size)
    return picture.astype(np.float32) if tuple(picture.shape[:2]) == shape else io.resize(picture, shape)


def main(argv):
    del argv
    from skimage import data

    if FLAGS.smoke:
        for name, value in SMOKE.items():
            if not FLAGS[name].present:
                setattr(FLAGS, name, value)
    if FLAGS.weights == "offline":
        if FLAGS.smoke:
            print("smoke: a tiny seeded CNN stands in for the offline stand-in classifier")
            model = smoke_classifier()
        else:
            model = classes_app.skimage_classifier(load_model("vgg16", "offline"))
        targets = [int(t) for t in FLAGS.targets] if FLAGS.targets else list(range(len(classes_app.SKIMAGE_CLASSES)))
    else:
        model = load_model("vgg16", FLAGS.weights, include_top=True)
        targets = [int(t) for t in (FLAGS.targets or [9, 130, 417])]
    rows = {m: [] for m in adversarial.METHODS}
    for name in FLAGS.photos:
        photo = fit_input(model, io.as_batch(getattr(data, name)())[0][0], FLAGS.size)
        for target in targets:
            for method in adversarial.METHODS:
                r = adversarial.fool(model, photo, target, method=method, epsilon=FLAGS.epsilon,
                                     max_steps=FLAGS.max_steps)
                if r.before.cls == target:
                    continue
                rows[method].append((r.flipped, r.steps, r.linf, r.l2))
                print(f"{name:10s} {r.before.cls}->{target} {method:9s} flipped={r.flipped!s:5s} steps={r.steps:3d} "
                      f"linf={r.linf:4.0f} l2={r.l2:8.1f} target p={r.after.target_score:.2f}", flush=True)
    for method, found in rows.items():
        flipped = [f for f in found if f[0]]
        print(f"{method}: flipped {len(flipped)}/{len(found)}; median over flips: steps "
              f"{np.median([f[1] for f in flipped]) if flipped else float('nan'):.0f}, linf "
              f"{np.median([f[2] for f in flipped]) if flipped else float('nan'):.1f}, l2 "
              f"{np.median([f[3] for f in flipped]) if flipped else float('nan'):.0f}")


if __name__ == "__main__":
    app.run(main)
