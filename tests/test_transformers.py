"""Vision transformers: attention rollout (kerasviz.attribution.transformers) and filter pictures on tokens.

The ViT is tests/vit.py's (random weights, 32x32 inputs, 8-pixel patches, a class token, 2 blocks).
The rollout is checked against what it must be: uniform where every attention is uniform, and the
NumPy product of the attention scores that Keras itself gives (read here with
`return_attention_scores=True`, not through kerasviz).
"""

import keras
import numpy as np
import pytest

import kerasviz
from kerasviz.attribution.tokens import MAX_EXTRA_TOKENS, token_grid
from kerasviz.errors import KerasvizError
from tests.helpers import bilinear
from tests.vit import build_vit

SIZE = 32  # tests/vit.py's default input side


def _images(n: int, size=(SIZE, SIZE), seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 255, (n, *size, 3)).astype(np.float32)


def _attentions(model: keras.Model) -> list[keras.layers.MultiHeadAttention]:
    return [layer for layer in model.layers if isinstance(layer, keras.layers.MultiHeadAttention)]


def _keras_scores(model: keras.Model, images: np.ndarray) -> list[np.ndarray]:
    """Each block's attention scores (N, heads, T, T), from Keras: the block's MultiHeadAttention called
    eagerly on its own input (read with a Keras feature model) with return_attention_scores=True."""
    scores = []
    for i, layer in enumerate(_attentions(model)):
        tokens = keras.Model(model.inputs[0], model.get_layer(f"block{i}_norm1").output)(images)
        _, attention = layer(tokens, tokens, return_attention_scores=True)
        scores.append(keras.ops.convert_to_numpy(attention))
    return scores


def _numpy_rollout(scores: list[np.ndarray], fuse=np.mean) -> np.ndarray:
    """Abnar & Zuidema 2020 written out: per image, A_l = rownorm((fuse over heads + I) / 2), A_L ... A_1."""
    joint = []
    for n in range(len(scores[0])):
        product = np.eye(scores[0].shape[-1])
        for layer in scores:
            a = fuse(layer[n], axis=0) + np.eye(layer.shape[-1])
            product = (a / a.sum(axis=1, keepdims=True)) @ product
        joint.append(product)
    return np.stack(joint)


def _upsampled(grids: np.ndarray, size) -> np.ndarray:
    return bilinear(grids[..., None].astype(np.float32), size)[..., 0]


# --- rollout ---------------------------------------------------------------------------------


def test_uniform_attention_rolls_out_uniform():
    """Query and key kernels at zero: every softmax is uniform (W = J / T), so each layer is
    A = (J / T + I) / 2 and two layers give the class token 0.75 / T on every patch."""
    model = build_vit()
    for layer in _attentions(model):
        for weight in layer.weights:
            if "/query/" in weight.path or "/key/" in weight.path:
                weight.assign(np.zeros(weight.shape, np.float32))
    maps = kerasviz.saliency(model, _images(2), 0, method="rollout")
    assert maps.shape == (2, SIZE, SIZE)
    np.testing.assert_allclose(maps, (1 - 0.5**2) / 17, rtol=1e-5)


@pytest.mark.parametrize(("head_fusion", "fuse"), [("mean", np.mean), ("max", np.max)])
def test_rollout_is_the_product_of_the_keras_attention(head_fusion, fuse):
    model = build_vit(seed=3)
    for layer in _attentions(model):  # sharper attention than random weights give, so heads and tokens differ
        for weight in layer.weights:
            if weight.path.endswith("query/kernel"):
                weight.assign(keras.ops.convert_to_numpy(weight) * 6.0)
    x = _images(2, seed=1)
    before = keras.ops.convert_to_numpy(model(x))
    maps = kerasviz.saliency(model, x, 3, method="rollout", head_fusion=head_fusion)
    # The model is as it was: same outputs, and its layers' own call.
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(model(x)), before)
    assert all("call" not in vars(layer) for layer in _attentions(model))
    joint = _numpy_rollout(_keras_scores(model, x), fuse)
    expected = _upsampled(joint[:, 0, 1:].reshape(2, 4, 4), (SIZE, SIZE))  # the class token's row, patches
    np.testing.assert_allclose(maps, expected, rtol=1e-4, atol=1e-7)
    assert np.ptp(joint[:, 0, 1:]) > 0.1 * joint[:, 0, 1:].mean()  # not uniform: the check has teeth


def test_without_a_class_token_every_row_is_averaged():
    model = build_vit(image_size=(16, 24), class_token=False, seed=2)
    x = _images(1, (16, 24), seed=2)
    maps = kerasviz.saliency(model, x[0], 0, method="rollout")
    joint = _numpy_rollout(_keras_scores(model, x))
    np.testing.assert_allclose(maps, _upsampled(joint.mean(axis=1).reshape(1, 2, 3), (16, 24))[0], rtol=1e-4)


def test_discard_drops_the_lowest_attentions_but_the_class_tokens_own():
    model = build_vit(seed=4)
    x = _images(1, seed=4)
    maps = kerasviz.saliency(model, x, 0, method="rollout", discard=0.5)
    scores = []
    for layer in _keras_scores(model, x):
        fused = layer.mean(axis=1, keepdims=True)  # (1, 1, T, T)
        threshold = np.sort(fused.ravel())[fused.size // 2 - 1]
        kept = np.where(fused > threshold, fused, 0.0)
        kept[..., 0, 0] = fused[..., 0, 0]
        scores.append(kept)
    joint = _numpy_rollout(scores)
    np.testing.assert_allclose(maps, _upsampled(joint[:, 0, 1:].reshape(1, 4, 4), (SIZE, SIZE)), rtol=1e-4)
    assert not np.allclose(maps, kerasviz.saliency(model, x, 0, method="rollout"), rtol=1e-3)


def test_an_attention_pooling_head_is_left_out():
    """Self-attention over a 2 x 2 grid, then an attention-pooling head (the first token's query on all
    4 tokens: cross-attention, 1 x 4): the rollout is the self-attention's alone."""
    keras.utils.set_random_seed(8)
    inputs = keras.Input((16, 16, 3))
    tokens = keras.layers.Reshape((4, 8))(keras.layers.Conv2D(8, 8, strides=8)(inputs))
    x = keras.layers.MultiHeadAttention(2, 4, name="self")(tokens, tokens)
    probe = keras.layers.Cropping1D((0, 3))(x)
    pooled = keras.layers.MultiHeadAttention(2, 4, name="pool")(probe, x)
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(pooled)), name="pooled")
    image = _images(1, (16, 16), seed=8)
    maps = kerasviz.saliency(model, image, 0, method="rollout")
    features = keras.Model(inputs, tokens)(image)
    _, attention = model.get_layer("self")(features, features, return_attention_scores=True)
    expected = _numpy_rollout([keras.ops.convert_to_numpy(attention)]).mean(axis=1).reshape(1, 2, 2)
    np.testing.assert_allclose(maps, _upsampled(expected, (16, 16)), rtol=1e-4)


def test_the_patch_grid_is_found_from_the_token_count_and_the_input():
    assert token_grid(17, (32, 32)) == (1, 4, 4)
    assert token_grid(16, (32, 32)) == (0, 4, 4)  # no class token
    assert token_grid(2 * 3 + 1, (16, 24)) == (1, 2, 3)  # not square
    assert token_grid(3 * 5 + 1, (24, 40)) == (1, 3, 5)
    assert token_grid(3 * 4 + 1, (25, 33)) == (1, 3, 4)  # sides not whole patches (a valid strided conv)
    assert token_grid(14 * 14 + 5, (224, 224)) == (5, 14, 14)  # class token and 4 registers
    model = build_vit(image_size=(16, 40), patch=8, seed=5)  # a 2 x 5 grid of patches and a class token
    x = _images(1, (16, 40), seed=5)
    maps = kerasviz.saliency(model, x, 0, method="rollout")
    expected = _numpy_rollout(_keras_scores(model, x))[:, 0, 1:].reshape(1, 2, 5)
    np.testing.assert_allclose(maps, _upsampled(expected, (16, 40)), rtol=1e-4)


def test_a_token_count_that_is_no_patch_grid_is_an_error():
    with pytest.raises(KerasvizError, match=f"7 tokens, which is no grid .* at most {MAX_EXTRA_TOKENS} leading"):
        token_grid(7, (32, 320))
    # Attention over the rows of an 8 x 80 image: 8 tokens are no grid of square patches of it.
    inputs = keras.Input((8, 80, 3))
    x = keras.layers.Reshape((8, 240))(inputs)
    x = keras.layers.Dense(8)(x)
    x = keras.layers.MultiHeadAttention(1, 8, name="rows")(x, x)
    outputs = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling1D()(x))
    rows = keras.Model(inputs, outputs, name="rows_model")
    with pytest.raises(KerasvizError, match=r"^rows_model's attention has 8 tokens, which is no grid"):
        kerasviz.saliency(rows, _images(1, (8, 80)), 0, method="rollout")


def _attention_model(second_tokens: int | None = None, flash: bool = False) -> keras.Model:
    """16 patch tokens of a 32 x 32 image, self-attention, and a second one over `second_tokens` pooled tokens."""
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.Reshape((16, 8))(keras.layers.Conv2D(8, 8, strides=8)(inputs))
    x = keras.layers.MultiHeadAttention(2, 4, flash_attention=flash or None, name="first")(x, x)
    if second_tokens:
        x = keras.layers.AveragePooling1D(16 // second_tokens)(x)
        x = keras.layers.MultiHeadAttention(2, 4, name="second")(x, x)
    return keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(x)), name="attending")


def test_attention_that_cannot_be_rolled_out_is_an_error():
    with pytest.raises(KerasvizError, match=r"^attending's self-attention layers attend over different token "
                       r"counts \[4, 16\]; rollout multiplies one T x T"):  # fmt: skip
        kerasviz.saliency(_attention_model(second_tokens=4), _images(1), 0, method="rollout")
    with pytest.raises(KerasvizError, match=r"^attention layer 'first' of attending uses flash attention, which "
                       "gives no scores; build it with flash_attention=False"):  # fmt: skip
        kerasviz.saliency(_attention_model(flash=True), _images(1), 0, method="rollout")
    assert kerasviz.saliency(_attention_model(), _images(1), 0, method="rollout").shape == (1, SIZE, SIZE)


def test_a_model_without_attention_is_an_error():
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.Conv2D(4, 3, name="conv")(inputs)
    outputs = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(x))
    cnn = keras.Model(inputs, outputs, name="cnn")
    with pytest.raises(KerasvizError, match=r"^cnn has no keras.layers.MultiHeadAttention layer.*use gradcam"):
        kerasviz.saliency(cnn, _images(1), 0, method="rollout")


@pytest.mark.parametrize(("options", "message"), [
    ({"head_fusion": "median"}, "head_fusion 'median' is not valid for saliency method 'rollout'; valid: mean, max"),
    ({"discard": 1.0}, r"discard must be a fraction in \[0, 1\); got 1.0"),
])  # fmt: skip
def test_bad_options_are_one_line_errors(options, message):
    with pytest.raises(KerasvizError, match=message):
        kerasviz.saliency(build_vit(), _images(1), 0, method="rollout", **options)
    with pytest.raises(KerasvizError, match="applies to rollout, not to method='gradcam'"):
        kerasviz.saliency(build_vit(), _images(1), 0, method="gradcam", head_fusion="max")


# --- filter pictures on tokens ---------------------------------------------------------------


@pytest.fixture(scope="module")
def filter_vit() -> keras.Model:
    return build_vit(seed=6)  # one model: its compiled pictures steps are kept beside it across the cases


@pytest.mark.parametrize("method", ["fft", "maco"])
@pytest.mark.parametrize(("layer", "filters"), [("block0_mlp1", [0, 1, 2]), ("logits", [0, 3])])
def test_filter_pictures_raise_a_unit_of_the_tokens_or_a_class_logit(filter_vit, method, layer, filters):
    """The objective of a unit of a Dense on tokens is its mean over the tokens; of a logit, the logit.
    Read with Keras on the pictures: more steps from the same start reach more (a no-op would tie). Not 12
    steps: on a random ViT the first dozen can dip below the start (on every backend, in either precision)."""
    model = filter_vit
    features = keras.Model(model.inputs[0], model.get_layer(layer).output)

    def objective(pictures: np.ndarray) -> np.ndarray:
        out = keras.ops.convert_to_numpy(features(pictures.astype(np.float32)))
        return out.reshape(len(pictures), -1, out.shape[-1]).mean(axis=1)[np.arange(len(filters)), filters]

    start, _ = kerasviz.visualize_filters(model, layer, filters, size=SIZE, steps=1, method=method)
    pictures, act = kerasviz.visualize_filters(model, layer, filters, size=SIZE, steps=48, method=method)
    assert pictures.shape == (len(filters), SIZE, SIZE, 3) and pictures.dtype == np.uint8
    np.testing.assert_allclose(act, objective(pictures), rtol=1e-3, atol=1e-4)
    assert (objective(pictures) > objective(start)).all(), (objective(start), objective(pictures))


def test_a_layer_without_a_channel_axis_is_no_filter_objective():
    inputs = keras.Input((8, 8, 3))
    total = keras.layers.Lambda(lambda t: keras.ops.sum(t, axis=(1, 2, 3)), name="total", output_shape=())(inputs)
    model = keras.Model(inputs, total)
    with pytest.raises(KerasvizError, match=r"layer 'total' has output shape \(None,\), with no channel axis"):
        kerasviz.visualize_filters(model, "total", [0], size=8, steps=1)


# --- keras-hub's ViT (opt-in: runs where keras_hub is installed) -----------------------------


def _keras_hub_vit():
    keras_hub = pytest.importorskip("keras_hub")
    return keras_hub.models.ViTBackbone(
        image_shape=(SIZE, SIZE, 3), patch_size=8, num_layers=2, num_heads=2, hidden_dim=16, mlp_dim=32
    )  # random weights; no preset is downloaded


def _class_token_mean(out):
    return keras.ops.mean(out[:, 0], axis=-1)  # a backbone has no classifier: the class token's mean feature


def test_rollout_on_a_keras_hub_vit():
    """keras-hub's ViT keeps its MultiHeadAttention layers inside custom encoder layers; rollout reads them."""
    backbone = _keras_hub_vit()
    image = _images(1, seed=7)
    maps = kerasviz.saliency(backbone, image, _class_token_mean, method="rollout")
    assert maps.shape == (1, SIZE, SIZE) and np.isfinite(maps).all() and np.ptp(maps) > 0
    encoder = backbone.get_layer("vit_encoder")
    tokens = keras.Model(backbone.inputs[0], backbone.get_layer("vit_patching_and_embedding").output)(image)
    scores = []
    for block in encoder.encoder_layers:  # the scores read with Keras, block by block (dropout is off)
        normed = block.layer_norm_1(tokens)
        scores.append(keras.ops.convert_to_numpy(block.mha(normed, normed, return_attention_scores=True)[1]))
        tokens = block(tokens)
    expected = _numpy_rollout(scores)[:, 0, 1:].reshape(1, 4, 4)
    np.testing.assert_allclose(maps, _upsampled(expected, (SIZE, SIZE)), rtol=1e-4)



def test_gradcam_on_a_keras_hub_vit():
    backbone = _keras_hub_vit()
    cam = kerasviz.saliency(backbone, _images(1, seed=7)[0], _class_token_mean, method="gradcam", layer="vit_encoder")
    assert cam.shape == (SIZE, SIZE) and np.isfinite(cam).all()
