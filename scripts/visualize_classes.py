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

FLAGS = flags.FLAGS
flags.DEFINE_list("classes", None, "Class indices, joined by commas.", required=True)
_cli.define_output_flags(folder=True)
_cli.define_model_flags("vgg16", "an ImageNet head for the names", weights_help=_cli.CLASSIFIER_WEIGHTS_HELP)
flags.DEFINE_integer("size", None, "Picture side in pixels (default: the model's input size, else 128).",
                     lower_bound=8)
flags.DEFINE_integer("steps", None, "Optimisation steps (default: the filter pictures' method's).", lower_bound=1)
_cli.define_seed_flag("the starting images")


def main(argv):
    del argv
    classes = _cli.parse_indices(",".join(FLAGS.classes), 1 << 30, what="class")
    with _cli.ProgressBar("class pictures") as progress:
        facts = app.run_classes(classes, FLAGS.out, model=FLAGS.model, weights=_cli.weights(),
                                preprocess=FLAGS.preprocess, size=FLAGS.size, steps=FLAGS.steps, seed=FLAGS.seed,
                                overwrite=FLAGS.overwrite, progress=progress)
    _cli.report(facts, f"{len(classes)} classes, {facts['seconds']} s")


if __name__ == "__main__":
    _cli.run(main)
