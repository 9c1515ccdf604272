"""First-layer weights as pictures: every kernel of the first convolution as a small RGB image.

Writes FILE.png (a grid; each kernel normalised symmetrically around 0, grey = 0, enlarged with
nearest neighbour) and FILE.json (layer, kernel size, each kernel's max |w|).

  python scripts/first_layer_weights.py --model=resnet50 --weights=imagenet --out=out/first_layer.png
"""

import _startup  # noqa: F401  (first: starts TensorFlow quietly)
from absl import flags

from kerasviz import _cli
from kerasviz.apps import first_layer

FLAGS = flags.FLAGS
_cli.define_model_flags("vgg16")
flags.DEFINE_string("layer", None, "A convolution taking 1 or 3 channels (default: the first).")
flags.DEFINE_integer("zoom", None, "Pixels per weight (default: about 48 pixels per kernel).", lower_bound=1)
_cli.define_output_flags("out/first_layer.png")


def main(argv):
    del argv
    facts = first_layer.run(FLAGS.out, model=FLAGS.model, weights=_cli.weights(), preprocess=FLAGS.preprocess,
                            layer=FLAGS.layer, zoom=FLAGS.zoom, overwrite=FLAGS.overwrite)
    _cli.report(facts, f"{facts['kernels']} kernels of {facts['layer']}")


if __name__ == "__main__":
    _cli.run(main)
