"""Filter pictures and activations as TensorBoard summaries, for people who already live in TensorBoard.

The summaries are written with `tf.summary.write` and TensorBoard's own plugin metadata (images,
histograms, scalars, text), so writing them needs TensorFlow only; viewing them needs
`pip install tensorboard` and `tensorboard --logdir=DIR`.
"""

from __future__ import annotations

import json

import numpy as np

from kerasviz.errors import KerasvizError

HISTOGRAM_BINS = 30  # TensorBoard's own default bucket count
MAX_IMAGES = 64  # images kept per tag: TensorBoard shows them on one slider


def write_summaries(logdir: str, stem: str, images: np.ndarray, facts: dict, *, step: int = 0) -> str:
    """Writes `images` and `facts` under the tag prefix `stem` into an event file in `logdir`; returns logdir.

    `images`: uint8 `(H, W, 3)` (a grid) or `(N, H, W, 3)` (one per filter), written as `STEM/images`.
    From `facts` (a filter job's JSON sidecar): `activations` as the histogram `STEM/activations` and
    the scalars `STEM/activation_mean` and `STEM/activation_max`, `seconds` as `STEM/seconds`, and the
    whole sidecar as the text `STEM/facts`.
    """
    try:
        import tensorflow as tf  # tf.summary writes the event files on any Keras backend
    except ImportError:
        raise KerasvizError("TensorBoard summaries are written with tf.summary, and TensorFlow is not installed "
                            "(pip install tensorflow, or leave out --tensorboard)") from None

    batch = np.asarray(images)
    if batch.ndim == 3:
        batch = batch[None]
    if batch.ndim != 4 or batch.shape[-1] not in (1, 3, 4) or batch.dtype != np.uint8:
        raise KerasvizError(
            f"images must be uint8 (H, W, 3) or (N, H, W, 3); got {batch.dtype} of shape {np.shape(images)}"
        )
    try:
        writer = tf.summary.create_file_writer(logdir)
    except (tf.errors.OpError, OSError) as err:
        raise KerasvizError(f"cannot write TensorBoard summaries to {logdir!r}: {err}") from None
    with writer.as_default():
        _image(f"{stem}/images", batch[:MAX_IMAGES], step)
        activations = np.asarray(facts.get("activations") or [], np.float64)
        if activations.size:
            _histogram(f"{stem}/activations", activations, step)
            _scalar(f"{stem}/activation_mean", float(activations.mean()), step)
            _scalar(f"{stem}/activation_max", float(activations.max()), step)
        if isinstance(facts.get("seconds"), (int, float)):
            _scalar(f"{stem}/seconds", float(facts["seconds"]), step)
        text = "```json\n" + json.dumps(facts, indent=2, default=str) + "\n```"
        _write(f"{stem}/facts", tf.constant(text), step, "text", "TENSOR")
    writer.close()
    return logdir


def _write(tag: str, tensor, step: int, plugin: str, data_class: str) -> None:
    import tensorflow as tf
    from tensorflow.core.framework import summary_pb2

    metadata = summary_pb2.SummaryMetadata(
        plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name=plugin),
        data_class=getattr(summary_pb2, f"DATA_CLASS_{data_class}"),
    )
    tf.summary.write(tag, tensor, step=step, metadata=metadata)


def _image(tag: str, batch: np.ndarray, step: int) -> None:
    import tensorflow as tf

    # The image plugin's format: [width, height, PNG bytes...] as strings.
    encoded = [tf.io.encode_png(image).numpy() for image in batch]
    header = [str(batch.shape[2]).encode(), str(batch.shape[1]).encode()]
    _write(tag, tf.constant(header + encoded), step, "images", "BLOB_SEQUENCE")


def _histogram(tag: str, values: np.ndarray, step: int) -> None:
    import tensorflow as tf

    # The histogram plugin's format: one row (left edge, right edge, count) per bucket.
    lo, hi = float(values.min()), float(values.max())
    if lo == hi:
        buckets = np.array([[lo, hi, float(values.size)]])
    else:
        counts, edges = np.histogram(values, bins=HISTOGRAM_BINS, range=(lo, hi))
        buckets = np.stack([edges[:-1], edges[1:], counts.astype(np.float64)], axis=1)
    _write(tag, tf.constant(buckets, tf.float64), step, "histograms", "TENSOR")


def _scalar(tag: str, value: float, step: int) -> None:
    import tensorflow as tf

    _write(tag, tf.constant(value, tf.float32), step, "scalars", "SCALAR")
