"""Tests run on whichever Keras backend KERAS_BACKEND names (TensorFlow by default).

`@pytest.mark.tensorflow_only`: a test that needs TensorFlow itself (tf.* calls, tf.distribute, a tf.function
trace count, TensorBoard); skipped with that reason on JAX and PyTorch. .ci/run runs the whole suite on
TensorFlow and a named subset of files on JAX and PyTorch (BACKEND_TESTS there).
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import pytest  # noqa: E402

BACKEND = keras.backend.backend()


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", help="run tests marked slow (real weights, minutes)")


def pytest_configure(config):
    config.addinivalue_line("markers", "tensorflow_only: needs TensorFlow itself; skipped on other Keras backends")


def pytest_report_header(config):
    return f"keras {keras.__version__}, backend {BACKEND}"


def pytest_collection_modifyitems(config, items):
    slow = pytest.mark.skip(reason="slow: run with --runslow")
    not_tf = pytest.mark.skip(reason=f"tensorflow_only: needs TensorFlow itself, and the backend is {BACKEND}")
    for item in items:
        if "slow" in item.keywords and not config.getoption("--runslow"):
            item.add_marker(slow)
        if "tensorflow_only" in item.keywords and BACKEND != "tensorflow":
            item.add_marker(not_tf)
