"""Saliency maps of image files: DIR/STEM_saliency.png, .npy, .json; --segment: STEM_mask.png, STEM_cutout.png;
--regions=K: STEM_regions.png, STEM_cartoon.png.

  python scripts/saliency_maps.py --model=vgg16 --image=cat.jpg --target=281 --method=smoothgrad --segment --out=out
  python scripts/saliency_maps.py --weights=offline --image=a.jpg,b.png --target=block5_conv3 --out=out
  python scripts/saliency_maps.py --image=cat.jpg --target=281 --method=rise --masks=500 --seed=1 --out=out

Each saliency method's options are flags made from its Options dataclass (kerasviz.attribution.registry); a flag
the chosen --method does not take is an error.
"""

import _startup  # noqa: F401  (first: starts TensorFlow quietly)
from absl import flags

from kerasviz import _cli, io
from kerasviz.apps import saliency as saliency_app
from kerasviz.attribution import METHODS, SMOOTHABLE
from kerasviz.segmentation import DEFAULT_FEATURE_METHOD, MAX_REGIONS, SEGMENT_METHODS

FLAGS = flags.FLAGS
_cli.define_model_flags("vgg16")
flags.DEFINE_multi_string("image", None, "Image files: comma-separated, or the flag repeated. Images longer than "
                          f"{io.MAX_IMAGE_SIDE} px are read at {io.MAX_IMAGE_SIDE} px on the longer side, and their "
                          "outputs are at that size.")
flags.DEFINE_string("target", None, "A class index (ImageNet classifier), LAYER (mean activation) or LAYER:FILTER.")
flags.DEFINE_enum("method", "smoothgrad", list(METHODS), "Attribution method.")
flags.DEFINE_boolean("segment", False, "Also write STEM_mask.png (0/255) and STEM_cutout.png.")
flags.DEFINE_enum("segment_method", DEFAULT_FEATURE_METHOD, list(SEGMENT_METHODS),
                  "Mask method: geodesic, contrast, spectral use the network's features; grabcut, threshold the map.")
flags.DEFINE_integer("regions", None, "Also write STEM_regions.png and STEM_cartoon.png with this many regions.",
                     lower_bound=2, upper_bound=MAX_REGIONS)
_cli.define_output_flags("out", folder=True)
flags.DEFINE_integer("size", None, "Longer image side the model sees without a classifier (default: its own).")
# One flag per option of every saliency method, from the registry's Options dataclasses: unset, the method's
# default; set for a method that does not take it, an error.
METHOD_OPTIONS = _cli.define_shared_option_flags(saliency_app.method_option_fields())
flags.DEFINE_boolean("smooth", False, f"SmoothGrad around --method ({', '.join(SMOOTHABLE)}): its attributions "
                     "averaged over --samples noisy copies.")
flags.DEFINE_boolean("metrics", False, "Also score each map: deletion and insertion AUC (Petsiuk et al. 2018) and "
                     "MuFidelity (Bhatt et al. 2020) in the sidecar's \"metrics\" (see kerasviz.metrics); about "
                     "300 more model calls per image (VGG16 at 224 px: 3 minutes, measured on 2 shared CPU cores).")
flags.mark_flags_as_required(["image", "target"])


def main(argv):
    del argv
    images = [path.strip() for value in FLAGS.image for path in value.split(",") if path.strip()]
    with _cli.ProgressBar("saliency", unit="image") as progress:
        results = saliency_app.run(
            images, FLAGS.out, target=FLAGS.target, model=FLAGS.model, weights=_cli.weights(),
            preprocess=FLAGS.preprocess, method=FLAGS.method, segment=FLAGS.segment, size=FLAGS.size,
            method_options={name: FLAGS[name].value for name in METHOD_OPTIONS}, smooth=FLAGS.smooth,
            segment_method=FLAGS.segment_method, regions=FLAGS.regions, metrics=FLAGS.metrics,
            overwrite=FLAGS.overwrite, progress=progress,
        )
    for facts in results:
        verb = "kept" if facts.get("skipped") else f"wrote ({facts['seconds']} s)"
        print(f"{verb} {facts['image']}")


if __name__ == "__main__":
    _cli.run(main)
