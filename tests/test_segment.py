"""kerasviz.segment: masks from saliency maps, and clear errors for maps that cannot give one."""

import numpy as np
import pytest

from kerasviz.errors import KerasvizError
from kerasviz.segmentation import segment


def disc_scene(size: int = 64, radius: int = 12, centre=(40, 24), seed: int = 0):
    """A red disc on grey noise, its true mask, and a blurry saliency blob over it."""
    rng = np.random.default_rng(seed)
    image = rng.uniform(90, 140, (size, size, 3))
    yy, xx = np.mgrid[:size, :size]
    distance = np.hypot(yy - centre[0], xx - centre[1])
    truth = distance <= radius
    image[truth] = (220, 30, 40)
    saliency_map = np.exp(-((distance / radius) ** 2)) + rng.uniform(0, 0.05, (size, size))
    return image.astype(np.uint8), truth, saliency_map.astype(np.float32)


def iou(a, b):
    return (a & b).sum() / (a | b).sum()


@pytest.mark.parametrize("middle", ["background", "foreground"])
def test_grabcut_finds_the_disc(middle):
    image, truth, saliency_map = disc_scene()
    mask = segment(image, saliency_map, middle=middle)
    assert mask.dtype == bool and mask.shape == truth.shape
    assert iou(mask, truth) > 0.9


def test_threshold_methods():
    image, truth, saliency_map = disc_scene()
    otsu = segment(image, saliency_map, method="threshold")
    assert iou(otsu, truth) > 0.6
    top = segment(image, saliency_map, method="threshold", threshold=0.9)
    assert abs(top.mean() - 0.1) < 0.02 and (top & truth).sum() == top.sum()


def test_map_of_another_size_is_resized_and_mostly_zero_maps_work():
    image, truth, saliency_map = disc_scene()
    small = saliency_map[::4, ::4]
    assert iou(segment(image, small), truth) > 0.85
    sparse = np.where(saliency_map > 0.8, saliency_map, 0.0)  # like Grad-CAM after its ReLU
    assert (sparse == 0).mean() > 0.95
    assert iou(segment(image, sparse), truth) > 0.8


def test_largest_component_only():
    image, truth, saliency_map = disc_scene()
    saliency_map = saliency_map.copy()
    saliency_map[2:5, 2:5] = 10.0  # a hot speck far from the disc
    image[2:5, 2:5] = (20, 200, 20)
    mask = segment(image, saliency_map, method="threshold", threshold=0.9)
    assert not mask[2:5, 2:5].any() and mask[truth].any()
    both = segment(image, saliency_map, method="threshold", threshold=0.9, largest_component=False)
    assert both[2:5, 2:5].all()


@pytest.mark.parametrize(
    ("saliency_map", "message"),
    [
        (np.full((64, 64), 0.5), "flat"),
        (np.zeros((64, 64)), "flat"),
        (np.where(np.eye(64, dtype=bool), np.nan, 1.0), "64 NaN or infinite"),
        (np.ones((2, 64, 64)), r"one \(H, W\) map"),
        (np.zeros((0, 0)), r"one \(H, W\) map"),
    ],
)
def test_degenerate_maps_raise_clear_errors(saliency_map, message):
    image, _, _ = disc_scene()
    for method in ("grabcut", "threshold"):
        with pytest.raises(KerasvizError, match=message):
            segment(image, saliency_map, method=method)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "watershed"}, "valid: geodesic, contrast, spectral, grabcut, threshold"),
        ({"middle": "maybe"}, "middle 'maybe' is not valid for segment method 'grabcut'; valid: background"),
        ({"foreground_quantile": 0.2}, "0 < background_quantile < foreground_quantile < 1"),
        ({"iterations": 0}, "iterations of segment method 'grabcut' must be in 1..; got 0"),
        ({"method": "threshold", "iterations": 3}, "option 'iterations' does not apply to segment method 'threshold'"),
        ({"method": "grabcut", "feature_side": 64}, "feature_side applies to the feature methods"),
        ({"method": "threshold", "threshold": 1.5}, "threshold must be a quantile"),
    ],
)
def test_bad_arguments(kwargs, message):
    image, _, saliency_map = disc_scene()
    with pytest.raises(KerasvizError, match=message):
        segment(image, saliency_map, **kwargs)


def test_batch_of_images_is_refused():
    image, _, saliency_map = disc_scene()
    with pytest.raises(KerasvizError, match="one image"):
        segment(np.stack([image, image]), saliency_map)


# --- feature methods, regions and the cartoon ---------------------------------------------------

import keras  # noqa: E402

from kerasviz import cartoon, colour_regions  # noqa: E402
from kerasviz.segmentation import DEFAULT_FEATURE_METHOD, FEATURE_METHODS, GrabCutOptions, feature_layers  # noqa: E402
from tests.helpers import tiny_cnn  # noqa: E402


@pytest.fixture(scope="module")
def net():
    return tiny_cnn(seed=3)  # random weights: the methods must not need a trained network


def best_centred_ellipse(truth):
    h, w = truth.shape
    yy, xx = np.mgrid[:h, :w]
    scores = []
    for size in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8):
        ellipse = ((yy - (h - 1) / 2) / (size * h / 2)) ** 2 + ((xx - (w - 1) / 2) / (size * w / 2)) ** 2 <= 1
        scores.append(iou(ellipse, truth))
    return max(scores)


def object_scene(seed: int = 0):
    """A textured green blob off centre on a textured brown ground, and its true mask."""
    rng = np.random.default_rng(seed)
    size = (72, 96)
    image = rng.normal((120, 90, 60), 18, (*size, 3))
    yy, xx = np.mgrid[: size[0], : size[1]]
    truth = ((yy - 30) / 16) ** 2 + ((xx - 62) / 20) ** 2 <= 1
    truth |= (np.abs(yy - 46) < 5) & (np.abs(xx - 62) < 7)  # a foot: not an ellipse
    image[truth] = rng.normal((40, 170, 70), 18, (truth.sum(), 3))
    return np.clip(image, 0, 255).astype(np.uint8), truth


@pytest.mark.parametrize("method", FEATURE_METHODS)
def test_feature_methods_find_the_object(net, method):
    for seed in (0, 1):
        image, truth = object_scene(seed)
        mask = segment(image, method=method, model=net)
        assert mask.dtype == bool and mask.shape == truth.shape
        assert iou(mask, truth) > 0.8 > best_centred_ellipse(truth) + 0.2


def test_default_with_a_model_is_the_benchmark_winner_and_a_saliency_prior_is_used(net):
    image, truth = object_scene()
    np.testing.assert_array_equal(segment(image, model=net), segment(image, method=DEFAULT_FEATURE_METHOD, model=net))
    wrong = np.zeros(truth.shape, np.float32)
    wrong[:20, :20] = 1.0  # a prior on the opposite corner: the mask moves away from the object
    assert iou(segment(image, wrong, model=net), truth) < iou(segment(image, model=net), truth)
    small = np.where(truth, 1.0, 0.1)[::3, ::3]  # a prior of another size is resized
    assert iou(segment(image, small, model=net), truth) > 0.8


def test_regions_are_the_scene_parts(net):
    rng = np.random.default_rng(0)
    image = rng.normal(0, 12, (60, 90, 3))
    image[:, :30] += (200, 40, 40)
    image[:, 30:60] += (40, 180, 60)
    image[:, 60:] += (50, 60, 210)
    image = np.clip(image, 0, 255).astype(np.uint8)
    labels = segment(image, model=net, regions=3)
    assert labels.shape == (60, 90) and labels.dtype == np.int32
    assert sorted(np.unique(labels)) == [0, 1, 2]
    for part in (slice(0, 30), slice(30, 60), slice(60, 90)):
        values, counts = np.unique(labels[:, part], return_counts=True)
        assert counts.max() / counts.sum() > 0.9  # each stripe is mostly one region
    assert len({np.bincount(labels[:, p].ravel()).argmax() for p in (slice(0, 30), slice(30, 60), slice(60, 90))}) == 3
    np.testing.assert_array_equal(labels, segment(image, model=net, regions=3))  # same image, same regions


def test_cartoon_fills_regions_with_their_mean_and_draws_edges():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (20, 30, 3)).astype(np.uint8)
    labels = np.zeros((20, 30), np.int32)
    labels[:, 15:] = 1
    drawn = cartoon(image, labels, edge_width=2)
    assert drawn.dtype == np.uint8 and drawn.shape == image.shape
    np.testing.assert_array_equal(drawn[:, :13], np.broadcast_to(np.round(image[:, :15].mean((0, 1))), (20, 13, 3)))
    assert (drawn[:, 15] == 20).all()  # the border between the two regions is dark
    plain = cartoon(image, labels, edge_width=0)
    assert len(np.unique(plain.reshape(-1, 3), axis=0)) == 2
    colours = colour_regions(labels)
    assert colours.shape == (20, 30, 3) and not (colours[0, 0] == colours[0, -1]).all()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("vgg16", ["block3_conv3", "block4_conv3", "block5_conv3"]),
        ("resnet50", ["conv3_block4_out", "conv4_block6_out", "conv5_block3_out"]),
        ("inceptionv3", ["mixed2", "mixed7", "mixed10"]),
    ],
)
def test_feature_layers_are_read_from_the_model_and_every_output_works(name, expected):
    from kerasviz import load_model

    model = load_model(name, None)  # random weights: shapes and behaviour only
    assert feature_layers(model) == expected
    image, _ = object_scene()
    mask = segment(image, model=model)
    assert mask.dtype == bool and mask.shape == image.shape[:2]
    labels = segment(image, model=model, regions=4)
    assert labels.shape == image.shape[:2] and sorted(np.unique(labels)) == [0, 1, 2, 3]
    keras.backend.clear_session()


def test_a_fixed_size_model_takes_any_image():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((48, 48, 3), name="fixed_input")
    x = keras.layers.Rescaling(1 / 127.5, offset=-1.0, name="fixed_scale")(inputs)
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="fixed_conv1")(x)
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu", name="fixed_conv2")(x)
    fixed = keras.Model(inputs, x, name="fixed")
    assert feature_layers(fixed) == ["fixed_conv1", "fixed_conv2"]  # fewer stages than FEATURE_STAGES: all
    image, truth = object_scene()
    assert iou(segment(image, model=fixed), truth) > 0.6


@pytest.mark.parametrize(
    ("image", "kwargs", "message"),
    [
        (np.full((40, 40, 3), 128, np.uint8), {}, r"one colour \(128, 128, 128\)"),
        (np.full((40, 40, 3), np.nan), {}, "NaN or infinite values"),
        (None, {"method": "geodesic", "model": None}, "needs model="),
        (None, {"method": "grabcut"}, "needs a saliency map; without one pass model="),
        (None, {"regions": 1}, "regions must be an integer from 2 to 32"),
        (None, {"regions": 40}, "regions must be an integer from 2 to 32"),
        (None, {"regions": True}, "regions must be an integer from 2 to 32"),
        (None, {"method": "kmeans"}, "valid: geodesic, contrast, spectral, grabcut, threshold"),
    ],
)
def test_feature_methods_bad_input(net, image, kwargs, message):
    if image is None:
        image, _ = object_scene()
    args = {"model": net} | kwargs
    with pytest.raises(KerasvizError, match=message):
        segment(image, **args)


@pytest.mark.parametrize(
    ("saliency_map", "message"),
    [(np.full((72, 96), 0.5), "flat"), (np.full((72, 96), np.nan), "NaN or infinite"), (np.ones((3, 72, 96)), "one")],
)
def test_feature_methods_refuse_a_bad_prior(net, saliency_map, message):
    image, _ = object_scene()
    with pytest.raises(KerasvizError, match=message):
        segment(image, saliency_map, model=net)


def test_cartoon_bad_labels():
    image = np.zeros((10, 10, 3), np.uint8)
    with pytest.raises(KerasvizError, match="differ in size"):
        cartoon(image, np.zeros((5, 10), np.int32))
    with pytest.raises(KerasvizError, match="non-negative integer"):
        cartoon(image, np.full((10, 10), 0.5))
    with pytest.raises(KerasvizError, match="regions without a model|need model="):
        segment(object_scene()[0], regions=3)


def test_feature_side_sets_the_grid_and_is_checked(net):
    from kerasviz.segmentation import features

    image, truth = object_scene()
    assert features(net, image, feature_side=64).shape[:2] == (8, 11)  # 64 x 85 px, one position per 8
    assert iou(segment(image, model=net, feature_side=160), truth) > 0.8
    with pytest.raises(KerasvizError, match="feature_side must be an integer >= 8"):
        segment(image, model=net, feature_side=4)


def test_grabcut_does_not_depend_on_opencvs_random_state():
    import cv2
    import skimage.data

    from kerasviz.segmentation import grab_cut

    image = cv2.resize(skimage.data.astronaut(), (320, 320))  # without reseeding, OpenCV's seed moves ~6000 pixels
    masks = []
    for seed in (0, 1):
        cv2.setRNGSeed(seed)
        labels = np.zeros((320, 320), np.uint8)
        grab_cut(image, labels, rect=(32, 32, 256, 256))
        masks.append(labels)
    np.testing.assert_array_equal(*masks)


def test_feature_masks_are_refined_at_one_size_whatever_the_photo_size(net, monkeypatch):
    import importlib

    import cv2

    segment_module = importlib.import_module("kerasviz.segmentation.refine")  # where grabcut_from_map looks up grab_cut
    shapes = []
    real_grab_cut = segment_module.grab_cut

    def recording_grab_cut(rgb, labels, **kwargs):
        shapes.append(rgb.shape[:2])
        real_grab_cut(rgb, labels, **kwargs)

    monkeypatch.setattr(segment_module, "grab_cut", recording_grab_cut)
    image, truth = object_scene()
    masks = {}
    for scale in (1, 8):  # 72 x 96 and 576 x 768 pixels
        big = cv2.resize(image, (96 * scale, 72 * scale), interpolation=cv2.INTER_NEAREST)
        masks[scale] = segment(big, model=net)
        assert masks[scale].shape == big.shape[:2]
    side = segment_module.REFINE_SIDE
    assert shapes == [(side, side * 4 // 3)] * 2  # GrabCut saw both photos at the working size
    small_again = cv2.resize(masks[8].astype(np.float32), (96, 72), interpolation=cv2.INTER_AREA) > 0.5
    assert iou(masks[1], truth) > 0.8 and iou(small_again, masks[1]) > 0.95


def test_a_mask_that_vanishes_at_a_small_photos_size_falls_back_to_the_maps_cut(net, monkeypatch):
    import importlib

    segment_module = importlib.import_module("kerasviz.segmentation")

    def one_pixel(rgb, soft):  # GrabCut keeping a speck, as on a tiny photo refined at the working size
        mask = np.zeros(soft.shape, bool)
        mask[soft.shape[0] // 2, soft.shape[1] // 2] = True
        return mask

    monkeypatch.setattr(importlib.import_module("kerasviz.segmentation.refine"), "_refine_at_size", one_pixel)
    image, truth = object_scene()
    small = image[::3, ::3]  # 24 x 32: refined at 180 x 240, a speck there is nothing here
    mask = segment(small, model=net)
    soft = segment_module.soft_map(small, net)
    cut = segment_module.largest_component(soft > segment_module.otsu_threshold(soft))
    assert mask.any() and np.array_equal(mask, cut)
    assert iou(mask, truth[::3, ::3]) > 0.5


def test_saliency_options_are_an_error_for_feature_methods_and_regions():
    image, _, _ = disc_scene()
    net = keras.Sequential([keras.Input((None, None, 3)), keras.layers.Conv2D(4, 3, name="c")])
    for kwargs in ({"method": "geodesic", "threshold": 0.5}, {"regions": 3, "iterations": 2},
                   {"method": "contrast", "options": GrabCutOptions()}):
        with pytest.raises(KerasvizError, match="does not apply to"):
            segment(image, model=net, **kwargs)
