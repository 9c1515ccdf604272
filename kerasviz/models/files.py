"""Whole saved models (.keras, legacy .h5) loaded in Keras' safe mode, with one-line errors for bad files."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import zipfile

import keras

from kerasviz import backend
from kerasviz.errors import KerasvizError
from kerasviz.models.catalogue import MODEL_FILE_EXTENSIONS, MODELS, ModelInfo, check_preprocessing, set_model_info
from kerasviz.models.inputs import defined_inputs

log = logging.getLogger("kerasviz")


def load_model_file(path: str | os.PathLike, *, preprocess: str | None = None) -> keras.Model:
    """Loads a whole saved model with Keras' safe mode (no Python code from the file is run).

    Args:
      path: a `.keras` archive (model.save) or a legacy `.h5` model.
      preprocess: how its inputs are scaled, one of PREPROCESSING; default "none" (0-255 RGB).

    Returns:
      The model (not compiled), with a ModelInfo naming it by the file's stem and recording the
      file and its sha256.

    Raises:
      KerasvizError: one line saying what is wrong with the file (missing, a folder, a weights file,
        not a model, custom objects or Python lambdas that safe mode does not load) and what to do.
    """
    check_preprocessing(preprocess)
    path = os.fspath(path)
    _check_model_file(path)
    try:
        model = keras.saving.load_model(path, safe_mode=True, compile=False)
    except Exception as err:  # noqa: BLE001 - Keras raises TypeError, ValueError, KeyError, OSError ...
        raise KerasvizError(_load_error(path, err)) from None
    if not isinstance(model, keras.Model):
        raise KerasvizError(f"{path!r} holds a {type(model).__name__}, not a model; save a keras.Model")
    inputs = defined_inputs(model)
    if not inputs:
        raise KerasvizError(
            f"model file {path!r} has no defined input; give the model a keras.Input((H, W, 3)) before saving"
        )
    if len(inputs[0].shape) != 4:
        raise KerasvizError(
            f"model file {path!r} takes input of shape {tuple(inputs[0].shape)}, not images (N, H, W, C)"
        )
    model = _as_functional(model)
    if preprocess is None:
        log.info("%s: inputs taken as 0-255 RGB (preprocess='none'); pass caffe, tf or torch if it expects "
                 "other scaling", path)
    outputs = model.outputs or []
    info = ModelInfo(
        name=os.path.splitext(os.path.basename(path))[0],
        weights=f"file:{path}",
        preprocessing=preprocess or "none",
        include_top=any(len(o.shape) == 2 for o in outputs),
        file=path,
        sha256=file_sha256(path),
    )
    set_model_info(model, info)
    return model


def _as_functional(model: keras.Model) -> keras.Model:
    """A Sequential as the functional model of the same layers (shared weights), so that `model.input`
    and feature models cut from it work as for keras.applications networks; other models as they are."""
    if not isinstance(model, keras.Sequential):
        return model
    inputs, outputs = model.inputs, model.outputs
    return keras.Model(inputs[0] if len(inputs) == 1 else inputs, outputs[0] if len(outputs) == 1 else outputs,
                       name=model.name)


def file_sha256(path: str) -> str:
    """The hex sha256 of a file, read in 1 MiB pieces."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_SAVE_HINT = "save the whole model with model.save('NAME.keras')"


def _check_model_file(path: str) -> None:
    """Raises KerasvizError when `path` cannot be a whole saved model, saying what it is instead."""
    if os.path.isdir(path):
        raise KerasvizError(
            f"model {path!r} is a folder; Keras 3 loads .keras and .h5 files (a TensorFlow SavedModel: "
            f"load it in TensorFlow 2.15 or earlier and {_SAVE_HINT})"
        )
    if not os.path.isfile(path):
        raise KerasvizError(
            f"model file {path!r} does not exist; give a saved model ({' or '.join(MODEL_FILE_EXTENSIONS)}) "
            f"or one of {', '.join(MODELS)}"
        )
    extension = os.path.splitext(path)[1].lower()
    if extension not in (*MODEL_FILE_EXTENSIONS, ".hdf5"):
        raise KerasvizError(
            f"model file {path!r} is neither .keras nor .h5; {_SAVE_HINT}, or give one of {', '.join(MODELS)}"
        )
    with open(path, "rb") as f:
        hdf5 = f.read(len(_HDF5_SIGNATURE)) == _HDF5_SIGNATURE
    if hdf5 and not _hdf5_has_model(path):
        raise KerasvizError(
            f"{path!r} holds weights only, not a model (no architecture in it): load them into the model they "
            f"came from and {_SAVE_HINT}; or pass the file as weights of {', '.join(MODELS)}"
        )
    if extension == ".keras" and hdf5:
        raise KerasvizError(f"{path!r} is a legacy HDF5 model named .keras; rename it to .h5")
    if extension == ".keras" and not zipfile.is_zipfile(path):
        raise KerasvizError(f"{path!r} is not a saved Keras model (a .keras file is the zip archive that "
                            f"model.save writes); {_SAVE_HINT}")
    if extension == ".keras":
        with zipfile.ZipFile(path) as archive:
            if "config.json" not in archive.namelist():
                raise KerasvizError(f"{path!r} is a zip archive but not a saved Keras model (no config.json); "
                                    f"{_SAVE_HINT}")
    if extension != ".keras" and not hdf5:
        raise KerasvizError(f"{path!r} is not an HDF5 file, so not a .h5 model; {_SAVE_HINT}")


def _hdf5_has_model(path: str) -> bool:
    import h5py  # a Keras dependency

    try:
        with h5py.File(path, "r") as f:
            return "model_config" in f.attrs
    except OSError:
        return False


_TF_OPS = re.compile(r"TFOpLambda|SlicingOpLambda|TFSMLayer|module 'tensorflow'|No module named 'tensorflow'")
_CUSTOM = re.compile(r"(?:Could not locate (?:class|function)|Unknown [a-z ]+:) '([^']+)'")


def _load_error(path: str, err: BaseException) -> str:
    """One line for a model file that Keras could not load: the reason and what to do."""
    chain, cause = [], err
    while cause is not None and len(chain) < 8:
        chain.append(str(cause))
        cause = cause.__cause__ or cause.__context__
    text = " ".join(chain)
    custom = _CUSTOM.search(text)
    needs_tf = _TF_OPS.search(text) or (custom if custom and "tensorflow" in text.lower() else None)
    if needs_tf and backend.NAME != "tensorflow":
        return (f"model file {path!r} holds TensorFlow code ({needs_tf.group(0)[:80]}), which runs on TensorFlow "
                f"only; load it with KERAS_BACKEND=tensorflow (the Keras backend is {backend.NAME})")
    if custom:
        return (
            f"model file {path!r} needs the custom object {custom.group(1)!r}, which is not registered: from "
            "Python, import the module that defines it (decorated with @keras.saving.register_keras_serializable()) "
            "before loading; from the command line, re-save the model with built-in Keras layers only"
        )
    if "Lambda" in text and "safe_mode" in text:
        return (
            f"model file {path!r} has a Lambda layer holding Python code, which safe mode does not run: replace it "
            "by a built-in or registered layer and re-save; or, if you trust the file, load it yourself with "
            "keras.saving.load_model(path, safe_mode=False) and pass the model to kerasviz in Python"
        )
    first = next((line.strip() for line in str(err).splitlines() if line.strip()), type(err).__name__)
    return f"cannot load model file {path!r}: {first[:300]}; {_SAVE_HINT}"
