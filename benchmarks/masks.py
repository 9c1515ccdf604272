"""Mean IoU of foreground masks on real photos with human masks, against two baselines that use no network.

    python benchmarks/masks.py                              # ../shared/data/masks, offline VGG16
    python benchmarks/masks.py --data=DIR --saliency        # also the SmoothGrad + GrabCut masks

DIR holds NAME.jpg and NAME_mask.png pairs (the mask 0/255, the photo's size); they are read in place.
Rows: each feature method of kerasviz.segment; the best centred ellipse (one size for the whole set,
the best of ELLIPSE_SIZES, chosen on the same photos, so an optimistic baseline); OpenCV GrabCut from
a rectangle RECT_MARGIN inside the borders; with --saliency, GrabCut from a SmoothGrad map of
block5_conv3's mean. Seconds per photo include the network. The split-half columns are the mean IoU
on the photos in alphabetical order at even and at odd positions: a method that wins on both halves
does not win by a few photos. --scale=S resizes every photo and its mask by S first (the truth
by nearest neighbour), as photos of another size would come: a method should score the same.
--smoke (CI) runs every row, --saliency and --prior included, on two synthetic pictures with exact
masks (smoke_pairs: scikit-image's pictures, no data folder) with 2 SmoothGrad samples.
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

import kerasviz  # noqa: E402
from kerasviz.segmentation import FEATURE_METHODS, FEATURE_SIDE, feature_layers, grab_cut  # noqa: E402

DEFAULT_DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, "shared", "data", "masks")
ELLIPSE_SIZES = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)  # the ellipse's axes as a fraction of the photo's sides
RECT_MARGIN = 0.1  # the GrabCut baseline's rectangle starts this fraction of each side inside the border
SALIENCY_SAMPLES = 16  # SmoothGrad samples for the --saliency row (50 by default; 16 keeps the run short)
SMOKE_SIZE = (96, 120)  # (H, W) of smoke_pairs' pictures


def iou(mask: np.ndarray, truth: np.ndarray) -> float:
    union = (mask | truth).sum()
    return float((mask & truth).sum() / union) if union else 1.0


def ellipse(shape: tuple[int, int], size: float) -> np.ndarray:
    """A centred ellipse whose axes are `size` times the image's height and width."""
    h, w = shape
    yy, xx = np.mgrid[:h, :w]
    return ((yy - (h - 1) / 2) / (size * h / 2)) ** 2 + ((xx - (w - 1) / 2) / (size * w / 2)) ** 2 <= 1


def rect_grabcut(rgb: np.ndarray, margin: float = RECT_MARGIN) -> np.ndarray:
    """OpenCV GrabCut initialised with the rectangle `margin` inside each border, 5 iterations."""
    h, w = rgb.shape[:2]
    return rect_mask(rgb, (round(margin * w), round(margin * h),
                           round((1 - 2 * margin) * w), round((1 - 2 * margin) * h)))


def rect_mask(rgb: np.ndarray, rect: tuple[int, int, int, int]) -> np.ndarray:
    """OpenCV GrabCut initialised with the rectangle (x, y, width, height), 5 iterations: its foreground."""
    labels = np.zeros(rgb.shape[:2], np.uint8)
    grab_cut(rgb, labels, rect=rect)
    return (labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)


def load_pairs(folder: str, scale: float = 1.0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    masks = sorted(glob.glob(os.path.join(folder, "*_mask.png")))
    pairs = {}
    for mask_path in masks:
        name = os.path.basename(mask_path)[: -len("_mask.png")]
        photo = os.path.join(folder, name + ".jpg")
        if os.path.isfile(photo):
            truth = cv2.imread(mask_path, cv2.IMREAD_GRAYSCALE) > 127
            rgb = kerasviz.load_image(photo)
            if scale != 1:
                size = (round(rgb.shape[1] * scale), round(rgb.shape[0] * scale))
                rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
                truth = cv2.resize(truth.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
            pairs[name] = (rgb, truth)
    return pairs


def smoke_pairs() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Two synthetic uint8 pictures of SMOKE_SIZE with exact masks, from scikit-image's bundled pictures: its
    horse silhouette filled with the cat photo on grass, and an off-centre ellipse of the rocket photo on brick."""
    from skimage import data

    def fit(picture):
        picture = picture if picture.ndim == 3 else np.repeat(picture[..., None], 3, axis=-1)
        return cv2.resize(picture, SMOKE_SIZE[::-1], interpolation=cv2.INTER_AREA)

    horse = cv2.resize((~data.horse()).astype(np.uint8), SMOKE_SIZE[::-1], interpolation=cv2.INTER_NEAREST) > 0
    h, w = SMOKE_SIZE
    yy, xx = np.mgrid[:h, :w]
    disc = ((yy - 0.55 * h) / (0.3 * h)) ** 2 + ((xx - 0.4 * w) / (0.25 * w)) ** 2 <= 1
    return {
        "horse": (np.where(horse[..., None], fit(data.chelsea()), fit(data.grass())), horse),
        "rocket": (np.where(disc[..., None], fit(data.rocket()), fit(data.brick())), disc),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=os.path.normpath(DEFAULT_DATA), help="folder of NAME.jpg + NAME_mask.png")
    parser.add_argument("--weights", default="offline", help="VGG16 weights: offline, imagenet or auto")
    parser.add_argument("--methods", default=",".join(FEATURE_METHODS), help="feature methods to run")
    parser.add_argument("--saliency", action="store_true", help="also GrabCut from SmoothGrad of block5_conv3")
    parser.add_argument("--feature_side", type=int, default=FEATURE_SIDE, help="shorter side the network sees")
    parser.add_argument("--prior", action="store_true", help="also each method with a Grad-CAM map as its prior")
    parser.add_argument("--scale", type=float, default=1.0, help="resize the photos and masks by this factor first")
    parser.add_argument("--smoke", action="store_true",
                        help="CI: every row on two synthetic pictures (smoke_pairs), no data folder")
    args = parser.parse_args(argv)
    if args.smoke:
        args.saliency = args.prior = True
    if not args.smoke and not os.path.isdir(args.data):
        print(f"error: data folder {args.data!r} does not exist; pass --data=DIR", file=sys.stderr)
        return 2
    if not 0.05 <= args.scale <= 4:
        print(f"error: --scale must be from 0.05 to 4; got {args.scale}", file=sys.stderr)
        return 2
    pairs = smoke_pairs() if args.smoke else load_pairs(args.data, args.scale)
    if not pairs:
        print(f"error: no NAME.jpg + NAME_mask.png pairs in {args.data!r}", file=sys.stderr)
        return 2
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = sorted(set(methods) - set(FEATURE_METHODS))
    if unknown:
        valid = ", ".join(FEATURE_METHODS)
        print(f"error: unknown method {unknown[0]!r}; valid: {valid}", file=sys.stderr)
        return 2
    model = kerasviz.load_model("vgg16", args.weights)
    names = list(pairs)
    weights = kerasviz.model_info(model).weights
    source = "smoke_pairs (synthetic)" if args.smoke else f"{args.data} (scaled by {args.scale:g})"
    print(f"{len(names)} photos from {source}; VGG16 weights: {weights}")
    print(f"feature layers: {', '.join(feature_layers(model))}; shorter side {args.feature_side} px")
    kerasviz.segment(pairs[names[0]][0], model=model)  # builds the feature model once, outside the clock

    scores: dict[str, list[float]] = {}
    seconds: dict[str, float] = {}
    for method in methods:
        start = time.perf_counter()
        scores[method] = [
            iou(kerasviz.segment(rgb, method=method, model=model, feature_side=args.feature_side), t)
            for rgb, t in pairs.values()
        ]
        seconds[method] = (time.perf_counter() - start) / len(names)
        if args.prior:
            start = time.perf_counter()
            row = []
            for rgb, truth in pairs.values():
                prior = kerasviz.saliency(model, rgb, "block5_conv3", method="gradcam")
                mask = kerasviz.segment(rgb, prior, method=method, model=model, feature_side=args.feature_side)
                row.append(iou(mask, truth))
            scores[method + " + Grad-CAM prior"] = row
            seconds[method + " + Grad-CAM prior"] = (time.perf_counter() - start) / len(names)
    if args.saliency:
        start = time.perf_counter()
        row = []
        for rgb, truth in pairs.values():
            saliency_map = kerasviz.saliency(model, rgb, "block5_conv3", method="smoothgrad",
                                             samples=2 if args.smoke else SALIENCY_SAMPLES)
            row.append(iou(kerasviz.segment(rgb, np.abs(saliency_map), method="grabcut"), truth))
        scores["smoothgrad + grabcut"] = row
        seconds["smoothgrad + grabcut"] = (time.perf_counter() - start) / len(names)
    start = time.perf_counter()
    by_size = {s: [iou(ellipse(truth.shape, s), truth) for _, truth in pairs.values()] for s in ELLIPSE_SIZES}
    best = max(ELLIPSE_SIZES, key=lambda s: np.mean(by_size[s]))
    scores[f"centred ellipse ({best:g} of the sides)"] = by_size[best]
    seconds[f"centred ellipse ({best:g} of the sides)"] = (time.perf_counter() - start) / len(names)
    start = time.perf_counter()
    scores["rect GrabCut"] = [iou(rect_grabcut(rgb), truth) for rgb, truth in pairs.values()]
    seconds["rect GrabCut"] = (time.perf_counter() - start) / len(names)

    print("\n| method | mean IoU | even half | odd half | s per photo |\n|---|---|---|---|---|")
    for key, row in scores.items():
        values = np.array(row)
        print(f"| {key} | {values.mean():.3f} | {values[0::2].mean():.3f} | {values[1::2].mean():.3f} "
              f"| {seconds[key]:.2f} |")  # fmt: skip
    print("\nellipse sizes: " + ", ".join(f"{s:g}: {np.mean(by_size[s]):.3f}" for s in ELLIPSE_SIZES))
    keys = list(scores)
    print("\n| photo | " + " | ".join(keys) + " |\n|---|" + "---|" * len(keys))
    for i, name in enumerate(names):
        print(f"| {name} | " + " | ".join(f"{scores[k][i]:.2f}" for k in keys) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
