"""DeepDream on one image: FILE.png (the input's size) and FILE.json.

  python scripts/deep_dream.py --image=cat.jpg --out=out/cat_dream.png --layers=mixed3:1,mixed5:1.5
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import flags  # noqa: E402

from kerasviz import _cli, dream  # noqa: E402
from kerasviz.apps import dream as dream_app  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("image", None, "Image file to dream on, at its own size (any size: tiles bound the memory).",
                    required=True)
flags.DEFINE_string("out", None, "Output PNG file; FILE.json is written beside it.", required=True)
_cli.define_model_flags(None, "default: inceptionv3 with ImageNet weights, else vgg16 with offline weights")
flags.DEFINE_string("weights", "auto", "auto, imagenet, offline (VGG16 only), a weights file, or none.")
flags.DEFINE_string("layers", None, "NAME:WEIGHT,... (default: the model's, e.g. mixed3:1,mixed5:1.5).")
flags.DEFINE_integer("octaves", dream.OCTAVES, "Number of scales.", lower_bound=1)
flags.DEFINE_integer("steps", dream.STEPS, "Gradient-ascent steps per octave.", lower_bound=0)
flags.DEFINE_integer("tile_size", dream.TILE_SIZE, "Largest tile side for one gradient, pixels.", lower_bound=32)
flags.DEFINE_integer("seed", 0, "Random seed of the tile rolls.")
flags.DEFINE_boolean("overwrite", False, "Redo the output if it already exists.")


def main(argv):
    del argv
    weights = None if FLAGS.weights.lower() == "none" else FLAGS.weights
    layers = dream_app.parse_layers(FLAGS.layers) if FLAGS.layers else None
    png = dream_app.run(
        FLAGS.image, FLAGS.out, model=FLAGS.model, weights=weights, layers=layers, octaves=FLAGS.octaves,
        steps=FLAGS.steps, tile_size=FLAGS.tile_size, seed=FLAGS.seed, overwrite=FLAGS.overwrite,
        preprocess=FLAGS.preprocess,
    )
    print(f"wrote {png}")


if __name__ == "__main__":
    _cli.run(main)
