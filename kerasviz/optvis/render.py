"""The optimisation loop: one compiled run of steps, batched over filters; returns arrays.

Every filter of a layer goes through the same compiled function: filter indices and seeds
are tensors, batches are padded to one shape, and the update rule's state (optim) is plain
tensors carried through a `tf.while_loop`, so a new filter, chunk or call never retraces and
the same code runs per replica under any `tf.distribute` strategy (replicas). What is ascended
is the objective on the model's activations (activations). Nothing here saves or shows.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
from collections.abc import Callable, Iterator, Sequence

import keras
import numpy as np
import tensorflow as tf

from kerasviz import backend, models
from kerasviz.errors import KerasvizError
from kerasviz.models.precision import accelerator as _accelerator
from kerasviz.models.precision import cast_model as _cast_model
from kerasviz.models.precision import loss_scale, resolve_precision
from kerasviz.optvis import activations, engine, optim, param, transforms
from kerasviz.optvis import objectives as obj
from kerasviz.optvis.replicas import Replicas

log = logging.getLogger("kerasviz")

ProgressFn = Callable[[int, int], None]  # (image-steps done, image-steps in all)
BatchProgressFn = Callable[[int], None]  # steps done in one batch


@dataclasses.dataclass(frozen=True)
class Method:
    """One way to visualise a filter: parameterisation, transforms, update rule and schedule."""

    name: str
    steps: int
    learning_rate: float
    update: str  # a rule of optim.RULES: "adam", or "normalized" (gradient divided by its RMS, Chollet 2016)
    # (batch, size, receptive field of the objective's layer in pixels) -> param
    parameterization: Callable[[int, int, int], param.Parameterization]
    transform: Callable[[int], transforms.Transform] | None  # size -> transform
    contrast_normalize: bool = False  # Chollet 2016's deprocessing: zero mean, std 0.1, centred on grey
    coarse_fraction: float = 0.0  # share of the steps run at half size first (progressive resolution)
    # Rolls per axis tried on the finished (periodic) picture: the one whose objective, seen whole,
    # is highest is saved (0: none). For pictures rolled during ascent, whose unit can be anywhere.
    recentre: int = 0


FFT_LEARNING_RATE = 0.1  # Adam step on the Fourier coefficients: twice lucid's 0.05 (benchmarks/filters.py)
FFT_CHROMA_POWER = 0.25  # colour axes at the fourth root of photos' chroma spread (param.color_correlation)
MACO_LEARNING_RATE = 0.2  # radians of phase per Adam step
METHODS: dict[str, Method] = {
    # Chollet 2016, "How convolutional neural networks see the world" (the classic recipe):
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
    # Adam under transformation robustness; the spectrum flattens below the unit's receptive
    # field and chroma moves more freely than photos' (benchmarks/filters.py measured both).
    "fft": Method(
        name="fft",
        steps=48,
        learning_rate=FFT_LEARNING_RATE,
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
# fft with the picture rolled by a random offset over its whole side before each step's warp, so no
# part of it stays near the view's edge; the finished picture is saved rolled by the offset, of a
# 4 x 4 grid, at which its unit responds most. Opt-in: on 8 filters of each VGG16 layer it scored
# alike to fft (response, border, rank; docs/benchmarks.md, "A picture rolled over its whole side")
# at 16 extra forward passes a picture.
METHODS["fft_roll"] = dataclasses.replace(
    METHODS["fft"], name="fft_roll", transform=functools.partial(transforms.standard, rolled=True), recentre=4)
DEFAULT_METHOD = "fft"

# Images per compiled batch: a memory budget in input pixels (16 images of 128 x 128 on a
# CPU, about 1 GB of VGG16 activations with their gradients; 8x that on an accelerator).
CPU_PIXEL_BUDGET = 16 * 128 * 128
ACCELERATOR_PIXEL_BUDGET = 8 * CPU_PIXEL_BUDGET
STEPS_PER_CALL = 8  # steps per compiled call, between progress reports
MIN_COARSE_SIZE = 32  # progressive resolution only where the half-size picture has at least this side


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
    progress: ProgressFn | None = None,
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
        half size; plain fft below 2 * MIN_COARSE_SIZE pixels), "fft_roll" (fft with the picture
        rolled over its whole side at every step, saved centred on its unit's strongest response)
        or "classic" (normalised-gradient ascent in pixel space, Chollet 2016).
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
    cache = models.model_cache(model, "renderers")
    method = dataclasses.replace(method, steps=0)  # the step count is a loop bound, not part of the graph
    key = (objective.description, objective.layers, objective.channel, size, batch, method, precision, preprocess,
           id(strategy))
    if key not in cache:
        cache[key] = _Renderer(model, objective, size, batch, method, precision, preprocess, strategy)
    return cache[key]




class _Renderer:
    """A feature model, an update rule and the compiled ascent for one shape and method."""

    def __init__(self, model, objective, size, batch, method, precision, preprocess, strategy):
        self.method, self.size, self.batch, self.precision = method, size, batch, precision
        self.replicas = Replicas(strategy)
        self.grey = models.input_channels(model) == 1
        receptive_field = max(models.receptive_field(model, name, size) for name in objective.layers)
        self.param = method.parameterization(batch // strategy.num_replicas_in_sync, size, receptive_field)
        self.transform = method.transform(size) if method.transform else None
        self.rule = optim.RULES[method.update](method.learning_rate)
        self.loss_scale = loss_scale(precision)
        # The one-channel objective convolution is measured faster on CPUs; on accelerators (a grouped
        # convolution of batch x channels groups) it has not been measured, so it is opt-in there.
        mode = os.environ.get("KERASVIZ_SINGLE_CHANNEL_CONV", "auto")
        self.single_channel_conv = mode == "1" or (mode == "auto" and _accelerator() is None)
        self.objective = activations.ObjectiveModel(model, objective, preprocess, self.single_channel_conv)
        self.features = _compute_model(self.objective.features, precision, strategy)
        jit = _accelerator() is not None and os.environ.get("KERASVIZ_JIT", "1") != "0"
        # Each renderer traces once. TensorFlow's retracing warning counts traces per code object,
        # so functions made from a method or a lambda here would add up the single traces of every
        # renderer (a warning after five layers); a partial has no code object of its own.
        self._run_steps = backend.compile_step(functools.partial(_Renderer._run_steps_fn, self), jit_compile=jit)
        self._score = backend.compile_step(functools.partial(_Renderer._score_fn, self))

    def _run_steps_fn(self, value, state, indices, seeds, start, count):
        """Steps start ... start + count - 1 of ascent on one replica's images: (value, the update
        rule's state, the objective (B,) at the last step)."""

        def loss(value, step):
            image = self.param.to_image(value)
            if self.transform is not None:
                step_seeds = seeds + tf.stack([tf.zeros_like(step), 7919 * (step + 1)])
                image = self.transform(image, step_seeds)
            scores = self.objective.ascent(self.features, image, indices)
            return tf.reduce_sum(scores), scores

        def body(i, value, state, scores):
            value, state, _, scores = engine.step(loss, self.rule, value, state, start + i,
                                                  loss_scale=self.loss_scale)
            return i + 1, value, state, scores

        scores = tf.zeros([tf.shape(indices)[0]], tf.float32)
        _, value, state, scores = tf.while_loop(
            lambda i, *_: i < count, body, (tf.constant(0), value, state, scores)
        )
        return value, state, scores

    def optimize(self, filters: list[int], seed: int, steps: int, report: BatchProgressFn, *,
                 coarse: _Renderer | None = None) -> np.ndarray:
        """Optimises one padded batch for `steps` steps; returns uint8 (batch, size, size, 3).

        With a `coarse` renderer (the same method at a smaller size), the first `coarse_fraction`
        of the steps run there (see _ascent).
        """
        last = None
        for last in _ascent(self, filters, seed, steps, coarse):
            report(last[0])
        pictures = self.picture(last[2])
        return self._recentred(pictures, filters) if self.method.recentre else pictures

    def _recentred(self, pictures: np.ndarray, filters: list[int]) -> np.ndarray:
        """Each periodic picture rolled by the offset, of a `recentre` x `recentre` grid, whose
        objective seen whole is highest (the first offset, none, where they tie)."""
        k = self.method.recentre
        offsets = [(dy * self.size // k, dx * self.size // k) for dy in range(k) for dx in range(k)]
        scores = np.stack([self.score(np.roll(pictures, offset, axis=(1, 2)), filters) for offset in offsets])
        best = scores.argmax(axis=0)
        return np.stack([np.roll(picture, offsets[b], axis=(0, 1)) for picture, b in zip(pictures, best)])

    def picture(self, value: tf.Tensor) -> np.ndarray:
        """The uint8 (batch, size, size, 3) picture of a value this renderer's ascent gave."""
        return _to_uint8(_final_image(self.param.to_image(self.replicas.gather(value)),
                                      self.method.contrast_normalize, self.grey))

    def _score_fn(self, images01, indices):
        return self.objective.score(self.objective.features, images01, indices)

    def score(self, images: np.ndarray, filters: list[int]) -> np.ndarray:
        """The objective of uint8 images seen whole (no transform), float32 (N,)."""
        return self._score(tf.constant(images, tf.float32) / 255.0, tf.constant(filters, tf.int32)).numpy()


def _compute_model(features: keras.Model, precision: str, strategy: tf.distribute.Strategy) -> keras.Model:
    """`features`, or a copy computing in `precision` (mixed, float32 variables) in `strategy`'s scope."""
    policy = {"float32": None, "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}[precision]
    default_strategy = not tf.distribute.has_strategy() and strategy is tf.distribute.get_strategy()
    if policy is None and default_strategy:
        return features
    with strategy.scope():
        return _cast_model(features, policy or "float32")


def _ascent(renderer: _Renderer, filters: list[int], seed: int, steps: int,
            coarse: _Renderer | None = None) -> Iterator[tuple[int, _Renderer, tf.Tensor]]:
    """Runs the ascent of one padded batch in calls of at most STEPS_PER_CALL steps; after each
    call yields (steps done, the renderer whose parameterisation the value is in, the value).

    With a `coarse` renderer, the first `coarse_fraction` of the steps run at its size; the value
    and the update rule's state then move to the renderer's size (param.resize) and the steps go
    on, so the schedule (revival, transforms, Adam's step count) is unchanged.
    """
    indices = np.asarray(filters, np.int32)
    seeds = np.stack([np.full_like(indices, seed), indices], axis=1).astype(np.int32)
    shards = renderer.replicas
    indices_d, seeds_d = shards.shard(indices), shards.shard(seeds)
    switch = min(round(steps * renderer.method.coarse_fraction), steps - 1) if coarse is not None else 0
    current = coarse if switch else renderer
    value, state = current.replicas.run(functools.partial(_start, current.param.init, current.rule), seeds_d)
    done = 0
    while done < steps:
        if done == switch and switch:
            enlarge = functools.partial(_enlarge, coarse.param.resize, renderer.size, renderer.rule)
            value, state = shards.run(enlarge, value, state)
            current = renderer
        count = min(STEPS_PER_CALL, (switch if done < switch else steps) - done)
        value, state, _ = current.replicas.run(current._run_steps, value, state, indices_d, seeds_d,
                                               tf.constant(done), tf.constant(count))
        done += count
        yield done, current, value


def _start(init: Callable, rule: optim.UpdateRule, seeds: tf.Tensor) -> tuple[tf.Tensor, tuple]:
    """The first value for per-image seeds (B, 2), and the update rule's state for it."""
    value = init(seeds)
    return value, rule.init(value)


def _enlarge(resize: Callable, size: int, rule: optim.UpdateRule, value: tf.Tensor, state: tuple):
    """The value and the update rule's state of the same picture at `size` pixels."""
    return resize(value, size, 1), rule.resize(state, lambda tensor, power: resize(tensor, size, power))


def _final_image(image: tf.Tensor, contrast_normalize: bool, grey: bool) -> np.ndarray:
    """The picture in 0-1 (B, H, W, 3) as saved: Chollet 2016's contrast normalisation where asked,
    the luma alone for a one-channel model, clipped."""
    if contrast_normalize:  # Chollet 2016's deprocess_image
        axes = (1, 2, 3)
        image = image - tf.reduce_mean(image, axis=axes, keepdims=True)
        image = image / (tf.math.reduce_std(image, axis=axes, keepdims=True) + 1e-5) * 0.1 + 0.5
    if grey:  # the model sees the luma only: the picture is that grey
        image = tf.tile(models.adapt_channels(image, 1), [1, 1, 1, 3])
    return tf.clip_by_value(image, 0.0, 1.0).numpy()


def _to_uint8(images01: np.ndarray) -> np.ndarray:
    return np.clip(np.round(images01 * 255.0), 0, 255).astype(np.uint8)
