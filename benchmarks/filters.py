"""Filter visualisation: speed and picture quality of kerasviz's default method against a keras-io baseline.

The baseline is keras-io's examples/vision/visualizing_what_convnets_learn.py, batched over the
filters and run in this process: 30 steps of L2-normalised gradient ascent with step 10 in the
[-1, 1] input space from a near-grey start, fp32 (timed over its 30 steps alone, after tracing).
kerasviz runs as a user runs it: the whole `scripts/visualize_filters.py` process, start-up
included. Both are judged by the robust activation (benchmarks/quality.py) of the saved PNGs.

  python benchmarks/filters.py                    # offline VGG16, block4_conv3 and block5_conv3
  python benchmarks/filters.py --method=classic --layers=block5_conv3
"""

import os
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import imageio.v3 as iio  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app, flags  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
import quality  # noqa: E402

from kerasviz import load_model, models  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("model", "vgg16", "Model name.")
flags.DEFINE_string("weights", "offline", "Weights for both runs.")
flags.DEFINE_list("layers", ["block4_conv3", "block5_conv3"], "Layers to compare.")
flags.DEFINE_list("filters", ["0", "64", "128", "192", "256", "320", "384", "448"], "Filters of each layer.")
flags.DEFINE_integer("size", 128, "Image side.")
flags.DEFINE_string("method", None, "kerasviz method (default: the library default).")
flags.DEFINE_integer("steps", None, "kerasviz steps (default: the method's).")
flags.DEFINE_string("precision", "auto", "kerasviz precision.")
flags.DEFINE_string("out", None, "Keep the pictures here (default: a temporary folder).")

BASELINE_STEPS, BASELINE_LR = 30, 10.0  # keras-io: iterations = 30, learning_rate = 10.0


def keras_io_baseline(model, layer, filters, size):
    """keras-io's recipe, batched: returns uint8 images and seconds for its 30 steps."""
    preprocess = models.preprocess_fn(model)
    features = tf.keras.Model(model.input, models.get_layer(model, layer).output)
    index = tf.constant(filters, tf.int32)

    @tf.function
    def step(image):
        with tf.GradientTape() as tape:
            tape.watch(image)
            acts = features(preprocess((image + 1.0) * 127.5))  # the [-1, 1] space of keras-io's model
            chosen = tf.gather(acts, index, axis=-1, batch_dims=1)[:, 2:-2, 2:-2]  # no border pixels
            loss = tf.reduce_sum(tf.reduce_mean(chosen, axis=(1, 2)))
        grads = tape.gradient(loss, image)
        grads = tf.math.l2_normalize(grads, axis=(1, 2, 3))
        return image + BASELINE_LR * grads

    rng = np.random.default_rng(0)
    start = tf.constant((rng.uniform(size=(len(filters), size, size, 3)) - 0.5) * 0.25, tf.float32)
    step(start)  # trace outside the timing
    t0 = time.perf_counter()
    image = start
    for _ in range(BASELINE_STEPS):
        image = step(image)
    image = image.numpy()
    seconds = time.perf_counter() - t0
    # keras-io deprocess_image: normalise to std 0.15 around 0.5 (its 25-px border crop is left out
    # so both methods are judged at the same size).
    image = image - image.mean(axis=(1, 2, 3), keepdims=True)
    image = image / (image.std(axis=(1, 2, 3), keepdims=True) + 1e-5) * 0.15 + 0.5
    return np.clip(np.round(image * 255), 0, 255).astype(np.uint8), seconds


def run_kerasviz(layer, filters, out):
    script = os.path.join(os.path.dirname(__file__), "..", "scripts", "visualize_filters.py")
    cmd = [sys.executable, script, f"--model={FLAGS.model}", f"--weights={FLAGS.weights}", f"--layer={layer}",
           f"--filters={','.join(map(str, filters))}", f"--size={FLAGS.size}", f"--out={out}", "--tiles",
           "--overwrite", f"--precision={FLAGS.precision}"]
    cmd += [f"--method={FLAGS.method}"] if FLAGS.method else []
    cmd += [f"--steps={FLAGS.steps}"] if FLAGS.steps else []
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seconds = time.perf_counter() - t0
    stem = f"{FLAGS.model}_{layer}"
    images = np.stack([iio.imread(os.path.join(out, stem, f"{f:04d}.png")) for f in filters])
    return images, seconds


def main(argv):
    del argv
    model = load_model(FLAGS.model, FLAGS.weights)
    filters = [int(f) for f in FLAGS.filters]
    out = FLAGS.out or tempfile.mkdtemp(prefix="kerasviz-bench-")
    print(f"{FLAGS.model} ({models.model_info(model).weights}), {len(filters)} filters, {FLAGS.size} px")
    for layer in FLAGS.layers:
        base_images, base_s = keras_io_baseline(model, layer, filters, FLAGS.size)
        ours_images, ours_s = run_kerasviz(layer, filters, out)
        iio.imwrite(os.path.join(out, f"baseline_{layer}.png"), np.concatenate(base_images, axis=1))
        base_q = quality.robust_activation(model, layer, base_images, filters)
        ours_q = quality.robust_activation(model, layer, ours_images, filters)
        ms = 1000 * base_s / (BASELINE_STEPS * len(filters))
        print(f"\n{layer}")
        print(f"  keras-io baseline: {base_s:6.1f} s for 30 steps ({ms:.1f} ms per image-step), "
              f"robust activation median {np.median(base_q):7.2f}, alive {np.sum(base_q > 1)}/{len(filters)}")
        print(f"  kerasviz script  : {ours_s:6.1f} s whole run (start-up included), "
              f"robust activation median {np.median(ours_q):7.2f}, alive {np.sum(ours_q > 1)}/{len(filters)}")
        print(f"  ratio: quality {np.median(ours_q) / max(np.median(base_q), 1e-6):.2f}x, time {ours_s / base_s:.2f}x")
        print("  per filter (baseline -> kerasviz): "
              + ", ".join(f"{f}: {b:.1f}->{o:.1f}" for f, b, o in zip(filters, base_q, ours_q)))
    print(f"\npictures in {out}")


if __name__ == "__main__":
    app.run(main)
