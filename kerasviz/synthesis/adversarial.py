"""Fooling images: the small change to a picture that makes a classifier answer a chosen class.

Szegedy et al. 2014 ("Intriguing properties of neural networks") found such changes; Goodfellow,
Shlens & Szegedy 2015 ("Explaining and Harnessing Adversarial Examples") take one step along the
sign of the gradient (FGSM); Kurakin et al. 2017 and Madry et al. 2018 iterate small steps, projected
back into the L-inf ball of the budget (PGD). Both are targeted here: they descend the cross-entropy
of the chosen class, and stop as soon as the classifier's answer is that class.

Pictures stay on whole 0-255 levels (steps and budgets are whole pixel levels), so the fooled image
that is returned, and saved as PNG, is exactly the one that was classified.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable

import keras
import numpy as np
from keras import ops

from kerasviz import backend, io, models
from kerasviz.options import Options, option
from kerasviz.optvis import engine, optim
from kerasviz.synthesis import classes as classes_lib

METHODS = ("iterative", "fgsm")
DEFAULT_METHOD = "iterative"
EPSILON = 16  # the L-inf budget, 0-255 levels (Goodfellow et al. 2015 used 0.007 of [0, 1] on ImageNet;
# a targeted flip to any class needs more, Kurakin et al. 2017 go to 16)
STEP = 1  # levels per iterated step (Kurakin et al. 2017: alpha = 1 level)
MAX_STEPS = 200  # iterated steps at most


@dataclasses.dataclass(frozen=True)
class FoolOptions(Options):
    """Fooling images' options (Goodfellow et al. 2015, Kurakin et al. 2017); each default's source is beside
    its constant."""

    WHAT = "fooling images"
    method: str = option(DEFAULT_METHOD, "fgsm: one signed-gradient step, the smallest epsilon that flips (Goodfellow "
                         "et al. 2015); iterative: projected small steps (Kurakin et al. 2017).", choices=METHODS)
    epsilon: int = option(EPSILON, "L-inf budget of the change, 0-255 levels (a targeted flip needs more than "
                          "Goodfellow et al. 2015's 2; Kurakin et al. 2017 go to 16).", low=1)
    step: int = option(STEP, "Levels per iterated step (Kurakin et al. 2017: 1).", low=1)
    max_steps: int = option(MAX_STEPS, "Iterated steps at most.", low=1)


@dataclasses.dataclass
class Prediction:
    """The classifier's answer: the top class and its softmax probability."""

    cls: int
    score: float  # softmax probability of `cls`
    logit: float
    target_score: float  # softmax probability of the target class

    def facts(self) -> dict:
        return {"class": self.cls, "score": self.score, "logit": self.logit, "target_score": self.target_score}


@dataclasses.dataclass
class FoolResult:
    """The fooled picture and what it took."""

    image: np.ndarray  # uint8 (H, W, 3), the fooled picture (the original where nothing flipped it)
    perturbation: np.ndarray  # int16 (H, W, 3): image - original, 0-255 levels
    before: Prediction
    after: Prediction
    flipped: bool  # the classifier's answer is the target class
    method: str
    epsilon: int  # FGSM: the step that flipped (or the budget); iterated: the L-inf budget
    steps: int  # gradient steps taken (FGSM: epsilons tried)
    linf: float  # max |perturbation|, 0-255 levels
    l2: float  # Euclidean norm of the perturbation, 0-255 levels


def fool(
    model: keras.Model,
    image,
    target_class: int,
    *,
    options: FoolOptions | None = None,
    preprocess: Callable | None = None,
    **overrides,
) -> FoolResult:
    """The smallest change (found by the options' method) that makes `model` classify `image` as `target_class`.

    Args:
      model: a classifier (see classes.logits_model); models from load_model bring their preprocessing.
      image: RGB 0-255 (H, W, 3), at the size the classifier should see it.
      target_class: the class to reach.
      options: a FoolOptions; `overrides` (any of its fields, e.g. `max_steps=3`) replace its values.
        `method` "fgsm": one signed-gradient step of epsilon 1, 2, ... up to `epsilon` levels, the first
        that flips; "iterative": steps of `step` levels, each projected into the L-inf ball of `epsilon`
        (the budget, whole 0-255 levels), until the answer flips or `max_steps`.
      preprocess: RGB 0-255 -> model input, for models not from load_model.

    Returns:
      A FoolResult. `flipped` is False when the budget was not enough; the image is then the last tried.
    """
    options = FoolOptions.create(options, **overrides)
    net = classes_lib.logits_model(model)
    classes_lib.check_classes(net, [target_class])
    original = io.round_pixels(io.single(image)).astype(np.float32)
    preprocess = models.preprocess_fn(model, preprocess)
    target = ops.convert_to_tensor(int(target_class), "int32")

    # A partial, not a closure: TensorFlow counts traces per code object, and every call of fool traces once.
    loss = functools.partial(_fooled, net, preprocess, target)
    gradient = backend.compile_step(functools.partial(engine.loss_and_grad, loss), weights=[net])

    def predict(x: np.ndarray) -> Prediction:
        logits = np.asarray(ops.convert_to_numpy(net(preprocess(ops.convert_to_tensor(x[None])), training=False)[0]),
                            np.float64)
        probs = np.exp(logits - logits.max())
        probs /= probs.sum()
        top = int(np.argmax(logits))
        return Prediction(top, float(probs[top]), float(logits[top]), float(probs[target_class]))

    before = predict(original)
    x, after, steps, used = original, before, 0, 0
    if before.cls != target_class:
        grad = gradient(ops.convert_to_tensor(original))[2]
        if options.method == "fgsm":
            x, after, steps, used = _fgsm(predict, original, grad, target_class, options.epsilon)
        else:
            x, after, steps, used = _iterated(predict, gradient, original, grad, target_class, options.epsilon,
                                              options.step, options.max_steps)
    delta = (x - original).astype(np.int16)
    return FoolResult(
        image=x.astype(np.uint8), perturbation=delta, before=before, after=after, flipped=after.cls == target_class,
        method=options.method, epsilon=used, steps=steps, linf=float(np.abs(delta).max(initial=0)),
        l2=float(np.sqrt(np.sum(delta.astype(np.float64) ** 2))),
    )


def _fooled(net: keras.Model, preprocess: Callable, target, x) -> tuple:
    """The loss that fooling ascends for one (H, W, 3) 0-255 image: minus the cross-entropy of `target`."""
    logits = net(preprocess(x[None]), training=False)[0]
    return -ops.sparse_categorical_crossentropy(target, logits, from_logits=True), logits


def _fgsm(predict: Callable, original: np.ndarray, grad, target_class: int, epsilon: int) -> tuple:
    """One signed step of epsilon 1, 2, ... from the original (Goodfellow et al. 2015), the smallest that
    flips: (image, prediction, epsilons tried, epsilon used)."""
    pixels = engine.box(0.0, 255.0)
    for eps in range(1, int(epsilon) + 1):
        x = ops.convert_to_numpy(engine.apply(optim.signed(eps), ops.convert_to_tensor(original), grad, (), pixels)[0])
        after = predict(x)
        if after.cls == target_class:
            break
    return x, after, eps, eps


def _iterated(predict: Callable, gradient: Callable, original: np.ndarray, grad, target_class: int,
              epsilon: int, step: int, max_steps: int) -> tuple:
    """Signed steps of `step` levels, each projected into the L-inf ball of `epsilon` (Kurakin et al. 2017,
    Madry et al. 2018), until the answer flips: (image, prediction, steps taken, epsilon)."""
    rule, ball = optim.signed(step), engine.linf_ball(original, epsilon)
    x = original
    for steps in range(1, max_steps + 1):  # noqa: B007  (steps is reported)
        x = ops.convert_to_numpy(engine.apply(rule, ops.convert_to_tensor(x), grad, (), ball)[0])
        after = predict(x)
        if after.cls == target_class:
            break
        grad = gradient(ops.convert_to_tensor(x))[2]
    return x, after, steps, int(epsilon)


def magnified(perturbation: np.ndarray) -> np.ndarray:
    """uint8 (H, W, 3): a perturbation on grey, scaled so its largest change reaches black or white."""
    delta = np.asarray(perturbation, np.float32)
    top = max(float(np.abs(delta).max(initial=0)), 1e-6)
    return np.clip(np.round(127.5 + 127.5 * delta / top), 0, 255).astype(np.uint8)
