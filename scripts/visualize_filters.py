"""Visualises the filters of one layer: DIR/MODEL_LAYER.png, .json and, with --tiles, one PNG per filter.

  python scripts/visualize_filters.py --model=vgg16 --layer=block5_conv3 --filters=200-207 --out=out
"""

import _startup  # noqa: F401  (first: starts TensorFlow quietly)
from absl import flags

from kerasviz import _cli, io, load_model, models
from kerasviz.apps import filters as filters_app
from kerasviz.apps import tensorboard
from kerasviz.optvis import render

FLAGS = flags.FLAGS
_cli.define_model_flags("vgg16")
flags.DEFINE_string("layer", "block5_conv3", "Layer whose filters to visualise.")
flags.DEFINE_string("filters", "0-15", "Filter indices: 'all', N, A-B (inclusive), joined by commas.")
_cli.define_option_flags(render.FilterOptions)  # size, steps, method, seed, precision, batch_size
_cli.define_output_flags("out", folder=True)
flags.DEFINE_boolean("tiles", False, "Also write DIR/MODEL_LAYER/NNNN.png, one image per filter.")
flags.DEFINE_string("tensorboard", None, "Also write the grid and activations as TensorBoard summaries here.")


def main(argv):
    del argv
    io.check_writable(FLAGS.out)
    model = load_model(FLAGS.model, _cli.weights(), preprocess=FLAGS.preprocess)
    filters = _cli.parse_indices(FLAGS.filters, models.num_channels(model, FLAGS.layer))
    stem = filters_app.output_stem(models.model_info(model).name, FLAGS.layer)  # a model file: its stem
    with _cli.ProgressBar(stem) as progress:
        facts = filters_app.run(
            FLAGS.layer, filters, FLAGS.out, model=model, options=_cli.options_from_flags(render.FilterOptions),
            tiles=FLAGS.tiles, overwrite=FLAGS.overwrite, progress=progress,
        )
    if FLAGS.tensorboard:
        grid = io.load_image(facts["png"], max_side=None)
        tensorboard.write_summaries(FLAGS.tensorboard, stem, grid, facts)
    _cli.report(facts, f"{len(filters)} filters, {facts['seconds']} s")


if __name__ == "__main__":
    _cli.run(main)
