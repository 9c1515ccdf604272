"""kerasviz.backend on whichever Keras backend this run is on, and what importing kerasviz brings in on each.

The in-process tests run on the backend of this run (.ci/run runs this file on TensorFlow, JAX and PyTorch);
the import tests start a fresh Python per backend, as KERAS_BACKEND is read once, when Keras is imported.
"""

import importlib.util
import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from kerasviz import backend

INSTALLED = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}

# Run in a fresh Python: imports kerasviz with an import hook that notes, for the first import of TensorFlow,
# the chain of kerasviz modules that led to it, and prints what the test checks as one JSON line.
PROBE = r"""
import json, sys, traceback

class Watch:
    chain = None
    def find_spec(self, name, path=None, target=None):
        if Watch.chain is None and name.split(".")[0] == "tensorflow":
            Watch.chain = [f.filename.split("kerasviz/", 1)[-1] for f in traceback.extract_stack()
                           if "/kerasviz/" in f.filename.replace("\\", "/")]
        return None

sys.meta_path.insert(0, Watch())
import kerasviz, kerasviz.backend
print(json.dumps({"name": kerasviz.backend.NAME, "tensorflow": "tensorflow" in sys.modules,
                  "chain": Watch.chain}))
"""


def probe(name: str) -> dict:
    """What importing kerasviz under KERAS_BACKEND=`name` does, in a fresh Python (skips if not installed)."""
    if importlib.util.find_spec(INSTALLED[name]) is None:
        pytest.skip(f"{name} is not installed (pip install -e '.[{name}]')")
    env = {**os.environ, "KERAS_BACKEND": name, "TF_CPP_MIN_LOG_LEVEL": "3"}
    run = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, f"import kerasviz on {name} failed:\n{run.stderr[-3000:]}"
    return json.loads(run.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("name", ["jax", "torch"])
def test_importing_kerasviz_never_imports_tensorflow_on_other_backends(name):
    facts = probe(name)
    assert not facts["tensorflow"], f"import kerasviz on {name} imported TensorFlow, through {facts['chain']}"


@pytest.mark.parametrize("name", ["tensorflow", "jax", "torch"])
def test_name_follows_keras_backend(name):
    assert probe(name)["name"] == name


def test_name_is_this_runs_backend():
    assert keras.backend.backend() == backend.NAME
    assert backend.NAME in backend.BACKENDS


# A linear model y = x W + b and the loss sum(y * c): its gradient with respect to x is c W^T, row by row.
W = np.array([[1.0, -2.0, 0.5], [0.0, 3.0, -1.0], [2.0, 1.0, 1.0], [-1.0, 0.5, 4.0]], np.float32)  # (4, 3)
B = np.array([0.1, -0.2, 0.3], np.float32)
C = np.array([1.0, 2.0, -1.0], np.float32)


def linear_model() -> keras.Model:
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    model.layers[0].set_weights([W, B])
    return model


def loss_fn(x, c, model):
    y = model(x)
    return keras.ops.sum(y * c), y


def test_value_and_grad_of_a_linear_model_is_its_weights():
    model = linear_model()
    x = np.arange(8, dtype=np.float32).reshape(2, 4) / 8
    loss, aux, grad = backend.value_and_grad(loss_fn, keras.ops.convert_to_tensor(x), keras.ops.convert_to_tensor(C),
                                             model)
    y = x @ W + B
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loss), np.sum(y * C), rtol=1e-5)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(aux), y, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(grad), np.tile(C @ W.T, (2, 1)), rtol=1e-5)


def test_a_compiled_step_gives_the_same_gradient_and_traces_once_per_shape():
    model = linear_model()
    c = keras.ops.convert_to_tensor(C)

    def step(x):
        loss, _, grad = backend.value_and_grad(loss_fn, x, c, model)
        return loss, grad

    compiled = backend.compile_step(step)
    for rows in (2, 2, 3):
        x = np.random.default_rng(rows).standard_normal((rows, 4)).astype(np.float32)
        loss, grad = compiled(keras.ops.convert_to_tensor(x))
        np.testing.assert_allclose(keras.ops.convert_to_numpy(loss), np.sum((x @ W + B) * C), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(keras.ops.convert_to_numpy(grad), np.tile(C @ W.T, (rows, 1)), rtol=1e-5)
        if rows == 2:
            assert backend.trace_count(compiled) == 1  # the second call of the same shape reuses the trace
    # a new shape compiles anew where steps are compiled; PyTorch runs eagerly and never does
    assert backend.trace_count(compiled) == (1 if backend.NAME == "torch" else 2)


def test_a_loss_flat_in_the_input_has_a_zero_gradient():
    x = keras.ops.convert_to_tensor(np.ones((2, 4), np.float32))
    _, _, grad = backend.value_and_grad(lambda v: (keras.ops.sum(keras.ops.zeros((1,))) + 0.0 * keras.ops.sum(v),
                                                   None), x)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(grad), np.zeros((2, 4), np.float32))


def test_every_sidecar_records_the_backend_and_keras_version(tmp_path):
    from kerasviz.apps import first_layer  # a job that writes its sidecar through _jobs.finish, as all do

    model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3, name="conv")])
    facts = first_layer.run(str(tmp_path / "kernels.png"), model=model)
    with open(tmp_path / "kernels.json") as f:
        written = json.load(f)
    assert written["backend"] == facts["backend"] == backend.NAME == keras.backend.backend()
    assert written["keras"] == keras.__version__


@pytest.mark.parametrize("name", ["jax", "torch"])
def test_scripts_start_without_tensorflow_on_other_backends(name):
    """scripts/_startup.py, which every script imports first, starts TensorFlow on its backend only."""
    scripts = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts")
    code = f"import sys; sys.path.insert(0, {scripts!r}); import _startup; print('tensorflow' in sys.modules)"
    env = {**os.environ, "KERAS_BACKEND": name}
    env.pop("KERASVIZ_VERBOSE", None)
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert run.stdout.strip() == "False", run.stderr[-2000:]


@pytest.mark.parametrize("has_bf16", [True, False])
def test_auto_precision_on_a_cpu_takes_bfloat16_only_where_the_backend_gains_from_it(monkeypatch, has_bf16):
    """Measured on a Zen 4 with AVX512-BF16 (the backend modules' comments): TensorFlow's and PyTorch's bfloat16
    convolutions about halve the time, XLA:CPU's (JAX) do not, so JAX keeps the exact float32."""
    from kerasviz.models import precision

    monkeypatch.setattr(precision, "accelerator", lambda: None)
    monkeypatch.setattr(precision.backend, "accelerator", lambda: (None, 0))
    monkeypatch.setattr(precision, "cpu_has_bf16", lambda: has_bf16)
    gains = {"tensorflow": True, "jax": False, "torch": True}[keras.backend.backend()]
    assert precision.resolve_precision("auto") == ("bfloat16" if has_bf16 and gains else "float32")
    assert precision.resolve_precision("float16") == "float16"
