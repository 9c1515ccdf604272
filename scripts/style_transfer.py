"""Neural style transfer: FILE.png and FILE.json (layers, weights, final losses).

  python scripts/style_transfer.py --content=cat.jpg --style=painting.jpg --out=out/cat_styled.png
"""

import _startup  # noqa: F401  (first: starts TensorFlow quietly)
from absl import flags

from kerasviz import _cli, io
from kerasviz.apps import style as style_app
from kerasviz.synthesis import style

FLAGS = flags.FLAGS
CAP = f"read at most {io.MAX_IMAGE_SIDE} px on the longer side"
flags.DEFINE_string("content", None, f"Content image file ({CAP}).", required=True)
flags.DEFINE_string("style", None, f"Style image file ({CAP}).", required=True)
_cli.define_output_flags()
_cli.define_model_flags("vgg16")
_cli.define_option_flags(style.StyleOptions)  # every option of style transfer, from its dataclass


def main(argv):
    del argv
    with _cli.ProgressBar("style transfer") as progress:
        facts = style_app.run(
            FLAGS.content, FLAGS.style, FLAGS.out, model=FLAGS.model, weights=_cli.weights(),
            preprocess=FLAGS.preprocess, options=_cli.options_from_flags(style.StyleOptions),
            overwrite=FLAGS.overwrite, progress=progress,
        )
    _cli.report(facts, f"{facts['seconds']} s")


if __name__ == "__main__":
    _cli.run(main)
