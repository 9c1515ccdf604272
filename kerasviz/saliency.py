"""Saliency maps on tf.GradientTape: which input pixels a model's score depends on.

Every method takes images as people have them (RGB 0-255, uint8 or float, one or a batch),
applies the model's preprocessing inside the tape (so gradients are with respect to the 0-255
RGB input) and returns raw float32 maps `(N, H, W)`, or `(H, W)` for one image. Normalising and
colouring live in kerasviz.io.

SmoothGrad samples, integrated-gradient steps and occlusion patches go through the model as
batches, chunked to a memory budget, in one compiled step; nothing calls the model per sample.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf

from kerasviz import io, models, render
from kerasviz.errors import KerasvizError

METHODS = (
    "vanilla",
    "smoothgrad",
    "integrated_gradients",
    "guided_backprop",
    "gradcam",
    "occlusion",
    "activation",
)

SMOOTHGRAD_SAMPLES = 50  # Smilkov et al. 2017, §3: "n = 50" samples suffice
SMOOTHGRAD_NOISE = 0.15  # Smilkov et al. 2017, §3: sigma 10-20% of (x_max - x_min)
IG_STEPS = 128  # Sundararajan et al. 2017, §5: 20-300 steps; with the trapezoid rule, completeness < 1% on ReLU CNNs
IG_BASELINE = 0.0  # Sundararajan et al. 2017: the black image (0 in 0-255 RGB)
OCCLUSION_FRACTION = 1 / 7  # Zeiler & Fergus 2014, Fig. 7: a grey square ~1/7 of the image side
OCCLUSION_FILL = 127.5  # grey, in 0-255 RGB
DEFAULT_PRECISION = "float32"
PRECISION_METHODS = ("vanilla", "smoothgrad", "integrated_gradients")  # the others run in float32
FLOAT16_LOSS_SCALE = 1024.0  # float16 input gradients underflow without it
MEMORY_BUDGET_BYTES = 1 << 30  # per compiled batch: activations and their gradients
_BYTES_PER_ACTIVATION = 4 * 3  # float32, forward value + gradient + slack for the backward pass

Target = int | str | Callable[[tf.Tensor], tf.Tensor]


def saliency(
    model: keras.Model,
    images,
    target: Target,
    *,
    method: str = "vanilla",
    preprocess: Callable[[tf.Tensor], tf.Tensor] | None = None,
    samples: int = SMOOTHGRAD_SAMPLES,
    noise: float = SMOOTHGRAD_NOISE,
    steps: int = IG_STEPS,
    baseline: float | np.ndarray = IG_BASELINE,
    layer: str | None = None,
    patch: int | None = None,
    stride: int | None = None,
    seed: int = 0,
    batch_size: int | None = None,
    precision: str = DEFAULT_PRECISION,
    output: int | str | None = None,
) -> np.ndarray:
    """Saliency maps of `target` on `images`.

    Args:
      model: a Keras model (Functional or Sequential, with nested models or not); one from
        load_model gets its own preprocessing. Layers are named by path ("base/block_3_expand") or
        by their plain name when unique in the whole model tree.
      images: RGB 0-255, `(N, H, W, 3)` or one `(H, W, 3)` (greyscale and RGBA are converted).
        A model with a fixed input size gets resized copies; maps come back at the input's H, W.
      target: a class index (on logits; a final softmax is removed on a copy of the model),
        "LAYER" (its mean activation), "LAYER:FILTER" (one channel's mean activation), or a
        callable from the model's output tensor to one score per image `(N,)`.
      method: one of METHODS:
        vanilla (Simonyan et al. 2014): max over colour channels of |d score / d pixel|;
        smoothgrad (Smilkov et al. 2017): the vanilla map of the mean gradient over `samples`
          noisy copies, noise std = `noise` * (max - min) of each image;
        integrated_gradients (Sundararajan et al. 2017): attributions summed over colour
          channels, signed, from `baseline` (0-255 value or image) in `steps` trapezoid steps;
          the map sums to score(image) - score(baseline);
        guided_backprop (Springenberg et al. 2015): as vanilla, through ReLUs that pass only
          positive gradients, on a copy of the model;
        gradcam (Selvaraju et al. 2017): ReLU of the gradient-weighted channels of `layer`
          (default: the last 4-D output with height and width > 1 before the target; for a layer
          target, the last one before that layer), upsampled;
        occlusion (Zeiler & Fergus 2014): drop of the score when a grey `patch` square
          (moved by `stride` pixels) hides each pixel, averaged over the patches that cover it;
        activation: the mean over channels of `layer` (default: the target layer, else the last
          convolution), upsampled; it ignores a class target.
      preprocess: RGB 0-255 -> model input; default: the model's own (see models.preprocess_fn).
      seed: seeds SmoothGrad's noise.
      batch_size: images per compiled model call; default: as many as fit MEMORY_BUDGET_BYTES.
      precision: compute type of the model for vanilla, smoothgrad and integrated_gradients:
        "float32", "bfloat16", "float16" (scaled against underflow) or "auto" (bfloat16 where the
        hardware has it, as for filters); inputs, scores and gradients stay float32. The other
        methods run in float32.
      output: for a model with several outputs, the one a class target or a callable reads: its
        name or index.

    Returns:
      float32 `(N, H, W)`, or `(H, W)` when one image was given.
    """
    if method not in METHODS:
        raise KerasvizError(f"unknown saliency method {method!r}; valid: {', '.join(METHODS)}")
    _check_positive(samples=samples, steps=steps, batch_size=batch_size, patch=patch, stride=stride)
    if not (isinstance(noise, int | float) and math.isfinite(noise) and noise >= 0):
        raise KerasvizError(f"noise must be a fraction of the input range >= 0; got {noise!r}")
    resolved = render.resolve_precision(precision)  # a mistyped precision is an error for every method
    precision = resolved if method in PRECISION_METHODS else "float32"
    batch, single = io.as_batch(images)
    height, width = batch.shape[1:3]
    batch = _fit_input(model, batch)
    preprocess = models.preprocess_fn(model, preprocess)
    chunk = batch_size or _chunk_size(model, batch.shape[1:3])
    target = parse_target(model, target, output=output)
    output = None if isinstance(target, str) else models.resolve_output(model, output)

    with models.model_errors(model, f"computing {method} saliency on {batch.shape[1]} x {batch.shape[2]} images"):
        maps = _maps(model, batch, target, method, layer, preprocess, chunk, output, precision, samples, noise, seed,
                     steps, baseline, patch, stride)
    maps = _resize_maps(maps, (height, width))
    return maps[0] if single else maps


def _maps(model, batch, target, method, layer, preprocess, chunk, output, precision, samples, noise, seed, steps,
          baseline, patch, stride) -> np.ndarray:
    if method == "activation":
        maps = _activation_map(model, batch, target, layer, preprocess, chunk)
    elif method == "gradcam":
        maps = _gradcam(model, batch, target, layer, preprocess, chunk, output)
    elif method == "occlusion":
        maps = _occlusion(model, batch, target, preprocess, patch, stride, chunk, output)
    else:
        guided = method == "guided_backprop"
        step = _gradient_step(model, target, preprocess, guided=guided, precision=precision, output=output)
        if method in ("vanilla", "guided_backprop"):
            maps = _max_abs(_run_chunked(step, batch, chunk)[1])
        elif method == "smoothgrad":
            maps = _smoothgrad(step, batch, samples, noise, seed, chunk)
        else:
            maps = _integrated_gradients(step, batch, baseline, steps, chunk)
        if precision != "float32" and not np.all(np.isfinite(maps)):
            raise KerasvizError(f"the {precision} gradients overflowed on these images; use precision='float32'")
    return maps


def randomized_copy(model: keras.Model, layers, *, seed: int = 0) -> keras.Model:
    """A copy of `model` whose `layers` have their weights drawn afresh from their own initialisers.

    The model-parameter randomisation test of Adebayo et al. 2018 ("Sanity checks for saliency
    maps"): a map that stays the same when the weights it should explain are random explains
    nothing. For the cascading test pass the top k layers, e.g.
    `models.conv_layers(model)[::-1][:k]` plus the classifier (or re-draw one more layer of the
    same copy at a time with `redraw_weights`, which keeps its compiled saliency steps). `model`
    itself is not changed; the copy keeps its preprocessing.

    Raises:
      KerasvizError: for a layer name the model lacks, or a weight with no initialiser to redraw it.
    """
    if isinstance(layers, str):
        layers = [layers]
    names = [models.resolve_layer(model, name) for name in layers]
    copy = _clone(model, lambda layer, config: config)
    for name in names:
        redraw_weights(models.get_layer(copy, name), seed=seed)
    info = models.model_info(model)
    if info is not None:
        object.__setattr__(copy, "kerasviz_info", info)
    return copy


def redraw_weights(layer: keras.layers.Layer, *, seed: int = 0) -> None:
    """Re-draws `layer`'s weights in place from its own initialisers, seeded per (seed, layer name,
    weight), so the same seed gives the same weights as in `randomized_copy`."""
    fresh = []
    for i, variable in enumerate(layer.weights):
        initializer = _initializer_of(layer, variable)
        config = initializer.get_config()
        if "seed" in config:  # no global random state is touched
            config["seed"] = (seed * 1_000_003 + zlib.crc32(layer.name.encode()) + i) % 2**31
        fresh.append(np.asarray(type(initializer).from_config(config)(tuple(variable.shape), variable.dtype)))
    layer.set_weights(fresh)


def _initializer_of(layer: keras.layers.Layer, variable) -> keras.initializers.Initializer:
    base = variable.path.rsplit("/", 1)[-1].split(":")[0]
    candidates = [f"{base}_initializer", f"{base.removesuffix('_kernel')}_initializer"]
    if base == "kernel":
        candidates.append("depthwise_initializer")  # DepthwiseConv2D names its kernel "kernel"
    for attribute in candidates:
        initializer = getattr(layer, attribute, None)
        if isinstance(initializer, keras.initializers.Initializer):
            return initializer
    raise KerasvizError(f"layer {layer.name!r} has no initialiser for its weight {base!r}; cannot randomise it")


# --- targets: what the score is --------------------------------------------------------------


def parse_target(model: keras.Model, target: Target, *, output: int | str | None = None) -> Target:
    """Checks a target against a model; strings of digits become class indices, layer names become
    paths through nested models ("base/block_3_expand", "base/block_3_expand:7").

    Raises KerasvizError that names what was given and what is valid.
    """
    if callable(target):
        models.resolve_output(model, output)
        return target
    if isinstance(target, bool) or not isinstance(target, int | np.integer | str):
        raise KerasvizError(f"target must be a class index, 'LAYER', 'LAYER:FILTER' or a callable; got {target!r}")
    if isinstance(target, str) and target.strip().lstrip("-").isdigit():
        target = int(target)
    if isinstance(target, int | np.integer):
        models.image_input_shape(model)  # one image input, or a clear error
        chosen = model.outputs[models.resolve_output(model, output)].shape
        if len(chosen) != 2:
            raise KerasvizError(
                f"class target {target} needs a classifier, but {model.name}'s output has shape "
                f"{tuple(chosen)}; use a layer target such as {_example_layer(model)!r}"
            )
        if not 0 <= int(target) < chosen[-1]:
            raise KerasvizError(f"class {target} out of range: valid classes are 0-{chosen[-1] - 1}")
        return int(target)
    name, _, channel = target.rpartition(":") if target.rpartition(":")[2].strip().isdigit() else (target, "", "")
    path = models.resolve_layer(model, name.strip())
    if channel:
        count = int(models.feature_model(model, [path]).outputs[0].shape[-1])
        if not 0 <= int(channel) < count:
            raise KerasvizError(f"filter {channel!r} of layer {name!r} out of range: valid filters are 0-{count - 1}")
        return f"{path}:{int(channel)}"
    if ":" in target:
        raise KerasvizError(f"target {target!r}: the filter after ':' must be an index, as in 'LAYER:7'")
    return path


def _layer_of(target: str) -> str:
    """The layer path of a parsed layer target ("base/conv:7" -> "base/conv")."""
    return target.rpartition(":")[0] if ":" in target else target


def _head(model: keras.Model, target: Target, extra: list | None = None, output: int | None = None) -> keras.Model:
    """A flat model (no nested models) whose outputs are [what the target reads, *extra layers]:
    the chosen model output for a class or callable target, the target layer for a layer target."""
    extra = list(extra or [])
    if isinstance(target, str):
        return models.feature_model(model, [_layer_of(target), *extra])
    flat = models.feature_model(model, extra, output=output)
    return keras.Model(flat.inputs[0], [flat.outputs[-1], *flat.outputs[:-1]])


def _scored_model(head: keras.Model, target: Target) -> Callable:
    """target and a _head model -> fn(model input) -> (scores (N,), *extra layer outputs)."""
    if isinstance(target, int):
        index = target
        return _with_score(head, lambda out: out[:, index])
    if callable(target):
        return _with_score(head, target)
    if ":" in target:
        index = int(target.rpartition(":")[2])
        return _with_score(head, lambda out: tf.reduce_mean(out[..., index], axis=_spatial_axes(out)))
    return _with_score(head, lambda out: tf.reduce_mean(out, axis=list(range(1, len(out.shape)))))


def _spatial_axes(tensor: tf.Tensor) -> list[int]:
    return list(range(1, len(tensor.shape) - 1))


def _with_score(head: keras.Model, score_fn: Callable) -> Callable:
    def scored(x: tf.Tensor) -> tuple:
        outs = head(x, training=False)
        outs = outs if isinstance(outs, list | tuple) else [outs]
        score = tf.reshape(score_fn(tf.cast(outs[0], tf.float32)), [-1])  # reduced in float32 at any precision
        return (score, *outs[1:])

    return scored


def _output_op(head: keras.Model):
    """The operation that computes the head's first output, and the input tensor of that call."""
    history = head.outputs[0]._keras_history
    node = history.operation._inbound_nodes[history.node_index]
    inputs = node.input_tensors
    return history.operation, (inputs[0] if inputs else None)


def _logits_model(head: keras.Model) -> keras.Model:
    """The head, or a copy that ends in logits where its first output is a softmax."""
    last, last_input = _output_op(head)
    if isinstance(last, keras.layers.Softmax) or (
        isinstance(last, keras.layers.Activation) and _is_softmax(last.activation)
    ):
        return keras.Model(head.inputs[0], [last_input, *head.outputs[1:]])
    if _is_softmax(getattr(last, "activation", None)):
        return _clone(head, lambda layer, config: _linear_if(layer is last, config))
    return head


def _copies_for(head: keras.Model, target: Target) -> bool:
    """Whether scoring `target` needs _logits_model's copy (a class target, softmax fused in the last layer)."""
    if not isinstance(target, int):
        return False
    last, _ = _output_op(head)
    fused = not isinstance(last, keras.layers.Softmax | keras.layers.Activation)
    return fused and _is_softmax(getattr(last, "activation", None))


def _is_softmax(activation) -> bool:
    return activation is not None and getattr(activation, "__name__", "") == "softmax"


def _linear_if(condition: bool, config: dict) -> dict:
    if condition:
        config["activation"] = "linear"
    return config


def _example_layer(model: keras.Model) -> str:
    convs = models.conv_layers(model)
    return convs[-1] if convs else model.layers[-1].name


# --- the compiled steps ----------------------------------------------------------------------

_IMAGES = tf.TensorSpec([None, None, None, 3], tf.float32)


def _compiled(model: keras.Model, key: tuple, build: Callable[[], Callable], *, on_copy: bool) -> Callable:
    """The compiled step for `key`, built once per model: later calls (other images, sizes, chunks)
    reuse its heads and trace instead of rebuilding them. Steps built on a copy of the model (guided
    backprop; a softmax classifier made linear) hold copied weights, so they are rebuilt each call
    and never go stale when the model's weights change."""
    if on_copy:
        return build()
    cache = model.__dict__.setdefault("_kerasviz_saliency_steps", {})
    if key not in cache:
        cache[key] = build()
    return cache[key]


def _gradient_step(
    model: keras.Model, target: Target, preprocess: Callable, *, guided: bool, precision: str = "float32",
    output: int | None = None,
) -> Callable:
    """One compiled step: 0-255 RGB (B, H, W, 3) -> (scores (B,), d score / d input (B, H, W, 3))."""
    head = _head(model, target, output=output)
    if isinstance(target, int):
        logits = None if guided else _logits_model(head)
    scale = FLOAT16_LOSS_SCALE if precision == "float16" else 1.0
    key = ("gradient", guided, target, preprocess, precision, output)
    on_copy = guided or _copies_for(head, target)
    compute = None if guided else _compute_copy(model, logits if isinstance(target, int) else head, precision, key)

    def build():
        net = _guided_copy(head, logits=isinstance(target, int)) if guided else compute
        scored = _scored_model(net, target)

        @tf.function(input_signature=[_IMAGES])
        def step(x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                score = tf.cast(scored(preprocess(x))[0], tf.float32)
                scaled = score * scale
            return score, tape.gradient(scaled, x) / scale

        return step

    return _compiled(model, key, build, on_copy=on_copy)


def _compute_copy(model: keras.Model, head: keras.Model, precision: str, key: tuple) -> keras.Model:
    """`head` for float32; else a copy computing in bfloat16/float16, kept on the model and given the
    head's current weights on every call, so it never goes stale. Its weights stay float32: it holds
    a second copy of them (about 0.5 GB for VGG16 with its classifier)."""
    if precision == "float32":
        return head
    copies = model.__dict__.setdefault("_kerasviz_precision_copies", {})
    if key not in copies:
        copies[key] = render._cast_model(head, f"mixed_{precision}")
    else:
        for mine, current in zip(copies[key].weights, head.weights, strict=True):
            mine.assign(current)
    return copies[key]


def _run_chunked(step: Callable, inputs, chunk: int, count: int | None = None) -> list[np.ndarray]:
    """Runs `step` over `inputs` (an array, or fn(start, stop) -> array) in chunks; concatenates."""
    total = len(inputs) if count is None else count
    outs: list[list[np.ndarray]] = []
    for start in range(0, total, chunk):
        stop = min(start + chunk, total)
        x = inputs(start, stop) if callable(inputs) else inputs[start:stop]
        outs.append([t.numpy() for t in step(tf.convert_to_tensor(x, tf.float32))])
    return [np.concatenate(parts) for parts in zip(*outs, strict=True)]


def _max_abs(grads: np.ndarray) -> np.ndarray:
    return np.abs(grads).max(axis=-1).astype(np.float32)


# --- methods ---------------------------------------------------------------------------------


def _smoothgrad(step: Callable, batch: np.ndarray, samples: int, noise: float, seed: int, chunk: int) -> np.ndarray:
    n = len(batch)
    sigma = noise * (batch.max(axis=(1, 2, 3)) - batch.min(axis=(1, 2, 3)))  # (N,)
    rng = np.random.default_rng(seed)

    def noisy(start: int, stop: int) -> np.ndarray:
        index = np.arange(start, stop) // samples
        jitter = rng.standard_normal((stop - start, *batch.shape[1:]), dtype=np.float32)
        return batch[index] + jitter * sigma[index, None, None, None].astype(np.float32)

    grads = _run_chunked(step, noisy, chunk, count=n * samples)[1]
    return _max_abs(grads.reshape(n, samples, *batch.shape[1:]).mean(axis=1))


def _integrated_gradients(step: Callable, batch: np.ndarray, baseline, steps: int, chunk: int) -> np.ndarray:
    n = len(batch)
    base = _baseline(baseline, batch.shape)
    alphas = np.linspace(0.0, 1.0, steps + 1, dtype=np.float32)
    weights = np.full(steps + 1, 1.0 / steps, np.float32)  # trapezoid rule
    weights[[0, -1]] *= 0.5

    def path(start: int, stop: int) -> np.ndarray:
        index = np.arange(start, stop)
        image, k = index // (steps + 1), index % (steps + 1)
        a = alphas[k][:, None, None, None]
        return base[image] + a * (batch[image] - base[image])

    grads = _run_chunked(step, path, chunk, count=n * (steps + 1))[1]
    mean_grad = np.einsum("nkhwc,k->nhwc", grads.reshape(n, steps + 1, *batch.shape[1:]), weights)
    return ((batch - base) * mean_grad).sum(axis=-1).astype(np.float32)


def _baseline(baseline, shape: tuple) -> np.ndarray:
    try:
        base = np.broadcast_to(np.asarray(baseline, np.float32), shape)
    except ValueError:
        raise KerasvizError(
            f"baseline must be a 0-255 value or an image of shape {shape[1:]}; got shape {np.shape(baseline)}"
        ) from None
    return np.ascontiguousarray(base)


def _gradcam(model, batch, target, layer, preprocess, chunk, output=None) -> np.ndarray:
    layer = models.resolve_layer(model, layer or _last_spatial_layer(model, target))
    head = _head(model, target, [layer], output)
    if isinstance(target, int):
        head = _logits_model(head)

    def build():
        scored = _scored_model(head, target)

        @tf.function(input_signature=[_IMAGES])
        def step(x):
            with tf.GradientTape() as tape:
                score, features = scored(preprocess(x))
            grads = tape.gradient(score, features)
            weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)  # alpha_k, Selvaraju et al. eq. 1
            return (tf.nn.relu(tf.reduce_sum(weights * features, axis=-1)),)  # eq. 2

        return step

    key = ("gradcam", layer, target, preprocess, output)
    step = _compiled(model, key, build, on_copy=_copies_for(_head(model, target, [layer], output), target))
    return _run_chunked(step, batch, chunk)[0]


def _last_spatial_layer(model: keras.Model, target: Target) -> str:
    """The last layer whose output is 4-D with height and width > 1, before a layer target.

    Layers are taken input to output through nested models, a nested model after its own layers (so
    a transfer-learning model's base output comes first). For a layer target, the layers before it
    come first (Grad-CAM of a layer's own mean activation would only repeat the activation map); the
    target layer itself is the fallback.
    """
    paths = models.layer_paths(model)
    names = list(paths)
    stop = names.index(_layer_of(target)) if isinstance(target, str) else len(names)
    for name in [*reversed(names[:stop]), *names[stop : stop + 1]]:
        layer = paths[name]
        shape = _output_shape(layer)
        if (
            shape is not None
            and len(shape) == 4
            and not isinstance(layer, keras.layers.InputLayer)
            and all(d is None or d > 1 for d in shape[1:3])
        ):
            return name
    raise KerasvizError(
        f"{model.name} has no 4-D layer output with height and width > 1 for Grad-CAM; "
        "pass layer= or use another method"
    )


def _output_shape(layer) -> tuple | None:
    try:
        return tuple(layer.output.shape)
    except (AttributeError, ValueError):  # layers used more than once have no single output
        return None


def _occlusion(model, batch, target, preprocess, patch, stride, chunk, output=None) -> np.ndarray:
    head = _head(model, target, output=output)
    if isinstance(target, int):
        head = _logits_model(head)

    def build():
        scored = _scored_model(head, target)

        @tf.function(input_signature=[_IMAGES])
        def step(x):
            return (scored(preprocess(x))[0],)

        return step

    step = _compiled(model, ("score", target, preprocess, output), build, on_copy=_copies_for(head, target))
    n, h, w = batch.shape[:3]
    patch = patch or max(1, round(min(h, w) * OCCLUSION_FRACTION))
    stride = stride or max(1, patch // 2)
    corners = [(y, x) for y in _starts(h, patch, stride) for x in _starts(w, patch, stride)]
    base = _run_chunked(step, batch, chunk)[0]  # (N,)

    def occluded(start: int, stop: int) -> np.ndarray:
        index = np.arange(start, stop)
        out = batch[index // len(corners)].copy()
        for i, k in enumerate(index % len(corners)):
            y, x = corners[k]
            out[i, y : y + patch, x : x + patch] = OCCLUSION_FILL
        return out

    scores = _run_chunked(step, occluded, chunk, count=n * len(corners))[0].reshape(n, len(corners))
    total = np.zeros((n, h, w), np.float32)
    cover = np.zeros((h, w), np.float32)
    for k, (y, x) in enumerate(corners):
        total[:, y : y + patch, x : x + patch] += (base - scores[:, k])[:, None, None]
        cover[y : y + patch, x : x + patch] += 1
    return total / np.maximum(cover, 1)


def _starts(size: int, patch: int, stride: int) -> list[int]:
    starts = list(range(0, max(size - patch, 0) + 1, stride))
    if starts[-1] + patch < size:
        starts.append(size - patch)
    return starts


def _activation_map(model, batch, target, layer, preprocess, chunk) -> np.ndarray:
    if layer is None:
        parsed = parse_target(model, target)
        layer = _layer_of(parsed) if isinstance(parsed, str) else _example_layer(model)
    layer = models.resolve_layer(model, layer)
    if len(models.feature_model(model, [layer]).outputs[0].shape) != 4:
        raise KerasvizError(f"the activation map needs a layer with a spatial (N, H, W, C) output; {layer!r} has none")

    def build():
        head = models.feature_model(model, [layer])

        @tf.function(input_signature=[_IMAGES])
        def step(x):
            out = head(preprocess(x), training=False)
            return (tf.reduce_mean(out, axis=-1),)

        return step

    step = _compiled(model, ("activation", layer, preprocess), build, on_copy=False)
    return _run_chunked(step, batch, chunk)[0]


# --- guided backpropagation ------------------------------------------------------------------


@tf.custom_gradient
def _guided_relu(x: tf.Tensor):
    """ReLU whose gradient passes only where both the input and the incoming gradient are > 0."""

    def grad(upstream):
        return upstream * tf.cast(upstream > 0, upstream.dtype) * tf.cast(x > 0, upstream.dtype)

    return tf.nn.relu(x), grad


def _guided_copy(model: keras.Model, *, logits: bool) -> keras.Model:
    """A copy of `model`, same weights, with every ReLU made guided (the model is not changed).

    With `logits`, a softmax on the layer computing the first output becomes linear in the same copy.
    """
    last, _ = _output_op(model)

    def guided(layer, config: dict) -> dict | keras.layers.Layer:
        if logits and layer is last and _is_softmax(getattr(layer, "activation", None)):
            config["activation"] = "linear"
        if isinstance(layer, keras.layers.ReLU) and not config.get("max_value") and not config.get("negative_slope"):
            return keras.layers.Activation(_guided_relu, name=layer.name)
        if config.get("activation") == "relu" or getattr(config.get("activation"), "__name__", "") == "relu":
            config["activation"] = _guided_relu
        return config

    return _clone(model, guided)


def _clone(model: keras.Model, edit: Callable) -> keras.Model:
    """clone_model where `edit(layer, config)` returns a new config or a new layer; weights copied."""

    def clone_layer(layer):
        result = edit(layer, layer.get_config())
        return result if isinstance(result, keras.layers.Layer) else layer.__class__.from_config(result)

    try:
        copy = keras.models.clone_model(model, clone_function=clone_layer, recursive=True)
    except (ValueError, TypeError) as err:
        raise KerasvizError(f"cannot copy {model.name} (only Functional and Sequential models can be): {err}") from None
    copy.set_weights(model.get_weights())
    return copy


# --- shapes and memory -----------------------------------------------------------------------


def _fit_input(model: keras.Model, batch: np.ndarray) -> np.ndarray:
    """Resizes the batch to the model's fixed input size, if it has one (the maps are resized back)."""
    size = models.fixed_input_size(model)
    if size is None or size == batch.shape[1:3]:
        return batch
    return tf.image.resize(batch, size, method="bilinear", antialias=True).numpy()


def _resize_maps(maps: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    maps = np.asarray(maps, np.float32)
    if maps.shape[1:3] == tuple(size):
        return maps
    return tf.image.resize(maps[..., None], size, method="bilinear").numpy()[..., 0]


def _chunk_size(model: keras.Model, size: tuple[int, int], budget: int = MEMORY_BUDGET_BYTES) -> int:
    """How many images of `size` fit one compiled call within `budget` bytes of activations."""
    floats = 0
    for layer in _leaf_layers(model):
        shape = _output_shape(layer)
        if shape is None:
            continue
        dims = list(shape[1:])
        if len(dims) == 3 and None in dims[:2]:
            scale = _downsampling(model, layer)
            dims[:2] = [math.ceil(s / scale) for s in size]
        floats += math.prod(d or 1 for d in dims)
    return max(1, budget // max(1, floats * _BYTES_PER_ACTIVATION))


def _downsampling(model: keras.Model, layer) -> int:
    """A layer's spatial stride relative to the input, from its channel count's stage (a guess).

    For fully convolutional models (unknown H, W) the exact factor is not in the static shapes;
    counting strided and pooling layers up to `layer` gives it for plain chains like VGG.
    """
    factor = 1
    for other in _leaf_layers(model):
        strides = getattr(other, "strides", None) or getattr(other, "pool_size", None)
        if strides is not None and not isinstance(other, keras.layers.InputLayer):
            factor *= int(np.atleast_1d(strides)[0])
        if other is layer:
            break
    return factor


def _leaf_layers(model: keras.Model) -> list:
    """The layers of the model tree that are not themselves models, input to output."""
    return [layer for layer in models.layer_paths(model).values() if not isinstance(layer, keras.Model)]


def _check_positive(**values) -> None:
    for name, value in values.items():
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1):
            raise KerasvizError(f"{name} must be a positive integer; got {value!r}")
