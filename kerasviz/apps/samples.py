"""A folder's worth of photos without a download: scikit-image's sample pictures, cropped and flipped."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

# scikit-image's bundled pictures (no network needed): photos, micrographs, textures and text.
# data.cat is the same photo as data.chelsea, so it is left out.
PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "motorcycle", "hubble_deep_field", "immunohistochemistry",
          "retina", "camera", "coins", "moon", "clock", "brick", "grass", "gravel", "page", "text")


def _photo(name: str) -> np.ndarray:
    from skimage import data

    picture = data.stereo_motorcycle()[0] if name == "motorcycle" else getattr(data, name)()
    picture = np.asarray(picture)
    if picture.ndim == 2:
        picture = np.repeat(picture[..., None], 3, axis=-1)
    return picture[..., :3].astype(np.uint8)


def _views(picture: np.ndarray) -> Iterator[tuple[str, np.ndarray]]:
    """The whole picture, mirrored, its centre (60%) and two opposite quarters-by-area corners."""
    h, w = picture.shape[:2]
    yield "", picture
    yield "flip", picture[:, ::-1]
    yield "centre", picture[h // 5:h - h // 5, w // 5:w - w // 5]
    yield "top_left", picture[:h // 2 + h // 8, :w // 2 + w // 8]
    yield "bottom_right", picture[h // 2 - h // 8:, w // 2 - w // 8:]


def sample_photos(names=PHOTOS) -> Iterator[tuple[str, np.ndarray]]:
    """Yields (name, uint8 (H, W, 3)) pairs: each of scikit-image's `names`, whole and in four other views.

    Names read like file stems, `chelsea`, `chelsea_flip`, `chelsea_centre`, ... (85 images by default).
    """
    for name in names:
        picture = _photo(name)
        for view, image in _views(picture):
            yield (f"{name}_{view}" if view else name), np.ascontiguousarray(image)
