"""DeepDream memory: a 4096 x 4096 dream, tiled, with its peak resident memory (goal: under 8 GB).

  python benchmarks/dream_memory.py                  # offline VGG16, 1 octave, 1 step, 512 px tiles
  python benchmarks/dream_memory.py --side=2048 --steps=1
"""

import os
import resource
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

from kerasviz import dream, load_model  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_integer("side", 4096, "Image side, pixels.", lower_bound=32)
flags.DEFINE_integer("steps", 1, "Steps per octave.", lower_bound=1)
flags.DEFINE_integer("octaves", 1, "Octaves.", lower_bound=1)
flags.DEFINE_integer("tile_size", dream.TILE_SIZE, "Tile side, pixels.", lower_bound=32)
flags.DEFINE_string("weights", "offline", "VGG16 weights.")

LIMIT_GB = 8.0


def peak_rss_gb() -> float:
    """Peak resident set size of this process; ru_maxrss is KiB on Linux, bytes on macOS."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**30 if sys.platform == "darwin" else peak / 2**20


def main(argv):
    del argv
    model = load_model("vgg16", FLAGS.weights)
    yy, xx = np.mgrid[: FLAGS.side, : FLAGS.side].astype(np.float32) / FLAGS.side
    image = np.stack([255 * xx, 255 * yy, 128 + 100 * np.sin(20 * xx * yy)], -1)
    del yy, xx
    before = peak_rss_gb()
    start = time.perf_counter()
    result = dream.deep_dream(image, model=model, octaves=FLAGS.octaves, steps=FLAGS.steps,
                              tile_size=FLAGS.tile_size, progress=lambda d, t: print(f"  step {d}/{t}", flush=True))
    seconds = time.perf_counter() - start
    peak = peak_rss_gb()
    changed = float(np.abs(result.astype(np.float32) - image).mean())
    print(f"{FLAGS.side}x{FLAGS.side}, {FLAGS.octaves} octave(s) x {FLAGS.steps} steps, {FLAGS.tile_size} px tiles: "
          f"{seconds:.0f} s; output {result.shape} {result.dtype}, mean change {changed:.2f}")
    print(f"peak RSS {peak:.2f} GB (before dreaming {before:.2f} GB); goal < {LIMIT_GB:.0f} GB: "
          f"{'met' if peak < LIMIT_GB else 'NOT met'}")


if __name__ == "__main__":
    app.run(main)
