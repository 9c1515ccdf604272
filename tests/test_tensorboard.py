"""TensorBoard summaries: written with TensorFlow alone, read back from the event file."""

import glob
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from kerasviz.apps.tensorboard import write_summaries
from kerasviz.errors import KerasvizError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FACTS = {"model": "tiny", "layer": "conv1", "filters": [0, 1, 2], "seconds": 1.5, "activations": [0.5, 2.0, 3.5]}


def _events(logdir: str) -> dict:
    values = {}
    for path in glob.glob(os.path.join(logdir, "events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                values[value.tag] = (value.metadata.plugin_data.plugin_name, tf.make_ndarray(value.tensor))
    return values


def test_images_histogram_scalars_and_facts_read_back(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (3, 8, 10, 3), dtype=np.uint8)
    logdir = write_summaries(str(tmp_path / "tb"), "tiny_conv1", images, FACTS)
    values = _events(logdir)
    plugin, tensor = values["tiny_conv1/images"]
    assert plugin == "images" and tensor[0] == b"10" and tensor[1] == b"8" and len(tensor) == 5
    assert np.array_equal(tf.io.decode_png(tensor[2]).numpy(), images[0])  # lossless
    plugin, buckets = values["tiny_conv1/activations"]
    assert plugin == "histograms" and buckets.shape[1] == 3 and buckets[:, 2].sum() == 3
    assert buckets[0, 0] == 0.5 and buckets[-1, 1] == 3.5
    assert values["tiny_conv1/activation_mean"] == ("scalars", pytest.approx(2.0))
    assert values["tiny_conv1/activation_max"][1] == pytest.approx(3.5)
    assert values["tiny_conv1/seconds"][1] == pytest.approx(1.5)
    plugin, text = values["tiny_conv1/facts"]
    assert plugin == "text" and b'"layer": "conv1"' in text.item()


def test_tensorboard_reads_them(tmp_path):
    """TensorBoard's own reader files each summary under the plugin that shows it."""
    accumulator = pytest.importorskip("tensorboard.backend.event_processing.plugin_event_accumulator")
    logdir = write_summaries(str(tmp_path), "grid", np.zeros((12, 12, 3), np.uint8), FACTS)
    events = accumulator.EventAccumulator(logdir, size_guidance={"tensors": 0})
    events.Reload()
    assert list(events.PluginTagToContent("images")) == ["grid/images"]
    assert list(events.PluginTagToContent("histograms")) == ["grid/activations"]
    assert set(events.PluginTagToContent("scalars")) == {"grid/activation_mean", "grid/activation_max", "grid/seconds"}
    assert list(events.PluginTagToContent("text")) == ["grid/facts"]
    assert tf.make_ndarray(events.Tensors("grid/images")[0].tensor_proto)[0] == b"12"


def test_constant_activations_and_bad_images(tmp_path):
    write_summaries(str(tmp_path), "flat", np.zeros((2, 4, 4, 3), np.uint8), {"activations": [1.0, 1.0]})
    assert _events(str(tmp_path))["flat/activations"][1].tolist() == [[1.0, 1.0, 2.0]]
    with pytest.raises(KerasvizError, match="uint8"):
        write_summaries(str(tmp_path), "bad", np.zeros((4, 4, 3), np.float32), {})


def test_visualize_filters_flag(tmp_path):
    out, logdir = str(tmp_path / "out"), str(tmp_path / "tb")
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "scripts", "visualize_filters.py"), "--model=vgg16", "--weights=none",
         "--layer=block1_conv1", "--filters=0-1", "--size=32", "--steps=1", f"--out={out}",
         f"--tensorboard={logdir}"],
        capture_output=True, text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"), timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    values = _events(logdir)
    assert values["vgg16_block1_conv1/images"][1][:2].tolist() == [b"66", b"32"]  # the grid: 2 filters side by side
    assert values["vgg16_block1_conv1/activations"][1][:, 2].sum() == 2
