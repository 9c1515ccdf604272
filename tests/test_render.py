import logging
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasviz
from kerasviz import models
from kerasviz.optvis import activations, objectives, param, render
from tests.helpers import activation_of, tiny_cnn

SIZE, STEPS = 32, 12


@pytest.fixture(scope="module")
def model():
    return tiny_cnn()


def _grey_start_activation(model, layer, filters):
    grey = np.full((len(filters), SIZE, SIZE, 3), 128.0, np.float32)
    return activation_of(model, layer, grey, filters)


@pytest.mark.parametrize("method", ["fft", "classic", "maco"])
def test_objective_rises_and_reported_activation_is_that_of_the_saved_image(model, method):
    filters = [0, 3, 5]
    images, acts = kerasviz.visualize_filters(model, "conv2", filters, size=SIZE, steps=STEPS, method=method)
    assert images.shape == (3, SIZE, SIZE, 3) and images.dtype == np.uint8
    np.testing.assert_allclose(acts, activation_of(model, "conv2", images, filters), rtol=1e-3, atol=1e-3)
    assert np.all(acts > _grey_start_activation(model, "conv2", filters) + 0.01)


def test_same_seed_same_bytes_other_seed_other_picture(model):
    a, _ = kerasviz.visualize_filters(model, "conv2", [1, 2], size=SIZE, steps=4, seed=7)
    b, _ = kerasviz.visualize_filters(model, "conv2", [1, 2], size=SIZE, steps=4, seed=7)
    c, _ = kerasviz.visualize_filters(model, "conv2", [1, 2], size=SIZE, steps=4, seed=8)
    assert a.tobytes() == b.tobytes()
    assert np.abs(a.astype(int) - c).mean() > 1


def test_a_filter_gets_the_same_picture_whatever_its_batch(model):
    alone, _ = kerasviz.visualize_filters(model, "conv3", [2], size=SIZE, steps=6, precision="float32")
    batched, _ = kerasviz.visualize_filters(model, "conv3", [0, 2, 3], size=SIZE, steps=6, precision="float32")
    assert np.abs(alone[0].astype(int) - batched[1]).max() <= 1


def test_new_filters_chunks_and_calls_do_not_retrace(model):
    kerasviz.visualize_filters(model, "conv2", [0, 1, 2, 3, 4], size=SIZE, steps=3, batch_size=2)
    renderer = next(r for r in models.model_cache(model, "renderers").values() if r.batch == 2 and r.size == SIZE)
    traces = renderer._run_steps.experimental_get_tracing_count()
    kerasviz.visualize_filters(model, "conv2", [5, 6, 7], size=SIZE, steps=5, batch_size=2)
    assert renderer._run_steps.experimental_get_tracing_count() == traces == 1
    assert renderer._score.experimental_get_tracing_count() == 1
    total = render.traces(model)  # the public count, as benchmarks/speed.py reads it
    kerasviz.visualize_filters(model, "conv2", [6, 7], size=SIZE, steps=4, batch_size=2, seed=5)
    assert render.traces(model) == total >= 1
    kerasviz.visualize_filters(model, "conv2", [0, 1], size=SIZE + 8, steps=2, batch_size=2)  # a new size
    assert render.traces(model) == total + 1


def test_many_layers_trace_once_each_without_a_retracing_warning(caplog):
    # A whole-network gallery makes one renderer a layer; TensorFlow counts traces per code object,
    # so renderers must not share one, or a run over 5+ layers warns of retracing that is not there.
    model = tiny_cnn()
    with caplog.at_level(logging.WARNING, logger="tensorflow"):
        for size in (24, 32):
            for layer in ("conv1", "conv2", "conv3", "relu3"):
                kerasviz.visualize_filters(model, layer, [0, 1], size=size, steps=2, precision="float32")
    renderers = list(models.model_cache(model, "renderers").values())
    assert len(renderers) == 8
    assert all(r._run_steps.experimental_get_tracing_count() == 1 for r in renderers)
    assert not [r for r in caplog.records if "retracing" in r.getMessage()]
    # TensorFlow stops warning after two warnings per key, which earlier tests may have used up:
    # check the keys themselves (a shared code object is what drew the false warning).
    keys = [r._run_steps._key_for_call_stats for r in renderers]
    assert len({id(k) for k in keys}) == len(keys)


def test_progressive_resolution_runs_half_size_first_and_rises(model):
    filters = [0, 3]
    images, acts = kerasviz.visualize_filters(model, "conv2", filters, size=64, steps=8, method="fft_progressive")
    assert images.shape == (2, 64, 64, 3)
    np.testing.assert_allclose(acts, activation_of(model, "conv2", images, filters), rtol=1e-3, atol=1e-3)
    grey = activation_of(model, "conv2", np.full((2, 64, 64, 3), 128.0, np.float32), filters)
    assert np.all(acts > grey + 0.01)
    renderers = {r.size: r for r in models.model_cache(model, "renderers").values()
                 if r.method.name == "fft_progressive"}
    assert set(renderers) == {32, 64}
    assert all(r._run_steps.experimental_get_tracing_count() == 1 for r in renderers.values())  # both sizes ran


@pytest.mark.parametrize("small_size, large_size, decay, field",
                         [(32, 64, 1.0, None), (31, 62, 1.0, None), (32, 96, 1.0, None), (32, 64, 1.5, None),
                          (32, 64, 1.0, 6)])
def test_an_enlarged_spectrum_is_the_same_picture(small_size, large_size, decay, field):
    small = param.fourier(2, small_size, decay_power=decay, receptive_field=field)
    large = param.fourier(2, large_size, decay_power=decay, receptive_field=field)
    value = small.init(tf.constant([[0, 1], [0, 2]])) * 30.0  # a picture with visible structure
    before = small.to_image(value).numpy()
    after = large.to_image(small.resize(value, large_size, 1)).numpy()
    assert before.std() > 0.03
    r = large_size // small_size
    np.testing.assert_allclose(after[:, ::r, ::r], before, atol=1e-5)  # the same picture, band-limited


def test_dead_unit_is_revived_by_pre_relu_ascent():
    model = tiny_cnn(dead_filter=4)
    dead = _grey_start_activation(model, "conv2", [4])
    assert dead[0] == 0.0
    _, acts = kerasviz.visualize_filters(model, "conv2", [4], size=SIZE, steps=40, precision="float32")
    assert acts[0] > 0.0


@pytest.mark.parametrize("make, layer", [(objectives.channel, "conv2"), (objectives.neuron, "conv2"),
                                          (objectives.channel, "relu3")])
@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_single_channel_fast_path_draws_what_the_generic_path_draws(make, layer, precision):
    # channel/neuron objectives work on each image's channel alone; times 1.0 the objective has no
    # channel description and goes through the generic all-channel path. Filter 4 starts silent.
    model = tiny_cnn(dead_filter=4)
    fast = make(layer)
    assert fast.channel is not None and (1.0 * fast).channel is None
    # In bfloat16 the two paths round differently (a depthwise and a full convolution), and many steps
    # of ascent amplify a rounding difference (by tens of grey levels on CPUs without native bfloat16):
    # there the first steps must agree.
    kwargs = dict(size=SIZE, steps=STEPS if precision == "float32" else 2, precision=precision)
    filters = [4, 1, 2] if layer == "conv2" else [0, 3]
    a, acts_a = kerasviz.visualize_filters(model, layer, filters, objective=fast, **kwargs)
    b, acts_b = kerasviz.visualize_filters(model, layer, filters, objective=1.0 * fast, **kwargs)
    if precision == "float32":
        assert np.abs(a.astype(int) - b).max() <= 1
        np.testing.assert_allclose(acts_a, acts_b, rtol=1e-3, atol=1e-3)
    else:
        # Adam's first steps move each coefficient by about the learning rate whatever its gradient's
        # size, so one whose gradient is near zero may step either way: the two paths must agree far
        # better than bfloat16 agrees with float32 (1.3 against 12 grey levels on average here).
        reference, _ = kerasviz.visualize_filters(model, layer, filters, objective=fast,
                                                  **dict(kwargs, precision="float32"))
        assert np.abs(a.astype(int) - b).mean() < 0.25 * np.abs(reference.astype(int) - b).mean()
        np.testing.assert_allclose(acts_a, acts_b, rtol=0.05, atol=0.01)
    if layer == "conv2" and make is objectives.channel and precision == "float32":
        assert acts_a[0] > 0.0  # the silent unit woke up on the fast path too


@pytest.mark.parametrize("options", [dict(padding="same"), dict(padding="valid"), dict(strides=2, padding="same"),
                                     dict(strides=2, padding="valid"), dict(dilation_rate=2, padding="same")])
def test_single_channel_convolution_equals_the_layers_channel(options):
    # The fast path convolves each image with its own output channel only (a depthwise convolution
    # over the batch folded into channels); it must equal the layer's full convolution, then that channel.
    layer = keras.layers.Conv2D(6, 3, activation="relu", **options)
    x = tf.random.stateless_normal((4, 11, 13, 5), seed=(1, 2))
    layer.build(x.shape)
    ids = tf.constant([5, 0, 3, 5])
    assert activations.depthwise_ok(layer)
    one = activations.single_channel_conv(layer, x, ids)
    full = tf.gather(layer.convolution_op(x, layer.kernel), ids, axis=-1, batch_dims=1)[..., None]
    assert one.shape == full.shape
    np.testing.assert_allclose(one.numpy(), full.numpy(), rtol=1e-5, atol=1e-5)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        a = tf.reduce_sum(tf.square(activations.single_channel_conv(layer, x, ids)))
        b = tf.reduce_sum(tf.square(tf.gather(layer.convolution_op(x, layer.kernel), ids, axis=-1, batch_dims=1)))
    np.testing.assert_allclose(tape.gradient(a, x).numpy(), tape.gradient(b, x).numpy(), rtol=1e-4, atol=1e-4)


def test_single_channel_convolution_switch(monkeypatch):
    # KERASVIZ_SINGLE_CHANNEL_CONV: auto (on for CPUs), 1 on, 0 off; both draw the same picture.
    results = {}
    for mode in ("0", "1", "auto"):
        monkeypatch.setenv("KERASVIZ_SINGLE_CHANNEL_CONV", mode)
        model = tiny_cnn()  # a fresh model: renderers are cached on it
        results[mode] = kerasviz.visualize_filters(model, "conv2", [1, 2], size=SIZE, steps=STEPS,
                                                   precision="float32")[0]
        (renderer,) = models.model_cache(model, "renderers").values()
        assert renderer.single_channel_conv is (mode != "0")
    assert np.abs(results["0"].astype(int) - results["1"]).max() <= 1


def test_fixed_negative_channel_on_the_single_channel_convolution():
    # channel(layer, -1) is the layer's last filter (7 of conv1's 8), not the last of its 3 inputs.
    model = tiny_cnn()
    fast = objectives.channel("conv1", -1)
    kwargs = dict(size=SIZE, steps=STEPS, precision="float32")
    a, acts_a = kerasviz.visualize_filters(model, "conv1", [0, 1], objective=fast, **kwargs)
    b, acts_b = kerasviz.visualize_filters(model, "conv1", [0, 1], objective=1.0 * fast, **kwargs)
    assert np.abs(a.astype(int) - b).max() <= 1
    np.testing.assert_allclose(acts_a, acts_b, rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(acts_a, activation_of(model, "conv1", a, [7, 7]), rtol=1e-3, atol=1e-3)


def test_class_logit_of_a_dense_head_rises_on_the_fast_path_as_on_the_generic_path():
    base = tiny_cnn()
    pooled = keras.layers.GlobalAveragePooling2D()(base.output)
    classifier = keras.Model(base.input, keras.layers.Dense(3, name="logits")(pooled))
    goal = objectives.class_logit("logits", 2)
    kwargs = dict(size=SIZE, steps=STEPS, precision="float32")
    a, score_a = kerasviz.visualize_filters(classifier, "logits", [2], objective=goal, **kwargs)
    b, score_b = kerasviz.visualize_filters(classifier, "logits", [2], objective=1.0 * goal, **kwargs)
    assert np.abs(a.astype(int) - b).max() <= 1
    np.testing.assert_allclose(score_a, score_b, rtol=1e-3, atol=1e-3)
    grey = np.asarray(classifier(np.full((1, SIZE, SIZE, 3), 128.0, np.float32)))[0, 2]
    assert score_a[0] > grey + 0.01


def test_custom_objectives_compose(model):
    goal = objectives.channel("conv3", 1) + 0.5 * objectives.channel("conv2", 2)
    images, score = kerasviz.visualize_filters(model, "conv3", [1], size=SIZE, steps=STEPS, objective=goal)
    a3 = activation_of(model, "conv3", images, [1])  # conv3 pre-ReLU == relu3 input; conv3 has no ReLU
    a2 = activation_of(model, "conv2", images, [2])
    np.testing.assert_allclose(score, a3 + 0.5 * a2, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("precision", ["float32", "bfloat16", "float16"])
def test_every_precision_gives_finite_rising_pictures(model, precision):
    images, acts = kerasviz.visualize_filters(model, "relu3", [0, 1], size=SIZE, steps=STEPS, precision=precision)
    assert np.all(np.isfinite(acts)) and np.all(acts > _grey_start_activation(model, "relu3", [0, 1]))


def test_bad_input_gets_clear_errors(model):
    with pytest.raises(kerasviz.KerasvizError, match="filter 8 out of range for conv2: valid filters are 0-7"):
        kerasviz.visualize_filters(model, "conv2", [8], size=SIZE, steps=1)
    with pytest.raises(kerasviz.KerasvizError, match="closest: conv2"):
        kerasviz.visualize_filters(model, "conv22", [0], size=SIZE, steps=1)
    with pytest.raises(kerasviz.KerasvizError, match="unknown method 'deep'; valid: classic, fft, maco"):
        kerasviz.visualize_filters(model, "conv2", [0], method="deep")
    with pytest.raises(kerasviz.KerasvizError, match="precision 'int8' is not valid for filter pictures; valid: auto"):
        kerasviz.visualize_filters(model, "conv2", [0], precision="int8")
    with pytest.raises(kerasviz.KerasvizError, match="size of filter pictures must be in 8..; got 4"):
        kerasviz.visualize_filters(model, "conv2", [0], size=4)
    with pytest.raises(kerasviz.KerasvizError, match="option 'octaves' does not apply to filter pictures"):
        kerasviz.visualize_filters(model, "conv2", [0], octaves=2)


@pytest.mark.parametrize(
    "name,layer,size",
    [("resnet50", "conv3_block1_out", 64), ("inceptionv3", "mixed2", 96), ("vgg16", "block3_conv1", 48)],
)
def test_keras_applications_layers_work(name, layer, size):
    keras.utils.set_random_seed(0)  # random weights: a unit may be silent on grey and stay so for 3 steps
    model = kerasviz.load_model(name, None)
    images, acts = kerasviz.visualize_filters(model, layer, [0, 5], size=size, steps=3)
    assert images.shape == (2, size, size, 3) and np.all(np.isfinite(acts))
    # its score: the model's preprocessing, fixed input size
    (renderer,) = models.model_cache(model, "renderers").values()
    grey = renderer.score(np.full((2, size, size, 3), 128, np.uint8), [0, 5])
    assert acts.sum() > 2 * grey.sum()  # the pictures' objective rose well above grey's


def test_sharding_over_two_devices_gives_the_single_device_pictures():
    # Logical devices must be set before TensorFlow starts, hence a fresh process.
    code = textwrap.dedent(
        """
        import numpy as np, tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        import kerasviz
        from tests.helpers import tiny_cnn
        model = tiny_cnn()
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        diff = 0
        for method, size in (("fft", 32), ("fft_progressive", 64), ("classic", 32)):  # Adam's state and none
            kw = dict(size=size, steps=6, precision="float32", batch_size=4, method=method)
            single, a1 = kerasviz.visualize_filters(model, "conv2", [0, 1, 2, 3, 4], **kw)
            sharded, a2 = kerasviz.visualize_filters(model, "conv2", [0, 1, 2, 3, 4], strategy=strategy, **kw)
            diff = max(diff, np.abs(single.astype(int) - sharded).max())
        print("REPLICAS", strategy.num_replicas_in_sync, "MAXDIFF", diff)
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    words = result.stdout.split()
    assert words[words.index("REPLICAS") + 1] == "2"
    assert int(words[words.index("MAXDIFF") + 1]) <= 1


def _grating_unit(period: int = 4) -> keras.Model:
    """One ReLU unit tuned to a vertical grating of `period` pixels: silent (exactly 0) on grey."""
    inputs = keras.Input((None, None, 3))
    x = keras.layers.Rescaling(1 / 127.5, offset=-1.0)(inputs)
    conv = keras.layers.Conv2D(1, (1, 2 * period), padding="same", activation="relu", name="grating")
    model = keras.Model(inputs, conv(x))
    stripes = np.cos(np.pi * 2 * np.arange(2 * period) / period).astype(np.float32)  # two periods: sums to 0
    conv.set_weights([np.tile(stripes[None, :, None, None], (1, 1, 3, 1)) / 3.0, np.zeros(1, np.float32)])
    return model


def test_a_unit_tuned_to_a_fine_grating_gets_a_picture_of_it():
    model = _grating_unit()
    images, acts = kerasviz.visualize_filters(model, "grating", [0], size=32, steps=24, precision="float32")
    picture = images[0].astype(np.float64)
    assert picture.std() > 12  # not grey
    # Stronger than white noise of the same contrast: the picture is the grating, not noise.
    noise = np.random.default_rng(0).normal(picture.mean(), picture.std(), (8, 32, 32, 3)).clip(0, 255)
    assert acts[0] > 1.5 * activation_of(model, "grating", noise, [0] * 8).max()
    # The unit's band of horizontal frequencies (6-10 cycles across the picture around its 8) holds
    # more of the picture's power than white noise would (5 of 17 columns): 0.42 here, and 0.10 for
    # the plain 1/f parameterisation with photos' colour and a grey-padded view.
    grey = picture.mean(axis=-1) - picture.mean()
    power = (np.abs(np.fft.rfft2(grey)) ** 2).sum(axis=0)
    assert power[6:11].sum() / power.sum() > 0.3


def test_no_frame_around_the_picture(model):
    images, _ = kerasviz.visualize_filters(model, "conv1", list(range(8)), size=48, steps=16, precision="float32")
    images = images.astype(np.float64)
    k = 3  # 6% of the side
    ring = np.ones((48, 48), bool)
    ring[k:-k, k:-k] = False
    inner = np.zeros((48, 48), bool)
    inner[k:-k, k:-k] = True
    inner[2 * k:-2 * k, 2 * k:-2 * k] = False
    spread = images.reshape(8, -1).std(axis=1)
    difference = np.linalg.norm(images[:, ring].mean(axis=1) - images[:, inner].mean(axis=1), axis=-1) / spread
    std_ratio = images[:, ring].std(axis=1).mean(axis=-1) / images[:, inner].std(axis=1).mean(axis=-1)
    assert np.median(difference) < 0.25 and difference.max() < 0.5
    assert 0.75 < np.median(std_ratio) < 1.25


def test_receptive_field_is_measured_from_the_model(model):
    # conv1 3x3 (on an even map the two central positions add a pixel), pool 2x2, conv2 3x3: 3 + 1 + 2 * 2 + 2
    assert kerasviz.models.receptive_field(model, "conv1", 32) == 4
    assert kerasviz.models.receptive_field(model, "conv2", 32) == 10
    assert kerasviz.models.receptive_field(model, "conv2", 8) == 8  # at most the picture


def test_flattened_spectrum_keeps_the_pixel_budget_and_lifts_high_frequencies():
    plain, flat = param._spectrum_scale(64, 1.0), param._spectrum_scale(64, 1.0, receptive_field=8)
    np.testing.assert_allclose(np.sum(flat**2), np.sum(plain**2), rtol=1e-5)
    assert flat[16, 16] > 1.3 * plain[16, 16] and flat[0, 1] < plain[0, 1] / 2
    np.testing.assert_array_equal(param._spectrum_scale(64, 1.0, receptive_field=64), plain)


def test_maco_keeps_the_natural_magnitude_whatever_the_phase():
    size = 48
    maco = param.magnitude_constrained(3, size)
    magnitude = param.natural_spectrum(size)
    fy = np.fft.fftfreq(size)[:, None]
    fx = np.fft.rfftfreq(size)[None, :]
    radius = np.sqrt(fx * fx + fy * fy)
    assert magnitude[0][(radius > 0.02) & (radius < 0.05)].mean() > 4 * magnitude[0][radius > 0.3].mean()  # falls
    phase = maco.init(tf.constant([[0, 1], [0, 2], [0, 3]])) + 5.0 * tf.random.stateless_normal(maco.shape, [1, 2])
    images = maco.to_image(phase).numpy()
    decorrelated = np.log(images / (1 - images)) / 4.0 @ np.linalg.inv(param.COLOR_CORRELATION.T)
    amplitude = np.abs(np.fft.rfft2(np.moveaxis(decorrelated, -1, 1)))
    # Columns 0 and size/2 hold each frequency twice (conjugate pairs), so a free phase there is not
    # free in the picture; every other coefficient keeps the natural magnitude exactly.
    inner = np.broadcast_to(magnitude, amplitude.shape)[..., 1:-1]
    np.testing.assert_allclose(amplitude[..., 1:-1], inner, rtol=1e-2, atol=1e-2)


def test_wrapped_view_continues_a_periodic_picture_without_a_seam():
    from kerasviz.optvis import transforms

    picture = param.fourier(2, 32).to_image(tf.random.stateless_normal(param.fourier(2, 32).shape, [1, 2]) * 3.0)
    seeds = tf.constant([[0, 1], [0, 2]])
    view = transforms.affine(pad=4)(picture, seeds).numpy()  # no shift, scale or rotation: a pure wrap
    np.testing.assert_allclose(view, np.pad(picture.numpy(), [(0, 0), (4, 4), (4, 4), (0, 0)], mode="wrap"), atol=1e-6)
    # A half-pixel shift interpolates across the border with the other side, not with a fill colour.
    shifted = transforms.affine(jitter=0.5, degrees=5.0, fill=-10.0)(picture, seeds).numpy()
    assert shifted.min() >= picture.numpy().min() - 1e-6  # an impossible fill colour never leaks in
    with pytest.raises(ValueError, match="cannot be wrapped"):
        transforms.affine(scale=(0.2, 0.3), pad=8)(picture, seeds)


@pytest.mark.parametrize("margin", [0, 3, 12, 16])  # 12 and 16 overlap the 20 px picture's edge bands
def test_periodic_continuation_has_the_gradient_of_tiling(margin):
    from kerasviz.optvis import transforms

    picture = tf.random.stateless_normal((2, 20, 20, 3), [3, 4])
    weights = tf.random.stateless_normal((2, 20 + 2 * margin, 20 + 2 * margin, 3), [5, 6])
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(picture)
        wrapped = transforms.periodic(picture, margin)
        tiled = tf.tile(picture, [1, 3, 3, 1])[:, 20 - margin:40 + margin, 20 - margin:40 + margin]
        ours, reference = tf.reduce_sum(wrapped * weights), tf.reduce_sum(tiled * weights)
    np.testing.assert_array_equal(wrapped.numpy(), tiled.numpy())
    np.testing.assert_allclose(tape.gradient(ours, picture).numpy(), tape.gradient(reference, picture).numpy(),
                               atol=1e-5)


def test_roll_shifts_each_picture_periodically_by_its_own_offset():
    from kerasviz.optvis import transforms

    pictures = tf.random.stateless_normal((4, 10, 12, 3), [7, 8])
    rolled = transforms.roll()(pictures, tf.constant([[0, i] for i in range(4)])).numpy()
    offsets = []
    for picture, out in zip(pictures.numpy(), rolled):
        found = [(dy, dx) for dy in range(10) for dx in range(12)
                 if np.array_equal(np.roll(picture, (-dy, -dx), axis=(0, 1)), out)]
        assert len(found) == 1
        offsets.append(found[0])
    assert len(set(offsets)) > 1  # each image draws its own offset


def test_fft_roll_saves_the_roll_its_unit_answers_most(model):
    filters = [0, 3, 5]
    images, acts = kerasviz.visualize_filters(model, "conv2", filters, size=SIZE, steps=STEPS, method="fft_roll")
    rolls = np.stack([activation_of(model, "conv2", np.roll(images, (dy * SIZE // 4, dx * SIZE // 4), axis=(1, 2)),
                                    filters) for dy in range(4) for dx in range(4)])
    assert np.all(rolls.max(axis=0) - rolls.min(axis=0) > 1e-3)  # where the picture is cut matters here
    np.testing.assert_allclose(acts, rolls.max(axis=0), rtol=1e-4)  # and the best cut is the one saved
    np.testing.assert_allclose(acts, activation_of(model, "conv2", images, filters), rtol=1e-3, atol=1e-3)
    assert np.all(acts > _grey_start_activation(model, "conv2", filters) + 0.01)
