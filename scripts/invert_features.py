"""Feature inversion (Mahendran & Vedaldi 2015): FILE.png (the photo, then one reconstruction per layer)
and FILE.json (the relative feature distance of each reconstruction).

  python scripts/invert_features.py --image=cat.jpg --layers=block1_conv2,block3_conv3,block5_conv3 --out=out/inv.png
"""

import _startup  # noqa: F401  (first: starts TensorFlow quietly)
from absl import flags

from kerasviz import _cli
from kerasviz.apps import reconstruct as app
from kerasviz.synthesis import reconstruct as lib

FLAGS = flags.FLAGS
flags.DEFINE_string("image", None, "The photo to invert.", required=True)
flags.DEFINE_list("layers", None, "Layers, joined by commas: one reconstruction each (default: "
                  f"{','.join(app.README_LAYERS)} where the model has them, else the last convolution of each "
                  "stage).")
_cli.define_output_flags()
_cli.define_model_flags("vgg16")
flags.DEFINE_integer("size", lib.INVERT_SIZE, "Longer side of the reconstructions, pixels.", lower_bound=16)
flags.DEFINE_integer("steps", lib.INVERT_STEPS, "L-BFGS iterations per level (half size, then full).", lower_bound=1)
flags.DEFINE_float("tv_weight", lib.INVERT_TV_WEIGHT, "Total variation weight (relative).", lower_bound=0.0)
_cli.define_seed_flag("the starting noise")


def main(argv):
    del argv
    with _cli.ProgressBar("feature inversion") as progress:
        facts = app.run_inversion(FLAGS.image, FLAGS.layers, FLAGS.out, model=FLAGS.model, weights=_cli.weights(),
                                  preprocess=FLAGS.preprocess, size=FLAGS.size, steps=FLAGS.steps,
                                  tv_weight=FLAGS.tv_weight, seed=FLAGS.seed, overwrite=FLAGS.overwrite,
                                  progress=progress)
    _cli.report(facts, f"{len(facts['layers'])} layers, {facts['seconds']} s")


if __name__ == "__main__":
    _cli.run(main)
