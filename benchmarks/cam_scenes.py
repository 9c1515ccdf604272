"""Every saliency method on the synthetic scenes with known objects: deletion, insertion and the pointing game
against a random map and a centred one, for a small CNN and a small ViT trained here.

    python benchmarks/cam_scenes.py            # both models trained on CPU (about a minute each), 32 scenes
    python benchmarks/cam_scenes.py --smoke    # CI: briefly trained models, 4 scenes, short curves, few samples

Models: kerasviz.dataset.scenes.trained_cnn and trained_vit (seeded), each with its held-out accuracy; a
model near chance (0.5) makes its rows meaningless, and the script says so. Scenes: held-out scenes that all
hold the plus sign (kerasviz.dataset.scenes, seed 123); the target is class 1, "a plus sign is here".
Methods: every registered one that applies (rollout needs attention: the ViT only); on the ViT the methods
that take a layer use the tokens that enter its last attention (VIT_LAYER; activation, which needs a
spatial layer, its default: the patch-embedding convolution). Maps are ranked as the method
gives them (largest first; signed integrated gradients: positive evidence first). Deletion (to black) and
insertion (from a blur) AUC of the class probability are kerasviz.metrics' (Petsiuk et al. 2018; lower and
higher are better); pointing: the share of scenes whose map peaks inside the object's box. References: a
random map (uniform, seeded) and "centre", a centred cone (a map that knows nothing of the scene).
"""

from __future__ import annotations

import argparse
import os
import platform
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from kerasviz import metrics  # noqa: E402
from kerasviz.attribution import APPLIES, METHODS, options_for, saliency  # noqa: E402
from kerasviz.dataset import scenes  # noqa: E402

COUNT, SMOKE_COUNT = 32, 4
SCENE_SEED = 123  # held-out: the models train on seeds 1 and test on 2
SMOKE_TRAINING = {"scenes": 64, "epochs": 1}
SMOKE_OPTIONS = {"samples": 2, "steps": 2, "masks": 8}  # SmoothGrad samples, IG steps, RISE masks
SMOKE_CURVE_STEPS = 4
VIT_LAYER = "block1_norm1"  # the tokens the last attention reads (as tests/test_cams.py's token CAMs)
SPATIAL_ONLY = ("activation",)  # needs an (N, H, W, C) layer: on the ViT its default, the patch-embedding conv
ATTENTION_ONLY = ("rollout",)  # methods that need keras.layers.MultiHeadAttention
CLEARLY_ABOVE_CHANCE = 0.75  # chance is 0.5 (half the scenes hold the object)
REFERENCES = ("random", "centre")


def centre_map(shape: tuple[int, int]) -> np.ndarray:
    """(H, W): 1 at the centre falling linearly to 0 at the inscribed ellipse and beyond."""
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    r = np.hypot((yy + 0.5) / shape[0] - 0.5, (xx + 0.5) / shape[1] - 0.5) * 2
    return np.clip(1 - r, 0, None).astype(np.float32)


def pointing(maps: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """bool (N,): the map's maximum (first, row by row) lies inside the box (y0, x0, y1, x1, exclusive)."""
    n, _, w = maps.shape
    y, x = np.divmod(np.argmax(maps.reshape(n, -1), axis=1), w)
    return (boxes[:, 0] <= y) & (y < boxes[:, 2]) & (boxes[:, 1] <= x) & (x < boxes[:, 3])


def has_attention(model: keras.Model) -> bool:
    return any(isinstance(layer, keras.layers.MultiHeadAttention) for layer in model._flatten_layers())


def method_maps(model: keras.Model, images: np.ndarray, method: str, settings: dict, layer: str | None) -> np.ndarray:
    """(N, H, W): a reference map or kerasviz.saliency's for class 1."""
    n, h, w = images.shape[:3]
    if method == "random":
        return np.random.default_rng(0).uniform(size=(n, h, w)).astype(np.float32)
    if method == "centre":
        return np.broadcast_to(centre_map((h, w)), (n, h, w)).copy()
    options = options_for(method, settings)
    if layer is not None and method in APPLIES.get("layer", ()) and method not in SPATIAL_ONLY:
        options["layer"] = layer
    return saliency(model, images, 1, method=method, **options)


def rows_for(name: str, model: keras.Model, held_out: scenes.Scenes, settings: dict, steps: int,
             layer: str | None) -> list[dict]:
    """One row per method that applies to `model`, then the references."""
    methods = [m for m in METHODS if m not in ATTENTION_ONLY or has_attention(model)]
    rows = []
    for method in (*methods, *REFERENCES):
        start = time.perf_counter()
        try:
            maps = method_maps(model, held_out.images, method, settings, layer)
        except Exception as error:  # noqa: BLE001  (a method that cannot run on this model is a row that says so)
            rows.append({"model": name, "method": method, "error": f"{type(error).__name__}: {error}"[:120]})
            print(f"  {name} {method}: failed ({rows[-1]['error']})", flush=True)
            continue
        map_seconds = time.perf_counter() - start
        kw = {"steps": steps, "score": "probability"}
        deletion = metrics.deletion(model, held_out.images, maps, 1, **kw)
        insertion = metrics.insertion(model, held_out.images, maps, 1, **kw)
        rows.append({"model": name, "method": method, "deletion": float(np.mean(deletion)),
                     "insertion": float(np.mean(insertion)), "pointing": float(np.mean(pointing(maps, held_out.boxes))),
                     "map_s": map_seconds, "total_s": time.perf_counter() - start})
        print(f"  {name} {method}: {rows[-1]['total_s']:.1f} s", flush=True)
    return rows


def table(rows: list[dict]) -> str:
    """The rows as one Markdown table, each method's 'beats random' judged against its own model's random map."""
    random = {r["model"]: r for r in rows if r["method"] == "random" and "error" not in r}
    lines = ["| model | method | deletion AUC (lower better) | insertion AUC (higher better) | pointing | "
             "deletion < random | insertion > random | seconds (maps, all) |", "|" + "---|" * 8]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['model']} | {r['method']} | failed: {r['error']} | | | | | |")
            continue
        ref = random[r["model"]]
        verdict = lambda better: "yes" if better else "**no**"  # noqa: E731
        beats = ("-", "-") if r["method"] == "random" else (
            verdict(r["deletion"] < ref["deletion"]), verdict(r["insertion"] > ref["insertion"]))
        lines.append(f"| {r['model']} | {r['method']} | {r['deletion']:.3f} | {r['insertion']:.3f} | "
                     f"{r['pointing']:.2f} | {beats[0]} | {beats[1]} | {r['map_s']:.1f}, {r['total_s']:.1f} |")
    return "\n".join(lines)


def trained_models(smoke: bool) -> list[tuple[str, keras.Model, str | None]]:
    """(name, model, layer for the CAMs) of the scene CNN and ViT, each trained and its accuracy printed."""
    training = SMOKE_TRAINING if smoke else {}
    out = []
    for name, fit, layer in (("cnn", scenes.trained_cnn, None), ("vit", scenes.trained_vit, VIT_LAYER)):
        start = time.perf_counter()
        model, accuracy = fit(0, **training)
        print(f"{name}: held-out accuracy {accuracy:.3f} (chance 0.5), trained in {time.perf_counter() - start:.0f} s",
              flush=True)
        if accuracy < CLEARLY_ABOVE_CHANCE:
            print(f"WARNING: the {name} is not clearly above chance (< {CLEARLY_ABOVE_CHANCE}): its rows mean little")
        out.append((name, model, layer))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=None, help=f"held-out scenes (default {COUNT}; smoke "
                        f"{SMOKE_COUNT})")
    parser.add_argument("--smoke", action="store_true", help="CI: briefly trained models, few scenes and samples")
    args = parser.parse_args()
    count = args.count or (SMOKE_COUNT if args.smoke else COUNT)
    settings, steps = (SMOKE_OPTIONS, SMOKE_CURVE_STEPS) if args.smoke else ({}, metrics.CURVE_STEPS)
    start = time.perf_counter()
    held_out = scenes.make_scenes(count, seed=SCENE_SEED, positive_fraction=1.0)
    rows = []
    for name, model, layer in trained_models(args.smoke):
        rows += rows_for(name, model, held_out, settings, steps, layer)
    print(f"\n{count} held-out scenes, {steps}-step curves, class-1 probability; "
          f"{platform.processor() or platform.machine()}\n")
    print(table(rows))
    print(f"\ntotal {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
