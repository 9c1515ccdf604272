"""Feature-matching losses (Gatys, Ecker & Bethge 2015, 2016; Mahendran & Vedaldi 2015): content (feature
distance), style (Gram-matrix distance) and total variation, over any layers of any model, each relative
so one set of weights suits every layer and image size. Style transfer, feature inversion and texture
synthesis (kerasviz.synthesis) are these losses with different weights and targets; the engine
(optvis.engine) computes their gradient.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import keras
import numpy as np
from keras import ops

from kerasviz import backend, io, models
from kerasviz.errors import KerasvizError
from kerasviz.models.precision import cast_model, resolve_precision
from kerasviz.optvis import engine

Tensor = object  # a tensor of the Keras backend

TV_POWER = 1.25  # keras-io neural_style_transfer.py total_variation_loss
# How each loss term is scaled (see StyleLoss): "target" divides by the target's own mean square;
# "distance" divides by the distance at the other image, so content is 1 at the style image and
# style is 1 at the photo, whatever the pair (benchmarks/style_pairs.py).
NORMALIZATIONS = ("distance", "target")


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
        self._features = backend.compile_step(self._features_and_grams, input_signature=[image],
                                              weights=[self._extract])
        self._step = backend.compile_step(self._loss_and_gradient,
                                          input_signature=[image, targets, vector, vector, scalar],
                                          weights=[self._extract])

    def targets(self, content: np.ndarray, style: np.ndarray, normalization: str = "target") -> tuple:
        """Content features, style Gram matrices and the normalisers, for (H, W, 3) 0-255 images."""
        if normalization not in NORMALIZATIONS:
            raise KerasvizError(f"normalization {normalization!r} is not valid; valid: {', '.join(NORMALIZATIONS)}")
        features, content_grams = self._features(_tensor(content))
        _, grams = self._features(_tensor(style))
        style_features = None
        if normalization == "distance":
            style_features, _ = self._features(_tensor(io.resize(style, content.shape[:2])))
        content_norms, style_norms = _normalizers(features, content_grams, grams, style_features)
        tv_norm = ops.maximum(total_variation(_tensor(content)), 1e-12)
        return features, grams, content_norms, style_norms, tv_norm

    def evaluate(self, image: np.ndarray, targets: tuple, weights: tuple) -> tuple[float, np.ndarray, dict]:
        """(total loss, gradient (H, W, 3) float64, per-term losses) at a 0-255 (H, W, 3) image."""
        cw, sw, tv = weights
        total, grad, c, s, t = self._step(_tensor(image), targets, *_weights_tensors(cw, sw, tv))
        parts = {"content": _numpy(c), "style": _numpy(s), "tv": _numpy(t)}
        return float(_numpy(total)), _numpy(grad).astype(np.float64), parts

    def losses(self, image: np.ndarray, targets: tuple, weights: tuple) -> dict[str, float]:
        """Weighted content, style and TV losses and their total, as floats."""
        total, _, parts = self.evaluate(image, targets, weights)
        cw, sw, tv = weights
        return {
            "content": float(np.dot(cw, parts["content"])),
            "style": float(np.dot(sw, parts["style"])),
            "tv": float(tv * parts["tv"]),
            "total": total,
        }

    def layer_losses(self, image: np.ndarray, targets: tuple) -> tuple[np.ndarray, np.ndarray]:
        """Unweighted per-layer content and style losses (L,), in this objective's layer order."""
        n = len(self.layers)
        _, _, parts = self.evaluate(image, targets, (np.ones(n, np.float32), np.ones(n, np.float32), 0.0))
        return parts["content"], parts["style"]

    def _features_and_grams(self, image: Tensor) -> tuple[tuple, tuple]:
        x = image[None]
        if self._fixed is not None:  # a model with a fixed input size sees every image resized to it
            x = ops.image.resize(x, self._fixed, interpolation="bilinear", antialias=True)
        outputs = self._extract(self._preprocess(x))
        outputs = outputs if isinstance(outputs, list | tuple) else [outputs]
        features = tuple(ops.cast(o[0], "float32") for o in outputs)
        return features, tuple(gram(f) for f in features)

    def _total(self, image, targets, cw, sw, tv_weight):
        content, style, tv = _relative_losses(image, *self._features_and_grams(image), targets)
        return ops.sum(cw * content) + ops.sum(sw * style) + tv_weight * tv, (content, style, tv)

    def _loss_and_gradient(self, image, targets, cw, sw, tv_weight):
        total, (content, style, tv), grad = engine.loss_and_grad(self._total, image, targets, cw, sw, tv_weight)
        return total, grad, content, style, tv


def weight_vectors(layers: Sequence[str], content: Mapping[str, float], style: Mapping[str, float],
                    content_weight: float, style_weight: float,
                    tv_weight: float) -> tuple[np.ndarray, np.ndarray, float]:
    """Per-layer weight vectors (content, style) in the order of `layers` (StyleLoss.layers), and the TV weight."""
    cw = np.array([content.get(n, 0.0) for n in layers], np.float32) * content_weight
    sw = np.array([style.get(n, 0.0) for n in layers], np.float32) * style_weight
    return cw, sw, float(tv_weight)


def _signatures(outputs: list) -> tuple:
    """Input signatures of StyleLoss's compiled functions for a feature model's outputs: (image,
    targets, per-layer vector, scalar); None each where the backend compiles per shape by itself."""
    spec = backend.tensor_spec
    image = spec((None, None, 3))
    features = tuple(spec((None, None, int(o.shape[-1]))) for o in outputs)
    grams = tuple(spec((int(o.shape[-1]),) * 2) for o in outputs)
    vector, scalar = spec((len(outputs),)), spec(())
    return image, (features, grams, vector, vector, scalar), vector, scalar


def _tensor(image: np.ndarray):
    """A 0-255 image as a float32 tensor of the backend."""
    return ops.convert_to_tensor(image, "float32")


def _weights_tensors(cw, sw, tv) -> tuple:
    """The weights as float32 tensors, so one compiled step takes any values (TensorFlow's signature
    converts them itself, as before)."""
    if backend.NAME == "tensorflow":
        return cw, sw, tv
    return _tensor(cw), _tensor(sw), _tensor(tv)


def _numpy(tensor) -> np.ndarray:
    return ops.convert_to_numpy(tensor)


def _normalizers(features: tuple, content_grams: tuple, grams: tuple, style_features: tuple | None):
    """What the per-layer content and style losses are divided by (see StyleLoss), each (L,): with
    `style_features` (normalization "distance"), the distances at the other image, else the targets'
    own mean squares."""
    content_norms = [ops.mean(ops.square(f)) for f in features]
    style_norms = [ops.mean(ops.square(g)) for g in grams]
    if style_features is not None:  # a floor of 1e-6 of the old scale: identical images stay finite
        content_norms = [ops.maximum(ops.mean(ops.square(s - p)), 1e-6 * n)
                         for s, p, n in zip(style_features, features, content_norms)]
        style_norms = [ops.maximum(ops.mean(ops.square(c - a)), 1e-6 * n)
                       for c, a, n in zip(content_grams, grams, style_norms)]
    content_norms = ops.stack([ops.maximum(n, 1e-12) for n in content_norms])
    style_norms = ops.stack([ops.maximum(n, 1e-12) for n in style_norms])
    return content_norms, style_norms


def _relative_losses(image: Tensor, features: tuple, grams: tuple, targets: tuple) -> tuple:
    """Per-layer content and style losses (L,) and the total variation, each over its normaliser."""
    content_targets, style_targets, content_norms, style_norms, tv_norm = targets
    content = ops.stack([ops.mean(ops.square(f - p)) for f, p in zip(features, content_targets)])
    style = ops.stack([ops.mean(ops.square(g - a)) for g, a in zip(grams, style_targets)])
    content, style = content / content_norms, style / style_norms
    return content, style, total_variation(image) / tv_norm


def gram(features: Tensor) -> Tensor:
    """(h, w, c) features -> (c, c) Gram matrix divided by h * w (independent of image size)."""
    flat = ops.reshape(features, (-1, ops.shape(features)[-1]))
    return ops.matmul(ops.transpose(flat), flat) / ops.cast(ops.shape(flat)[0], flat.dtype)


def total_variation(image: Tensor) -> Tensor:
    """Mean of (dx^2 + dy^2)^1.25 over an (H, W, 3) image (keras-io's term, as a mean)."""
    corner = image[:-1, :-1]
    a = ops.square(corner - image[1:, :-1])
    b = ops.square(corner - image[:-1, 1:])
    return ops.mean(ops.power(a + b, TV_POWER))
