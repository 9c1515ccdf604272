"""A folder of images laid out by the network's features (t-SNE), with nearest neighbours.

Writes FILE.png (the thumbnails at their 2-D positions; beneath, a few query images, each with its
k nearest neighbours by cosine similarity) and FILE.json (positions and every image's neighbours).

  python scripts/feature_map.py --images=photos --layer=block5_pool --out=out/feature_map.png
"""

import _startup  # noqa: F401  (first: starts TensorFlow quietly)
from absl import flags

from kerasviz import _cli
from kerasviz.apps import feature_map
from kerasviz.dataset import imagesets

FLAGS = flags.FLAGS
_cli.define_model_flags("vgg16")
flags.DEFINE_string("images", None, "Folder of images (PNG, JPEG, ...), read in batches.", required=True)
flags.DEFINE_string("layer", None, "Layer whose features (averaged over space) place the images (default: the last).")
_cli.define_option_flags(feature_map.FeatureMapOptions)  # method, k, queries, size, batch_size, seed
_cli.define_output_flags("out/feature_map.png")


def main(argv):
    del argv
    imagesets.image_files(FLAGS.images)  # an empty or missing folder fails before the model loads
    with _cli.ProgressBar("images", unit="image") as progress:
        facts = feature_map.run(
            FLAGS.images, FLAGS.out, model=FLAGS.model, weights=_cli.weights(), preprocess=FLAGS.preprocess,
            layer=FLAGS.layer, options=_cli.options_from_flags(feature_map.FeatureMapOptions),
            overwrite=FLAGS.overwrite, progress=progress,
        )
    _cli.report(facts, f"{len(facts.get('images', []))} images by {facts.get('layer')}, {facts.get('seconds')} s")


if __name__ == "__main__":
    _cli.run(main)
