"""Do filters converge before the default method's last step? (Would stopping converged filters save work?)

Runs the default method's compiled calls (render.STEPS_PER_CALL steps each) for --filters evenly spaced
filters of each layer and, after every call, scores the picture that would be saved at that point (uint8,
seen whole, as visualize_filters scores its results). Prints, per call, the median of score / final score and
how many filters are already within --tolerance of their final score: a filter that is there early
could stop early and free its slot.

  python benchmarks/convergence.py                    # offline VGG16, five layers, 16 filters each
  python benchmarks/convergence.py --smoke            # CI: one layer, 2 filters, 32 px, 4 steps
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

import kerasviz  # noqa: E402
from kerasviz import load_model, models  # noqa: E402
from kerasviz.models.precision import resolve_precision  # noqa: E402
from kerasviz.optvis import render  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_list("layers", ["block1_conv2", "block2_conv2", "block3_conv3", "block4_conv3", "block5_conv3"],
                  "VGG16 layers.")
flags.DEFINE_integer("filters", 16, "Filters a layer, evenly spaced; one batch.", lower_bound=1)
flags.DEFINE_integer("size", 128, "Image side.")
flags.DEFINE_string("precision", "auto", "Compute precision.")
flags.DEFINE_float("tolerance", 0.05, "Relative distance to the final score that counts as converged.")
flags.DEFINE_string("weights", "offline", "VGG16 weights.")
flags.DEFINE_integer("steps", None, "Steps (default: the default method's).", lower_bound=1)
flags.DEFINE_boolean("smoke", False, "CI: the whole run at a tiny size in seconds (flags given still win).")

SMOKE = {"layers": ["block1_conv2"], "filters": 2, "size": 32, "steps": 4}


def trajectory(model, layer: str, filters: list[int], steps: int) -> list[tuple[int, np.ndarray]]:
    """[(steps done, scores (filters,))]: the saved picture's score after each compiled call."""
    rows = []
    kerasviz.visualize_filters(model, layer, filters, size=FLAGS.size, steps=steps, precision=FLAGS.precision,
                               batch_size=len(filters), callback=lambda done, _, scores: rows.append((done, scores)))
    return rows


def main(argv):
    del argv
    if FLAGS.smoke:
        for name, value in SMOKE.items():
            if not FLAGS[name].present:
                setattr(FLAGS, name, value)
    model = load_model("vgg16", FLAGS.weights)
    method = render.METHODS[render.DEFAULT_METHOD]
    steps = FLAGS.steps or method.steps
    print(f"VGG16 ({models.model_info(model).weights}), {method.name} {steps} steps, {FLAGS.size} px, "
          f"{resolve_precision(FLAGS.precision)}")
    for layer in FLAGS.layers:
        channels = models.num_channels(model, layer)
        filters = np.linspace(0, channels - 1, min(FLAGS.filters, channels)).round().astype(int).tolist()
        rows = trajectory(model, layer, filters, steps)
        final = rows[-1][1]
        live = final > 0
        print(f"{layer}: {live.sum()}/{len(filters)} filters respond to their final picture "
              f"(median score {np.median(final):.2f})")
        for step, scores in rows:
            relative = scores[live] / final[live]
            near = int(np.sum(np.abs(relative - 1.0) <= FLAGS.tolerance))
            print(f"  step {step:3d}: median score / final {np.median(relative):4.2f}, "
                  f"within {FLAGS.tolerance:.0%} of final: {near}/{live.sum()}", flush=True)


if __name__ == "__main__":
    app.run(main)
