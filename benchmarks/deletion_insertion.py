"""Deletion and insertion AUC (Petsiuk et al. 2018, RISE, §4.1) of each saliency method.

    python benchmarks/deletion_insertion.py                  # offline: the small CNN of kerasviz.dataset.scenes
    python benchmarks/deletion_insertion.py --imagenet       # VGG16 + ImageNet weights, scikit-image photos
    python benchmarks/deletion_insertion.py --smoke          # CI: a CNN trained briefly, 2 scenes, short curves

Deletion removes the most salient pixels first (to black) and follows the class probability
down: a lower area under that curve is better. Insertion starts from a blurred copy and puts
the most salient pixels back: a higher area is better. A random map is the reference.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from kerasviz import metrics, models  # noqa: E402
from kerasviz.attribution import options_for, saliency  # noqa: E402
from kerasviz.dataset import scenes  # noqa: E402

SMOKE_TRAINING = {"scenes": 64, "epochs": 1}  # --smoke: the scene CNN trained on a few scenes, once
SMOKE_OPTIONS = {"samples": 2, "steps": 2}  # --smoke: SmoothGrad samples and IG steps
SMOKE_COUNT, SMOKE_CURVE_STEPS = 2, 4
METHODS = ("vanilla", "smoothgrad", "integrated_gradients", "guided_backprop", "gradcam", "occlusion", "activation")


def scores(model, images, maps, targets, *, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Deletion and insertion AUC of each map, (N,) each: kerasviz.metrics (black deletion, insertion from a
    copy blurred with sigma 5, the target's softmax probability; Petsiuk et al. 2018, §4.1)."""
    if len(set(targets)) == 1:  # one batched call per metric
        return (metrics.deletion(model, images, maps, targets[0], steps=steps, score="probability"),
                metrics.insertion(model, images, maps, targets[0], steps=steps, score="probability"))
    pairs = [scores(model, im[None], m[None], [t], steps=steps) for im, m, t in zip(images, maps, targets)]
    return np.concatenate([d for d, _ in pairs]), np.concatenate([i for _, i in pairs])


def evaluate(
    model, images, targets, methods, options, *, steps: int = metrics.CURVE_STEPS
) -> dict[str, tuple[float, float, float]]:
    """method -> (mean deletion AUC, mean insertion AUC, seconds for the maps)."""
    rng = np.random.default_rng(0)
    results = {}
    for method in (*methods, "random"):
        start = time.perf_counter()
        if method == "random":
            maps = rng.uniform(size=images.shape[:3])
        else:
            maps = _maps(model, images, targets, method, options)
        seconds = time.perf_counter() - start
        deletion, insertion = scores(model, images, np.abs(maps), targets, steps=steps)
        results[method] = (float(np.mean(deletion)), float(np.mean(insertion)), seconds)
    return results


def _maps(model, images, targets, method, options) -> np.ndarray:
    options = options_for(method, options)
    if len(set(targets)) == 1:  # one batched call
        return saliency(model, images, targets[0], method=method, **options)
    return np.stack([saliency(model, im, t, method=method, **options) for im, t in zip(images, targets)])


def offline_setup(count: int, *, smoke: bool = False):
    model, accuracy = scenes.trained_cnn(0, **SMOKE_TRAINING if smoke else {})
    print(f"scene CNN: held-out accuracy {accuracy:.3f}")
    held_out = scenes.make_scenes(count, seed=123, positive_fraction=1.0)
    return model, held_out.images, [1] * count, SMOKE_OPTIONS if smoke else {}


def imagenet_setup(count: int, *, smoke: bool = False):
    import skimage.data

    model = models.load_model("vgg16", "imagenet", include_top=True)
    names = ("chelsea", "coffee", "astronaut", "rocket", "cat")[:count]
    photos = np.stack([cv2.resize(getattr(skimage.data, n)(), (224, 224), interpolation=cv2.INTER_AREA) for n in names])
    photos = photos.astype(np.float32)
    targets = np.argmax(model.predict(models.preprocess_fn(model)(tf.constant(photos)), verbose=0), -1).tolist()
    return model, photos, targets, SMOKE_OPTIONS if smoke else {"samples": 25, "steps": 32}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--imagenet", action="store_true", help="VGG16 with ImageNet weights (needs them cached)")
    parser.add_argument("--count", type=int, default=40, help="scenes (offline) or photos (ImageNet, at most 5)")
    parser.add_argument("--smoke", action="store_true",
                        help=f"CI: {SMOKE_COUNT} images, a briefly trained CNN, curves of {SMOKE_CURVE_STEPS} steps")
    args = parser.parse_args()
    if args.smoke:  # a --count given still wins
        parser.set_defaults(count=SMOKE_COUNT)
        args = parser.parse_args()
    setup = imagenet_setup if args.imagenet else offline_setup
    model, images, targets, options = setup(args.count, smoke=args.smoke)
    steps = SMOKE_CURVE_STEPS if args.smoke else metrics.CURVE_STEPS
    print(f"{len(images)} images; deletion AUC (lower is better), insertion AUC (higher is better)")
    for method, (deletion, insertion, seconds) in evaluate(model, images, targets, METHODS, options,
                                                           steps=steps).items():
        print(f"  {method:22s} deletion {deletion:.3f}  insertion {insertion:.3f}  ({seconds:.1f} s for the maps)")


if __name__ == "__main__":
    main()
