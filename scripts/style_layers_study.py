"""Which VGG layers make the best content and style? A grid (rows: content layer block1..block5_conv2;
columns: style from block1..block5 alone, then Gatys' five) with OUT.png, OUT.json and OUT.md (losses).
Each cell takes style transfer's options (flags as style_transfer.py's; the study's own defaults: small,
one level, the earlier balance), its layers aside.
Any other model (--model=PATH.keras) gets one row and column per resolution stage of its convolutions.

  python scripts/style_layers_study.py --out=out/style_layers_study.png   # scikit-image's cat, swirls
"""

import _startup  # noqa: F401  (first: starts TensorFlow quietly)
from absl import flags

from kerasviz import _cli, io
from kerasviz.apps import style as style_app
from kerasviz.synthesis import style as style_lib

FLAGS = flags.FLAGS
CAP = f"read at most {io.MAX_IMAGE_SIDE} px on the longer side"
flags.DEFINE_string("content", None, f"Content image file, {CAP} (default: scikit-image's chelsea).")
flags.DEFINE_string("style", None, f"Style image file, {CAP} (default: the procedural swirls texture).")
_cli.define_output_flags("out/style_layers_study.png", what="Output grid PNG; .json and .md are written beside it.")
_cli.define_model_flags("vgg16")
_cli.define_option_flags(style_lib.StyleOptions, skip=style_lib.STUDY_OWN, defaults=style_app.STUDY_OPTIONS)


def main(argv):
    del argv
    from skimage import data

    content = FLAGS.content if FLAGS.content else data.chelsea()
    style = FLAGS.style if FLAGS.style else style_app.swirls()
    with _cli.ProgressBar("layer study", unit="cell") as progress:
        facts = style_app.study(content, style, FLAGS.out, model=FLAGS.model, weights=_cli.weights(),
                                preprocess=FLAGS.preprocess, overwrite=FLAGS.overwrite, progress=progress,
                                options=_cli.options_from_flags(style_lib.StyleOptions, skip=style_lib.STUDY_OWN))
    _cli.report(facts, f"{len(facts['cells'])} cells, {facts['seconds']} s")


if __name__ == "__main__":
    _cli.run(main)
