"""kerasviz on each installed Keras backend (TensorFlow, JAX, PyTorch): speed, and agreement with TensorFlow.

Each backend runs in its own Python (KERAS_BACKEND is read once), one after another on this machine, on
VGG16 with the offline weights (the same numbers on every backend), everything in float32:
  filter step   ms per image-step of the fft filter picture, block5_conv1, 128 px, batch 16
  smoothgrad    ms per noisy copy: SmoothGrad (50 copies; its map) of a 224 px photo (skimage's chelsea), target
                the mean of block5_conv3
  style         ms per step of style transfer (Adam, one level, 224 px; chelsea in coffee's style)
  dream         ms per step of a whole DeepDream (default layers, 2 octaves of 5 steps, chelsea at 224 px),
                the octaves' resizing included, after a first run has compiled
each with its ratio to TensorFlow's time, and what must agree with TensorFlow:
  activation    the filter pictures of 8 filters of block3_conv1 and of block5_conv3 (fft, its default steps,
                seed 0): their mean activation over TensorFlow's, per layer (>= 0.9)
  r             Pearson correlation of the Grad-CAM and SmoothGrad maps of the photo with TensorFlow's (>= 0.99)
A step's time is (time of N+1 steps - time of 1 step) / N after a warm-up run (style: from the times its
steps end), so tracing and compiling are left out whether or not a backend keeps its compiled step between
calls. A backend that is not installed is one line. A part that fails is one line, the rest still run, and
the exit status is 1, so a smoke run in CI fails.

  python benchmarks/backends.py                          # every installed backend, ~3 min each on 2 cores
  python benchmarks/backends.py --backends=tensorflow,jax
  python benchmarks/backends.py --parts=style            # some of the parts: filter_step, quality, smoothgrad,
                                                         # gradcam, style, dream
  python benchmarks/backends.py --smoke                  # CI: 32 px, 2 images, 2 filters, 2 steps, seconds
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np

BACKENDS = ("tensorflow", "jax", "torch")
PARTS = ("filter_step", "quality", "smoothgrad", "gradcam", "style", "dream")
FULL = {"step_layer": "block5_conv1", "step_size": 128, "step_batch": 16, "step_steps": 8,
        "quality_layers": ["block3_conv1", "block5_conv3"], "quality_filters": 8, "quality_size": 128,
        "quality_steps": None, "photo_size": 224, "samples": 50, "style_size": 224, "style_steps": 10,
        "dream_size": 224, "dream_steps": 5}
SMOKE = {"step_layer": "block1_conv2", "step_size": 32, "step_batch": 2, "step_steps": 2,
         "quality_layers": ["block1_conv2", "block2_conv1"], "quality_filters": 2, "quality_size": 32,
         "quality_steps": 2, "photo_size": 32, "samples": 2, "style_size": 32, "style_steps": 2,
         "dream_size": 32, "dream_steps": 1}
TARGET = "block5_conv3"  # the photo's target: offline VGG16 has no classifier (as the README's saliency row)
MIN_ACTIVATION, MIN_R = 0.9, 0.99  # the bars


# --- in each backend's own Python ------------------------------------------------------------------------


def per_step(run, steps: int) -> float:
    """Seconds per step of run(steps): warm-up runs of both sizes (JAX compiles once per batch shape, and a
    SmoothGrad of N + 1 copies has a shape of its own), then (time of steps + 1 - time of 1) / steps."""
    run(1)
    run(steps + 1)
    t0 = time.perf_counter()
    run(1)
    one = time.perf_counter() - t0
    t0 = time.perf_counter()
    run(steps + 1)
    return max(time.perf_counter() - t0 - one, 0.0) / steps


def photo(side: int, name: str = "chelsea") -> np.ndarray:
    """skimage's photo, centre square resized to side x side, float32 RGB 0-255."""
    import skimage.data
    from PIL import Image

    image = getattr(skimage.data, name)()
    h, w = image.shape[:2]
    k = min(h, w)
    crop = image[(h - k) // 2:(h - k) // 2 + k, (w - k) // 2:(w - k) // 2 + k]
    return np.asarray(Image.fromarray(crop).resize((side, side), Image.BILINEAR), np.float32)


def part_filter_step(model, s: dict, out: str) -> dict:
    from kerasviz import visualize_filters

    filters = list(range(s["step_batch"]))
    run = lambda steps: visualize_filters(model, s["step_layer"], filters, size=s["step_size"],  # noqa: E731
                                          batch_size=s["step_batch"], steps=steps, precision="float32")
    return {"ms": 1000 * per_step(run, s["step_steps"]) / s["step_batch"]}


def part_quality(model, s: dict, out: str) -> dict:
    from kerasviz import visualize_filters

    steps = {"steps": s["quality_steps"]} if s["quality_steps"] else {}
    activations = {}
    for layer in s["quality_layers"]:
        _, acts = visualize_filters(model, layer, list(range(s["quality_filters"])), size=s["quality_size"],
                                    precision="float32", seed=0, **steps)
        activations[layer] = [float(a) for a in acts]
    return {"activations": activations}


def saliency_map(model, s: dict, out: str, method: str, **options) -> dict:
    from kerasviz import saliency

    image = photo(s["photo_size"])
    heat = saliency(model, image, TARGET, method=method, **options)
    np.save(os.path.join(out, f"{method}.npy"), np.asarray(heat, np.float32))
    return {}


def part_smoothgrad(model, s: dict, out: str) -> dict:
    from kerasviz import saliency

    image = photo(s["photo_size"])
    saliency_map(model, s, out, "smoothgrad", samples=s["samples"], precision="float32")
    # per noisy copy: per_step leaves out the first call's compiling
    run = lambda samples: saliency(model, image, TARGET, method="smoothgrad", samples=samples,  # noqa: E731
                                   precision="float32")
    return {"ms": 1000 * per_step(run, s["samples"])}


def part_gradcam(model, s: dict, out: str) -> dict:
    return saliency_map(model, s, out, "gradcam")


def part_style(model, s: dict, out: str) -> dict:
    """Per step from the times the steps end (progress), so the compiling before and in the first step, which
    varies by seconds from run to run, is left out."""
    from kerasviz.synthesis.style import transfer

    content, style = photo(s["style_size"]), photo(s["style_size"], "coffee")
    ends: list[float] = []
    transfer(content, style, model=model, size=s["style_size"], steps=s["style_steps"] + 1, levels=1,
             optimizer="adam", precision="float32", progress=lambda done, total: ends.append(time.perf_counter()))
    return {"ms": 1000 * (ends[-1] - ends[0]) / (len(ends) - 1)}


def part_dream(model, s: dict, out: str) -> dict:
    """Per step of a whole run, timed on the second run: the first compiles (kept on the model), and the
    resizing between octaves, done on the host, counts."""
    from kerasviz.synthesis.dream import deep_dream

    image, octaves = photo(s["dream_size"]), 2
    run = lambda: deep_dream(image, model=model, octaves=octaves, steps=s["dream_steps"])  # noqa: E731
    run()
    t0 = time.perf_counter()
    run()
    return {"ms": 1000 * (time.perf_counter() - t0) / (octaves * s["dream_steps"])}


def one_line(error: Exception) -> str:
    """The error's type and first line, without terminal colours, at most 200 characters."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(error)).strip()
    return f"{type(error).__name__}: {text.splitlines()[0][:200]}" if text else type(error).__name__


def worker(out: str, settings: dict) -> None:
    """Runs the parts that settings["parts"] names on this Python's backend; writes out/results.json ({part:
    facts or {"error": line}}) and each map as out/METHOD.npy."""
    import keras

    from kerasviz import backend, load_model

    results = {"backend": backend.NAME, "keras": keras.__version__}
    model = load_model("vgg16", "offline")
    for part in settings["parts"]:
        t0 = time.perf_counter()
        try:
            results[part] = globals()[f"part_{part}"](model, settings, out)
        except Exception as error:  # one line, and the other parts still run; the parent exits 1
            results[part] = {"error": one_line(error)}
        results[part]["seconds"] = round(time.perf_counter() - t0, 1)
        with open(os.path.join(out, "results.json"), "w") as f:
            json.dump(results, f)


# --- the parent: one Python per backend, then the table -----------------------------------------------


def run_backend(name: str, settings: dict, timeout: int, out: str) -> dict:
    """The worker's results for backend `name`, or {"skipped": line}."""
    if importlib.util.find_spec(name) is None:
        return {"skipped": f"not installed (pip install -e '.[{name}]')"}
    env = {**os.environ, "KERAS_BACKEND": name, "TF_CPP_MIN_LOG_LEVEL": "3"}
    command = [sys.executable, __file__, "--worker", out, "--settings", json.dumps(settings)]
    t0 = time.perf_counter()
    try:
        run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
        lines = [line for line in run.stderr.strip().splitlines() if line.strip()]
        failure = f"failed (exit {run.returncode}): {lines[-1][:200] if lines else 'no message'}" \
            if run.returncode else None
    except subprocess.TimeoutExpired:
        failure = f"timed out after {timeout} s (--timeout)"
    results = {}
    if os.path.exists(path := os.path.join(out, "results.json")):  # written after each part
        with open(path) as f:
            results = json.load(f)
    if failure:
        if not results:
            return {"skipped": failure}
        done = [part for part in PARTS if part in results]
        results["failure"] = f"{failure}, after {', '.join(done)}"
    results["wall_seconds"] = round(time.perf_counter() - t0, 1)
    return results


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.ravel(a).astype(np.float64), np.ravel(b).astype(np.float64)
    return float(np.corrcoef(a, b)[0, 1]) if a.shape == b.shape and a.std() > 0 and b.std() > 0 else float("nan")


def compare(results: dict, folders: dict, layers: list[str]) -> list[str]:
    """Prints one table row per backend: times and ratios to TensorFlow, activation ratios, map correlations;
    then each part that failed, whose lines it returns."""
    tf = results.get("tensorflow", {})
    head = ["backend", "filter step", "smoothgrad", "style", "dream"] + [f"act {layer}" for layer in layers] + \
        ["r gradcam", "r smoothgrad", "seconds"]
    print(" | ".join(head))
    notes = []
    for name, res in results.items():
        if "skipped" in res:
            print(f"{name}: skipped: {res['skipped']}")
            continue
        row = [f"{name} ({res.get('keras', '?')})"]
        for part in ("filter_step", "smoothgrad", "style", "dream"):
            ms, base = res.get(part, {}).get("ms"), tf.get(part, {}).get("ms")
            ratio = f" ({ms / base:.2f}x TF)" if ms is not None and base else ""
            row.append(f"{ms:.1f} ms{ratio}" if ms is not None else "-")
        acts, base = res.get("quality", {}).get("activations", {}), tf.get("quality", {}).get("activations", {})
        for layer in layers:
            if layer in acts and layer in base:
                ratio = float(np.mean(acts[layer]) / np.mean(base[layer])) if np.mean(base[layer]) else float("nan")
                row.append(f"{ratio:.3f}" + ("" if ratio >= MIN_ACTIVATION else " (< 0.9)"))
            else:
                row.append("-")
        for method in ("gradcam", "smoothgrad"):
            mine, theirs = (os.path.join(folders.get(b, ""), f"{method}.npy") for b in (name, "tensorflow"))
            if os.path.exists(mine) and os.path.exists(theirs):
                r = correlation(np.load(mine), np.load(theirs))
                row.append(f"{r:.4f}" + ("" if r >= MIN_R else " (< 0.99)"))
            else:
                row.append("-")
        row.append(f"{res.get('wall_seconds', '-')}")
        print(" | ".join(row))
        notes += [f"{name} {part}: {res[part]['error']}" for part in PARTS if "error" in res.get(part, {})]
        notes += [f"{name}: {res['failure']}"] if "failure" in res else []
    for note in notes:
        print(note)
    return notes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", default=",".join(BACKENDS), help="comma-separated, from " + ", ".join(BACKENDS))
    parser.add_argument("--smoke", action="store_true", help="CI: every part at a tiny size, seconds a backend")
    parser.add_argument("--quality_steps", type=int, default=None, help="filter steps for the activation "
                        "comparison (default: the method's own)")
    parser.add_argument("--samples", type=int, default=None, help="SmoothGrad's noisy copies (default 50)")
    parser.add_argument("--timeout", type=int, default=None, help="seconds a backend may take (default "
                        "1800; --smoke 150)")
    parser.add_argument("--parts", default=",".join(PARTS), help="comma-separated, from " + ", ".join(PARTS))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--settings", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, json.loads(args.settings))
        return
    settings = dict(SMOKE if args.smoke else FULL)
    for key in ("quality_steps", "samples"):
        if getattr(args, key) is not None:
            settings[key] = getattr(args, key)
    settings["parts"] = [p.strip() for p in args.parts.split(",") if p.strip()]
    if unknown_parts := [p for p in settings["parts"] if p not in PARTS]:
        parser.error(f"unknown part {', '.join(unknown_parts)}; valid: {', '.join(PARTS)}")
    names = [n.strip() for n in args.backends.split(",") if n.strip()]
    unknown = [n for n in names if n not in BACKENDS]
    if unknown:
        parser.error(f"unknown backend {', '.join(unknown)}; valid: {', '.join(BACKENDS)}")
    names = sorted(names, key=BACKENDS.index)  # TensorFlow first: the others are compared with it
    timeout = args.timeout or (150 if args.smoke else 1800)
    print(f"settings: {json.dumps(settings)}; float32; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
          f"{os.cpu_count()} CPUs", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        folders = {name: os.path.join(tmp, name) for name in names}
        results = {}
        for name in names:
            os.makedirs(folders[name])
            results[name] = run_backend(name, settings, timeout, folders[name])
            print(f"{name}: done in {results[name].get('wall_seconds', '-')} s", flush=True)
        failed = compare(results, folders, settings["quality_layers"])
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
