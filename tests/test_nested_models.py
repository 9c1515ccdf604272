"""Any model a user has: nested bases, fixed input sizes, several outputs, 1- and 4-channel inputs."""

import keras
import numpy as np
import pytest
from keras import layers

import kerasviz
from kerasviz import models
from kerasviz.attribution import METHODS, options_for
from kerasviz.attribution.transformers import ATTENTION_METHODS
from tests.helpers import gram_distances, layer_outputs

SIZE = 32
FAST = {"samples": 2, "steps": 4, "patch": 16, "masks": 16}  # SmoothGrad samples, IG steps, occlusion patch, RISE masks
CNN_METHODS = tuple(m for m in METHODS if m not in ATTENTION_METHODS)  # rollout reads attention; these are CNNs


def _base(name: str = "base", size: int | None = SIZE, channels: int = 3) -> keras.Model:
    """A tiny functional base with a branch (a residual add), fixed or any input size."""
    keras.utils.set_random_seed(1)
    inputs = keras.Input((size, size, channels))
    x = layers.Conv2D(8, 3, padding="same", activation="relu", name="conv1")(inputs)
    y = layers.Conv2D(8, 3, padding="same", activation="relu", name="conv2")(x)
    x = layers.Add(name="add")([x, y])
    x = layers.Conv2D(12, 3, strides=2, padding="same", activation="relu", name="conv3")(x)
    return keras.Model(inputs, x, name=name)


def _sequential(base: keras.Model) -> keras.Model:
    return keras.Sequential(
        [keras.Input(base.input_shape[1:]), base, layers.GlobalAveragePooling2D(), layers.Dense(3, name="logits")],
        name="sequential_wrapper",
    )


def _functional(base: keras.Model) -> keras.Model:
    inputs = keras.Input(base.input_shape[1:])
    x = base(inputs, training=False)
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, layers.Dense(3, name="logits")(x), name="functional_wrapper")


def _flat_twin(nested: keras.Model, base: keras.Model) -> keras.Model:
    """The same computation with no nesting: the wrapper's head layers called on the base's own graph."""
    head = [layer for layer in nested.layers if layer is not base and not isinstance(layer, keras.layers.InputLayer)]
    x = base.output
    for layer in head:
        x = layer(x)
    return keras.Model(base.input, x)


def _image(h: int = 40, w: int = 56, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 255, (h, w, 3)).astype(np.float32)


def _top_class(model: keras.Model, image: np.ndarray) -> int:
    """The class the model scores highest on the image (resized by Keras to its input size, as saliency does).

    A class map needs a class the image shows: Grad-CAM of a class every location argues against is rightly
    all zero (its ReLU), and which class that is depends on the random draw, so on the backend."""
    size = model.input_shape[1:3]
    x = keras.ops.image.resize(image[None], size, interpolation="bilinear", antialias=True)
    return int(np.argmax(keras.ops.convert_to_numpy(model(x))[0]))


@pytest.fixture(scope="module", params=["sequential", "functional"])
def nested(request):
    base = _base()
    wrap = _sequential if request.param == "sequential" else _functional
    model = wrap(base)
    return model, _flat_twin(model, base)


# --- 1. layers by path or unique name -------------------------------------------------------


def test_layers_are_named_by_path_or_unique_plain_name(nested):
    model, _ = nested
    assert models.resolve_layer(model, "base/conv2") == "base/conv2"
    assert models.resolve_layer(model, "conv2") == "base/conv2"
    assert models.get_layer(model, "conv2") is model.get_layer("base").get_layer("conv2")
    assert kerasviz.conv_layers(model) == ["conv1", "conv2", "conv3"]
    with pytest.raises(kerasviz.KerasvizError, match="layer 'conv9' not in .*; closest: .*conv"):
        models.get_layer(model, "conv9")


def test_an_ambiguous_plain_name_lists_its_paths():
    inputs = keras.Input((SIZE, SIZE, 3))
    a, b = _base("base_a"), _base("base_b")
    model = keras.Model(inputs, layers.Add()([a(inputs), b(inputs)]))
    with pytest.raises(kerasviz.KerasvizError, match="'conv2' is ambiguous .*: base_a/conv2, base_b/conv2"):
        models.resolve_layer(model, "conv2")
    assert kerasviz.conv_layers(model)[:2] == ["base_a/conv1", "base_a/conv2"]
    # Both bases contribute to a class-free layer target of either branch.
    maps = kerasviz.saliency(model, _image(), "base_b/conv3:1", method="gradcam")
    assert maps.shape == (40, 56) and np.isfinite(maps).all()


def test_flat_features_equal_the_base_and_the_model(nested):
    model, flat = nested
    x = _image()[None, :SIZE, :SIZE]
    inner, out = models.feature_model(model, ["base/add"], output=None)(x)
    base = model.get_layer("base")
    want = keras.Model(base.input, base.get_layer("add").output)(x)
    np.testing.assert_allclose(*map(keras.ops.convert_to_numpy, (inner, want)), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(*map(keras.ops.convert_to_numpy, (out, model(x))), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("method", CNN_METHODS)
@pytest.mark.parametrize("target", ["top class", "conv2:3"])
def test_every_saliency_method_sees_through_a_nested_base(nested, method, target):
    """The map of the nested model is the map of the same computation written flat."""
    model, flat = nested
    image = _image()
    target = _top_class(model, image) if target == "top class" else target
    maps = kerasviz.saliency(model, image, target, method=method, **options_for(method, FAST))
    assert maps.shape == (40, 56) and np.isfinite(maps).all() and np.abs(maps).max() > 0
    flat_target = target if isinstance(target, int) else "conv2:3"
    expected = kerasviz.saliency(flat, image, flat_target, method=method, **options_for(method, FAST))
    np.testing.assert_allclose(maps, expected, rtol=1e-4, atol=1e-6 * np.abs(expected).max())


def test_gradcam_defaults_to_the_base_output_for_a_class(nested):
    model, flat = nested
    image = _image()
    top = _top_class(model, image)
    maps = kerasviz.saliency(model, image, top, method="gradcam")
    assert np.abs(maps).max() > 0
    np.testing.assert_allclose(maps, kerasviz.saliency(flat, image, top, method="gradcam", layer="conv3"),
                               rtol=1e-4, atol=1e-7)


def test_filters_of_a_nested_layer_are_those_of_the_flat_model(nested):
    model, flat = nested
    ours, act = kerasviz.visualize_filters(model, "base/conv3", [0, 5], size=SIZE, steps=3)
    theirs, flat_act = kerasviz.visualize_filters(flat, "conv3", [0, 5], size=SIZE, steps=3)
    assert ours.shape == (2, SIZE, SIZE, 3) and ours.dtype == np.uint8
    assert np.abs(ours.astype(int) - theirs.astype(int)).max() <= 1
    np.testing.assert_allclose(act, flat_act, rtol=1e-3, atol=1e-5)


def objective(model, image) -> float:
    """The mean of base/conv3 on one 0-255 image, read with Keras alone."""
    return float(np.mean(layer_outputs(model, ["base/conv3"], image)[0]))


def test_dream_and_style_through_a_nested_base(nested):
    model, _ = nested
    image = _image(SIZE, SIZE)
    dream = kerasviz.deep_dream(image, model=model, layers={"conv3": 1.0}, octaves=1, steps=2)
    assert dream.shape == (SIZE, SIZE, 3) and np.abs(dream.astype(float) - image).mean() > 0.5
    assert objective(model, dream) > objective(model, image)
    style_image = _image(SIZE, SIZE, seed=1)
    styled = kerasviz.style_transfer(image, style_image, model=model, content_layers=["base/conv3"],
                                     style_layers=["conv1", "conv2"], size=None, steps=4, levels=1)
    assert styled.shape == (SIZE, SIZE, 3)
    # Closer to the style's Gram matrices than the photo is, measured in numpy (tests.helpers).
    before = gram_distances(model, ["base/conv1", "base/conv2"], image, style_image)
    after = gram_distances(model, ["base/conv1", "base/conv2"], styled, style_image)
    assert np.all(after < 0.8 * before), after / before


def test_layers_inside_a_subclassed_model_are_a_clear_error():
    class Block(keras.Model):
        def __init__(self):
            super().__init__(name="block")
            self.conv = layers.Conv2D(4, 3, name="inner")

        def call(self, x):
            return self.conv(x)

    inputs = keras.Input((SIZE, SIZE, 3))
    model = keras.Model(inputs, Block()(inputs))
    with pytest.raises(kerasviz.KerasvizError, match="'block' of .* is a Block, not a Functional .*cannot reach"):
        models.resolve_layer(model, "block/inner")


# --- 2. fixed input sizes -------------------------------------------------------------------


def test_a_fixed_size_model_takes_any_picture_and_image_size(nested):
    model, _ = nested  # input fixed at 32 x 32
    pictures, act = kerasviz.visualize_filters(model, "conv3", [1], size=48, steps=2)
    assert pictures.shape == (1, 48, 48, 3) and np.isfinite(act).all()
    image = _image(50, 70)
    for method in ("vanilla", "gradcam", "occlusion"):
        maps = kerasviz.saliency(model, image, 0, method=method, **options_for(method, FAST))
        assert maps.shape == (50, 70) and np.isfinite(maps).all()
    mask = kerasviz.segment(image, maps)
    assert mask.shape == (50, 70)
    dream = kerasviz.deep_dream(image, model=model, layers={"conv2": 1.0}, octaves=2, steps=1)
    assert dream.shape == (50, 70, 3)
    styled = kerasviz.style_transfer(image, _image(30, 20, seed=2), model=model, content_layers=["conv3"],
                                     style_layers=["conv1"], size=40, steps=1, levels=2)
    assert styled.shape == (SIZE, SIZE, 3)  # the model's own size (style_transfer's documented rule)


# --- 4. several outputs, 1 and 4 channels ---------------------------------------------------


def _two_heads() -> keras.Model:
    base = _base(size=None)
    inputs = keras.Input((None, None, 3))
    x = layers.GlobalAveragePooling2D()(base(inputs))
    return keras.Model(inputs, {"cls": layers.Dense(3, name="cls")(x), "aux": layers.Dense(2, name="aux")(x)})


def test_the_output_is_chosen_by_name_or_index():
    model = _two_heads()
    image = _image()
    with pytest.raises(kerasviz.KerasvizError, match=r"has 2 outputs \(0: \w+, 1: \w+\); choose one with output="):
        kerasviz.saliency(model, image, 1)
    names = models.output_names(model)
    aux = names.index("aux")
    single = keras.Model(model.inputs, model.outputs[aux])
    expected = kerasviz.saliency(single, image, 1, method="gradcam")
    np.testing.assert_allclose(kerasviz.saliency(model, image, 1, method="gradcam", output="aux"), expected, rtol=1e-5)
    np.testing.assert_allclose(kerasviz.saliency(model, image, 1, method="gradcam", output=aux), expected, rtol=1e-5)
    with pytest.raises(kerasviz.KerasvizError, match="class 2 out of range: valid classes are 0-1"):
        kerasviz.saliency(model, image, 2, output="aux")
    with pytest.raises(kerasviz.KerasvizError, match="output 'main' not in .*valid outputs: 0: "):
        kerasviz.saliency(model, image, 0, output="main")
    layer_map = kerasviz.saliency(model, image, "conv3:0")  # a layer target needs no output
    assert layer_map.shape == (40, 56)


def test_several_inputs_are_a_clear_error():
    a, b = keras.Input((SIZE, SIZE, 3), name="photo"), keras.Input((4,), name="meta")
    x = layers.GlobalAveragePooling2D()(layers.Conv2D(4, 3)(a))
    model = keras.Model([a, b], layers.Dense(2)(layers.Concatenate()([x, b])))
    with pytest.raises(kerasviz.KerasvizError, match="has 2 inputs .*wrap the model in keras.Model"):
        kerasviz.saliency(model, _image(), 0)
    with pytest.raises(kerasviz.KerasvizError, match="has 2 inputs"):
        kerasviz.visualize_filters(model, models.conv_layers(model)[0], [0], size=16, steps=1)


def test_a_one_channel_model_gets_grey_pictures_and_luma_input():
    model = _sequential(_base(size=None, channels=1))
    pictures, act = kerasviz.visualize_filters(model, "conv3", [0, 1], size=SIZE, steps=3)
    assert pictures.shape == (2, SIZE, SIZE, 3)
    assert np.array_equal(pictures[..., 0], pictures[..., 1]) and np.array_equal(pictures[..., 1], pictures[..., 2])
    assert pictures.std() > 0
    image = _image()
    maps = kerasviz.saliency(model, image, 0, method="integrated_gradients", steps=8)
    luma = kerasviz.saliency(model, image, 0, method="integrated_gradients", steps=8,
                             preprocess=lambda x: models.adapt_channels(x, 1))
    np.testing.assert_allclose(maps, luma, rtol=1e-5)
    inverted = kerasviz.saliency(model, image, 0, preprocess=lambda x: 255.0 - models.adapt_channels(x, 1))
    assert inverted.shape == (40, 56) and not np.allclose(inverted, kerasviz.saliency(model, image, 0))


def test_a_four_channel_model_sees_opaque_alpha_and_other_counts_need_preprocess():
    model = _functional(_base(size=None, channels=4))
    pictures, _ = kerasviz.visualize_filters(model, "conv2", [0], size=SIZE, steps=2)
    assert pictures.shape == (1, SIZE, SIZE, 3)
    x = keras.ops.convert_to_numpy(models.preprocess_fn(model)(np.full((1, 2, 2, 3), 10.0, np.float32)))
    assert x.shape == (1, 2, 2, 4) and (x[..., 3] == 255).all() and (x[..., :3] == 10).all()
    assert kerasviz.saliency(model, _image(), 2, method="smoothgrad", samples=2).shape == (40, 56)
    two = _functional(_base(size=None, channels=2))
    with pytest.raises(kerasviz.KerasvizError, match="2 channels; .*pass preprocess= taking RGB"):
        kerasviz.saliency(two, _image(), 0)
    maps = kerasviz.saliency(two, _image(), 0, preprocess=lambda x: x[..., :2])
    assert maps.shape == (40, 56)


def test_reduced_precision_with_keras_ops_in_the_graph():
    """ConvNeXt's graph holds keras.ops nodes (no dtype policy); casting used to fail on them."""
    inputs = keras.Input((SIZE, SIZE, 3))
    x = layers.Conv2D(4, 3, padding="same", name="c1")(inputs)
    x = keras.ops.add(x, layers.Conv2D(4, 3, padding="same", name="c2")(x))
    model = keras.Model(inputs, layers.Dense(2)(layers.GlobalAveragePooling2D()(x)))
    for precision in ("float32", "bfloat16"):
        maps = kerasviz.saliency(model, _image(), 1, precision=precision)
        assert np.isfinite(maps).all() and maps.max() > 0
        _, act = kerasviz.visualize_filters(model, "c2", [0], size=SIZE, steps=1, precision=precision)
        assert np.isfinite(act).all()


def test_an_input_too_small_for_the_model_is_one_clear_line():
    inputs = keras.Input((None, None, 3))
    x = layers.Conv2D(4, 9, name="wide")(inputs)  # "valid": needs at least 9 x 9 pixels
    model = keras.Model(inputs, layers.Dense(2)(layers.GlobalAveragePooling2D()(x)))
    with pytest.raises(kerasviz.KerasvizError, match=r"failed while computing vanilla saliency on 6 x 6 .*larger"):
        kerasviz.saliency(model, _image(6, 6), 0)
    with pytest.raises(kerasviz.KerasvizError, match="failed while .*wide"):
        kerasviz.visualize_filters(model, "wide", [0], size=8, steps=1)


def test_default_layers_exemplars_and_features_reach_into_a_nested_base(nested):
    from kerasviz.dataset import embedding, exemplars
    from kerasviz.synthesis import style

    model, twin = nested
    assert models.conv_stages(model) == [["conv1", "conv2"], ["conv3"]]  # stages of the base, by stride
    assert style.default_layers(model) == (("conv2",), ("conv1", "conv3"))
    # uint8, as exemplars reads every image: the peaks below are then of the very pixels it saw
    images = [_image(SIZE, SIZE, seed=s).round().astype(np.uint8) for s in range(3)]
    found = exemplars.dataset_exemplars(model, "conv3", [0, 5], images, top=2, size=None)
    expected = twin.get_layer("conv3").output
    flat = keras.Model(twin.input, expected)
    maps = [keras.ops.convert_to_numpy(flat(np.float32(image[None])))[0] for image in images]
    for column, rows in zip((0, 5), found):
        peaks = [float(m[..., column].max()) for m in maps]
        # float32 sums in another order (PyTorch's convolutions): a relative 1e-4
        assert rows[0].activation <= max(peaks) + 1e-4 * (1 + abs(max(peaks))) and len(rows) == 2
    names, vectors = embedding.image_features(model, "base/conv3", images, size=None)
    assert vectors.shape == (3, 12)
    # images are read as whole levels
    want = keras.ops.convert_to_numpy(flat(np.round(images[0])[None]))[0].mean(axis=(0, 1))
    np.testing.assert_allclose(vectors[0], want, rtol=1e-2, atol=1e-3)


def test_one_preprocessing_function_per_channel_count_and_named_scalings_need_rgb():
    grey = _base(channels=1)
    assert models.preprocess_fn(grey) is models.preprocess_fn(grey)  # compiled steps keyed by it are reused
    with pytest.raises(kerasviz.KerasvizError, match="scales RGB images, but the model's input has 1 channels"):
        models.preprocess_fn(grey, "tf")
