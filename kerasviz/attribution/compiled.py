"""The compiled steps the methods run, cached on the model, and the model copies some of them need.

A step is one compiled function (kerasviz.backend.compile_step) over 0-255 RGB `(B, H, W, 3)` float32; on
TensorFlow B, H and W vary freely, so a method's chunks, sizes and images reuse one trace (JAX compiles
once per shape; PyTorch runs eagerly).
"""

from __future__ import annotations

from collections.abc import Callable

import keras

from kerasviz import backend, models
from kerasviz.attribution.targets import (
    Scoring,
    copies_for,
    head,
    logits_head,
    logits_model,
    output_op,
    scored_model,
)
from kerasviz.models.precision import cast_model, clone, loss_scale, take_weights


def compile_images_step(fn: Callable, weights: list) -> Callable:
    """`fn` over 0-255 RGB (B, H, W, 3) float32, compiled once for any batch and size where the backend can;
    `weights`: the models fn runs, read at each call (backend.compile_step)."""
    return backend.compile_step(fn, input_signature=backend.images_signature(), weights=weights)


def compiled(model: keras.Model, key: tuple, build: Callable[[], Callable], *, on_copy: bool) -> Callable:
    """The compiled step for `key`, built once per model: later calls (other images, sizes, chunks)
    reuse its heads and trace instead of rebuilding them. Steps built on a copy of the model (guided
    backprop; a softmax classifier made linear) hold copied weights, so they are rebuilt each call
    and never go stale when the model's weights change. A kept step reads the weights when it runs, on every
    backend (compile_images_step passes them in on JAX)."""
    if on_copy:
        return build()
    cache = models.model_cache(model, "saliency_steps")
    if key not in cache:
        cache[key] = build()
    return cache[key]


def gradient_step(scoring: Scoring, *, guided: bool, precision: str = "float32") -> Callable:
    """One compiled step: 0-255 RGB (B, H, W, 3) -> (scores (B,), d score / d input (B, H, W, 3))."""
    model, target, preprocess, output = scoring.model, scoring.target, scoring.preprocess, scoring.output
    net = head(model, target, output=output)
    if isinstance(target, int):
        logits = None if guided else logits_model(net)
    scale = loss_scale(precision)
    key = ("gradient", guided, target, preprocess, precision, output)
    on_copy = guided or copies_for(net, target)
    compute = None if guided else _compute_copy(model, logits if isinstance(target, int) else net, precision, key)

    def build():
        runs = guided_copy(net, logits=isinstance(target, int)) if guided else compute
        scored = scored_model(runs, target)

        def loss(x):
            score = keras.ops.cast(scored(preprocess(x))[0], "float32")
            return keras.ops.sum(score * scale), score

        def step(x):
            _, score, grad = backend.value_and_grad(loss, x)
            return score, grad / scale

        return compile_images_step(step, [runs])

    return compiled(model, key, build, on_copy=on_copy)


def score_step(scoring: Scoring, *, probability: bool = False) -> Callable:
    """One compiled step: 0-255 RGB (B, H, W, 3) -> (scores (B,),); no gradient (occlusion, Score-CAM, RISE).
    `probability`: a class target's softmax probability over the model's classes instead of its logit."""
    model, target, preprocess, output = scoring.model, scoring.target, scoring.preprocess, scoring.output
    net, on_copy = logits_head(model, target, output=output)

    def build():
        scored = scored_model(net, (lambda out: keras.ops.softmax(out, axis=-1)[:, target]) if probability else target)

        def step(x):
            return (scored(preprocess(x))[0],)

        return compile_images_step(step, [net])

    key = ("score", target, preprocess, output) + (("probability",) if probability else ())
    return compiled(model, key, build, on_copy=on_copy)


def layer_step(scoring: Scoring, layer: str) -> Callable:
    """One compiled step: 0-255 RGB (B, H, W, 3) -> (the output of `layer` (a path),), as the layer gives it."""
    model, preprocess = scoring.model, scoring.preprocess

    def build():
        features = models.feature_model(model, [layer])

        def step(x):
            return (features(preprocess(x), training=False),)

        return compile_images_step(step, [features])

    return compiled(model, ("layer", layer, preprocess), build, on_copy=False)


def layer_gradient_step(scoring: Scoring, layer: str) -> Callable:
    """One compiled step: 0-255 RGB (B, H, W, 3) -> (scores (B,), the output A of `layer` (a path), d score / d A).

    The gradient CAMs (kerasviz.attribution.cams) do their maths on these arrays; a score that does not
    depend on the layer has a zero gradient."""
    model, target, preprocess, output = scoring.model, scoring.target, scoring.preprocess, scoring.output
    net, on_copy = logits_head(model, target, [layer], output)

    def build():
        scored = scored_model(net, target)
        producer = net.outputs[1]._keras_history.operation  # the layer (or its copy, in a logits copy) giving A

        def step(x):
            return backend.output_gradient(lambda images: scored(preprocess(images)), x, producer)

        return compile_images_step(step, [net])

    return compiled(model, ("layer_gradient", layer, target, preprocess, output), build, on_copy=on_copy)


def _compute_copy(model: keras.Model, net: keras.Model, precision: str, key: tuple) -> keras.Model:
    """`net` for float32; else a copy computing in bfloat16/float16, kept on the model and given the
    net's current weights on every call, so it never goes stale. Its weights stay float32: it holds
    a second copy of them (about 0.5 GB for VGG16 with its classifier)."""
    if precision == "float32":
        return net
    copies = models.model_cache(model, "precision_copies")
    if key not in copies:
        copies[key] = cast_model(net, f"mixed_{precision}")
    else:
        take_weights(copies[key], net)
    return copies[key]


# --- guided backpropagation ------------------------------------------------------------------


@keras.ops.custom_gradient
def _guided_relu(x):
    """ReLU whose gradient passes only where both the input and the incoming gradient are > 0."""

    def grad(*args, upstream=None):
        if upstream is None:  # TensorFlow and JAX pass it alone; PyTorch by name, after the saved inputs
            (upstream,) = args
        positive = keras.ops.cast(keras.ops.greater(upstream, 0), upstream.dtype)
        return upstream * positive * keras.ops.cast(keras.ops.greater(x, 0), upstream.dtype)

    return keras.ops.relu(x), grad


def guided_copy(model: keras.Model, *, logits: bool) -> keras.Model:
    """A copy of `model`, same weights, with every ReLU made guided (the model is not changed).

    With `logits`, a softmax or sigmoid on the layer computing the first output becomes linear in the same copy.
    """
    last, _ = output_op(model)

    def guided(layer, config: dict) -> dict | keras.layers.Layer:
        if logits and layer is last and models.squashes(getattr(layer, "activation", None)):
            config["activation"] = "linear"
        if isinstance(layer, keras.layers.ReLU) and not config.get("max_value") and not config.get("negative_slope"):
            return keras.layers.Activation(_guided_relu, name=layer.name)
        if config.get("activation") == "relu" or getattr(config.get("activation"), "__name__", "") == "relu":
            config["activation"] = _guided_relu
        return config

    return clone(model, guided)
