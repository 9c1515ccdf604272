"""The optimisation loop: one compiled run of steps, batched over filters; returns arrays.

Every filter of a layer goes through the same compiled function: filter indices and seeds
are tensors, batches are padded to one shape, and the update rule's state (optim) is plain
tensors carried through a keras.ops while loop, so a new filter, chunk or call never retraces and
the same code runs on every Keras backend, and per replica under any `tf.distribute` strategy on
TensorFlow (replicas). What is ascended
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
from keras import ops

from kerasviz import backend, io, models
from kerasviz.errors import KerasvizError
from kerasviz.models.precision import accelerator as _accelerator
from kerasviz.models.precision import cast_model as _cast_model
from kerasviz.models.precision import loss_scale, resolve_precision, take_weights
from kerasviz.optvis import activations, engine, optim
from kerasviz.optvis import objectives as obj
from kerasviz.optvis import replicas as replicas_lib
from kerasviz.optvis.methods import (  # noqa: F401  (the methods are read here too)
    DEFAULT_METHOD,
    FFT_CHROMA_POWER,
    FFT_LEARNING_RATE,
    MACO_LEARNING_RATE,
    METHODS,
    FilterOptions,
    Method,
)
from kerasviz.optvis.replicas import Replicas

log = logging.getLogger("kerasviz")

ProgressFn = Callable[[int, int], None]  # (image-steps done, image-steps in all)
BatchProgressFn = Callable[[int], None]  # steps done in one batch


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
    options: FilterOptions | None = None,
    objective: obj.Objective | None = None,
    preprocess: Callable | None = None,
    strategy=None,
    progress: ProgressFn | None = None,
    callback: Callable[[int, np.ndarray, np.ndarray], None] | None = None,
    **overrides,
) -> tuple[np.ndarray, np.ndarray]:
    """The input each filter responds to most, by gradient ascent in input space.

    Args:
      model: a Keras model; models from load_model bring their own preprocessing.
      layer: the name of the layer whose channels (filters) to visualise.
      filters: channel indices of `layer`.
      options: a FilterOptions; `overrides` (any of its fields) replace its values: `size` (the side of
        the square images, pixels), `steps` (default: the method's), `method` ("fft", the default: a
        Fourier image whose spectrum suits the layer's receptive field, decorrelated colour,
        transformation robustness; "maco": Fourier phase only, magnitude fixed to photos' spectrum;
        "fft_progressive": fft with the first half of its steps at half size, plain fft below
        2 * MIN_COARSE_SIZE pixels; "fft_roll": fft rolled over its whole side at every step, saved
        centred on its unit's strongest response; "classic": normalised-gradient ascent in pixel
        space, Chollet 2016), `seed` (the same seed gives the same images), `precision` ("auto",
        "float32", "bfloat16" or "float16" compute; the image and the losses stay float32; "auto"
        takes bfloat16 where the hardware has it and it is faster: not on JAX's CPU path), `batch_size`
        (images per compiled batch; default from a memory budget).
      objective: what to maximise instead of each filter's mean activation; a channel or
        neuron objective without an index takes each image's filter from `filters`.
      preprocess: RGB 0-255 -> model input, for models not from load_model.
      strategy: a tf.distribute strategy that shards each batch over its replicas (TensorFlow only).
      progress: called as progress(image_steps_done, image_steps_total).
      callback: called after each compiled call of STEPS_PER_CALL steps as callback(steps_done, pictures,
        scores): each batch's uint8 pictures as they stand (at the coarse size while progressive
        resolution runs there) and their objective seen whole; it costs a forward pass per call.

    Returns:
      (images, activations): uint8 (N, size, size, 3), and float32 (N,) the objective of
      each saved (uint8) image seen whole, without transforms.
    """
    options = FilterOptions.create(options, **overrides)
    filters = [filters] if isinstance(filters, int | np.integer) else [int(f) for f in filters]
    method_spec = _method(options.method, options.steps)
    layer = models.resolve_layer(model, layer)
    shape = tuple(models.feature_model(model, [layer]).outputs[0].shape)
    if len(shape) < 2 or shape[-1] is None:
        raise KerasvizError(
            f"layer {layer!r} has output shape {shape}, with no channel axis to pick filters from; "
            "name a layer whose output is (N, ..., C): a convolution, or a Dense on tokens"
        )
    channels = int(shape[-1])
    bad = [f for f in filters if not 0 <= f < channels]
    if bad:
        raise KerasvizError(f"filter {bad[0]} out of range for {layer}: valid filters are 0-{channels - 1}")
    strategy = replicas_lib.resolve(strategy)
    replicas = replicas_lib.count(strategy)
    batch = options.batch_size or _default_batch(options.size, len(filters), replicas)
    run = _Run(model, objective or obj.channel(layer), -(-batch // replicas) * replicas,  # whole shards per replica
               dataclasses.replace(method_spec, steps=0), resolve_precision(options.precision), preprocess, strategy)
    with models.model_errors(model, f"rendering {options.size} x {options.size} pictures of {layer}"):
        return _visualize(run, filters, options.size, method_spec.steps, options.seed, progress, callback)


def traces(model: keras.Model) -> int:
    """How many times the compiled loops kept for `model` have been traced, in all: one per size, batch
    and precision; a new filter, seed or step count adds none (benchmarks/speed.py prints it)."""
    return sum(backend.trace_count(r._run_steps) for r in models.model_cache(model, "renderers").values())


@dataclasses.dataclass(frozen=True)
class _Run:
    """What every renderer of one visualize_filters call shares; the step count is a loop bound, not part
    of the graph, so the method is kept with steps=0."""

    model: keras.Model
    objective: obj.Objective
    batch: int
    method: Method
    precision: str
    preprocess: Callable | None
    strategy: object  # a tf.distribute strategy, or None (JAX, PyTorch)

    def renderer(self, size: int) -> _Renderer:
        """One _Renderer per (objective layers, shape, method, precision, strategy), cached beside the model."""
        cache = models.model_cache(self.model, "renderers")
        key = (self.objective.description, self.objective.layers, self.objective.channel, size, self.batch,
               self.method, self.precision, self.preprocess, id(self.strategy))
        if key not in cache:
            cache[key] = _Renderer(self, size)
        else:
            cache[key].take_weights()
        return cache[key]


def _visualize(run: _Run, filters: list[int], size: int, steps: int, seed: int, progress, callback) -> tuple:
    renderer, batch = run.renderer(size), run.batch
    coarse = None
    if run.method.coarse_fraction > 0 and size // 2 >= MIN_COARSE_SIZE and renderer.param.resize is not None:
        coarse = run.renderer(size // 2)

    images, scores = [], []
    total = len(filters) * steps
    for start in range(0, len(filters), batch):
        chunk = filters[start : start + batch]
        padded = chunk + [chunk[-1]] * (batch - len(chunk))
        done_before, n = start * steps, len(chunk)
        report = (lambda s, d=done_before, n=n: progress(d + n * s, total)) if progress else (lambda s: None)
        padded_images = renderer.optimize(padded, seed, steps, report, coarse=coarse, callback=callback)
        images.append(padded_images[: len(chunk)])
        scores.append(renderer.score(padded_images, padded)[: len(chunk)])
    return np.concatenate(images), np.concatenate(scores)


def _method(name: str | None, steps: int | None) -> Method:
    name = name or DEFAULT_METHOD
    if name not in METHODS:
        raise KerasvizError(f"unknown method {name!r}; valid: {', '.join(METHODS)}")
    spec = METHODS[name]
    return dataclasses.replace(spec, steps=steps) if steps else spec


def _default_batch(size: int, n: int, replicas: int) -> int:
    budget = ACCELERATOR_PIXEL_BUDGET if _accelerator() else CPU_PIXEL_BUDGET
    per_replica = max(1, budget // (size * size))
    return max(1, min(-(-n // replicas), per_replica)) * replicas


class _Renderer:
    """A feature model, an update rule and the compiled ascent for one shape and method."""

    def __init__(self, run: _Run, size: int):
        model, objective, method, precision, strategy = (run.model, run.objective, run.method, run.precision,
                                                         run.strategy)
        self.method, self.size, self.batch, self.precision = method, size, run.batch, precision
        self.replicas = Replicas(strategy)
        self.grey = models.input_channels(model) == 1
        receptive_field = max(models.receptive_field(model, name, size) for name in objective.layers)
        self.param = method.parameterization(run.batch // self.replicas.count, size, receptive_field)
        self.transform = method.transform(size) if method.transform else None
        self.rule = optim.RULES[method.update](method.learning_rate)
        self.loss_scale = loss_scale(precision)
        # The one-channel objective convolution is measured faster on CPUs; on accelerators (a grouped
        # convolution of batch x channels groups) it has not been measured, so it is opt-in there.
        mode = os.environ.get("KERASVIZ_SINGLE_CHANNEL_CONV", "auto")
        self.single_channel_conv = mode == "1" or (mode == "auto" and _accelerator() is None)
        self.objective = activations.ObjectiveModel(model, objective, run.preprocess, self.single_channel_conv)
        self.features = _compute_model(self.objective.features, precision, strategy)
        jit = _accelerator() is not None and os.environ.get("KERASVIZ_JIT", "1") != "0"
        # Each renderer traces once. TensorFlow's retracing warning counts traces per code object,
        # so functions made from a method or a lambda here would add up the single traces of every
        # renderer (a warning after five layers); a partial has no code object of its own.
        weights = [model, self.features]  # read at each call (JAX passes them in; see backend.compile_step)
        self._run_steps = backend.compile_step(functools.partial(_Renderer._run_steps_fn, self), jit_compile=jit,
                                               weights=weights)
        self._score = backend.compile_step(functools.partial(_Renderer._score_fn, self), weights=weights)

    def take_weights(self):
        """A kept renderer's reduced-precision (or per-replica) copy of the features takes the model's current
        weights, so a picture drawn after they change is of the new ones."""
        if self.features is not self.objective.features:
            take_weights(self.features, self.objective.features)

    def _run_steps_fn(self, value, state, indices, seeds, start, count):
        """Steps start ... start + count - 1 of ascent on one replica's images: (value, the update
        rule's state, the objective (B,) at the last step)."""

        def loss(value, step):
            image = self.param.to_image(value)
            if self.transform is not None:
                step_seeds = seeds + ops.stack([ops.zeros_like(step), 7919 * (step + 1)])
                image = self.transform(image, step_seeds)
            scores = self.objective.ascent(self.features, image, indices)
            return ops.sum(scores), scores

        def body(i, value, state, scores):
            value, state, _, scores = engine.step(loss, self.rule, value, state, start + i,
                                                  loss_scale=self.loss_scale)
            return i + 1, value, state, scores

        scores = ops.zeros((indices.shape[0],), "float32")
        _, value, state, scores = ops.while_loop(
            lambda i, *_: i < count, body, (ops.convert_to_tensor(0, "int32"), value, state, scores)
        )
        return value, state, scores

    def optimize(self, filters: list[int], seed: int, steps: int, report: BatchProgressFn, *,
                 coarse: _Renderer | None = None, callback: Callable | None = None) -> np.ndarray:
        """Optimises one padded batch for `steps` steps; returns uint8 (batch, size, size, 3).

        With a `coarse` renderer (the same method at a smaller size), the first `coarse_fraction`
        of the steps run there (see _ascent). `callback` as in visualize_filters.
        """
        last = None
        for last in _ascent(self, filters, seed, steps, coarse):
            report(last[0])
            if callback is not None:
                done, current, value = last
                pictures = current.picture(value)
                callback(done, pictures, current.score(pictures, filters))
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

    def picture(self, value) -> np.ndarray:
        """The uint8 (batch, size, size, 3) picture of a value this renderer's ascent gave."""
        return io.to_uint8(_final_image(self.param.to_image(self.replicas.gather(value)),
                                      self.method.contrast_normalize, self.grey))

    def _score_fn(self, images01, indices):
        return self.objective.score(self.objective.features, images01, indices)

    def score(self, images: np.ndarray, filters: list[int]) -> np.ndarray:
        """The objective of uint8 images seen whole (no transform), float32 (N,)."""
        images01 = ops.convert_to_tensor(np.asarray(images, np.float32)) / 255.0
        return ops.convert_to_numpy(self._score(images01, ops.convert_to_tensor(np.asarray(filters, np.int32))))


def _compute_model(features: keras.Model, precision: str, strategy) -> keras.Model:
    """`features`, or a copy computing in `precision` (mixed, float32 variables) in `strategy`'s scope."""
    policy = {"float32": None, "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}[precision]
    if policy is None and replicas_lib.is_default(strategy):
        return features
    with replicas_lib.scope(strategy):
        return _cast_model(features, policy or "float32")


def _ascent(renderer: _Renderer, filters: list[int], seed: int, steps: int,
            coarse: _Renderer | None = None) -> Iterator[tuple[int, _Renderer, object]]:
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
        bounds = ops.convert_to_tensor(done, "int32"), ops.convert_to_tensor(count, "int32")
        value, state, _ = current.replicas.run(current._run_steps, value, state, indices_d, seeds_d, *bounds)
        done += count
        yield done, current, value


def _start(init: Callable, rule: optim.UpdateRule, seeds) -> tuple:
    """The first value for per-image seeds (B, 2), and the update rule's state for it."""
    value = init(seeds)
    return value, rule.init(value)


def _enlarge(resize: Callable, size: int, rule: optim.UpdateRule, value, state: tuple):
    """The value and the update rule's state of the same picture at `size` pixels."""
    return resize(value, size, 1), rule.resize(state, lambda tensor, power: resize(tensor, size, power))


def _final_image(image, contrast_normalize: bool, grey: bool) -> np.ndarray:
    """The picture in 0-1 (B, H, W, 3) as saved: Chollet 2016's contrast normalisation where asked,
    the luma alone for a one-channel model, clipped."""
    if contrast_normalize:  # Chollet 2016's deprocess_image
        axes = (1, 2, 3)
        image = image - ops.mean(image, axis=axes, keepdims=True)
        image = image / (ops.std(image, axis=axes, keepdims=True) + 1e-5) * 0.1 + 0.5
    if grey:  # the model sees the luma only: the picture is that grey
        image = ops.tile(models.adapt_channels(image, 1), [1, 1, 1, 3])
    return ops.convert_to_numpy(ops.clip(image, 0.0, 1.0))
