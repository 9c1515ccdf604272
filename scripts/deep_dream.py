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
_cli.define_option_flags(dream.DreamOptions)  # every option of DeepDream, from its dataclass


def main(argv):
    del argv
    with _cli.ProgressBar("deep dream") as progress:
        facts = dream_app.run(
            FLAGS.image, FLAGS.out, model=FLAGS.model, weights=_cli.weights(), preprocess=FLAGS.preprocess,
            options=_cli.options_from_flags(dream.DreamOptions), overwrite=FLAGS.overwrite, progress=progress,
        )
    _cli.report(facts, f"{facts['seconds']} s")


if __name__ == "__main__":
    _cli.run(main)
