"""Neural style transfer: FILE.png and FILE.json (layers, weights, final losses).

  python scripts/style_transfer.py --content=cat.jpg --style=painting.jpg --out=out/cat_styled.png
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import flags  # noqa: E402

from kerasviz import _cli, models, style  # noqa: E402
from kerasviz.apps import style as style_app  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("content", None, "Content image file.", required=True)
flags.DEFINE_string("style", None, "Style image file.", required=True)
flags.DEFINE_string("out", None, "Output PNG file; FILE.json is written beside it.", required=True)
flags.DEFINE_enum("model", "vgg16", list(models.MODELS), "Network from keras.applications.")
flags.DEFINE_string("weights", "auto", "auto, imagenet, offline (VGG16 only), a weights file, or none.")
flags.DEFINE_list("content_layers", list(style.CONTENT_LAYERS), "Content layers, joined by commas.")
flags.DEFINE_list("style_layers", list(style.STYLE_LAYERS), "Style layers, joined by commas.")
flags.DEFINE_integer("size", style.DEFAULT_SIZE, "Longer side of the result, pixels.", lower_bound=16)
flags.DEFINE_integer("steps", style.DEFAULT_STEPS, "L-BFGS iterations per level (half size, then full).",
                     lower_bound=1)
flags.DEFINE_float("content_weight", style.CONTENT_WEIGHT, "Weight of the content term.", lower_bound=0)
flags.DEFINE_float("style_weight", style.STYLE_WEIGHT, "Weight of the style term (shared over the style layers).",
                   lower_bound=0)
flags.DEFINE_enum("normalization", style.DEFAULT_NORMALIZATION, list(style.NORMALIZATIONS),
                  "distance: each term is 1 at the other image; target: over its target's size (before issue 15).")
flags.DEFINE_boolean("preserve_color", False, "Keep the content's colours: transfer luminance only.")
flags.DEFINE_boolean("overwrite", False, "Redo the output if it already exists.")


def main(argv):
    del argv
    weights = None if FLAGS.weights.lower() == "none" else FLAGS.weights
    png = style_app.run(
        FLAGS.content, FLAGS.style, FLAGS.out, model=FLAGS.model, weights=weights,
        content_layers=FLAGS.content_layers, style_layers=FLAGS.style_layers, size=FLAGS.size, steps=FLAGS.steps,
        content_weight=FLAGS.content_weight, style_weight=FLAGS.style_weight, normalization=FLAGS.normalization,
        preserve_color=FLAGS.preserve_color, overwrite=FLAGS.overwrite,
    )
    print(f"wrote {png}")


if __name__ == "__main__":
    _cli.run(main)
