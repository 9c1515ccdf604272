"""Dataset exemplars (Zeiler & Fergus 2014): the image patches of a folder that excite each filter most.

Writes DIR/MODEL_LAYER_exemplars.png (a row per filter: its synthetic picture, then its top patches,
each the unit's receptive field around its maximum) and DIR/MODEL_LAYER_exemplars.json (per patch:
image file, box in that image's pixels, activation). MODEL: the network's name, or a model file's stem.

  python scripts/dataset_exemplars.py --images=photos --layer=block4_conv3 --filters=0-7 --top=9 --out=out
  python scripts/dataset_exemplars.py --model=mine.keras --preprocess=tf --images=photos --out=out
"""

import _startup  # noqa: F401  (first: starts TensorFlow quietly)
from absl import flags

from kerasviz import KerasvizError, _cli, io, load_model, models
from kerasviz.apps import exemplars as exemplars_app
from kerasviz.dataset import exemplars, imagesets

FLAGS = flags.FLAGS
_cli.define_model_flags("vgg16")
flags.DEFINE_string("images", None, "Folder of images (PNG, JPEG, ...), read in batches.", required=True)
flags.DEFINE_string("layer", None, "Layer whose filters to rank (default: block4_conv3 where the model has it, "
                    "else the last convolution of the stage before the last).")
flags.DEFINE_string("filters", "0-7", "Filter indices: 'all', N, A-B (inclusive), joined by commas.")
_cli.define_option_flags(exemplars.ExemplarOptions, skip=("size",))  # top, batch_size
flags.DEFINE_integer("size", exemplars.SIZE, "Longer image side the network sees, pixels (0: as given).",
                     lower_bound=0)
flags.DEFINE_boolean("synthetic", True, "Show each filter's synthetic picture (gradient ascent) beside its patches.")
flags.DEFINE_integer("steps", None, "Steps of the synthetic pictures (default: the method's).", lower_bound=1)
_cli.define_output_flags("out", folder=True)


def main(argv):
    del argv
    if FLAGS.size and FLAGS.size < 8:
        raise KerasvizError(f"--size must be 0 (as given) or at least 8 pixels; got {FLAGS.size}")
    imagesets.image_files(FLAGS.images)  # an empty or missing folder fails before the model loads
    io.check_writable(FLAGS.out)
    model = load_model(FLAGS.model, _cli.weights(), preprocess=FLAGS.preprocess)
    layer = FLAGS.layer or exemplars_app.default_layer(model)
    filters = _cli.parse_indices(FLAGS.filters, models.num_channels(model, layer))
    with _cli.ProgressBar("images", unit="image") as progress:
        facts = exemplars_app.run(
            layer, filters, FLAGS.images, FLAGS.out, model=model,
            options=_cli.options_from_flags(exemplars.ExemplarOptions, skip=("size",), size=FLAGS.size or None),
            synthetic=FLAGS.synthetic, steps=FLAGS.steps, overwrite=FLAGS.overwrite,
            progress=progress,
        )
    _cli.report(facts, f"{len(filters)} filters x {FLAGS.top}, {facts['images_seen']} images, {facts['seconds']} s")


if __name__ == "__main__":
    _cli.run(main)
