"""Neural style transfer (Gatys, Ecker & Bethge 2016) with any content and style layers.

The image is optimised in RGB 0-255; the model's own preprocessing is applied inside the loss.
One compiled value-and-gradient function serves every layer weighting of one layer set (weights
are tensors), so a layer study over many weightings traces once.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence

import keras
import numpy as np
import tensorflow as tf

from kerasviz import io, models
from kerasviz.errors import KerasvizError
from kerasviz.models.precision import cast_model, resolve_precision

# Content: conv4_2 as in Gatys et al. 2016 (keras-io's block5_conv2, the earlier default, kept too little
# of the photo: benchmarks/style_pairs.py); style: conv1_1 ... conv5_1 with equal weights, Gatys et al. 2016.
CONTENT_LAYERS = ("block4_conv2",)
STYLE_LAYERS = ("block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1")
# Weights of the relative terms (see StyleLoss, normalization "distance"), one choice for every pair,
# chosen on five scikit-image photo + style pairs with benchmarks/style_pairs.py; a style weight of 1-2
# keeps more photo and less style. Shared out over the style layers.
CONTENT_WEIGHT = 1.0
STYLE_WEIGHT = 3.0
TV_WEIGHT = 0.01
TV_POWER = 1.25  # keras-io neural_style_transfer.py total_variation_loss
DEFAULT_SIZE = 384  # longer side of the result, pixels
DEFAULT_STEPS = 100  # L-BFGS iterations (one or a few loss evaluations each)
LBFGS_MEMORY = 10  # scipy's default number of correction pairs
ADAM_LEARNING_RATE = 8.0  # pixels (0-255) per step at the start; tuned in benchmarks/style.py
ADAM_DECAY = 0.97  # per 10 steps
# Solve at half size first: L-BFGS then reaches a lower loss sooner than at one level, and sooner than
# Adam (benchmarks/style.py --levels).
DEFAULT_LEVELS = 2
INITS = ("content", "noise", "style")
# How each loss term is scaled (see StyleLoss): "target" divides by the target's own mean square;
# "distance" divides by the distance at the other image, so content is 1 at the style image and
# style is 1 at the photo, whatever the pair (benchmarks/style_pairs.py).
NORMALIZATIONS = ("distance", "target")
DEFAULT_NORMALIZATION = "distance"
OPTIMIZERS = ("lbfgs", "adam")
DEFAULT_PRECISION = "float32"

LayerWeights = Sequence[str] | Mapping[str, float]


@dataclasses.dataclass
class StyleResult:
    """What one style transfer gives: the picture and how it got there."""

    image: np.ndarray  # uint8 (H, W, 3)
    losses: dict[str, float]  # final "content", "style", "tv" (each weighted) and "total"
    history: list[tuple[float, float]]  # (seconds since start, total loss) after each iteration
    evaluations: int  # value-and-gradient calls


def default_layers(model: keras.Model, stages: int = len(STYLE_LAYERS)) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(content layers, style layers) for `model`: CONTENT_LAYERS and STYLE_LAYERS when it has them (VGG);
    otherwise the same rule by resolution stage (models.conv_stages): style, the first convolution of each
    of the last `stages` stages; content, the second convolution of the stage before the last (its only
    one if single; the last stage's when there is one stage).
    """
    convs = set(models.conv_layers(model))
    if convs.issuperset([*CONTENT_LAYERS, *STYLE_LAYERS]):
        return CONTENT_LAYERS, STYLE_LAYERS
    found = models.conv_stages(model)[-stages:]
    if not found:
        raise KerasvizError(
            f"{models.model_facts(model)['model']} has no Conv2D layers of its own to take as content and style "
            "layers; name the layers"
        )
    content_stage = found[-2] if len(found) > 1 else found[-1]
    return (content_stage[min(1, len(content_stage) - 1)],), tuple(stage[0] for stage in found)


def style_transfer(content, style, **options) -> np.ndarray:
    """The stylised image, uint8 (H, W, 3); `options` are those of `transfer`."""
    return transfer(content, style, **options).image


def transfer(
    content,
    style,
    *,
    model: keras.Model | None = None,
    content_layers: LayerWeights | None = None,
    style_layers: LayerWeights | None = None,
    content_weight: float = CONTENT_WEIGHT,
    style_weight: float = STYLE_WEIGHT,
    tv_weight: float = TV_WEIGHT,
    size: int | None = DEFAULT_SIZE,
    steps: int = DEFAULT_STEPS,
    init: str = "content",
    optimizer: str = "lbfgs",
    levels: int = DEFAULT_LEVELS,
    normalization: str = DEFAULT_NORMALIZATION,
    preserve_color: bool = False,
    seed: int = 0,
    preprocess: Callable | None = None,
    precision: str = DEFAULT_PRECISION,
    progress: Callable[[int, int], None] | None = None,
    callback: Callable[[int, np.ndarray], None] | None = None,
) -> StyleResult:
    """Gatys et al. style transfer.

    Args:
      content, style: RGB 0-255 images, uint8 or float, (H, W, 3) (or a batch of one).
      model: any Keras model with named layers; default `load_model("vgg16", "auto")`.
      content_layers, style_layers: layer names (equal weights) or {name: weight}; default:
        default_layers(model) (Gatys' VGG layers, or the same rule by resolution stage).
      content_weight, style_weight, tv_weight: loss weights (see the module's constants).
      size: longer side of the result in pixels (the style image is scaled to the same longer side);
        None keeps the content's size. A model with a fixed input size uses that size.
      steps: optimiser iterations (per level).
      init: "content", "noise" or "style" (the style image resized to the content's shape).
      optimizer: "lbfgs" (scipy L-BFGS-B, bounded to 0-255) or "adam".
      levels: 1 solves at full size; 2 or more solve at half, quarter... size first and upsample.
      normalization: "distance" (each term 1 at the other image) or "target" (see StyleLoss).
      preserve_color: transfer luminance only and keep the content's colour (Gatys et al. 2016,
        "Preserving color in neural artistic style transfer"): both images go in as grey, the style's
        luminance matched to the content's mean and spread; the result's luminance gets the content's
        YIQ chroma back. `callback` sees the grey images.
      preprocess: RGB 0-255 -> model input, for models not from load_model (models.preprocess_fn).
      precision: compute type of the network's features ("float32", "bfloat16", "float16", "auto");
        Gram matrices, losses and the image stay float32. Reduced precision needs optimizer="adam"
        ("auto" gives float32 with L-BFGS).
      progress: called with (iterations done, iterations in all).
      callback: called with (iteration, float32 (H, W, 3) 0-255 image) after each iteration.

    Returns:
      A StyleResult; `.image` is uint8 (H, W, 3) at the content's aspect ratio.
    """
    _check_options(init, optimizer, normalization, steps, levels)
    precision = _precision_for(optimizer, precision)
    model = model if model is not None else models.load_model("vgg16", "auto")
    if content_layers is None or style_layers is None:
        default_content, default_style = default_layers(model)
        content_layers = default_content if content_layers is None else content_layers
        style_layers = default_style if style_layers is None else style_layers
    content_w = _layer_weights(content_layers, "content")
    style_w = _layer_weights(style_layers, "style")
    with models.model_errors(model, "building the style transfer's features"):
        objective = StyleLoss(model, list(dict.fromkeys([*content_w, *style_w])), preprocess, precision)
    content_img, style_img = _single(content, "content"), _single(style, "style")
    shape = _output_shape(model, content_img.shape[:2], size)
    color_img = content_img
    if preserve_color:
        content_img, style_img = luminance_only(content_img, style_img)
    weights = _weight_vectors(objective.layers, content_w, style_w, content_weight, style_weight, tv_weight)
    x, losses, history, evaluations = _coarse_to_fine(
        model, objective, content_img, style_img, shape, weights, init=init, optimizer=optimizer,
        normalization=normalization, steps=steps, levels=levels, seed=seed, progress=progress, callback=callback)
    if preserve_color:
        x = with_chroma(x, io.resize(color_img, shape))
    return StyleResult(np.clip(np.round(x), 0, 255).astype(np.uint8), losses, history, evaluations)


def _check_options(init: str, optimizer: str, normalization: str, steps: int, levels: int) -> None:
    if init not in INITS:
        raise KerasvizError(f"init {init!r} is not valid; valid: {', '.join(INITS)}")
    if optimizer not in OPTIMIZERS:
        raise KerasvizError(f"optimizer {optimizer!r} is not valid; valid: {', '.join(OPTIMIZERS)}")
    if normalization not in NORMALIZATIONS:
        raise KerasvizError(f"normalization {normalization!r} is not valid; valid: {', '.join(NORMALIZATIONS)}")
    if steps < 1 or levels < 1:
        raise KerasvizError(f"steps and levels must be at least 1; got steps={steps}, levels={levels}")


def _coarse_to_fine(model, objective, content_img, style_img, shape, weights, *, init, optimizer, normalization,
                    steps, levels, seed, progress, callback) -> tuple[np.ndarray, dict, list, int]:
    """`transfer`'s optimisation, from 1/2^(levels-1) of `shape` up to `shape`, each level starting from the
    last one's result upsampled: (float32 0-255 image (H, W, 3), final losses, history, evaluations), as in
    StyleResult."""
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    history: list[tuple[float, float]] = []
    evaluations = 0
    x = None
    for level in range(levels - 1, -1, -1):
        level_shape = (max(1, round(shape[0] / 2**level)), max(1, round(shape[1] / 2**level)))
        c = io.resize(content_img, level_shape)
        s = io.resize(style_img, io.fit_shape(style_img.shape[:2], max(level_shape)))
        with models.model_errors(model, f"computing style targets at {level_shape[0]} x {level_shape[1]}"):
            targets = objective.targets(c, s, normalization)
        if x is None:
            x = _initial(init, c, io.resize(style_img, level_shape), rng)
        else:
            x = np.clip(io.resize(x, level_shape), 0, 255)
        done = (levels - 1 - level) * steps

        def on_step(i: int, image: np.ndarray, loss: float, done: int = done) -> None:
            history.append((time.perf_counter() - start, loss))
            if progress is not None:
                progress(done + i, steps * levels)
            if callback is not None:
                callback(done + i, image)

        x, n = minimize(lambda v, t=targets: objective.value_and_grad(v, t, weights)[:2], x, steps=steps,
                        method=optimizer, on_step=on_step)
        evaluations += n
    return x, objective.losses(x, targets, weights), history, evaluations


class StyleLoss:
    """Gatys' loss over a fixed list of layers, with layer weights given as tensors.

    Every term is relative, so one set of weights suits any layer of any model at any image size.
    Content, per layer: sum (F - P)^2 over the (h, w, c) features; style, per layer: sum (G - A)^2 over
    the (c, c) Gram matrices G = F^T F / (h w) (Gatys' E_l up to the constant). With normalization
    "distance" they are divided by their value at the other image (content: sum (S - P)^2 with S the
    style image's features at the content's shape; style: sum (C - A)^2 with C the photo's Gram matrix),
    so each is 1 where the other starts from, on any pair; with "target", by sum P^2 and sum A^2.
    Total variation: mean (dx^2 + dy^2)^1.25 (keras-io's term) over that of the content image.
    """

    def __init__(self, model: keras.Model, layers: list[str], preprocess: Callable | None = None,
                 precision: str = "float32"):
        self._extract = models.feature_model(model, layers)
        self._fixed = models.fixed_input_size(model)
        outputs = self._extract.outputs
        self.layers = list(layers)
        self.precision = resolve_precision(precision)
        if self.precision != "float32":  # features in reduced precision; Gram matrices and losses in float32
            self._extract = cast_model(self._extract, f"mixed_{self.precision}")
        self._preprocess = models.preprocess_fn(model, preprocess)
        image, targets, vector, scalar = _signatures(outputs)
        self._features = tf.function(self._features_and_grams, input_signature=[image])
        self._step = tf.function(self._value_and_grad, input_signature=[image, targets, vector, vector, scalar])

    def targets(self, content: np.ndarray, style: np.ndarray, normalization: str = "target") -> tuple:
        """Content features, style Gram matrices and the normalisers, for (H, W, 3) 0-255 images."""
        if normalization not in NORMALIZATIONS:
            raise KerasvizError(f"normalization {normalization!r} is not valid; valid: {', '.join(NORMALIZATIONS)}")
        features, content_grams = self._features(tf.constant(content, tf.float32))
        _, grams = self._features(tf.constant(style, tf.float32))
        style_features = None
        if normalization == "distance":
            style_features, _ = self._features(tf.constant(io.resize(style, content.shape[:2]), tf.float32))
        content_norms, style_norms = _normalizers(features, content_grams, grams, style_features)
        tv_norm = tf.maximum(total_variation(tf.constant(content, tf.float32)), 1e-12)
        return features, grams, content_norms, style_norms, tv_norm

    def value_and_grad(self, image: np.ndarray, targets: tuple, weights: tuple) -> tuple[float, np.ndarray, dict]:
        """(total loss, gradient (H, W, 3) float64, per-term losses) at a 0-255 (H, W, 3) image."""
        cw, sw, tv = weights
        total, grad, c, s, t = self._step(tf.constant(image, tf.float32), targets, cw, sw, tv)
        return float(total), grad.numpy().astype(np.float64), {"content": c, "style": s, "tv": t}

    def losses(self, image: np.ndarray, targets: tuple, weights: tuple) -> dict[str, float]:
        """Weighted content, style and TV losses and their total, as floats."""
        total, _, parts = self.value_and_grad(image, targets, weights)
        cw, sw, tv = weights
        return {
            "content": float(np.dot(cw, parts["content"].numpy())),
            "style": float(np.dot(sw, parts["style"].numpy())),
            "tv": float(tv * parts["tv"].numpy()),
            "total": total,
        }

    def layer_losses(self, image: np.ndarray, targets: tuple) -> tuple[np.ndarray, np.ndarray]:
        """Unweighted per-layer content and style losses (L,), in this objective's layer order."""
        n = len(self.layers)
        _, _, parts = self.value_and_grad(image, targets, (np.ones(n, np.float32), np.ones(n, np.float32), 0.0))
        return parts["content"].numpy(), parts["style"].numpy()

    def _features_and_grams(self, image: tf.Tensor) -> tuple[tuple, tuple]:
        x = image[None]
        if self._fixed is not None:  # a model with a fixed input size sees every image resized to it
            x = tf.image.resize(x, self._fixed, method="bilinear", antialias=True)
        outputs = self._extract(self._preprocess(x))
        outputs = outputs if isinstance(outputs, list | tuple) else [outputs]
        features = tuple(tf.cast(o[0], tf.float32) for o in outputs)
        return features, tuple(gram(f) for f in features)

    def _value_and_grad(self, image, targets, cw, sw, tv_weight):
        with tf.GradientTape() as tape:
            tape.watch(image)
            content, style, tv = _relative_losses(image, *self._features_and_grams(image), targets)
            total = tf.reduce_sum(cw * content) + tf.reduce_sum(sw * style) + tv_weight * tv
        return total, tape.gradient(total, image), content, style, tv


def _weight_vectors(layers: Sequence[str], content: Mapping[str, float], style: Mapping[str, float],
                    content_weight: float, style_weight: float,
                    tv_weight: float) -> tuple[np.ndarray, np.ndarray, float]:
    """Per-layer weight vectors (content, style) in the order of `layers` (StyleLoss.layers), and the TV weight."""
    cw = np.array([content.get(n, 0.0) for n in layers], np.float32) * content_weight
    sw = np.array([style.get(n, 0.0) for n in layers], np.float32) * style_weight
    return cw, sw, float(tv_weight)


def _signatures(outputs: list) -> tuple:
    """Input signatures of StyleLoss's compiled functions for a feature model's outputs: (image,
    targets, per-layer vector, scalar)."""
    image = tf.TensorSpec((None, None, 3), tf.float32)
    features = tuple(tf.TensorSpec((None, None, int(o.shape[-1])), tf.float32) for o in outputs)
    grams = tuple(tf.TensorSpec((int(o.shape[-1]),) * 2, tf.float32) for o in outputs)
    vector = tf.TensorSpec((len(outputs),), tf.float32)
    scalar = tf.TensorSpec((), tf.float32)
    return image, (features, grams, vector, vector, scalar), vector, scalar


def _normalizers(features: tuple, content_grams: tuple, grams: tuple, style_features: tuple | None):
    """What the per-layer content and style losses are divided by (see StyleLoss), each (L,): with
    `style_features` (normalization "distance"), the distances at the other image, else the targets'
    own mean squares."""
    content_norms = [tf.reduce_mean(tf.square(f)) for f in features]
    style_norms = [tf.reduce_mean(tf.square(g)) for g in grams]
    if style_features is not None:  # a floor of 1e-6 of the old scale: identical images stay finite
        content_norms = [tf.maximum(tf.reduce_mean(tf.square(s - p)), 1e-6 * n)
                         for s, p, n in zip(style_features, features, content_norms)]
        style_norms = [tf.maximum(tf.reduce_mean(tf.square(c - a)), 1e-6 * n)
                       for c, a, n in zip(content_grams, grams, style_norms)]
    content_norms = tf.stack([tf.maximum(n, 1e-12) for n in content_norms])
    style_norms = tf.stack([tf.maximum(n, 1e-12) for n in style_norms])
    return content_norms, style_norms


def _relative_losses(image: tf.Tensor, features: tuple, grams: tuple, targets: tuple) -> tuple:
    """Per-layer content and style losses (L,) and the total variation, each over its normaliser."""
    content_targets, style_targets, content_norms, style_norms, tv_norm = targets
    content = tf.stack([tf.reduce_mean(tf.square(f - p)) for f, p in zip(features, content_targets)])
    style = tf.stack([tf.reduce_mean(tf.square(g - a)) for g, a in zip(grams, style_targets)])
    content, style = content / content_norms, style / style_norms
    return content, style, total_variation(image) / tv_norm


# NTSC YIQ from RGB (rows: Y, I, Q); Gatys et al. 2016 use YIQ for luminance-only transfer.
_YIQ = np.array([[0.299, 0.587, 0.114], [0.595716, -0.274453, -0.321263], [0.211456, -0.522591, 0.311135]],
                np.float32)


def to_yiq(image: np.ndarray) -> np.ndarray:
    """RGB (..., 3) -> YIQ (..., 3), float32; Y in the RGB's units, I and Q signed."""
    return np.asarray(image, np.float32) @ _YIQ.T


def from_yiq(image: np.ndarray) -> np.ndarray:
    """YIQ (..., 3) -> RGB (..., 3), float32 (not clipped)."""
    return np.asarray(image, np.float32) @ np.linalg.inv(_YIQ).T.astype(np.float32)


def luminance_only(content: np.ndarray, style: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both RGB 0-255 (H, W, 3) images as grey RGB, the style's luminance moved to the content's mean and
    standard deviation (Gatys et al. 2016's luminance matching); float32."""
    y_content, y_style = to_yiq(content)[..., 0], to_yiq(style)[..., 0]
    matched = (y_style - y_style.mean()) / max(float(y_style.std()), 1e-6) * y_content.std() + y_content.mean()
    grey = lambda y: np.repeat(np.clip(y, 0, 255)[..., None], 3, axis=-1)  # noqa: E731
    return grey(y_content), grey(matched)


def with_chroma(image: np.ndarray, color: np.ndarray) -> np.ndarray:
    """`image`'s luminance with `color`'s YIQ chroma, both RGB 0-255 (H, W, 3); float32 clipped to 0-255."""
    yiq = to_yiq(color)
    yiq[..., 0] = to_yiq(image)[..., 0]
    return np.clip(from_yiq(yiq), 0, 255)


def gram(features: tf.Tensor) -> tf.Tensor:
    """(h, w, c) features -> (c, c) Gram matrix divided by h * w (independent of image size)."""
    flat = tf.reshape(features, (-1, tf.shape(features)[-1]))
    return tf.matmul(flat, flat, transpose_a=True) / tf.cast(tf.shape(flat)[0], flat.dtype)


def total_variation(image: tf.Tensor) -> tf.Tensor:
    """Mean of (dx^2 + dy^2)^1.25 over an (H, W, 3) image (keras-io's term, as a mean)."""
    corner = image[:-1, :-1]
    a = tf.square(corner - image[1:, :-1])
    b = tf.square(corner - image[:-1, 1:])
    return tf.reduce_mean(tf.pow(a + b, TV_POWER))


def minimize(
    value_and_grad: Callable[[np.ndarray], tuple[float, np.ndarray]],
    x0: np.ndarray,
    *,
    steps: int,
    method: str = "lbfgs",
    on_step: Callable[[int, np.ndarray, float], None] | None = None,
) -> tuple[np.ndarray, int]:
    """Minimises over images in 0-255; returns (float32 image, number of evaluations).

    `value_and_grad(x)` takes and returns arrays of x0's shape; `on_step(i, x, loss)` follows each
    iteration. "lbfgs" is scipy's L-BFGS-B with the 0-255 box; "adam" is Adam with a decaying rate,
    clipped to the box.
    """
    shape = x0.shape
    count = 0
    last = {"loss": float("nan")}

    def fun(flat: np.ndarray) -> tuple[float, np.ndarray]:
        nonlocal count
        count += 1
        loss, grad = value_and_grad(flat.reshape(shape).astype(np.float32))
        last["loss"] = loss
        return loss, np.asarray(grad, np.float64).ravel()

    if method == "lbfgs":
        from scipy.optimize import minimize as scipy_minimize

        iteration = 0

        def after(xk: np.ndarray) -> None:
            nonlocal iteration
            iteration += 1
            if on_step is not None:
                on_step(iteration, xk.reshape(shape).astype(np.float32), last["loss"])

        result = scipy_minimize(
            fun, x0.astype(np.float64).ravel(), jac=True, method="L-BFGS-B", bounds=[(0.0, 255.0)] * x0.size,
            callback=after,
            options={"maxiter": steps, "maxfun": steps * 2, "maxcor": LBFGS_MEMORY, "ftol": 0.0, "gtol": 0.0},
        )
        return result.x.reshape(shape).astype(np.float32), count
    if method == "adam":
        x = x0.astype(np.float64).ravel()
        m = np.zeros_like(x)
        v = np.zeros_like(x)
        beta1, beta2, eps = 0.9, 0.999, 1e-8  # Kingma & Ba 2015
        for i in range(1, steps + 1):
            _, g = fun(x)
            m = beta1 * m + (1 - beta1) * g
            v = beta2 * v + (1 - beta2) * g * g
            rate = ADAM_LEARNING_RATE * ADAM_DECAY ** (i / 10)
            x = np.clip(x - rate * (m / (1 - beta1**i)) / (np.sqrt(v / (1 - beta2**i)) + eps), 0, 255)
            if on_step is not None:
                on_step(i, x.reshape(shape).astype(np.float32), last["loss"])
        return x.reshape(shape).astype(np.float32), count
    raise KerasvizError(f"optimizer {method!r} is not valid; valid: {', '.join(OPTIMIZERS)}")


def _precision_for(optimizer: str, precision: str) -> str:
    """Reduced precision suits Adam only: its rounding noise in the loss values stops L-BFGS's line
    search within a few iterations (tests/test_style.py: the style distance then barely moves)."""
    resolved = resolve_precision(precision)
    if optimizer != "lbfgs" or resolved == "float32":
        return resolved
    if precision == "auto":
        return "float32"
    raise KerasvizError(f"precision {precision!r} needs optimizer='adam': L-BFGS stops early on its noisy loss "
                        "values; use precision='float32' (or 'auto') with L-BFGS")


def _layer_weights(layers: LayerWeights, what: str) -> dict[str, float]:
    if isinstance(layers, str):
        layers = [layers]
    if isinstance(layers, Mapping):
        weights = {str(k): float(v) for k, v in layers.items()}
    else:
        names = list(layers)
        weights = {name: 1.0 / max(1, len(names)) for name in names}
    if not weights:
        raise KerasvizError(f"no {what} layers given; name at least one layer, e.g. {STYLE_LAYERS[0]}")
    return weights


def _single(image, what: str) -> np.ndarray:
    batch, _ = io.as_batch(image)
    if batch.shape[0] != 1:
        raise KerasvizError(f"{what} must be one image (H, W, 3); got a batch of {batch.shape[0]}")
    return batch[0]


def _output_shape(model: keras.Model, shape: tuple[int, int], size: int | None) -> tuple[int, int]:
    fixed = models.fixed_input_size(model)
    if fixed is not None:
        return int(fixed[0]), int(fixed[1])
    if size is None:
        return int(shape[0]), int(shape[1])
    if size < 1:
        raise KerasvizError(f"size must be a positive number of pixels; got {size}")
    return io.fit_shape(shape, size)


def _initial(init: str, content: np.ndarray, style: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    if init == "content":
        return content.astype(np.float32)
    if init == "style":
        return style.astype(np.float32)
    return rng.uniform(0, 255, content.shape).astype(np.float32)


def layer_study(
    content,
    style,
    *,
    model: keras.Model | None = None,
    content_layers: Sequence[str],
    style_sets: Mapping[str, Sequence[str]],
    size: int = 128,
    steps: int = 30,
    content_weight: float = CONTENT_WEIGHT,
    style_weight: float = STYLE_WEIGHT,
    tv_weight: float = TV_WEIGHT,
    normalization: str = DEFAULT_NORMALIZATION,
    preprocess: Callable | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[np.ndarray, list[dict]]:
    """Style transfer for every (content layer, style layer set) pair, with one compiled step.

    Returns uint8 images (rows, cols, H, W, 3), rows following `content_layers` and columns `style_sets`,
    and one dict per cell: content layer, style set name, and the relative losses of the result:
    `content` (its own content layer), `style` (its own style set) and `style_all` (every layer of every
    style set, a yardstick shared by all cells); 0 is a perfect match, 1 as far as the starting point.
    """
    model = model if model is not None else models.load_model("vgg16", "auto")
    if not content_layers or not style_sets:
        raise KerasvizError("layer_study needs at least one content layer and one style layer set")
    all_style = list(dict.fromkeys(n for s in style_sets.values() for n in s))
    objective = StyleLoss(model, list(dict.fromkeys([*content_layers, *all_style])), preprocess)
    content_img, style_img = _single(content, "content"), _single(style, "style")
    shape = _output_shape(model, content_img.shape[:2], size)
    c = io.resize(content_img, shape)
    s = io.resize(style_img, io.fit_shape(style_img.shape[:2], max(shape)))
    targets = objective.targets(c, s, normalization)
    yardstick_targets = objective.targets(c, s)  # the table's relative losses, whatever the normalisation
    layer_index = {name: i for i, name in enumerate(objective.layers)}
    # Relative to the start: the content distance of the style image, the style distance of the content image.
    start_content = objective.layer_losses(io.resize(style_img, shape), yardstick_targets)[0]
    start_style = objective.layer_losses(c, yardstick_targets)[1]
    images = np.zeros((len(content_layers), len(style_sets), *shape, 3), np.uint8)
    table = []
    for r, content_layer in enumerate(content_layers):
        for k, (set_name, set_layers) in enumerate(style_sets.items()):
            weights = _weight_vectors(objective.layers, _layer_weights([content_layer], "content"),
                                      _layer_weights(set_layers, "style"), content_weight, style_weight, tv_weight)
            x, _ = minimize(lambda v, w=weights: objective.value_and_grad(v, targets, w)[:2], c, steps=steps)
            images[r, k] = np.clip(np.round(x), 0, 255).astype(np.uint8)
            content_loss, style_loss = objective.layer_losses(x, yardstick_targets)
            own = [layer_index[n] for n in set_layers]
            yardstick = [layer_index[n] for n in all_style]
            i = layer_index[content_layer]
            table.append({
                "content_layer": content_layer,
                "style_set": set_name,
                "content": float(content_loss[i] / start_content[i]),
                "style": float(np.mean(style_loss[own] / start_style[own])),
                "style_all": float(np.mean(style_loss[yardstick] / start_style[yardstick])),
            })
            if progress is not None:
                progress(len(table), len(content_layers) * len(style_sets))
    return images, table
