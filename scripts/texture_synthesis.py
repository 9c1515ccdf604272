"""Texture synthesis (Gatys et al. 2015): FILE.png, a new texture of --size=H,W pixels with the source's
Gram matrices at --layers, and FILE.json (the Gram distance per layer, relative to the starting noise).

  python scripts/texture_synthesis.py --style=gravel.png --size=256,512 --out=out/gravel_texture.png
"""

import _startup  # noqa: F401  (first: starts TensorFlow quietly)
from absl import flags

from kerasviz import _cli
from kerasviz.apps import reconstruct as app
from kerasviz.synthesis import reconstruct as lib

FLAGS = flags.FLAGS
flags.DEFINE_string("style", None, "The texture image to take statistics from.", required=True)
flags.DEFINE_list("layers", None, "Layers whose Gram matrices to match, joined by commas (default: "
                  f"{','.join(lib.TEXTURE_LAYERS)} where the model has them, else the first convolution of "
                  "each stage).")
flags.DEFINE_string("size", "256,256", "Output size H,W in pixels (independent of the source's size).")
_cli.define_output_flags()
_cli.define_model_flags("vgg16")
flags.DEFINE_integer("steps", lib.TEXTURE_STEPS, "L-BFGS iterations per level (half size, then full).",
                     lower_bound=1)
flags.DEFINE_integer("max_source", 512, "Shrink a larger source to this longer side first, pixels.", lower_bound=16)
_cli.define_seed_flag("the starting noise")


def main(argv):
    del argv
    with _cli.ProgressBar("texture synthesis") as progress:
        facts = app.run_texture(FLAGS.style, FLAGS.out, layers=FLAGS.layers, size=app.parse_size(FLAGS.size),
                                model=FLAGS.model, weights=_cli.weights(), preprocess=FLAGS.preprocess,
                                steps=FLAGS.steps, max_source=FLAGS.max_source, seed=FLAGS.seed,
                                overwrite=FLAGS.overwrite, progress=progress)
    _cli.report(facts, f"{facts['seconds']} s")


if __name__ == "__main__":
    _cli.run(main)
