"""DeepDream memory: a 4096 x 4096 dream, tiled, with its peak resident memory (goal: under 8 GB).

  python benchmarks/dream_memory.py                  # offline VGG16, 1 octave, 1 step, 512 px tiles
  python benchmarks/dream_memory.py --side=2048 --steps=1
  python benchmarks/dream_memory.py --via_file --octaves=3   # as deep_dream.py does: a PNG file in, PNG out
  python benchmarks/dream_memory.py --via_file --octaves=3 --layers=block2_conv1   # cheaper, same tile memory
  python benchmarks/dream_memory.py --smoke          # CI: 64 px, 32 px tiles, in process and via a file
"""

import os
import resource
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

from kerasviz import io, load_model  # noqa: E402
from kerasviz.apps import dream as dream_app  # noqa: E402
from kerasviz.synthesis import dream  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_integer("side", 4096, "Image side, pixels.", lower_bound=32)
flags.DEFINE_integer("steps", 1, "Steps per octave.", lower_bound=1)
flags.DEFINE_integer("octaves", 1, "Octaves.", lower_bound=1)
flags.DEFINE_integer("tile_size", dream.TILE_SIZE, "Tile side, pixels.", lower_bound=32)
flags.DEFINE_string("weights", "offline", "VGG16 weights.")
flags.DEFINE_list("layers", None, "VGG16 layers to dream on (default: dream.VGG16_LAYERS); early layers are cheaper "
                  "and hold the largest activations of a tile.")
flags.DEFINE_boolean("via_file", False, "Write the picture as a PNG and dream on the file with apps.dream.run "
                     "(the script's path: image loading, PNG and JSON writing included).")
flags.DEFINE_boolean("smoke", False, "CI: a tiny dream in seconds, in process and via a file (flags given still win).")

SMOKE = {"side": 64, "tile_size": 32}

LIMIT_GB = 8.0


def peak_rss_gb() -> float:
    """Peak resident set size of this process; ru_maxrss is KiB on Linux, bytes on macOS."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**30 if sys.platform == "darwin" else peak / 2**20


def main(argv):
    del argv
    if FLAGS.smoke:
        for name, value in SMOKE.items():
            if not FLAGS[name].present:
                setattr(FLAGS, name, value)
    for via_file in [False, True] if FLAGS.smoke and not FLAGS["via_file"].present else [FLAGS.via_file]:
        dream_once(via_file)


def dream_once(via_file: bool) -> None:
    model = None if via_file else load_model("vgg16", FLAGS.weights)  # run() loads its own
    yy, xx = np.mgrid[: FLAGS.side, : FLAGS.side].astype(np.float32) / FLAGS.side
    image = np.stack([255 * xx, 255 * yy, 128 + 100 * np.sin(20 * xx * yy)], -1)
    del yy, xx
    layers = dict.fromkeys(FLAGS.layers, 1.0) if FLAGS.layers else None
    before = peak_rss_gb()
    start = time.perf_counter()
    if via_file:
        with tempfile.TemporaryDirectory() as folder:
            source = os.path.join(folder, "picture.png")
            io.write_png(source, np.clip(np.round(image), 0, 255).astype(np.uint8))
            before = peak_rss_gb()
            start = time.perf_counter()
            facts = dream_app.run(source, os.path.join(folder, "dream.png"), model="vgg16", weights=FLAGS.weights,
                                  layers=layers, octaves=FLAGS.octaves, steps=FLAGS.steps, tile_size=FLAGS.tile_size)
            result = io.load_image(facts["png"], max_side=None)
    else:
        result = dream.deep_dream(image, model=model, layers=layers, octaves=FLAGS.octaves, steps=FLAGS.steps,
                                  tile_size=FLAGS.tile_size,
                                  progress=lambda d, t: print(f"  step {d}/{t}", flush=True))
    seconds = time.perf_counter() - start
    peak = peak_rss_gb()
    changed = float(np.abs(result.astype(np.float32) - image).mean())
    print(f"{FLAGS.side}x{FLAGS.side}{' via a PNG file' if via_file else ''}, {FLAGS.octaves} octave(s) x "
          f"{FLAGS.steps} steps, {FLAGS.tile_size} px tiles, layers {FLAGS.layers or 'default'}: "
          f"{seconds:.0f} s; output {result.shape} {result.dtype}, mean change {changed:.2f}")
    print(f"peak RSS {peak:.2f} GB (before dreaming {before:.2f} GB); goal < {LIMIT_GB:.0f} GB: "
          f"{'met' if peak < LIMIT_GB else 'NOT met'}")


if __name__ == "__main__":
    app.run(main)
