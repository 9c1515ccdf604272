"""The CAM family beside tf-keras-vis 0.8.7, same model, image and layer, in one process.

    python benchmarks/cams.py                 # VGG16 (offline weights) with the scikit-image classifier, chelsea
    python benchmarks/cams.py --smoke         # CI: a tiny CNN with random weights, 32 px, one repeat

For Grad-CAM, Grad-CAM++, Layer-CAM and Score-CAM it prints the Spearman rank correlation of the two
maps (each at the image's size; kerasviz's from kerasviz.saliency, tf-keras-vis' upsampled by itself), and
again with both averaged back onto the layer's grid (the two upsample differently: kerasviz bilinear at
half-pixel centres, tf-keras-vis scipy's zoom with corners aligned, which alone moves the first figure),
the seconds of each (best of --repeats after a first, compiling call) and the time ratio. Both take the
same preprocessed input (so Score-CAM masks the same tensor) and score the class logit (tf-keras-vis
with its ReplaceToLinear modifier). Score-CAM: both weight every channel of the layer (tf-keras-vis
max_N=-1) by each masked copy's softmax probability of the class, as Wang et al. 2020's code does (kerasviz
weighting="classes"). Grad-CAM++ is defined two ways: kerasviz follows the paper's eq. 19 (as pytorch-grad-cam
does); tf-keras-vis, like the authors' code, also normalises each channel's alphas to sum to 1 over the
positions, so its row measures how far the two readings differ.
tf-keras-vis needs `pip install -e ".[bench]"`; without it only kerasviz's seconds are printed.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import scipy.stats  # noqa: E402

import kerasviz  # noqa: E402
from kerasviz import io, models  # noqa: E402

METHODS = {  # kerasviz method: tf-keras-vis module, class
    "gradcam": ("tf_keras_vis.gradcam", "Gradcam"),
    "gradcam_plus_plus": ("tf_keras_vis.gradcam_plus_plus", "GradcamPlusPlus"),
    "layercam": ("tf_keras_vis.layercam", "Layercam"),
    "scorecam": ("tf_keras_vis.scorecam", "Scorecam"),
}


def best_of(fn, repeats: int) -> tuple[float, float, object]:
    """(seconds of the first call, best seconds of `repeats` further calls, the last result)."""
    start = time.perf_counter()
    result = fn()
    first = time.perf_counter() - start
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return first, min(times) if times else first, result


def setup(smoke: bool):
    """(model, image (H, W, 3) 0-255, class index, layer, the model's preprocessing fn, what it is)."""
    if smoke:
        keras.utils.set_random_seed(0)
        inputs = keras.Input((32, 32, 3))
        x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv1")(inputs)
        x = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv2")(x)
        logits = keras.layers.Dense(3, name="logits")(keras.layers.GlobalAveragePooling2D()(x))
        model = keras.Model(inputs, logits)
        image = np.random.default_rng(0).uniform(0, 255, (32, 32, 3)).astype(np.float32)
        return model, image, 1, "conv2", lambda x: x, "a tiny CNN, random weights, 32 px"
    from skimage import data

    from kerasviz.apps import classes

    model = classes.skimage_classifier(kerasviz.load_model("vgg16", "offline"))
    image = io.resize(data.chelsea(), (224, 224))
    return (model, image, classes.SKIMAGE_CLASSES.index("chelsea"), "block5_conv3", models.preprocess_fn(model),
            "VGG16 (offline weights) with the scikit-image classifier, chelsea at 224 px")


def on_grid(cam: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """An (H, W) map averaged over the blocks of a `grid` (the layer's h x w), where h, w divide H, W."""
    (height, width), (h, w) = cam.shape, grid
    return cam[: height // h * h, : width // w * w].reshape(h, height // h, w, width // w).mean(axis=(1, 3))


def theirs(method: str, model, x: np.ndarray, target: int, layer: str):
    """A call of tf-keras-vis' `method` on the preprocessed batch `x`, or None where it is not installed."""
    try:
        import importlib

        module_name, class_name = METHODS[method]
        cls = getattr(importlib.import_module(module_name), class_name)
        from tf_keras_vis.utils.model_modifiers import ReplaceToLinear
        from tf_keras_vis.utils.scores import CategoricalScore
    except ImportError:
        return None
    tool = cls(model, model_modifier=ReplaceToLinear(), clone=True)
    extra = {"max_N": -1} if method == "scorecam" else {}
    return lambda: np.asarray(tool(CategoricalScore([target]), x, penultimate_layer=layer,
                                   seek_penultimate_conv_layer=False, **extra))[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--smoke", action="store_true", help="CI: a tiny CNN at 32 px, one repeat")
    args = parser.parse_args()
    repeats = 1 if args.smoke else args.repeats
    model, image, target, layer, preprocess, what = setup(args.smoke)
    x = np.asarray(preprocess(image[None].astype(np.float32)))
    print(f"{what}; layer {layer}; class {target}; {platform.processor() or platform.machine()}")
    grid = tuple(int(d) for d in keras.ops.shape(models.feature_model(model, [layer])(x))[1:3])  # on this image
    print(f"{'method':18s} {'Spearman':>9s} {'on grid':>8s} {'kerasviz s':>11s} {'tf-keras-vis s':>15s} {'ratio':>7s}")
    same = lambda t: t  # noqa: E731  (x is preprocessed already; one function, so one compiled step per method)
    for method in METHODS:
        extra = {"weighting": "classes"} if method == "scorecam" else {}
        ours_fn = lambda m=method, e=extra: kerasviz.saliency(model, x, target, method=m, layer=layer,  # noqa: E731
                                                              preprocess=same, **e)
        _, ours_s, ours = best_of(ours_fn, repeats)
        ours = np.asarray(ours)[0]  # (H, W): x is a batch of one
        other_fn = theirs(method, model, x, target, layer)
        if other_fn is None:
            print(f"{method:18s} {'-':>9s} {'-':>8s} {ours_s:11.3f} {'not installed':>15s}")
            continue
        _, their_s, other = best_of(other_fn, repeats)
        rho = scipy.stats.spearmanr(np.ravel(ours), np.ravel(other)).statistic
        pooled = scipy.stats.spearmanr(np.ravel(on_grid(ours, grid)), np.ravel(on_grid(other, grid))).statistic
        print(f"{method:18s} {rho:9.3f} {pooled:8.3f} {ours_s:11.3f} {their_s:15.3f} {their_s / ours_s:6.2f}x",
              flush=True)
    print("ratio: tf-keras-vis seconds / kerasviz seconds (above 1: kerasviz faster)")


if __name__ == "__main__":
    main()
