"""kerasviz.segment: masks from saliency maps, and clear errors for maps that cannot give one."""

import numpy as np
import pytest

from kerasviz.errors import KerasvizError
from kerasviz.segment import segment


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
        ({"method": "watershed"}, "valid: grabcut, threshold"),
        ({"middle": "maybe"}, "middle must be one of"),
        ({"foreground_quantile": 0.2}, "0 < background_quantile < foreground_quantile < 1"),
        ({"iterations": 0}, "iterations must be a positive integer"),
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
