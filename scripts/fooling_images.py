"""Fooling images (Szegedy et al. 2014, Goodfellow et al. 2015): the smallest change, by FGSM or iterated
projected signed-gradient steps, that makes a classifier answer --target_class. FILE.png shows the image,
the fooled image and the change magnified; FILE.json holds `before` and `after` ({"class", "score"}),
method, epsilon, steps and the change's L-inf and L2 (0-255 levels).

  python scripts/fooling_images.py --image=cat.jpg --target_class=9 --weights=imagenet --out=out/cat_fooled.png
"""

import _startup  # noqa: F401  (first: starts TensorFlow quietly)
from absl import flags

from kerasviz import _cli
from kerasviz.apps import fooling
from kerasviz.synthesis import adversarial

FLAGS = flags.FLAGS
flags.DEFINE_string("image", None, "The image to change.", required=True)
flags.DEFINE_integer("target_class", None, "The class the classifier should answer.", required=True, lower_bound=0)
_cli.define_output_flags()
_cli.define_model_flags("vgg16", "an ImageNet head for the names", weights_help=_cli.CLASSIFIER_WEIGHTS_HELP)
_cli.define_option_flags(adversarial.FoolOptions)  # every option of fooling images, from its dataclass
flags.DEFINE_integer("size", None, f"Longer side the classifier sees, when it takes any size (default "
                     f"{fooling.DEFAULT_SIDE}).", lower_bound=8)


def main(argv):
    del argv
    facts = fooling.run(FLAGS.image, FLAGS.target_class, FLAGS.out, model=FLAGS.model, weights=_cli.weights(),
                        preprocess=FLAGS.preprocess, options=_cli.options_from_flags(adversarial.FoolOptions),
                        size=FLAGS.size, overwrite=FLAGS.overwrite)
    _cli.report(facts, f"{facts['before']['class']} -> {facts['after']['class']}")


if __name__ == "__main__":
    _cli.run(main)
