"""Class model visualisation (Simonyan et al. 2014): DIR/MODEL_classes.png, the picture that maximises
each class's logit (not its softmax), and DIR/MODEL_classes.json (each picture's logits).

Needs a classifier: an ImageNet network with its head, or a saved Keras model (--model=PATH):

  python scripts/visualize_classes.py --classes=281,130 --weights=imagenet --out=out
  python scripts/visualize_classes.py --model=my_classifier.keras --preprocess=tf --classes=0,1,2 --out=out
"""

import _startup  # noqa: F401  (first: starts TensorFlow quietly)
from absl import flags

from kerasviz import _cli
from kerasviz.apps import classes as app
from kerasviz.synthesis import classes

FLAGS = flags.FLAGS
flags.DEFINE_list("classes", None, "Class indices, joined by commas.", required=True)
_cli.define_output_flags(folder=True)
_cli.define_model_flags("vgg16", "an ImageNet head for the names", weights_help=_cli.CLASSIFIER_WEIGHTS_HELP)
_cli.define_option_flags(classes.ClassOptions)  # every option of class pictures, from its dataclass


def main(argv):
    del argv
    indices = _cli.parse_indices(",".join(FLAGS.classes), 1 << 30, what="class")
    with _cli.ProgressBar("class pictures") as progress:
        facts = app.run(indices, FLAGS.out, model=FLAGS.model, weights=_cli.weights(), preprocess=FLAGS.preprocess,
                        options=_cli.options_from_flags(classes.ClassOptions), overwrite=FLAGS.overwrite,
                        progress=progress)
    _cli.report(facts, f"{len(indices)} classes, {facts['seconds']} s")


if __name__ == "__main__":
    _cli.run(main)
