"""Images by their features: one vector per image, nearest neighbours by cosine, and a 2-D map (t-SNE).

As in the cs231n lecture (and Karpathy's CNN codes map): images close in a late layer's feature
space look alike to the network, so their nearest neighbours and a t-SNE map of them show what it
groups together.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
import numpy as np

from kerasviz import models
from kerasviz.dataset import imagesets
from kerasviz.errors import KerasvizError

MAP_METHODS = ("tsne", "pca")
PERPLEXITY = 30.0  # scikit-learn's default; lowered to (N - 1) / 3 for few images
PCA_DIMS = 50  # features are reduced to this many dimensions before t-SNE (van der Maaten & Hinton 2008)


def image_features(
    model: keras.Model,
    layer: str,
    images: imagesets.Images,
    *,
    size: int | None = 224,
    batch_size: int = 16,
    preprocess: Callable | None = None,
) -> tuple[list[str], np.ndarray]:
    """One feature vector per image: the spatial mean of `layer`'s output (flattened if it has no space).

    Args:
      model: a Keras model; models from load_model bring their own preprocessing.
      layer: the layer whose output describes an image (e.g. the last: block5_pool for VGG16).
      images: a folder, or an iterable of RGB 0-255 `(H, W, 3)` arrays or `(name, array)` pairs, read once.
      size: each image is resized so its longer side is `size` (None: as given).
      batch_size: images per forward pass (consecutive images of the same shape share one).
      preprocess: RGB 0-255 -> model input, for models not from load_model.

    Returns:
      (names, features): the images' names, and float32 (N, D).
    """
    features = models.feature_model(model, [layer])  # reaches layers inside nested models too
    features = keras.Model(features.inputs[0], features.outputs[0])  # one tensor, not a list of one
    prep = models.preprocess_fn(model, preprocess)
    names, vectors = [], []
    for batch in imagesets.batches(images, batch_size, max_side=size):
        out = imagesets.features_of(features, prep, batch, layer)
        if len(out.shape) == 4:
            out = keras.ops.mean(out, axis=(1, 2))
        vectors.append(keras.ops.convert_to_numpy(keras.ops.reshape(out, (out.shape[0], -1))))
        names.extend(name for name, _, _ in batch)
    return names, np.concatenate(vectors)


def nearest_neighbours(features: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row's `k` nearest other rows by cosine similarity, most similar first (ties: lower index).

    Returns (indices int (N, k), similarities float32 (N, k)); k is capped at N - 1. A zero vector
    is similar (0) to everything.
    """
    x = np.asarray(features, np.float64)
    if x.ndim != 2 or len(x) < 2:
        raise KerasvizError(f"nearest neighbours need at least 2 feature vectors (N, D); got shape {x.shape}")
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise KerasvizError(f"k must be a positive integer; got {k!r}")
    k = min(int(k), len(x) - 1)
    unit = _unit_rows(x)
    similarity = unit @ unit.T
    np.fill_diagonal(similarity, -np.inf)
    order = np.argsort(-similarity, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(similarity, order, axis=1).astype(np.float32)


def embed_2d(features: np.ndarray, *, method: str = "tsne", seed: int = 0) -> np.ndarray:
    """Positions float32 (N, 2) in [0, 1] that keep images with similar (cosine) features close.

    method: "tsne" (scikit-learn's t-SNE on the unit-length features, reduced by PCA first) or
    "pca" (the first two principal components). Fewer than 4 images are placed by PCA.
    """
    if method not in MAP_METHODS:
        raise KerasvizError(f"unknown map method {method!r}; valid: {', '.join(MAP_METHODS)}")
    x = _unit_rows(np.asarray(features, np.float64))
    if len(x) < 2:
        return np.full((len(x), 2), 0.5, np.float32)
    reduced = _pca(x, min(PCA_DIMS, *x.shape))
    if method == "pca" or len(x) < 4:
        xy = reduced[:, :2] if reduced.shape[1] >= 2 else np.pad(reduced, ((0, 0), (0, 2 - reduced.shape[1])))
    else:
        try:
            from sklearn.manifold import TSNE
        except ImportError:
            raise KerasvizError("t-SNE needs scikit-learn: pip install 'kerasviz[map]' (or use method 'pca')") \
                from None
        perplexity = min(PERPLEXITY, (len(x) - 1) / 3)
        xy = TSNE(2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(reduced)
    xy = xy - xy.min(axis=0)
    span = xy.max(axis=0)
    return (xy / np.where(span > 0, span, 1.0)).astype(np.float32)


def _unit_rows(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)


def _pca(x: np.ndarray, dims: int) -> np.ndarray:
    centred = x - x.mean(axis=0)
    u, s, _ = np.linalg.svd(centred, full_matrices=False)
    return u[:, :dims] * s[:dims]
