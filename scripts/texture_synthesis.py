"""Texture synthesis (Gatys et al. 2015): FILE.png, a new texture of --size=H,W pixels with the source's
Gram matrices at --layers, and FILE.json (the Gram distance per layer, relative to the starting noise).

  python scripts/texture_synthesis.py --style=gravel.png --size=256,512 --out=out/gravel_texture.png
"""

import dataclasses

import _startup  # noqa: F401  (first: starts TensorFlow quietly)
from absl import flags

from kerasviz import _cli
from kerasviz.apps import texture
from kerasviz.synthesis import reconstruct

FLAGS = flags.FLAGS
SHAPE = next(f for f in dataclasses.fields(reconstruct.TextureOptions) if f.name == "shape")
flags.DEFINE_string("style", None, "The texture image to take statistics from.", required=True)
# The option `shape` is the flag --size=H,W (or one number for a square), read by TextureOptions itself.
flags.DEFINE_string("size", ",".join(map(str, SHAPE.default)), SHAPE.metadata["help"])
_cli.define_output_flags()
_cli.define_model_flags("vgg16")
_cli.define_option_flags(reconstruct.TextureOptions, skip=("shape",))  # the others, from the dataclass
flags.DEFINE_integer("max_source", texture.MAX_SOURCE, "Shrink a larger source to this longer side first, pixels.",
                     lower_bound=16)


def main(argv):
    del argv
    with _cli.ProgressBar("texture synthesis") as progress:
        facts = texture.run(
            FLAGS.style, FLAGS.out, model=FLAGS.model, weights=_cli.weights(), preprocess=FLAGS.preprocess,
            options=_cli.options_from_flags(reconstruct.TextureOptions, skip=("shape",), shape=FLAGS.size),
            max_source=FLAGS.max_source, overwrite=FLAGS.overwrite, progress=progress,
        )
    _cli.report(facts, f"{facts['seconds']} s")


if __name__ == "__main__":
    _cli.run(main)
