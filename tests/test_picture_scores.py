"""The filter benchmark's picture scores (benchmarks/quality.py) on inputs whose answer is known."""

import os
import sys

import keras
import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "benchmarks"))
import quality  # noqa: E402


@pytest.fixture(scope="module")
def photos():
    return quality.reference_photos(64)


def test_photos_score_natural_and_white_noise_does_not(photos):
    assert np.all(quality.high_frequency_share(photos) < 0.1)
    noise = np.random.default_rng(0).uniform(0, 255, (4, 64, 64, 3))
    assert np.all(quality.high_frequency_share(noise) > 0.7)
    # A fine grating is all high frequency; a smooth ramp none.
    x = np.arange(64)
    grating = np.broadcast_to((128 + 100 * np.cos(np.pi * x * 0.75))[None, None, :, None], (1, 64, 64, 3))
    ramp = np.broadcast_to(np.linspace(0, 255, 64)[None, :, None, None], (1, 64, 64, 3))
    assert quality.high_frequency_share(grating)[0] > 0.99 and quality.high_frequency_share(ramp)[0] < 0.05


def test_a_frame_scores_as_one_and_noise_does_not():
    rng = np.random.default_rng(0)
    noise = rng.normal(128, 30, (4, 100, 100, 3))
    difference, ratio = quality.frame_scores(noise)
    assert np.all(difference < 0.15) and np.all(np.abs(ratio - 1) < 0.1)
    framed = noise.copy()
    framed[:, :6], framed[:, -6:], framed[:, :, :6], framed[:, :, -6:] = 0, 0, 0, 0  # a flat black frame
    difference, ratio = quality.frame_scores(framed)
    assert np.all(difference > 1.0) and np.all(ratio < 0.1)
    busy = noise.copy()
    busy[:, :6] += rng.normal(0, 90, busy[:, :6].shape)  # a ring with more structure than the inside
    assert np.all(quality.frame_scores(busy)[1] > 1.5)


def test_specificity_ranks_the_unit_a_picture_was_made_for_first(photos):
    inputs = keras.Input((None, None, 3))
    conv = keras.layers.Conv2D(3, 1, activation="relu", name="colours")  # unit c: colour channel c above grey
    model = keras.Model(inputs, conv(inputs))
    conv.set_weights([np.eye(3, dtype=np.float32)[None, None], np.full(3, -128, np.float32)])
    red, blue = np.zeros((1, 64, 64, 3)), np.zeros((1, 64, 64, 3))
    red[..., 0], blue[..., 2] = 255, 255
    pictures = np.concatenate([red, blue]).astype(np.uint8)
    ranks = quality.specificity_rank(model, "colours", pictures, [0, 2], photos=photos)
    np.testing.assert_array_equal(ranks, [0, 0])
    np.testing.assert_array_equal(quality.specificity_rank(model, "colours", pictures, [1, 1], photos=photos), [1, 1])
