"""An objective evaluated on a model's activations, as the filter pictures' ascent needs it.

A layer that ends in a ReLU is read before its ReLU, so a unit that is silent everywhere (zero,
no gradient) can still be pushed towards firing (`ObjectiveModel.ascent`). A single-channel
objective (objectives.Channel) works on each image's own channel alone; on a ReLU Conv2D that
channel can be computed alone too (`single_channel_conv`).
"""

from __future__ import annotations

from collections.abc import Callable

import keras
from keras import ops

from kerasviz import models
from kerasviz.optvis import objectives as obj

Tensor = object  # a tensor of the Keras backend
Activations = dict[str, tuple[Tensor, Tensor]]  # {layer: (pre-ReLU, post-ReLU)}, float32
BORDER_FRACTION = 16  # the border crop drops 1/16 of a map's side on each edge
BEST_FRACTION = 16  # a silent unit is pushed on its best 1/16 of positions


class ObjectiveModel:
    """The feature model of one objective's layers, and the objective of images in 0-1 on it.

    `features` is a float32 keras.Model with one output per objective layer: a ReLU layer's input
    (its pre-activation is recomputed, see `activations`), else the layer's output. The methods take
    the feature model to run (this one, or a copy computing in reduced precision).
    """

    def __init__(self, model: keras.Model, objective: obj.Objective, preprocess: Callable | None = None,
                 single_channel_conv: bool = False):
        self.objective = objective
        self.preprocess = models.preprocess_fn(model, preprocess)
        self.fixed = models.fixed_input_size(model)  # the picture is resized to it after the transforms
        self.single_channel_conv = single_channel_conv
        self.layers = [models.get_layer(model, name) for name in objective.layers]
        self.relu = [relu_layer(layer) for layer in self.layers]
        plain = [name for name, relu in zip(objective.layers, self.relu) if not relu]
        relu_names = [name for name, relu in zip(objective.layers, self.relu) if relu]
        flat = models.feature_model(model, plain, layer_inputs=relu_names)
        by_name = dict(zip(plain + relu_names, flat.outputs))
        self.features = keras.Model(flat.inputs[0], [by_name[name] for name in objective.layers])

    def activations(self, feature_model: keras.Model, images01: Tensor, indices: Tensor) -> Activations:
        """{layer: (pre, post)} in float32 for images (B, H, W, 3) in 0-1.

        A ReLU layer's pre-activation is recomputed from its input in the model's compute type. For
        a single-channel objective, only each image's channel is kept, (B, ..., 1), so ReLU, border
        crop and best positions run on one channel instead of all of a large map.
        """
        images = images01 * 255.0
        if self.fixed is not None and tuple(images.shape[1:3]) != self.fixed:
            images = ops.image.resize(images, self.fixed, interpolation="bilinear", antialias=True)
        outputs = feature_model(self.preprocess(images))
        outputs = outputs if isinstance(outputs, list | tuple) else [outputs]
        narrow = self.objective.channel
        acts = {}
        for name, layer, relu, out in zip(self.objective.layers, self.layers, self.relu, outputs):
            channel = narrow if narrow is not None and narrow.layer == name else None
            pre = _pre_activation(layer, relu, out, channel, indices, self.single_channel_conv)
            acts[name] = (pre, ops.relu(pre) if relu else pre)
        return acts

    def evaluate(self, acts: dict[str, Tensor], indices: Tensor) -> Tensor:
        """The objective (B,) of one kind of activations {layer: (B, ...)}, narrowed or not."""
        narrow = self.objective.channel
        if narrow is not None:
            return narrow.reduce(acts[narrow.layer][..., 0])
        return self.objective(acts, indices)

    def score(self, feature_model: keras.Model, images01: Tensor, indices: Tensor) -> Tensor:
        """The objective (B,) of whole images in 0-1, after the ReLU."""
        acts = self.activations(feature_model, images01, indices)
        return self.evaluate({name: post for name, (_, post) in acts.items()}, indices)

    def ascent(self, feature_model: keras.Model, images01: Tensor, indices: Tensor) -> Tensor:
        """The objective (B,) to ascend: the border of each map cropped (without_border), and a silent
        unit's pre-ReLU response in its stead (silent_unit_objective)."""
        acts = without_border(self.activations(feature_model, images01, indices))
        return silent_unit_objective(acts, lambda kind: self.evaluate(kind, indices))


def silent_unit_objective(acts: Activations, evaluate: Callable[[dict[str, Tensor]], Tensor]) -> Tensor:
    """Per image: the objective on post-ReLU activations; while it is still zero (a silent unit,
    which has no gradient), on the pre-ReLU response of its best 1/16 of positions, so ascent
    works where the unit is closest to firing rather than lifting its whole (very negative) map
    at once. A unit that fires is never pushed by its pre-ReLU map: lifting the positions where it
    is far below zero would spend the picture on a bland texture instead of the unit's pattern."""
    post = evaluate({name: post for name, (_, post) in acts.items()})
    silent = post <= 0.0
    # The best positions take a top-k over the map, so only in steps where some image is silent.
    best = ops.cond(
        ops.any(silent),
        lambda: evaluate({name: best_positions(pre) for name, (pre, _) in acts.items()}),
        lambda: ops.zeros_like(post),
    )
    return ops.where(silent, best, post)


def _pre_activation(layer: keras.layers.Layer, relu: bool, out: Tensor, channel: obj.Channel | None,
                    indices: Tensor, use_single_channel_conv: bool) -> Tensor:
    """A feature model's output for `layer` -> the layer's pre-ReLU response, float32; only each
    image's channel (B, ..., 1) where `channel` reads this layer."""
    bias = None
    if relu and isinstance(layer, keras.layers.Conv2D):
        bias = layer.bias if layer.use_bias else None
        if channel is not None and use_single_channel_conv and depthwise_ok(layer):
            ids = channel.ids(out, indices, layer.filters)
            out = single_channel_conv(layer, out, ids)
            bias = None if bias is None else ops.reshape(ops.take(bias, ids), (-1, 1, 1, 1))
            channel = None  # already narrowed
        else:
            out = layer.convolution_op(out, ops.cast(layer.kernel, out.dtype))
    if channel is not None:
        if bias is not None:
            bias = ops.reshape(ops.take(bias, channel.ids(out, indices)), (-1,) + (1,) * (len(out.shape) - 1))
        out = channel.select(out, indices)[..., None]
    pre = ops.cast(out, "float32")
    return pre + ops.cast(bias, "float32") if bias is not None else pre


def relu_layer(layer: keras.layers.Layer) -> bool:
    """True where the layer ends in a ReLU we can undo: a Conv2D with relu, or a ReLU layer."""
    if isinstance(layer, keras.layers.ReLU):  # not ReLU6 (MobileNet) nor leaky: those are kept as they are
        return not layer.max_value and not layer.negative_slope and not layer.threshold
    if isinstance(layer, keras.layers.Activation | keras.layers.Conv2D):
        return layer.get_config().get("activation") == "relu" and not isinstance(
            layer, keras.layers.DepthwiseConv2D | keras.layers.Conv2DTranspose
        )
    return False


def without_border(acts: Activations) -> Activations:
    """Drops the outer 1/16 of each 4-D activation map (nothing, for maps under 16 positions).

    Positions at the border see the model's zero padding; ascent there grows a frame
    around the picture (keras-io's recipe drops 2 px of border for the same reason).
    """
    cropped = {}
    for name, (pre, post) in acts.items():
        if len(pre.shape) == 4 and pre.shape[1] is not None and pre.shape[1] >= BORDER_FRACTION:
            m = pre.shape[1] // BORDER_FRACTION
            pre, post = pre[:, m:-m, m:-m], post[:, m:-m, m:-m]
        cropped[name] = (pre, post)
    return cropped


def best_positions(acts: Tensor, fraction: int = BEST_FRACTION) -> Tensor:
    """(B, H, W, C) -> (B, 1, 1, C): each channel's mean over its top H*W/fraction positions."""
    if len(acts.shape) != 4:
        return acts
    positions = acts.shape[1] * acts.shape[2]  # static: a picture's size is fixed per compiled step
    flat = ops.transpose(ops.reshape(acts, (-1, positions, acts.shape[3])), (0, 2, 1))
    top = ops.top_k(flat, k=max(1, positions // fraction))[0]
    return ops.mean(top, axis=-1)[:, None, None, :]


def depthwise_ok(layer: keras.layers.Conv2D) -> bool:
    """Whether single_channel_conv can stand in for this layer's convolution."""
    return (type(layer) is keras.layers.Conv2D and layer.groups == 1 and layer.data_format == "channels_last"
            and layer.padding in ("same", "valid") and layer.strides[0] == layer.strides[1])


def single_channel_conv(layer: keras.layers.Conv2D, x: Tensor, ids: Tensor) -> Tensor:
    """Layer's convolution (no bias) of image b of x (B, H, W, C) with its output channel ids[b] only:
    float32 (B, H', W', 1).

    The batch is folded into the channels and each image's kernel slice applied by one depthwise
    convolution, then summed over input channels: 1/filters of the full layer's work, forward and
    backward, instead of computing every channel and keeping one.
    """
    kernel = ops.cast(ops.take(layer.kernel, ids, axis=3), x.dtype)  # (kh, kw, C, B)
    kh, kw, c = kernel.shape[0], kernel.shape[1], kernel.shape[2]
    kernel = ops.reshape(ops.transpose(kernel, (0, 1, 3, 2)), (kh, kw, -1, 1))  # (kh, kw, B*C, 1), image-major
    folded = ops.transpose(x, (1, 2, 0, 3))  # (H, W, B, C)
    folded = ops.reshape(folded, (1, folded.shape[0], folded.shape[1], -1))  # (1, H, W, B*C)
    y = ops.depthwise_conv(folded, kernel, layer.strides[0], layer.padding, "channels_last", layer.dilation_rate)
    y = ops.reshape(y, (y.shape[1], y.shape[2], -1, c))
    total = ops.sum(ops.cast(y, "float32"), axis=-1)  # accumulate as a convolution does
    return ops.transpose(total, (2, 0, 1))[..., None]
