import numpy as np
import tensorflow as tf

from kerasviz.optvis import activations


def test_the_border_crop_drops_a_sixteenth_of_each_side_of_large_maps_only():
    large = tf.reshape(tf.range(2 * 32 * 32 * 1, dtype=tf.float32), (2, 32, 32, 1))
    small = tf.ones((2, 15, 15, 4))
    vector = tf.ones((2, 10))
    acts = {"large": (large, large + 1), "small": (small, small), "dense": (vector, vector)}
    cropped = activations.without_border(acts)
    pre, post = cropped["large"]
    assert pre.shape == post.shape == (2, 28, 28, 1)
    np.testing.assert_array_equal(pre.numpy(), large.numpy()[:, 2:-2, 2:-2])
    np.testing.assert_array_equal(post.numpy(), pre.numpy() + 1)
    assert cropped["small"][0].shape == small.shape and cropped["dense"][0].shape == vector.shape


def test_best_positions_average_each_channels_top_sixteenth():
    maps = np.random.default_rng(0).normal(size=(2, 8, 8, 3)).astype(np.float32)
    best = activations.best_positions(tf.constant(maps)).numpy()
    assert best.shape == (2, 1, 1, 3)
    flat = np.sort(maps.reshape(2, 64, 3), axis=1)[:, -4:]  # 64 / 16 = 4 positions
    np.testing.assert_allclose(best[:, 0, 0], flat.mean(axis=1), rtol=1e-6)


def test_a_silent_unit_is_pushed_on_its_best_pre_relu_positions_and_a_firing_one_on_its_output():
    pre = np.full((2, 8, 8, 1), -3.0, np.float32)
    pre[0, :4, :4] = 2.0  # image 0 fires on a quarter of its map
    pre[1, 0, :4] = -1.0  # image 1 is silent; its best 4 positions are at -1
    pre = tf.constant(pre)
    acts = {"layer": (pre, tf.nn.relu(pre))}
    score = activations.silent_unit_objective(acts, lambda kind: tf.reduce_mean(kind["layer"], axis=(1, 2, 3)))
    np.testing.assert_allclose(score.numpy(), [2.0 * 16 / 64, -1.0])
    with tf.GradientTape() as tape:
        tape.watch(pre)
        acts = {"layer": (pre, tf.nn.relu(pre))}
        total = tf.reduce_sum(activations.silent_unit_objective(
            acts, lambda kind: tf.reduce_mean(kind["layer"], axis=(1, 2, 3))))
    grad = tape.gradient(total, pre).numpy()
    assert np.count_nonzero(grad[0]) == 16 and np.count_nonzero(grad[1]) == 4  # where each image is pushed
