"""A small vision transformer (Dosovitskiy et al. 2021) built from Keras layers, with random weights.

A ViT to try the transformer methods on (rollout, CAMs on tokens) where no trained one can be had:
kerasviz.dataset.scenes.trained_vit trains one on the synthetic scenes in a minute; the tests use it with
random weights.

Layout, as in the paper's ViT: a strided Conv2D cuts the image into patches and embeds them, a
learned class token is put in front of the patch tokens, a learned position embedding is added,
then `depth` pre-norm blocks (LayerNormalization -> keras.layers.MultiHeadAttention -> residual,
LayerNormalization -> Dense(gelu) -> Dense -> residual), a final LayerNormalization, and the class
token (or the mean of the patch tokens when there is none) goes to a Dense named "logits".
Layer names: "patches", "tokens", "class_token", "position", "block{i}_attention",
"block{i}_mlp1" (the MLP's hidden units: targets for filter pictures), "block{i}_mlp2", "norm",
"logits". Inputs are 0-255 RGB.
"""

from __future__ import annotations

import keras


@keras.saving.register_keras_serializable(package="kerasviz")
class ClassToken(keras.layers.Layer):
    """Puts one learned token in front of the sequence: (N, T, C) -> (N, T + 1, C)."""

    def build(self, input_shape):
        self.token = self.add_weight(shape=(1, 1, input_shape[-1]), initializer="random_normal", name="token")

    def call(self, tokens):
        batch = keras.ops.shape(tokens)[0]
        token = keras.ops.broadcast_to(keras.ops.cast(self.token, tokens.dtype), (batch, 1, tokens.shape[-1]))
        return keras.ops.concatenate([token, tokens], axis=1)

    def compute_output_shape(self, input_shape):
        count = None if input_shape[1] is None else input_shape[1] + 1
        return (input_shape[0], count, input_shape[2])


@keras.saving.register_keras_serializable(package="kerasviz")
class PositionEmbedding(keras.layers.Layer):
    """Adds one learned vector per token position: (N, T, C) -> (N, T, C)."""

    def build(self, input_shape):
        self.position = self.add_weight(
            shape=(1, input_shape[1], input_shape[2]), initializer="random_normal", name="position"
        )

    def call(self, tokens):
        return tokens + keras.ops.cast(self.position, tokens.dtype)


def _block(x, i: int, dim: int, heads: int):
    """One pre-norm transformer block: attention and MLP, each with a residual connection."""
    y = keras.layers.LayerNormalization(epsilon=1e-6, name=f"block{i}_norm1")(x)
    y = keras.layers.MultiHeadAttention(heads, dim // heads, name=f"block{i}_attention")(y, y)
    x = keras.layers.Add(name=f"block{i}_add1")([x, y])
    y = keras.layers.LayerNormalization(epsilon=1e-6, name=f"block{i}_norm2")(x)
    y = keras.layers.Dense(2 * dim, activation="gelu", name=f"block{i}_mlp1")(y)
    y = keras.layers.Dense(dim, name=f"block{i}_mlp2")(y)
    return keras.layers.Add(name=f"block{i}_add2")([x, y])


def build_vit(
    image_size: int | tuple[int, int] = 32,
    patch: int = 8,
    dim: int = 32,
    depth: int = 2,
    heads: int = 2,
    classes: int = 4,
    class_token: bool = True,
    seed: int = 0,
) -> keras.Model:
    """A ViT on (H, W, 3) 0-255 images, H and W multiples of `patch`; the same seed gives the same weights.

    `image_size` is one side or (height, width); the patch grid is (H // patch, W // patch), and the
    attention layers see H * W / patch**2 tokens, plus one in front with `class_token`.
    """
    height, width = (image_size, image_size) if isinstance(image_size, int) else image_size
    if height % patch or width % patch:
        raise ValueError(f"image {height}x{width} is not a whole number of {patch}-pixel patches")
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((height, width, 3))
    x = keras.layers.Rescaling(1 / 127.5, offset=-1.0, name="rescale")(inputs)
    x = keras.layers.Conv2D(dim, patch, strides=patch, name="patches")(x)
    x = keras.layers.Reshape(((height // patch) * (width // patch), dim), name="tokens")(x)
    if class_token:
        x = ClassToken(name="class_token")(x)
    x = PositionEmbedding(name="position")(x)
    for i in range(depth):
        x = _block(x, i, dim, heads)
    x = keras.layers.LayerNormalization(epsilon=1e-6, name="norm")(x)
    if class_token:
        x = keras.layers.Cropping1D((0, x.shape[1] - 1), name="cls_crop")(x)  # the class token alone
        x = keras.layers.Flatten(name="cls")(x)
    else:
        x = keras.layers.GlobalAveragePooling1D(name="pool")(x)
    outputs = keras.layers.Dense(classes, name="logits")(x)
    return keras.Model(inputs, outputs, name="tiny_vit")
