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
flags.DEFINE_list("content_layers", None, f"Content layers, joined by commas (default: {','.join(style.CONTENT_LAYERS)}"
                  " on VGG; otherwise the second convolution of the resolution stage before the last).")
flags.DEFINE_list("style_layers", None, f"Style layers, joined by commas (default: {','.join(style.STYLE_LAYERS)} on "
                  "VGG; otherwise the first convolution of each of the last five resolution stages).")
flags.DEFINE_integer("size", style.DEFAULT_SIZE, "Longer side of the result, pixels.", lower_bound=16)
flags.DEFINE_integer("steps", style.DEFAULT_STEPS, "L-BFGS iterations per level (half size, then full).",
                     lower_bound=1)
flags.DEFINE_float("content_weight", style.CONTENT_WEIGHT, "Weight of the content term.", lower_bound=0)
flags.DEFINE_float("style_weight", style.STYLE_WEIGHT, "Weight of the style term (shared over the style layers).",
                   lower_bound=0)
flags.DEFINE_enum("normalization", style.DEFAULT_NORMALIZATION, list(style.NORMALIZATIONS),
                  "distance: each term is 1 at the other image; target: over its target's size (the earlier default).")
flags.DEFINE_boolean("preserve_color", False, "Keep the content's colours: transfer luminance only.")


def main(argv):
    del argv
    with _cli.ProgressBar("style transfer") as progress:
        facts = style_app.run(
            FLAGS.content, FLAGS.style, FLAGS.out, model=FLAGS.model, weights=_cli.weights(),
            preprocess=FLAGS.preprocess, content_layers=FLAGS.content_layers, style_layers=FLAGS.style_layers,
            size=FLAGS.size, steps=FLAGS.steps, content_weight=FLAGS.content_weight, style_weight=FLAGS.style_weight,
            normalization=FLAGS.normalization, preserve_color=FLAGS.preserve_color, overwrite=FLAGS.overwrite,
            progress=progress,
        )
    _cli.report(facts, f"{facts['seconds']} s")


if __name__ == "__main__":
    _cli.run(main)
