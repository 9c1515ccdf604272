"""Attention rollout (Abnar & Zuidema 2020): which patches a vision transformer's class token draws on.

For any Keras model whose self-attention is keras.layers.MultiHeadAttention over a patch grid (the
layers may be the model's own, nested or inside custom layers, as in keras-hub's ViT). Each layer's
attention scores (N, heads, T, T) are read on the user's model as it runs: while the compiled step is
traced, each MultiHeadAttention layer's `call` is routed through one that asks Keras for its scores
(`return_attention_scores=True`) and keeps them, and the layer is given back its own `call` when the
trace ends. Nothing is copied (the weights are the layers' own) and nothing stays on the model.

The maths is NumPy on those scores: heads fused (mean, max or min), an identity added for the residual
and rows re-normalised, the layers multiplied input to output, then the class token's row over the
patch tokens (or, with no class token, the mean of the rows), on the patch grid inferred from the token
count and the input size (T = h * w + k leading extra tokens).
"""

from __future__ import annotations

import contextlib
import dataclasses

import keras
import numpy as np

from kerasviz.attribution.budget import run_chunked
from kerasviz.attribution.compiled import compile_images_step, compiled
from kerasviz.attribution.registry import Method, MethodOptions, register
from kerasviz.attribution.targets import Scoring
from kerasviz.attribution.tokens import token_grid
from kerasviz.errors import KerasvizError
from kerasviz.options import option

HEAD_FUSIONS = ("mean", "max", "min")  # Abnar & Zuidema 2020: mean; max and min as in Gildenblat's vit-explain
ATTENTION_METHODS = ("rollout",)  # the saliency methods that need keras.layers.MultiHeadAttention layers


@dataclasses.dataclass(frozen=True)
class RolloutOptions(MethodOptions):
    """rollout (Abnar & Zuidema 2020)."""

    WHAT = "saliency method 'rollout'"
    head_fusion: str = option("mean", "How the heads' attentions become one per layer: mean (Abnar & Zuidema "
                              "2020), max or min (Gildenblat's vit-explain).", choices=HEAD_FUSIONS)  # fmt: skip
    discard: float = option(0.0, "Fraction of each layer's lowest fused attentions set to 0 before the identity "
                            "is added (vit-explain's discard_ratio; 0 keeps all).", low=0.0)  # fmt: skip

    def precheck(self) -> None:
        discard = self.discard
        if not (isinstance(discard, int | float) and not isinstance(discard, bool) and 0 <= discard < 1):
            raise KerasvizError(f"discard must be a fraction in [0, 1); got {discard!r}")


def attention_rollout(scoring: Scoring, *, head_fusion: str = "mean", discard: float = 0.0):
    """Abnar & Zuidema 2020: the rolled-out attention of the class token (or of all tokens, with no class
    token) on each patch, `(N, h, w)` on the patch grid. It ignores the target: rollout is class-agnostic."""
    step = scores_step(scoring.model, scoring.preprocess)

    def attribute(batch: np.ndarray) -> np.ndarray:
        scores = self_attention(run_chunked(step, batch, scoring.chunk), scoring.model.name)
        what = f"{scoring.model.name}'s attention"
        extra, height, width = token_grid(scores[0].shape[-1], batch.shape[1:3], what)
        joint = rollout(scores, head_fusion=head_fusion, discard=discard)
        rows = joint[:, 0] if extra else joint.mean(axis=1)  # the class token's row, or every token's
        return rows[:, extra:].reshape(len(batch), height, width).astype(np.float32)

    return attribute


def rollout(scores: list[np.ndarray], *, head_fusion: str = "mean", discard: float = 0.0) -> np.ndarray:
    """Joint attention (N, T, T) from each layer's scores (N, heads, T, T), input to output.

    Per layer: heads fused, the `discard` fraction of lowest entries of each image's matrix set to 0
    (never the class token's attention to itself), then A = (W + I) / 2 with rows re-normalised (the
    residual connection, Abnar & Zuidema 2020, §3); the joint attention is A_L ... A_2 A_1.
    """
    fuse = {"mean": np.mean, "max": np.max, "min": np.min}[head_fusion]
    joint = None
    for layer in scores:
        fused = fuse(np.asarray(layer, np.float64), axis=1)  # (N, T, T)
        n, tokens, _ = fused.shape
        if discard > 0:
            flat = fused.reshape(n, -1).copy()
            lowest = np.argsort(flat, axis=1, kind="stable")[:, : int(flat.shape[1] * discard)]
            np.put_along_axis(flat, lowest, 0.0, axis=1)
            flat[:, 0] = fused[:, 0, 0]  # the class token's attention to itself is kept (as vit-explain does)
            fused = flat.reshape(n, tokens, tokens)
        a = (fused + np.eye(tokens)) / 2
        a = a / a.sum(axis=-1, keepdims=True)
        joint = a if joint is None else a @ joint
    return joint


# --- reading the scores ----------------------------------------------------------------------


def attention_layers(model: keras.Model) -> list[keras.layers.MultiHeadAttention]:
    """The model's MultiHeadAttention layers, anywhere in it (nested models, custom layers)."""
    layers = [layer for layer in model._flatten_layers(include_self=False, recursive=True)
              if isinstance(layer, keras.layers.MultiHeadAttention)]  # fmt: skip
    if not layers:
        raise KerasvizError(
            f"{model.name} has no keras.layers.MultiHeadAttention layer, so attention rollout has nothing to "
            "read; use gradcam or another method for a model without attention"
        )
    flash = [layer.name for layer in layers if layer._flash_attention]
    if flash:
        raise KerasvizError(f"attention layer {flash[0]!r} of {model.name} uses flash attention, which gives no "
                            "scores; build it with flash_attention=False for rollout")  # fmt: skip
    return layers


def scores_step(model: keras.Model, preprocess):
    """One compiled step: 0-255 RGB (B, H, W, 3) -> the scores of each attention call, (B, heads, T, S)
    float32, in the order the model makes them. Built once per model and preprocessing."""
    layers = attention_layers(model)

    def build():
        def step(x):
            scores: list = []
            with _recording(layers, scores):
                model(preprocess(x), training=False)
            return tuple(keras.ops.cast(s, "float32") for s in scores)

        return compile_images_step(step, [model])

    return compiled(model, ("rollout", preprocess), build, on_copy=False)


def self_attention(scores: list[np.ndarray], name: str) -> list[np.ndarray]:
    """The self-attention among the scores (B, heads, T, S): T == S. Cross-attention (such as an
    attention-pooling head's probe on the tokens) is left out; the rest must share one T."""
    kept = [s for s in scores if s.shape[-2] == s.shape[-1]]
    if not kept:
        raise KerasvizError(f"{name} called no MultiHeadAttention layer as self-attention when it ran; rollout "
                            "reads the self-attention of the layers the model calls")  # fmt: skip
    counts = sorted({s.shape[-1] for s in kept})
    if len(counts) > 1:
        raise KerasvizError(f"{name}'s self-attention layers attend over different token counts {counts}; "
                            "rollout multiplies one T x T attention per layer")  # fmt: skip
    return kept


@contextlib.contextmanager
def _recording(layers: list, scores: list):
    """While tracing: each layer's call also returns its attention scores, which are appended to
    `scores`; each layer gets its own call back on exit."""

    def recorder(layer):
        own = type(layer).call.__get__(layer)

        def call(*args, **kwargs):
            out, attention = own(*args, **{**kwargs, "return_attention_scores": True})
            scores.append(attention)
            return (out, attention) if kwargs.get("return_attention_scores") else out

        return call

    try:
        for layer in layers:
            layer.call = recorder(layer)
        yield
    finally:
        for layer in layers:
            layer.__dict__.pop("call", None)


register(Method("rollout", attention_rollout, RolloutOptions))
