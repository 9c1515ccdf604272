"""The optimisation loop: one compiled step, batched over filters; returns arrays.

Every filter of a layer goes through the same compiled function: filter indices and seeds
are tensors, batches are padded to one shape, and the optimiser state is plain tensors
carried through a `tf.while_loop`, so a new filter, chunk or call never retraces and the
same code runs per replica under any `tf.distribute` strategy. Nothing here saves or shows.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
from collections.abc import Callable, Sequence

import keras
import numpy as np
import tensorflow as tf

from kerasviz import models, param, transforms
from kerasviz import objectives as obj
from kerasviz.errors import KerasvizError
from kerasviz.precision import accelerator as _accelerator
from kerasviz.precision import cast_model as _cast_model
from kerasviz.precision import resolve_precision

log = logging.getLogger("kerasviz")

Progress = Callable[[int, int], None]  # (image-steps done, image-steps in all)
Progress1 = Callable[[int], None]  # steps done in one batch


@dataclasses.dataclass(frozen=True)
class Method:
    """One way to visualise a filter: parameterisation, transforms, update rule and schedule."""

    name: str
    steps: int
    learning_rate: float
    update: str  # "adam" or "normalized" (gradient divided by its RMS, Chollet 2016)
    # (batch, size, receptive field of the objective's layer in pixels) -> param
    parameterization: Callable[[int, int, int], param.Parameterization]
    transform: Callable[[int], transforms.Transform] | None  # size -> transform
    l2_decay: float = 0.0  # Yosinski et al. 2015 regularisers (classic only)
    blur_every: int = 0
    blur_sigma: float = 0.5
    contrast_normalize: bool = False  # the seed's deprocessing: zero mean, std 0.1, centred on grey
    coarse_fraction: float = 0.0  # share of the steps run at half size first (progressive resolution)


FFT_CHROMA_POWER = 0.25  # colour axes at the fourth root of photos' chroma spread (param.color_correlation)
MACO_LEARNING_RATE = 0.2  # radians of phase per Adam step
METHODS: dict[str, Method] = {
    # Chollet 2016, "How convolutional neural networks see the world" (the seed's recipe):
    # grey + noise start, 20 steps of RMS-normalised gradient ascent, step 1 on the 0-255 scale.
    "classic": Method(
        name="classic",
        steps=20,
        learning_rate=1.0 / 255.0,
        update="normalized",
        parameterization=lambda batch, size, receptive_field: param.pixel(batch, size),
        transform=None,
        contrast_normalize=True,
    ),
    # Olah et al. 2017 / Mordvintsev et al. 2018 (lucid): a 1/f Fourier image in decorrelated colour,
    # Adam 0.05 under transformation robustness; the spectrum flattens below the unit's receptive
    # field and chroma moves more freely than photos' (benchmarks/filters.py measured both).
    "fft": Method(
        name="fft",
        steps=48,
        learning_rate=0.05,
        update="adam",
        parameterization=lambda batch, size, receptive_field: param.fourier(
            batch, size, chroma_power=FFT_CHROMA_POWER, receptive_field=receptive_field),
        transform=transforms.standard,
    ),
    # MaCo (Fel et al. 2023): the phase alone is optimised, the magnitude is photos' spectrum.
    "maco": Method(
        name="maco",
        steps=48,
        learning_rate=MACO_LEARNING_RATE,
        update="adam",
        parameterization=lambda batch, size, receptive_field: param.magnitude_constrained(batch, size),
        transform=transforms.standard,
    ),
}
# fft with progressive resolution: the first half of the steps at half size (a quarter of the
# compute), then the spectrum moves to full size. benchmarks/progressive.py measures it against fft.
METHODS["fft_progressive"] = dataclasses.replace(METHODS["fft"], name="fft_progressive", steps=64, coarse_fraction=0.5)
DEFAULT_METHOD = "fft"

# Images per compiled batch: a memory budget in input pixels (16 images of 128 x 128 on a
# CPU, about 1 GB of VGG16 activations with their gradients; 8x that on an accelerator).
CPU_PIXEL_BUDGET = 16 * 128 * 128
ACCELERATOR_PIXEL_BUDGET = 8 * CPU_PIXEL_BUDGET
SEGMENT_STEPS = 8  # steps per compiled call between progress reports
MIN_COARSE_SIZE = 32  # progressive resolution only where the half-size picture has at least this side
ADAM_BETAS = (0.9, 0.999)
ADAM_EPSILON = 1e-8


def visualize_filters(
    model: keras.Model,
    layer: str,
    filters: Sequence[int] | int,
    *,
    size: int = 128,
    steps: int | None = None,
    method: str | None = None,
    seed: int = 0,
    objective: obj.Objective | None = None,
    preprocess: Callable | None = None,
    precision: str = "auto",
    batch_size: int | None = None,
    strategy: tf.distribute.Strategy | None = None,
    progress: Progress | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The input each filter responds to most, by gradient ascent in input space.

    Args:
      model: a Keras model; models from load_model bring their own preprocessing.
      layer: the name of the layer whose channels (filters) to visualise.
      filters: channel indices of `layer`.
      size: the side of the square images, in pixels.
      steps: optimisation steps (default: the method's).
      method: "fft" (default; a Fourier image whose spectrum suits the layer's receptive field,
        decorrelated colour, transformation robustness), "maco" (Fourier phase only, magnitude
        fixed to photos' spectrum), "fft_progressive" (fft with the first half of its steps at
        half size; plain fft below 2 * MIN_COARSE_SIZE pixels) or "classic" (normalised-gradient
        ascent in pixel space, Chollet 2016).
      seed: the same seed gives the same images.
      objective: what to maximise instead of each filter's mean activation; a channel or
        neuron objective without an index takes each image's filter from `filters`.
      preprocess: RGB 0-255 -> model input, for models not from load_model.
      precision: "auto", "float32", "bfloat16" or "float16" compute; the image and the
        losses stay float32. "auto" takes bfloat16 where the hardware has it.
      batch_size: images per compiled batch (default: from a memory budget).
      strategy: a tf.distribute strategy that shards each batch over its replicas.
      progress: called as progress(image_steps_done, image_steps_total).

    Returns:
      (images, activations): uint8 (N, size, size, 3), and float32 (N,) the objective of
      each saved (uint8) image seen whole, without transforms.
    """
    filters = [filters] if isinstance(filters, int | np.integer) else [int(f) for f in filters]
    method_spec = _method(method, steps)
    if size < 8:
        raise KerasvizError(f"size must be at least 8 pixels; got {size}")
    layer = models.resolve_layer(model, layer)
    channels = int(models.feature_model(model, [layer]).outputs[0].shape[-1])
    bad = [f for f in filters if not 0 <= f < channels]
    if bad:
        raise KerasvizError(f"filter {bad[0]} out of range for {layer}: valid filters are 0-{channels - 1}")
    objective = objective or obj.channel(layer)
    strategy = strategy or tf.distribute.get_strategy()
    precision = resolve_precision(precision)
    replicas = strategy.num_replicas_in_sync
    batch = batch_size or _default_batch(size, len(filters), replicas)
    batch = -(-batch // replicas) * replicas  # whole shards per replica
    with models.model_errors(model, f"rendering {size} x {size} pictures of {layer}"):
        return _visualize(model, filters, size, batch, method_spec, objective, precision, preprocess, strategy,
                          seed, progress)


def _visualize(model, filters, size, batch, method_spec, objective, precision, preprocess, strategy, seed, progress):
    renderer = _renderer(model, objective, size, batch, method_spec, precision, preprocess, strategy)
    coarse = None
    if method_spec.coarse_fraction > 0 and size // 2 >= MIN_COARSE_SIZE and renderer.param.resize is not None:
        coarse = _renderer(model, objective, size // 2, batch, method_spec, precision, preprocess, strategy)

    images, scores = [], []
    total = len(filters) * method_spec.steps
    for start in range(0, len(filters), batch):
        chunk = filters[start : start + batch]
        padded = chunk + [chunk[-1]] * (batch - len(chunk))
        done_before, n = start * method_spec.steps, len(chunk)
        report = (lambda s, d=done_before, n=n: progress(d + n * s, total)) if progress else (lambda s: None)
        padded_images = renderer.optimize(padded, seed, method_spec.steps, report, coarse=coarse)
        images.append(padded_images[: len(chunk)])
        scores.append(renderer.score(padded_images, padded)[: len(chunk)])
    return np.concatenate(images), np.concatenate(scores)


def _method(name: str | None, steps: int | None) -> Method:
    name = name or DEFAULT_METHOD
    if name not in METHODS:
        raise KerasvizError(f"unknown method {name!r}; valid: {', '.join(METHODS)}")
    if steps is not None and steps < 1:
        raise KerasvizError(f"steps must be at least 1; got {steps}")
    spec = METHODS[name]
    return dataclasses.replace(spec, steps=steps) if steps else spec


def _default_batch(size: int, n: int, replicas: int) -> int:
    budget = ACCELERATOR_PIXEL_BUDGET if _accelerator() else CPU_PIXEL_BUDGET
    per_replica = max(1, budget // (size * size))
    return max(1, min(-(-n // replicas), per_replica)) * replicas


def _renderer(model, objective, size, batch, method, precision, preprocess, strategy) -> _Renderer:
    """One _Renderer per (objective layers, shape, method, precision, strategy), cached on the model."""
    cache = model.__dict__.setdefault("_kerasviz_renderers", {})
    method = dataclasses.replace(method, steps=0)  # the step count is a loop bound, not part of the graph
    key = (objective.description, objective.layers, objective.channel, size, batch, method, precision, preprocess,
           id(strategy))
    if key not in cache:
        cache[key] = _Renderer(model, objective, size, batch, method, precision, preprocess, strategy)
    return cache[key]


def _relu_layer(layer: keras.layers.Layer) -> bool:
    """True where the layer ends in a ReLU we can undo: a Conv2D with relu, or a ReLU layer."""
    if isinstance(layer, keras.layers.ReLU):  # not ReLU6 (MobileNet) nor leaky: those are kept as they are
        return not layer.max_value and not layer.negative_slope and not layer.threshold
    if isinstance(layer, keras.layers.Activation | keras.layers.Conv2D):
        return layer.get_config().get("activation") == "relu" and not isinstance(
            layer, keras.layers.DepthwiseConv2D | keras.layers.Conv2DTranspose
        )
    return False


class _Renderer:
    """A feature model and the compiled optimisation for one shape and method."""

    def __init__(self, model, objective, size, batch, method, precision, preprocess, strategy):
        self.method, self.size, self.batch, self.strategy = method, size, batch, strategy
        self.precision = precision
        self.objective = objective
        self.preprocess = models.preprocess_fn(model, preprocess)
        self.fixed = models.fixed_input_size(model)  # the picture is resized to it after the transforms
        self.grey = models.input_channels(model) == 1
        receptive_field = max(models.receptive_field(model, name, size) for name in objective.layers)
        self.param = method.parameterization(batch // strategy.num_replicas_in_sync, size, receptive_field)
        self.transform = method.transform(size) if method.transform else None
        self.loss_scale = 1024.0 if precision == "float16" else 1.0  # fp16 gradients underflow
        layers = [models.get_layer(model, name) for name in objective.layers]
        self.relu = [_relu_layer(layer) for layer in layers]
        # Outputs: a ReLU layer's input (to recompute its pre-activation), else its output.
        plain = [name for name, relu in zip(objective.layers, self.relu) if not relu]
        relu_names = [name for name, relu in zip(objective.layers, self.relu) if relu]
        flat = models.feature_model(model, plain, layer_inputs=relu_names)
        by_name = dict(zip(plain + relu_names, flat.outputs))
        features = keras.Model(flat.inputs[0], [by_name[name] for name in objective.layers])
        self.layers = layers
        self.exact = features  # float32, for scoring saved images
        policy = {"float32": None, "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}[precision]
        default_strategy = not tf.distribute.has_strategy() and strategy is tf.distribute.get_strategy()
        if policy is None and default_strategy:
            self.features = features
        else:
            with strategy.scope():
                self.features = _cast_model(features, policy or "float32")
        jit = _accelerator() is not None and os.environ.get("KERASVIZ_JIT", "1") != "0"
        # The one-channel objective convolution is measured faster on CPUs; on accelerators (a grouped
        # convolution of batch x channels groups) it has not been measured, so it is opt-in there.
        mode = os.environ.get("KERASVIZ_SINGLE_CHANNEL_CONV", "auto")
        self.single_channel_conv = mode == "1" or (mode == "auto" and _accelerator() is None)
        # Each renderer traces once. TensorFlow's retracing warning counts traces per code object,
        # so functions made from a method or a lambda here would add up the single traces of every
        # renderer (a warning after five layers); a partial has no code object of its own.
        self._segment = tf.function(functools.partial(_Renderer._segment_fn, self), jit_compile=jit)
        self._score = tf.function(functools.partial(_Renderer._score_fn, self))

    # -- the model side -----------------------------------------------------------------
    def _activations(self, feature_model, images01, indices):
        """{layer: (pre, post)} in float32 for images in 0-1.

        A ReLU layer's pre-activation is recomputed from its input in the model's compute type. For
        a single-channel objective (objectives.Channel), only each image's channel is kept, (B, ..., 1),
        so ReLU, border crop and best positions run on one channel instead of all of a large map; on
        a CPU a ReLU Conv2D then computes that channel alone (_single_channel_conv).
        """
        images = images01 * 255.0
        if self.fixed is not None and tuple(images.shape[1:3]) != self.fixed:
            images = tf.image.resize(images, self.fixed, method="bilinear", antialias=True)
        outputs = feature_model(self.preprocess(images))
        outputs = outputs if isinstance(outputs, list | tuple) else [outputs]
        narrow = self.objective.channel
        acts = {}
        for name, layer, relu, out in zip(self.objective.layers, self.layers, self.relu, outputs):
            bias = None
            narrowed = narrow is not None and narrow.layer == name
            if relu and isinstance(layer, keras.layers.Conv2D):
                bias = layer.bias if layer.use_bias else None
                if narrowed and self.single_channel_conv and _depthwise_ok(layer):
                    ids = narrow.ids(out, indices, layer.filters)
                    out = _single_channel_conv(layer, out, ids)
                    bias = None if bias is None else tf.reshape(tf.gather(bias, ids), [-1, 1, 1, 1])
                    narrowed = False
                else:
                    out = layer.convolution_op(out, tf.cast(layer.kernel, out.dtype))
            if narrowed:
                if bias is not None:
                    bias = tf.reshape(tf.gather(bias, narrow.ids(out, indices)), [-1] + [1] * (out.shape.rank - 1))
                out = narrow.select(out, indices)[..., None]
            pre = tf.cast(out, tf.float32)
            pre = pre + tf.cast(bias, tf.float32) if bias is not None else pre
            acts[name] = (pre, tf.nn.relu(pre) if relu else pre)
        return acts

    def _evaluate(self, acts, indices):
        """The objective of one kind of activations {layer: (B, ...)}, narrowed or not."""
        narrow = self.objective.channel
        if narrow is not None:
            return narrow.reduce(acts[narrow.layer][..., 0])
        return self.objective(acts, indices)

    @staticmethod
    def _without_border(acts):
        """Drops the outer 1/16 of each 4-D activation map (at least nothing, for small maps).

        Positions at the border see the model's zero padding; ascent there grows a frame
        around the picture (keras-io's recipe drops 2 px of border for the same reason).
        """
        cropped = {}
        for name, (pre, post) in acts.items():
            if pre.shape.rank == 4 and pre.shape[1] is not None and pre.shape[1] >= 16:
                m = pre.shape[1] // 16
                pre, post = pre[:, m:-m, m:-m], post[:, m:-m, m:-m]
            cropped[name] = (pre, post)
        return cropped

    def _objective(self, acts, indices):
        """Per image: the objective on post-ReLU activations; while it is still zero (a silent unit,
        which has no gradient), on the pre-ReLU response of its best 1/16 of positions, so ascent
        works where the unit is closest to firing rather than lifting its whole (very negative) map
        at once. A unit that fires is never pushed by its pre-ReLU map: lifting the positions where it
        is far below zero would spend the picture on a bland texture instead of the unit's pattern."""
        post = self._evaluate({name: post for name, (_, post) in acts.items()}, indices)
        silent = post <= 0.0
        # The best positions take a top-k over the map, so only in steps where some image is silent.
        best = tf.cond(
            tf.reduce_any(silent),
            lambda: self._evaluate({name: _best_positions(pre) for name, (pre, _) in acts.items()}, indices),
            lambda: tf.zeros_like(post),
        )
        return tf.where(silent, best, post)

    # -- one compiled segment of steps ------------------------------------------------------
    def _segment_fn(self, value, m, v, indices, seeds, start, count):

        def body(i, value, m, v, scores):
            step = start + i
            with tf.GradientTape() as tape:
                tape.watch(value)
                image = self.param.to_image(value)
                if self.transform is not None:
                    step_seeds = seeds + tf.stack([tf.zeros_like(step), 7919 * (step + 1)])
                    image = self.transform(image, step_seeds)
                acts = self._without_border(self._activations(self.features, image, indices))
                scores = self._objective(acts, indices)
                loss = tf.reduce_sum(scores) * self.loss_scale
            grad = tape.gradient(loss, value) / self.loss_scale
            grad = tf.where(tf.math.is_finite(grad), grad, tf.zeros_like(grad))
            value, m, v = self._update(value, m, v, grad, tf.cast(step + 1, tf.float32))
            return i + 1, value, m, v, scores

        scores = tf.zeros([tf.shape(indices)[0]], tf.float32)
        _, value, m, v, scores = tf.while_loop(
            lambda i, *_: i < count, body, (tf.constant(0), value, m, v, scores)
        )
        return value, m, v, scores

    def _update(self, value, m, v, grad, t):
        method = self.method
        if method.update == "normalized":
            axes = tuple(range(1, grad.shape.rank))
            rms = tf.sqrt(tf.reduce_mean(tf.square(grad), axis=axes, keepdims=True))
            value = value + method.learning_rate * grad / (rms + 1e-5)
            if method.l2_decay:
                value = 0.5 + (value - 0.5) * (1.0 - method.l2_decay)
            if method.blur_every:
                value = tf.cond(
                    tf.equal(tf.math.floormod(tf.cast(t, tf.int32), method.blur_every), 0),
                    lambda: _gaussian_blur(value, method.blur_sigma),
                    lambda: value,
                )
            return value, m, v
        b1, b2 = ADAM_BETAS
        m = b1 * m + (1 - b1) * grad
        v = b2 * v + (1 - b2) * tf.square(grad)
        m_hat = m / (1 - b1**t)
        v_hat = v / (1 - b2**t)
        return value + method.learning_rate * m_hat / (tf.sqrt(v_hat) + ADAM_EPSILON), m, v

    # -- driving the loop ---------------------------------------------------------------
    def optimize(
        self, filters: list[int], seed: int, steps: int, report: Progress1, *, coarse: _Renderer | None = None
    ) -> np.ndarray:
        """Optimises one padded batch for `steps` steps; returns uint8 (batch, size, size, 3).

        With a `coarse` renderer (the same method at a smaller size), the first `coarse_fraction`
        of the steps run there; the picture and Adam's moments then move to this size
        (param.resize) and the steps go on, so the schedule (revival, transforms) is unchanged.
        """
        indices = np.asarray(filters, np.int32)
        seeds = np.stack([np.full_like(indices, seed), indices], axis=1).astype(np.int32)
        replicas = self.strategy.num_replicas_in_sync
        shard = lambda array: self._distribute(np.split(array, replicas))  # noqa: E731
        indices_d, seeds_d = shard(indices), shard(seeds)
        switch = min(round(steps * self.method.coarse_fraction), steps - 1) if coarse is not None else 0
        first = coarse if switch else self
        state = first._run(functools.partial(self._init_state, first.param.init), seeds_d)
        done = 0
        while done < steps:
            renderer = coarse if done < switch else self
            if done == switch and switch:
                state = self._run(functools.partial(self._enlarge, coarse.param.resize, self.size), *state[:3])
            count = min(SEGMENT_STEPS, (switch if done < switch else steps) - done)
            state = renderer._run(
                renderer._segment, *state[:3], indices_d, seeds_d, tf.constant(done), tf.constant(count)
            )
            done += count
            report(done)
        value = self._gather(state[0])
        return _to_uint8(self._final_image(value))

    @staticmethod
    def _enlarge(resize, size, value, m, v):
        # New (higher) frequencies start with zero moments while Adam's step count goes on; their
        # bias-corrected steps stay within about 0.6-1.4x of the rate, so no separate count is kept.
        return resize(value, size, 1), resize(m, size, -1), resize(v, size, -2)

    @staticmethod
    def _init_state(init, seeds):
        value = init(seeds)
        return value, tf.zeros_like(value), tf.zeros_like(value), tf.zeros([tf.shape(seeds)[0]])

    def _run(self, fn, *args):
        if self.strategy.num_replicas_in_sync == 1 and not tf.distribute.has_strategy():
            return fn(*[a[0] if isinstance(a, _Shards) else a for a in args])
        args = [a.values if isinstance(a, _Shards) else a for a in args]
        return self.strategy.run(fn, args=tuple(args))

    def _distribute(self, shards: list[np.ndarray]):
        if self.strategy.num_replicas_in_sync == 1:
            return _Shards([tf.constant(shards[0])], None)
        values = self.strategy.experimental_distribute_values_from_function(
            lambda ctx: tf.constant(shards[ctx.replica_id_in_sync_group])
        )
        return _Shards([values], values)

    def _gather(self, value):
        if self.strategy.num_replicas_in_sync == 1:
            return value
        return tf.concat(self.strategy.experimental_local_results(value), axis=0)

    def _final_image(self, value) -> np.ndarray:
        image = self.param.to_image(value)
        if self.method.contrast_normalize:  # the seed's deprocess_image
            axes = (1, 2, 3)
            image = image - tf.reduce_mean(image, axis=axes, keepdims=True)
            image = image / (tf.math.reduce_std(image, axis=axes, keepdims=True) + 1e-5) * 0.1 + 0.5
        if self.grey:  # the model sees the luma only: the picture is that grey
            image = tf.tile(models.adapt_channels(image, 1), [1, 1, 1, 3])
        return tf.clip_by_value(image, 0.0, 1.0).numpy()

    # -- scoring saved images -----------------------------------------------------------
    def _score_fn(self, images01, indices):
        acts = self._activations(self.exact, images01, indices)
        return self._evaluate({name: post for name, (_, post) in acts.items()}, indices)

    def score(self, images: np.ndarray, filters: list[int]) -> np.ndarray:
        """The objective of uint8 images seen whole (no transform), float32 (N,)."""
        return self._score(tf.constant(images, tf.float32) / 255.0, tf.constant(filters, tf.int32)).numpy()


@dataclasses.dataclass
class _Shards:
    """Per-replica values: `values` is what strategy.run takes; [0] the single-device tensor."""

    items: list
    values: object

    def __getitem__(self, i):
        return self.items[i]


def _depthwise_ok(layer: keras.layers.Conv2D) -> bool:
    """Whether _single_channel_conv can stand in for this layer's convolution."""
    return (type(layer) is keras.layers.Conv2D and layer.groups == 1 and layer.data_format == "channels_last"
            and layer.padding in ("same", "valid") and layer.strides[0] == layer.strides[1])


def _single_channel_conv(layer: keras.layers.Conv2D, x: tf.Tensor, ids: tf.Tensor) -> tf.Tensor:
    """Layer's convolution (no bias) of image b of x (B, H, W, C) with its output channel ids[b] only:
    float32 (B, H', W', 1).

    The batch is folded into the channels and each image's kernel slice applied by one depthwise
    convolution, then summed over input channels: 1/filters of the full layer's work, forward and
    backward, instead of computing every channel and keeping one.
    """
    kernel = tf.cast(tf.gather(layer.kernel, ids, axis=3), x.dtype)  # (kh, kw, C, B)
    kh, kw, c = kernel.shape[0], kernel.shape[1], kernel.shape[2]
    batch = tf.shape(x)[0]
    kernel = tf.reshape(tf.transpose(kernel, (0, 1, 3, 2)), [kh, kw, -1, 1])  # (kh, kw, B*C, 1), image-major
    folded = tf.transpose(x, (1, 2, 0, 3))  # (H, W, B, C)
    folded = tf.reshape(folded, tf.concat([[1], tf.shape(folded)[:2], [-1]], 0))  # (1, H, W, B*C)
    stride = layer.strides[0]
    y = tf.nn.depthwise_conv2d(folded, kernel, [1, stride, stride, 1], layer.padding.upper(),
                               dilations=layer.dilation_rate)
    y = tf.reshape(y, tf.concat([tf.shape(y)[1:3], [batch, c]], 0))
    total = tf.reduce_sum(tf.cast(y, tf.float32), axis=-1)  # accumulate as a convolution does
    return tf.transpose(total, (2, 0, 1))[..., None]


def _best_positions(acts: tf.Tensor, fraction: int = 16) -> tf.Tensor:
    """(B, H, W, C) -> (B, 1, 1, C): each channel's mean over its top H*W/fraction positions."""
    if acts.shape.rank != 4:
        return acts
    shape = tf.shape(acts)
    positions = shape[1] * shape[2]
    flat = tf.transpose(tf.reshape(acts, [shape[0], positions, shape[3]]), [0, 2, 1])
    top = tf.math.top_k(flat, k=tf.maximum(1, positions // fraction)).values
    return tf.reduce_mean(top, axis=-1)[:, None, None, :]


def _to_uint8(images01: np.ndarray) -> np.ndarray:
    return np.clip(np.round(images01 * 255.0), 0, 255).astype(np.uint8)


def _gaussian_blur(images: tf.Tensor, sigma: float) -> tf.Tensor:
    radius = max(1, int(round(3 * sigma)))
    x = tf.range(-radius, radius + 1, dtype=tf.float32)
    kernel = tf.exp(-0.5 * tf.square(x / sigma))
    kernel = kernel / tf.reduce_sum(kernel)
    k2 = tf.tensordot(kernel, kernel, axes=0)[:, :, None, None] * tf.eye(3)[None, None]
    padded = tf.pad(images, [[0, 0], [radius, radius], [radius, radius], [0, 0]], mode="REFLECT")
    return tf.nn.conv2d(padded, k2, strides=1, padding="VALID")
