"""A vision transformer's tokens on their patch grid, found from the token count and the input's size alone.

A layer of a ViT gives `(N, T, C)`: T = k + h * w, k leading extra tokens (class, distillation, registers)
and the h x w patches row by row. The grid is what an H x W input cut into square patches of one side p
gives (p cuts H into h and W into w, rounded down as a valid strided convolution does, or up where the
patches are padded); never a table of model names.
"""

from __future__ import annotations

import math

import numpy as np

from kerasviz.errors import KerasvizError

MAX_EXTRA_TOKENS = 8  # tokens before the patches: class, distillation (DeiT) and registers (Darcet et al. 2024: 4)
PADDED_EXTRA_TOKENS = 2  # with padded patches, only a class token and a distillation token (fewer readings fit)


def token_grid(tokens: int | None, size: tuple[int, int], what: str = "the layer") -> tuple[int, int, int]:
    """(k, h, w) with tokens = k + h * w: the fewest leading tokens (at most MAX_EXTRA_TOKENS) for which square
    patches of one side p cut an input of `size` (H, W) into h x w, rounded down as a valid strided
    convolution does; failing that, rounded up (padded patches) after at most PADDED_EXTRA_TOKENS; among
    grids that fit, the one nearest the input's aspect. Raises KerasvizError (one line, naming `what`)."""
    height, width = size
    for rounding, most in ((_floor, MAX_EXTRA_TOKENS), (_ceil, PADDED_EXTRA_TOKENS)):
        for extra in range(min(most, (tokens or 1) - 1) + 1):
            count = tokens - extra
            grids = [(h, count // h) for h in range(1, count + 1) if count % h == 0]
            fits = [hw for hw in grids if any(rounding(height, width, p) == hw for p in range(1, min(size) + 1))]
            if fits:
                h, w = min(fits, key=lambda hw: abs(math.log(hw[0] * width / (hw[1] * height))))
                return extra, h, w
    raise KerasvizError(f"{what} has {tokens} tokens, which is no grid of square patches of its {height} x {width} "
                        f"input after at most {MAX_EXTRA_TOKENS} leading tokens")


def _floor(height: int, width: int, side: int) -> tuple[int, int]:
    return height // side, width // side


def _ceil(height: int, width: int, side: int) -> tuple[int, int]:
    return -(-height // side), -(-width // side)


def as_grid(features: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A layer's output as `(N, h, w, C)`: as it is when 4-D; `(N, T, C)` tokens of an input of `size` on their
    grid (token_grid), the leading extra tokens dropped."""
    if features.ndim == 4:
        return features
    k, h, w = token_grid(features.shape[1], size)
    return features[:, k:].reshape(len(features), h, w, features.shape[-1])
