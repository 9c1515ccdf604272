"""Every keras.applications family: filter pictures and every saliency method, random weights, small sizes.

Each family is built once (a module-scoped fixture) at the smallest input it accepts, fixed, nested in
a functional transfer-learning head (base -> global average pooling -> Dense(3)), as users fine-tune
it. Filters: one layer per stage of the base (the last layer at each output resolution), 1 step, 2
filters, in the precision the hardware picks ("auto") and the deepest stage in bfloat16. Saliency:
every method on a class of the head in "auto", and the methods that take a precision in bfloat16.
"""

import time

import keras
import numpy as np
import pytest
from keras import layers

import kerasviz
from kerasviz import models
from kerasviz.attribution import METHODS, PRECISION_METHODS, options_for
from kerasviz.attribution.transformers import ATTENTION_METHODS

CNN_METHODS = tuple(m for m in METHODS if m not in ATTENTION_METHODS)  # rollout reads attention; these are CNNs

# family -> (smallest input side, constructor options that make it smaller but keep its structure)
FAMILIES = {
    "VGG16": (32, {}),
    "VGG19": (32, {}),
    "ResNet50": (32, {}),
    "ResNet50V2": (32, {}),
    "InceptionV3": (75, {}),
    "InceptionResNetV2": (75, {}),
    "Xception": (71, {}),
    "MobileNet": (32, {"alpha": 0.25}),
    "MobileNetV2": (32, {"alpha": 0.35}),
    "MobileNetV3Small": (32, {"alpha": 0.75}),
    "DenseNet121": (32, {}),
    "EfficientNetB0": (32, {}),
    "EfficientNetV2B0": (32, {}),
    "ConvNeXtTiny": (32, {}),
    "NASNetMobile": (32, {}),
}
# Run by default (one plain, one residual and one branching family); the rest with --runslow. Measured
# on a shared 2-core Zen 3 (load ~14): about 90 s of CPU per family, 8 min of wall time at that load.
DEFAULT_FAMILIES = ("VGG16", "ResNet50", "InceptionV3")
FAST = {"samples": 2, "steps": 2, "masks": 16}  # SmoothGrad samples, integrated-gradient steps, RISE masks
_NOT_STAGES = (keras.layers.InputLayer, keras.layers.ZeroPadding2D, keras.layers.Cropping2D)


class Family:
    def __init__(self, name: str):
        size, options = FAMILIES[name]
        keras.utils.set_random_seed(0)
        self.name, self.size = name, size
        self.base = getattr(keras.applications, name)(
            include_top=False, weights=None, input_shape=(size, size, 3), **options
        )
        inputs = keras.Input((size, size, 3))
        x = layers.GlobalAveragePooling2D()(self.base(inputs, training=False))
        self.model = keras.Model(inputs, layers.Dense(3, name="head")(x))
        self.image = np.random.default_rng(0).uniform(0, 255, (size + 8, size - 4, 3)).astype(np.float32)

    def stages(self) -> list[str]:
        """Path of the last layer at each output resolution of the base, input to output."""
        last = {}
        for layer in self.base.layers:
            shape = getattr(layer.output, "shape", None) if not isinstance(layer, _NOT_STAGES) else None
            if shape is not None and len(shape) == 4:
                last[shape[1]] = f"{self.base.name}/{layer.name}"
        return list(last.values())


@pytest.fixture(scope="module", params=[
    name if name in DEFAULT_FAMILIES else pytest.param(name, marks=pytest.mark.slow) for name in FAMILIES
])
def family(request):
    start = time.perf_counter()
    built = Family(request.param)
    print(f"\n{request.param}: built in {time.perf_counter() - start:.1f} s")
    return built


def test_filter_pictures_on_one_layer_per_stage(family):
    stages = family.stages()
    assert len(stages) >= 4, stages
    plan = [(layer, "auto") for layer in stages] + [(stages[-1], "bfloat16")]
    for layer, precision in plan:
        pictures, act = kerasviz.visualize_filters(family.model, layer, [0, 1], size=family.size, steps=1,
                                                   precision=precision)
        assert pictures.shape == (2, family.size, family.size, 3) and pictures.dtype == np.uint8, layer
        assert np.isfinite(act).all(), (layer, precision)
    # The objective rose: more steps from the same start reach more (a no-op would tie). On an early stage,
    # where random weights still give responses well above rounding (MobileNet's deep stages give ~1e-7).
    _, longer = kerasviz.visualize_filters(family.model, stages[1], [0, 1], size=family.size, steps=6)
    _, shorter = kerasviz.visualize_filters(family.model, stages[1], [0, 1], size=family.size, steps=1)
    assert longer.mean() > shorter.mean(), (longer, shorter)


@pytest.mark.parametrize("precision", ["auto", "bfloat16"])
def test_every_saliency_method_on_a_classification_head(family, precision):
    methods = CNN_METHODS if precision == "auto" else PRECISION_METHODS
    for method in methods:
        options = options_for(method, {**FAST, "precision": precision, "patch": family.size // 2})
        maps = kerasviz.saliency(family.model, family.image, 1, method=method, **options)
        assert maps.shape == family.image.shape[:2], method
        assert np.isfinite(maps).all(), (method, precision)


def test_layers_of_the_base_by_plain_name(family):
    inner = family.stages()[1].rsplit("/", 1)[-1]
    assert models.resolve_layer(family.model, inner) == f"{family.base.name}/{inner}"


def test_masks_dream_and_style(family):
    stages = family.stages()
    mask = kerasviz.segment(family.image, model=family.model)
    assert mask.shape == family.image.shape[:2] and mask.dtype == bool
    dream = kerasviz.deep_dream(family.image, model=family.model, layers={stages[-2]: 1.0}, octaves=1, steps=1)
    # More than rounding: the photo is float, the dream uint8.
    assert dream.shape == family.image.shape and np.abs(dream - np.round(family.image)).mean() > 0.5
    styled = kerasviz.style_transfer(family.image, family.image[::-1], model=family.model,
                                     content_layers=[stages[-2]], style_layers=stages[:2], size=None, steps=1,
                                     levels=1, optimizer="adam")
    assert styled.shape == (family.size, family.size, 3)  # a fixed-size model's own size
