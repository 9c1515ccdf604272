import numpy as np
import pytest
import tensorflow as tf

from kerasviz.optvis import optim


def test_adams_first_step_is_the_learning_rate_in_the_gradients_direction():
    # Bias-corrected moments: after one step m_hat = g and v_hat = g^2, so the step is lr * g / (|g| + eps).
    rule = optim.adam(0.05)
    grads = tf.constant([[3.0, -0.002, 40.0]])
    step, state = rule.update(grads, rule.init(tf.zeros_like(grads)))
    np.testing.assert_allclose(step.numpy(), 0.05 * np.sign(grads.numpy()), rtol=1e-4)
    assert int(state.count) == 1


def test_rms_normalized_steps_have_the_learning_rate_as_rms_per_image_whatever_the_scale():
    rule = optim.rms_normalized(0.5)
    grads = tf.constant(np.random.default_rng(0).normal(size=(3, 4, 4, 3)) * [[[[0.1]]], [[[1.0]]], [[[1e3]]]],
                        tf.float32)
    step, state = rule.update(grads, rule.init(grads))
    rms = np.sqrt(np.mean(np.square(step.numpy()), axis=(1, 2, 3)))
    np.testing.assert_allclose(rms, 0.5, rtol=1e-3)
    assert state == ()


@pytest.mark.parametrize("rule", [optim.adam(0.1), optim.rms_normalized(0.05)])
def test_ascent_reaches_the_maximum_of_a_concave_function(rule):
    target = tf.constant([[3.0, -2.0]])
    x = tf.zeros_like(target)
    state = rule.init(x)
    for _ in range(300):
        with tf.GradientTape() as tape:
            tape.watch(x)
            value = -tf.reduce_sum(tf.square(x - target))
        step, state = rule.update(tape.gradient(value, x), state)
        x = x + step
    np.testing.assert_allclose(x.numpy(), target.numpy(), atol=0.15)


def test_a_while_loop_carries_the_state_and_gives_the_eager_loops_bytes():
    rule = optim.adam(0.05)
    grads = tf.random.stateless_normal((2, 5), seed=(1, 2))

    def body(i, x, state):
        step, state = rule.update(grads * (1.0 + tf.cast(i, tf.float32)), state)
        return i + 1, x + step, state

    x = tf.zeros_like(grads)
    _, compiled, compiled_state = tf.function(lambda x, s: tf.while_loop(lambda i, *_: i < 4, body, (0, x, s)))(
        x, rule.init(x))
    state = rule.init(x)
    for i in range(4):
        _, x, state = body(tf.constant(i), x, state)
    assert compiled.numpy().tobytes() == x.numpy().tobytes()
    assert int(compiled_state.count) == int(state.count) == 4


def test_resizing_adams_state_maps_its_moments_as_gradients_and_keeps_its_count():
    rule = optim.adam(0.05)
    state = rule.init(tf.ones((1, 2)))._replace(count=tf.constant(7))
    calls = []

    def resize(tensor, power):
        calls.append(power)
        return tf.concat([tensor, tensor], axis=1)

    resized = rule.resize(state, resize)
    assert sorted(calls) == [-2, -1] and resized.mu.shape == (1, 4) and int(resized.count) == 7
    assert optim.rms_normalized(0.1).resize((), resize) == () and len(calls) == 2
