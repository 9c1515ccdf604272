"""Imported first by every script: starts TensorFlow without its C++ start-up chatter (on the TensorFlow
backend only: on JAX or PyTorch, TensorFlow is never imported, and need not be installed).

TensorFlow prints half a dozen lines on every start (oneDNN notice, no CUDA driver, CPU
features), even with TF_CPP_MIN_LOG_LEVEL set. They are captured here; anything else printed
during start-up (a real driver problem, say) is shown as usual. KERASVIZ_VERBOSE=1 shows all.
"""

import json
import os
import re
import sys
import tempfile

BENIGN = re.compile(
    r"oneDNN custom operations|Could not find cuda drivers|All log messages before absl::InitializeLog"
    r"|cpu_feature_guard|To enable the following instructions|failed call to cuInit|Unable to register cu"
)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _keras_backend() -> str:
    """The backend Keras will pick, without importing it: KERAS_BACKEND, else keras.json's, else tensorflow."""
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"]
    config = os.path.join(os.environ.get("KERAS_HOME", os.path.expanduser("~/.keras")), "keras.json")
    try:
        with open(config) as f:
            return json.load(f).get("backend", "tensorflow")
    except (OSError, ValueError):
        return "tensorflow"


def _start_quietly() -> None:
    saved = os.dup(2)
    with tempfile.TemporaryFile() as log:
        os.dup2(log.fileno(), 2)
        try:
            import tensorflow as tf

            tf.config.list_logical_devices()  # device discovery logs too
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            log.seek(0)
            for line in log.read().decode(errors="replace").splitlines():
                if line.strip() and not BENIGN.search(line):
                    print(line, file=sys.stderr)


if not os.environ.get("KERASVIZ_VERBOSE") and _keras_backend() == "tensorflow":
    _start_quietly()
elif not os.environ.get("KERASVIZ_VERBOSE") and _keras_backend() == "jax":
    import logging

    # JAX logs at INFO, through absl's handler, that it found no TPU ("Unable to initialize backend 'tpu'")
    logging.getLogger("jax._src.xla_bridge").setLevel(logging.WARNING)
