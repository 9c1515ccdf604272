"""Specificity probe: does ascending a unit minus a share of its layer's (photo-normalised) mean
response make the picture show this unit rather than the layer in general?

For each layer, the same filters (spread across the layer) are drawn by the default method with its
own objective (the unit's mean response) and with

    target - alpha * p_target * mean_u(a_u / p_u)

(`--form=minus`, the default) or, with `--form=ratio`,

    target * (r_target / M_q(r))^alpha,  r_u = a_u / p_u,  M_q the power mean (mean_u r_u^q)^(1/q)

which is the target's own response when it is the layer's top unit relative to photos and q is large
(the power mean leans on the strongest competitors, which is what the rank counts). Here
a_u is unit u's mean response to the view (border cropped, as the default's) and p_u its mean
response on photos (benchmarks/quality.py's reference photos, with the specificity rank's floor). In
the first form a picture that excites every unit alike (relative to photos) scores target * (1 - alpha). Where the
unit is silent, or the penalty would push the objective to zero or below, the objective keeps a
thousandth of the target, so the default's revival of silent units acts as it does without penalty.
The objective reads the whole layer, so each step computes every channel of it (the default's
objective computes one).

Prints per layer and objective: robust activation against the pixel-space baseline (median ratio,
worst), high-frequency share, specificity rank (median) and seconds per picture.

  python benchmarks/specificity.py --layers=block2_conv2,block3_conv2,block5_conv3 --filters=8 --alphas=0.5,1
  python benchmarks/specificity.py --layers=block2_conv2 --form=ratio --power=8 --alphas=1,2
  python benchmarks/specificity.py --smoke     # CI: block1_conv2, 2 filters, 32 px, 4 steps, alpha 1, both forms
"""

from __future__ import annotations

import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app, flags  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
import quality  # noqa: E402

from kerasviz import load_model, models  # noqa: E402
from kerasviz.models.precision import resolve_precision  # noqa: E402
from kerasviz.optvis import objectives as obj  # noqa: E402
from kerasviz.optvis import render  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_list("layers", ["block2_conv2", "block3_conv2", "block5_conv3"], "VGG16 layers.")
flags.DEFINE_integer("filters", 8, "Filters a layer, spread evenly from the first to the last.", lower_bound=1)
flags.DEFINE_integer("size", 128, "Picture side.")
flags.DEFINE_list("alphas", ["0.5", "1"], "Shares of the layer's normalised mean response to subtract.")
flags.DEFINE_string("weights", "offline", "VGG16 weights.")
flags.DEFINE_enum("form", "minus", ["minus", "ratio"], "How the layer's response enters the objective.")
flags.DEFINE_float("power", 8.0, "q of the power mean for --form=ratio.", lower_bound=1.0)
flags.DEFINE_integer("steps", None, "Steps (default: the default method's).", lower_bound=1)
flags.DEFINE_boolean("smoke", False, "CI: the whole run at a tiny size in seconds, both forms unless --form is "
                     "given (flags given still win).")

SMOKE = {"layers": ["block1_conv2"], "filters": 2, "size": 32, "alphas": ["1"], "steps": 4}

ALIVE = 1.0


def penalised(layer: str, on_photos: np.ndarray, alpha: float) -> obj.Objective:
    """Each image's own unit minus alpha times the layer's photo-normalised mean response, in the
    unit's own scale; a thousandth of the target where that is not positive."""
    p = tf.constant(on_photos)

    def fn(acts, indices):
        a = tf.cast(acts[layer], tf.float32)
        means = tf.reduce_mean(a, axis=(1, 2))  # (B, C)
        target = tf.gather(means, indices, axis=1, batch_dims=1)
        penalty = tf.reduce_mean(means / p, axis=1) * tf.gather(p, indices)
        return tf.where(target > 0, tf.maximum(target - alpha * penalty, 1e-3 * target), target)

    return obj.Objective(fn, (layer,), f"channel({layer}, *) - {alpha:g} normalised layer mean")


def relative_share(layer: str, on_photos: np.ndarray, alpha: float, power: float) -> obj.Objective:
    """Each image's own unit times (its photo-normalised response over the layer's power mean of
    them)^alpha; the target itself where it does not fire (the default's revival then acts)."""
    p = tf.constant(on_photos)

    def fn(acts, indices):
        means = tf.reduce_mean(tf.cast(acts[layer], tf.float32), axis=(1, 2))  # (B, C)
        target = tf.gather(means, indices, axis=1, batch_dims=1)
        relative = tf.nn.relu(means) / p
        power_mean = tf.reduce_mean(relative**power, axis=1) ** (1.0 / power) + 1e-6
        share = tf.maximum(tf.gather(relative, indices, axis=1, batch_dims=1) / power_mean, 1e-3)
        return tf.where(target > 0, target * share**alpha, target)

    return obj.Objective(fn, (layer,), f"channel({layer}, *) * (relative / M_{power:g})^{alpha:g}")


def main(argv):
    del argv
    if FLAGS.smoke:
        for name, value in SMOKE.items():
            if not FLAGS[name].present:
                setattr(FLAGS, name, value)
    forms = ["minus", "ratio"] if FLAGS.smoke and not FLAGS["form"].present else [FLAGS.form]
    model = load_model("vgg16", FLAGS.weights)
    photos = quality.reference_photos(FLAGS.size)
    print(f"VGG16 ({models.model_info(model).weights}), {FLAGS.filters} filters a layer, {FLAGS.size} px, "
          f"{render.DEFAULT_METHOD}, {resolve_precision('auto')}", flush=True)
    for layer in FLAGS.layers:
        filters = quality.spread_filters(models.num_channels(model, layer), FLAGS.filters)
        base = quality.robust_activation(model, layer, quality.baseline(model, layer, filters, FLAGS.size), filters)
        counted = base > ALIVE
        on_photos = quality.photo_means(model, layer, photos)
        print(f"\n{layer} (filters {filters[0]}..{filters[-1]}), baseline alive {counted.sum()}/{len(filters)}",
              flush=True)
        for form, alpha in [("", 0.0)] + [(form, float(a)) for form in forms for a in FLAGS.alphas]:
            if not alpha:
                objective = None
            elif form == "minus":
                objective = penalised(layer, on_photos, alpha)
            else:
                objective = relative_share(layer, on_photos, alpha, FLAGS.power)
            start = time.perf_counter()
            images, _ = render.visualize_filters(model, layer, filters, size=FLAGS.size, steps=FLAGS.steps,
                                                 objective=objective)
            seconds = (time.perf_counter() - start) / len(filters)
            robust = quality.robust_activation(model, layer, images, filters)
            rank = quality.specificity_rank(model, layer, images, filters, photos=photos)
            alive = robust > ALIVE
            ratio = robust[counted] / base[counted]
            ratio_text = f"{np.median(ratio):5.2f}x (worst {ratio.min():4.2f}x)" if counted.any() else "n/a"
            natural = np.median(quality.high_frequency_share(images)[alive]) if alive.any() else float("nan")
            label = f"{form} " if len(forms) > 1 and alpha else ""
            print(f"  {label}alpha {alpha:4.2f}  {seconds:5.2f} s/pic  robust median {np.median(robust):7.2f}  "
                  f"vs baseline {ratio_text:22s} alive {alive.sum()}/{len(filters)}  high-freq {natural:4.2f}  "
                  f"rank median {np.median(rank):5.1f}  ranks {rank.tolist()}", flush=True)


if __name__ == "__main__":
    app.run(main)
