"""Sanity checks for saliency maps (Adebayo et al. 2018): cascading model-parameter randomisation.

    python benchmarks/sanity.py [--weights offline] [--size 128] [--target block5_conv3] [--seeds 2]
    python benchmarks/sanity.py --smoke      # CI: 2 photos at 32 px, 1 seed, 2 samples, the top 2 layers

A trained VGG16 (the offline backbone by default; `--weights imagenet` with a class index target
where ImageNet weights load) and photos that ship with scikit-image. The convolution layers are
re-drawn from their own initialisers one at a time, from the top down (`kerasviz.randomized_copy`,
`kerasviz.attribution.redraw_weights`), and after each step every method's maps are compared
with the trained model's by Spearman rank correlation, averaged over the photos. A method that
explains the model should fall towards 0 as its weights become random; one that stays high is
showing the image, not the model (Adebayo et al. found that for guided backprop).
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import scipy.stats  # noqa: E402

from kerasviz import io, load_model, models  # noqa: E402
from kerasviz.attribution import options_for, randomized_copy, redraw_weights, saliency  # noqa: E402

METHODS = ("vanilla", "smoothgrad", "integrated_gradients", "gradcam", "guided_backprop")
PHOTOS = ("chelsea", "coffee", "astronaut", "rocket")


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    return float(scipy.stats.spearmanr(a.ravel(), b.ravel())[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--weights", default="offline")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--target", default="block5_conv3", help="class index (with --include_top) or LAYER")
    parser.add_argument("--include_top", action="store_true")
    parser.add_argument("--seeds", type=int, default=2, help="randomisation seeds, averaged")
    parser.add_argument("--samples", type=int, default=16, help="SmoothGrad samples and IG steps")
    parser.add_argument("--smoke", action="store_true",
                        help="CI: 2 photos at 32 px, 1 seed, 2 samples, the top 2 layers (flags given still win)")
    args = parser.parse_args()
    if args.smoke:
        parser.set_defaults(size=32, seeds=1, samples=2)
        args = parser.parse_args()
    from skimage import data

    model = load_model("vgg16", args.weights, include_top=args.include_top)
    target = int(args.target) if args.target.isdigit() else args.target
    photo_names = PHOTOS[:2] if args.smoke else PHOTOS
    photos = np.stack([io.resize(getattr(data, name)(), (args.size, args.size)) for name in photo_names])
    options = {"samples": args.samples, "steps": args.samples}
    start = time.perf_counter()
    trained = {m: saliency(model, photos, target, method=m, **options_for(m, options)) for m in METHODS}
    top_down = models.conv_layers(model)[::-1]
    if args.include_top:
        names = {layer.name for layer in model.layers}
        top_down = [name for name in ("predictions", "fc2", "fc1") if name in names] + top_down
    if args.smoke:
        top_down = top_down[:2]
    print(f"VGG16 ({models.model_info(model).weights}), target {target!r}, {len(photos)} photos at {args.size} px; "
          f"Spearman rank correlation with the trained model's maps, mean of {args.seeds} seed(s)")
    print(f"{'randomised down to':<20}" + "".join(f"{m:>22}" for m in METHODS))
    # One copy per seed, one more layer re-drawn in place at each row: the compiled steps are reused.
    copies = [randomized_copy(model, [], seed=seed) for seed in range(args.seeds)]
    for name in top_down:
        rho = {m: [] for m in METHODS}
        for seed, copy in enumerate(copies):
            redraw_weights(copy.get_layer(name), seed=seed)
            for m in METHODS:
                after = saliency(copy, photos, target, method=m, **options_for(m, options))
                rho[m].append(np.mean([spearman(a, b) for a, b in zip(trained[m], after, strict=True)]))
        print(f"{name:<20}" + "".join(f"{np.mean(rho[m]):>22.3f}" for m in METHODS), flush=True)
    print(f"({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
