"""DeepDream on one image: FILE.png (the input's size) and FILE.json.

  python scripts/deep_dream.py --image=cat.jpg --out=out/cat_dream.png --layers=mixed3:1,mixed5:1.5
"""

import _startup  # noqa: F401  (first: starts TensorFlow quietly)
from absl import flags

from kerasviz import _cli
from kerasviz.apps import dream as dream_app
from kerasviz.synthesis import dream

FLAGS = flags.FLAGS
flags.DEFINE_string("image", None, "Image file to dream on, at its own size (any size: tiles bound the memory).",
                    required=True)
_cli.define_output_flags()
_cli.define_model_flags(None, "default: vgg16 with --weights=offline, inceptionv3 with other weights; with "
                              "--weights=auto, vgg16 with offline weights when ImageNet's are out of reach")
flags.DEFINE_string("layers", None, "NAME:WEIGHT,... (default: the model's, e.g. mixed3:1,mixed5:1.5).")
flags.DEFINE_integer("octaves", dream.OCTAVES, "Number of scales.", lower_bound=1)
flags.DEFINE_integer("steps", dream.STEPS, "Gradient-ascent steps per octave.", lower_bound=0)
flags.DEFINE_integer("tile_size", dream.TILE_SIZE, "Largest tile side for one gradient, pixels.", lower_bound=32)
_cli.define_seed_flag("the tile rolls")


def main(argv):
    del argv
    layers = dream_app.parse_layers(FLAGS.layers) if FLAGS.layers else None
    with _cli.ProgressBar("deep dream") as progress:
        facts = dream_app.run(
            FLAGS.image, FLAGS.out, model=FLAGS.model, weights=_cli.weights(), preprocess=FLAGS.preprocess,
            layers=layers, octaves=FLAGS.octaves, steps=FLAGS.steps, tile_size=FLAGS.tile_size, seed=FLAGS.seed,
            overwrite=FLAGS.overwrite, progress=progress,
        )
    _cli.report(facts, f"{facts['seconds']} s")


if __name__ == "__main__":
    _cli.run(main)
