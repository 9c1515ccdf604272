"""Does style transfer keep the photo? Old and new defaults (and candidates) on several photo + style pairs.

Every result is scored under the model it was made with, at fixed measurement layers that do not
depend on the settings being judged:
- content ratio = |F(result) - F(photo)| / |F(style) - F(photo)| at block4_conv2 (the style image
  resized to the photo's shape): 0 is the photo's content, 1 as far as the style image;
- style ratio = sum over block{1..5}_conv1 of |G(result) - G(style)| / the same sum for the photo
  (Frobenius norms of Gram matrices F^T F / (h w)): 0 is the style's statistics, 1 no closer than the photo.
In brackets, the style ratio of squared distances (Gatys' E_l, summed over the layers), which is
the square of the first when one layer dominates. The pairs are fixed
(scikit-image's bundled pictures and the procedural swirls); every configuration runs on every pair in
the same process, one after the other, so the seconds compare.

  python benchmarks/style_pairs.py                          # old and new defaults, six pairs, 256 px (slow)
  python benchmarks/style_pairs.py --configs=old,new,new_color --out=/tmp/style   # + pictures
  python benchmarks/style_pairs.py --size=128 --steps=30 --configs=old,new,sw3,sw30 # a quick sweep
  python benchmarks/style_pairs.py --smoke                  # CI: one pair, 64 px, 2 iterations a level
"""

import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app, flags  # noqa: E402

from kerasviz import io, load_model, models  # noqa: E402
from kerasviz.apps.style import BEFORE, swirls  # noqa: E402
from kerasviz.synthesis import style  # noqa: E402

MEASURE_CONTENT = "block4_conv2"  # Gatys et al. 2016's content layer (conv4_2)
MEASURE_STYLE = ("block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1")  # Gatys' five
# Photo : style. Styles: the procedural painting, three grey textures, a stained slide and a photo of space.
PAIRS = {
    "chelsea+swirls": ("chelsea", "swirls"),
    "astronaut+brick": ("astronaut", "brick"),
    "coffee+gravel": ("coffee", "gravel"),
    "rocket+immunohistochemistry": ("rocket", "immunohistochemistry"),
    "camera+grass": ("camera", "grass"),
    "cat+hubble_deep_field": ("cat", "hubble_deep_field"),
}
# Keyword arguments of style.transfer; "new" is the library's defaults.
OLD = BEFORE  # the defaults before distance normalisation and block4_conv2 content
CONFIGS = {
    "old": OLD,
    "new": {},
    "new_color": {"preserve_color": True},
    # candidates: the old normalisation with more content weight, or Gatys' content layer
    **{f"t{b}_cw{w:g}": OLD | {"content_layers": (f"block{b}_conv2",), "content_weight": float(w)}
       for b in (4, 5) for w in (1, 3, 10, 30)},
    # the "distance" normalisation, content at block 4, block 5 or both, by the style weight
    **{f"d{b}_sw{w:g}": {"content_layers": layers, "style_weight": float(w), "normalization": "distance"}
       for b, layers in (("4", ("block4_conv2",)), ("5", ("block5_conv2",)), ("45", ("block4_conv2", "block5_conv2")))
       for w in (0.3, 1, 2, 3, 5, 10, 30)},
}

FLAGS = flags.FLAGS
flags.DEFINE_string("weights", "offline", "VGG16 weights.")
flags.DEFINE_integer("size", 256, "Longer side of the result, pixels.", lower_bound=16)
flags.DEFINE_integer("steps", style.DEFAULT_STEPS, "L-BFGS iterations per level.", lower_bound=1)
flags.DEFINE_list("pairs", list(PAIRS), f"Pairs, of {', '.join(PAIRS)}.")
flags.DEFINE_list("configs", ["old", "new"], f"Settings to compare, of {', '.join(CONFIGS)}.")
flags.DEFINE_string("out", None, "If set, write per pair a strip photo | style | one result per config here.")
flags.DEFINE_boolean("smoke", False, "CI: the whole run at a tiny size in seconds, strips written to a temporary "
                     "folder (flags given still win).")

SMOKE = {"size": 64, "steps": 2, "pairs": ["chelsea+swirls"]}


def picture(name: str) -> np.ndarray:
    from skimage import data

    image = swirls() if name == "swirls" else getattr(data, name)()
    return io.as_batch(image)[0][0]  # float32 RGB (greyscale repeated)


class Meter:
    """Content and style ratios of results under `model` at the measurement layers."""

    def __init__(self, model: keras.Model):
        layers = [MEASURE_CONTENT, *MEASURE_STYLE]
        self._extract = keras.Model(model.inputs, [models.get_layer(model, n).output for n in layers])
        self._preprocess = models.preprocess_fn(model)
        self._features = tf.function(self._features_and_grams)

    def _features_and_grams(self, image):
        outputs = self._extract(self._preprocess(image[None]))
        return outputs[0][0], [style.gram(f[0]) for f in outputs[1:]]

    def __call__(self, result: np.ndarray, photo: np.ndarray, style_image: np.ndarray) -> dict:
        """Ratios for a result (H, W, 3); photo and style images are resized here as transfer does."""
        shape = result.shape[:2]
        photo = io.resize(photo, shape)
        style_fit = io.resize(style_image, io.fit_shape(style_image.shape[:2], max(shape)))
        f_r, g_r = self._features(tf.constant(result, tf.float32))
        f_p, g_p = self._features(tf.constant(photo, tf.float32))
        f_s, _ = self._features(tf.constant(io.resize(style_image, shape), tf.float32))
        _, g_s = self._features(tf.constant(style_fit, tf.float32))
        norm = lambda a, b: float(tf.norm(a - b))  # noqa: E731
        ours = np.array([norm(r, s) for r, s in zip(g_r, g_s)])
        photos = np.array([norm(p, s) for p, s in zip(g_p, g_s)])
        return {"content": norm(f_r, f_p) / norm(f_s, f_p), "style": ours.sum() / photos.sum(),
                "style_squared": float(np.sum(ours**2) / np.sum(photos**2))}


def main(argv):
    del argv
    if FLAGS.smoke:
        for name, value in SMOKE.items():
            if not FLAGS[name].present:
                setattr(FLAGS, name, value)
        if not FLAGS.out:  # the strips too, to a folder that goes afterwards
            with tempfile.TemporaryDirectory() as folder:
                FLAGS.out = folder
                run()
            return
    run()


def run():
    unknown = sorted((set(FLAGS.pairs) - set(PAIRS)) | (set(FLAGS.configs) - set(CONFIGS)))
    if unknown:
        raise app.UsageError(f"unknown pair or config {unknown}; pairs: {list(PAIRS)}; configs: {list(CONFIGS)}")
    model = load_model("vgg16", FLAGS.weights)
    meter = Meter(model)
    print(f"VGG16 {models.model_info(model).weights}; {FLAGS.size} px, {FLAGS.steps} L-BFGS iterations per level, "
          f"{style.DEFAULT_LEVELS} levels; measured at {MEASURE_CONTENT} and {', '.join(MEASURE_STYLE)}")
    for name in FLAGS.configs:
        print(f"  {name}: {CONFIGS[name] or 'the library defaults'}")
    scores = {name: [] for name in FLAGS.configs}
    print(f"\n| pair | {' | '.join(FLAGS.configs)} |")
    print("|---" * (len(FLAGS.configs) + 1) + "|")
    for pair in FLAGS.pairs:
        photo, style_image = (picture(n) for n in PAIRS[pair])
        cells, results = [], []
        for name in FLAGS.configs:
            start = time.perf_counter()
            result = style.transfer(photo, style_image, model=model, size=FLAGS.size, steps=FLAGS.steps,
                                    **CONFIGS[name]).image
            seconds = time.perf_counter() - start
            score = meter(result.astype(np.float32), photo, style_image) | {"seconds": seconds}
            scores[name].append(score)
            results.append(result)
            cells.append(f"{score['content']:.3f} / {score['style']:.3f} ({score['style_squared']:.3f}) "
                         f"{seconds:.0f} s")
        print(f"| {pair} | {' | '.join(cells)} |", flush=True)
        if FLAGS.out:
            shape = results[0].shape[:2]
            strip = np.stack([io.resize(photo, shape), io.resize(style_image, shape), *results])
            io.write_png(os.path.join(FLAGS.out, f"{pair}.png"),
                         io.grid(np.clip(np.round(strip), 0, 255).astype(np.uint8), cols=len(strip)))
    medians = []
    for name in FLAGS.configs:
        table = {k: np.median([s[k] for s in scores[name]]) for k in scores[name][0]}
        total = sum(s["seconds"] for s in scores[name])
        medians.append(f"{table['content']:.3f} / {table['style']:.3f} ({table['style_squared']:.3f}) "
                       f"{total:.0f} s in all")
    print(f"| **median** | {' | '.join(medians)} |")
    print("\ncells: content ratio / style ratio (style ratio of squared distances), seconds; "
          "targets: median content <= 0.5, style <= 0.25, no slower than old")


if __name__ == "__main__":
    app.run(main)
