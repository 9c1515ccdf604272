"""Style transfer speed: the keras-io recipe against kerasviz, both judged by the recipe's own loss.

The recipe is keras-io examples/generative/neural_style_transfer.py, run in this process: SGD with
learning rate 100 decaying x0.96 every 100 steps, content weight 2.5e-8 (block5_conv2), style 1e-6
(block{1..5}_conv1), total variation 1e-6, from the content image. kerasviz minimises the same
objective: its relative loss terms are given weights that make its total equal the recipe's loss
(converted below), and it runs with its own optimiser (L-BFGS-B by default). The clock runs from each
method's start, tracing included; the time spent measuring kerasviz's images is taken off its clock.

  python benchmarks/style.py                       # full recipe: 4000 steps, ~45 min on this 2-core CPU
  python benchmarks/style.py --recipe_steps=400    # quick
  python benchmarks/style.py --optimizer=adam --steps=300
  python benchmarks/style.py --recipe_steps=1 --init=noise   # kerasviz's floor from another start
  python benchmarks/style.py --smoke               # CI: 48 x 64 px, 2 recipe steps, 2 iterations a level
"""

import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app, flags  # noqa: E402

from kerasviz import io, load_model, models  # noqa: E402
from kerasviz.apps.style import swirls  # noqa: E402
from kerasviz.synthesis import style  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("weights", "offline", "VGG16 weights for both runs.")
flags.DEFINE_list("shape", ["128", "192"], "Height,width of both images.")
flags.DEFINE_integer("recipe_steps", 4000, "keras-io recipe steps (its default: 4000).", lower_bound=1)
flags.DEFINE_integer("steps", 100, "kerasviz iterations per level.", lower_bound=1)
flags.DEFINE_enum("optimizer", "lbfgs", list(style.OPTIMIZERS), "kerasviz optimiser.")
flags.DEFINE_integer("levels", style.DEFAULT_LEVELS, "kerasviz multi-resolution levels.", lower_bound=1)
flags.DEFINE_string("precision", "float32", "kerasviz's compute type (float32, bfloat16, auto).")
flags.DEFINE_enum("init", "content", list(style.INITS), "kerasviz's starting image.")
flags.DEFINE_string("content", "chelsea", "Content image: a scikit-image data name.")
flags.DEFINE_string("style", "swirls", "Style image: a scikit-image data name, or swirls (kerasviz.apps.style).")
flags.DEFINE_boolean("smoke", False, "CI: the whole run at a tiny size in seconds (flags given still win).")

SMOKE = {"shape": ["48", "64"], "recipe_steps": 2, "steps": 2}

CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)  # keras.applications.vgg16.preprocess_input
# keras-io neural_style_transfer.py
CONTENT_WEIGHT = 2.5e-8
STYLE_WEIGHT = 1e-6
TV_WEIGHT = 1e-6
STYLE_LAYERS = ["block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1"]
CONTENT_LAYER = "block5_conv2"


class Recipe:
    """keras-io's loss, verbatim in substance, on caffe-preprocessed (1, H, W, 3) images."""

    def __init__(self, model: keras.Model, shape: tuple[int, int]):
        outputs = {name: model.get_layer(name).output for name in [*STYLE_LAYERS, CONTENT_LAYER]}
        self.extract = keras.Model(model.inputs, outputs)
        self.rows, self.cols = shape
        self.preprocess = models.preprocess_fn(model)

    @staticmethod
    def gram_matrix(x):
        x = tf.transpose(x, (2, 0, 1))
        features = tf.reshape(x, (tf.shape(x)[0], -1))
        return tf.matmul(features, tf.transpose(features))

    def style_loss(self, style_features, combination):
        s, c = self.gram_matrix(style_features), self.gram_matrix(combination)
        channels, size = 3, self.rows * self.cols
        return tf.reduce_sum(tf.square(s - c)) / (4.0 * (channels**2) * (size**2))

    def tv_sum(self, x):
        a = tf.square(x[:, : self.rows - 1, : self.cols - 1, :] - x[:, 1:, : self.cols - 1, :])
        b = tf.square(x[:, : self.rows - 1, : self.cols - 1, :] - x[:, : self.rows - 1, 1:, :])
        return tf.reduce_sum(tf.pow(a + b, 1.25))

    def loss(self, combination, base, style_reference):
        features = self.extract(tf.concat([base, style_reference, combination], axis=0))
        f = features[CONTENT_LAYER]
        loss = CONTENT_WEIGHT * tf.reduce_sum(tf.square(f[2] - f[0]))
        for name in STYLE_LAYERS:
            f = features[name]
            loss += (STYLE_WEIGHT / len(STYLE_LAYERS)) * self.style_loss(f[1], f[2])
        return loss + TV_WEIGHT * self.tv_sum(combination)


def saved_picture(combination):
    """What the recipe saves (its deprocess_image): back to RGB 0-255 and clipped; caffe-preprocessed VGG16 only."""
    rgb = (combination[0] + tf.constant(CAFFE_MEAN_BGR, combination.dtype))[..., ::-1]
    return tf.clip_by_value(rgb, 0.0, 255.0)


def run_recipe(recipe: Recipe, base, style_reference, steps: int) -> list[tuple[float, float, float]]:
    """[(seconds, loss, loss of the picture it would save)] every 100 steps and at the end."""
    optimizer = keras.optimizers.SGD(
        keras.optimizers.schedules.ExponentialDecay(initial_learning_rate=100.0, decay_steps=100, decay_rate=0.96)
    )

    @tf.function
    def compute_loss_and_grads(combination):
        with tf.GradientTape() as tape:
            loss = recipe.loss(combination, base, style_reference)
        return loss, tape.gradient(loss, combination)

    start = time.perf_counter()
    combination = tf.Variable(base)
    history = []
    for i in range(1, steps + 1):
        loss, grads = compute_loss_and_grads(combination)
        optimizer.apply_gradients([(grads, combination)])
        if i % 100 == 0 or i == steps:
            combination.numpy()  # the step is done
            pause = time.perf_counter()
            seconds = pause - start
            loss = float(recipe.loss(combination, base, style_reference))
            saved = float(recipe.loss(recipe.preprocess(saved_picture(combination)[None]), base, style_reference))
            start += time.perf_counter() - pause  # measuring is off the recipe's clock
            history.append((seconds, loss, saved))
            print(f"  recipe step {i:5d}  {seconds:7.1f} s  loss {loss:10.2f}  "
                  f"(its saved, clipped picture: {saved:.2f})", flush=True)
    return history


def kerasviz_weights(recipe: Recipe, base, style_reference, content: np.ndarray) -> dict:
    """Weights that make kerasviz's relative loss equal the recipe's (see style.StyleLoss)."""
    features = recipe.extract(tf.concat([base, style_reference], axis=0))
    content_norm = float(tf.reduce_sum(tf.square(features[CONTENT_LAYER][0])))  # sum P^2
    size = recipe.rows * recipe.cols
    style_layers = {  # per layer: recipe weight * sum S_raw^2 / (36 size^2)
        name: STYLE_WEIGHT / len(STYLE_LAYERS) * float(tf.reduce_sum(tf.square(recipe.gram_matrix(features[name][1]))))
        / (4.0 * 9 * size**2)
        for name in STYLE_LAYERS
    }
    tv_norm = float(recipe.tv_sum(tf.constant(content[None], tf.float32)))  # sum of the content's TV term
    return {  # converted for the "target" normalisation (each term over its target's size)
        "normalization": "target",
        "content_layers": {CONTENT_LAYER: 1.0}, "content_weight": CONTENT_WEIGHT * content_norm,
        "style_layers": style_layers, "style_weight": 1.0, "tv_weight": TV_WEIGHT * tv_norm,
    }


def main(argv):
    del argv
    from skimage import data

    if FLAGS.smoke:
        for name, value in SMOKE.items():
            if not FLAGS[name].present:
                setattr(FLAGS, name, value)

    shape = (int(FLAGS.shape[0]), int(FLAGS.shape[1]))
    picture = lambda name: swirls() if name == "swirls" else getattr(data, name)()  # noqa: E731
    content = io.resize(picture(FLAGS.content), shape)
    style_image = io.resize(picture(FLAGS.style), shape)  # the recipe stretches the style to the content's shape
    model = load_model("vgg16", FLAGS.weights)
    recipe = Recipe(model, shape)
    base = recipe.preprocess(tf.constant(content[None]))
    style_reference = recipe.preprocess(tf.constant(style_image[None]))
    measure = tf.function(lambda x: recipe.loss(recipe.preprocess(x[None]), base, style_reference))

    print(f"content {FLAGS.content}, style {FLAGS.style}, VGG16 {models.model_info(model).weights}")
    print(f"kerasviz ({FLAGS.optimizer}, {FLAGS.steps} iterations, {FLAGS.levels} level(s), {FLAGS.precision}, "
          f"from {FLAGS.init}) at {shape}:")
    ours: list[tuple[float, float]] = []
    paused = 0.0
    start = time.perf_counter()

    def record(i: int, image: np.ndarray) -> None:
        nonlocal paused
        t = time.perf_counter()
        if image.shape[:2] == shape:
            ours.append((t - start - paused, float(measure(tf.constant(image)))))
            if i % 10 == 0 or i == FLAGS.steps * FLAGS.levels:
                print(f"  kerasviz iteration {i:4d}  {ours[-1][0]:6.1f} s  loss {ours[-1][1]:10.2f}", flush=True)
        paused += time.perf_counter() - t

    result = style.transfer(content, style_image, model=model, size=None, steps=FLAGS.steps, levels=FLAGS.levels,
                            optimizer=FLAGS.optimizer, callback=record, precision=FLAGS.precision, init=FLAGS.init,
                            **kerasviz_weights(recipe, base, style_reference, content))
    print(f"  kerasviz's own total {result.losses['total']:.2f} (equals the recipe's loss up to the 0-255 clip)")

    print(f"keras-io recipe ({FLAGS.recipe_steps} steps):")
    theirs = run_recipe(recipe, base, style_reference, FLAGS.recipe_steps)

    recipe_time, recipe_loss, recipe_saved = theirs[-1]
    our_saved = float(measure(tf.constant(result.image, tf.float32)))
    our_time, our_loss = ours[-1]
    reached = next((t for t, loss in ours if loss <= recipe_loss), None)
    print("\nsummary (recipe's loss function, wall seconds on this machine):")
    print(f"  recipe:   {recipe_loss:.2f} after {FLAGS.recipe_steps} steps, {recipe_time:.1f} s")
    print(f"  kerasviz: {our_loss:.2f} after {FLAGS.steps * FLAGS.levels} iterations, {our_time:.1f} s "
          f"({result.evaluations} evaluations)")
    if reached is None:
        print("  kerasviz never reached the recipe's final loss")
    else:
        print(f"  kerasviz reached the recipe's final loss at {reached:.2f} s: {recipe_time / reached:.0f}x sooner "
              f"(goal >= 50x)")
    print(f"  kerasviz's time / recipe's: {our_time / recipe_time:.3f} (goal <= 0.1); "
          f"final loss ratio: {our_loss / recipe_loss:.3f} (goal <= 0.2)")
    print(f"  the saved pictures (uint8 / clipped to 0-255): kerasviz {our_saved:.2f}, recipe {recipe_saved:.2f}; "
          f"ratio {our_saved / recipe_saved:.3f}")


if __name__ == "__main__":
    app.run(main)
