"""Feature inversion (Mahendran & Vedaldi 2015): FILE.png (the photo, then one reconstruction per layer)
and FILE.json (the relative feature distance of each reconstruction).

  python scripts/invert_features.py --image=cat.jpg --layers=block1_conv2,block3_conv3,block5_conv3 --out=out/inv.png
"""

import _startup  # noqa: F401  (first: starts TensorFlow quietly)
from absl import flags

from kerasviz import _cli
from kerasviz.apps import inversion
from kerasviz.synthesis import reconstruct

FLAGS = flags.FLAGS
flags.DEFINE_string("image", None, "The photo to invert.", required=True)
_cli.define_output_flags()
_cli.define_model_flags("vgg16")
_cli.define_option_flags(reconstruct.InversionOptions)  # every option of feature inversion, from its dataclass


def main(argv):
    del argv
    with _cli.ProgressBar("feature inversion") as progress:
        facts = inversion.run(
            FLAGS.image, FLAGS.out, model=FLAGS.model, weights=_cli.weights(), preprocess=FLAGS.preprocess,
            options=_cli.options_from_flags(reconstruct.InversionOptions), overwrite=FLAGS.overwrite,
            progress=progress,
        )
    _cli.report(facts, f"{len(facts['layers'])} layers, {facts['seconds']} s")


if __name__ == "__main__":
    _cli.run(main)
