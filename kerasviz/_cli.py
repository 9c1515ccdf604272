"""What every kerasviz script shares: one-line errors with exit status 2, index lists, progress."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from absl import app, flags

from kerasviz import models
from kerasviz.errors import KerasvizError

USAGE_ERROR = 2


def fail(message: str) -> None:
    """Prints one line on stderr and exits with status 2."""
    print(f"error: {message}", file=sys.stderr)
    sys.exit(USAGE_ERROR)


def _parse_flags(argv: list[str]) -> list[str]:
    try:
        return flags.FLAGS(argv)
    except flags.Error as err:
        fail(str(err).splitlines()[0])


def run(main: Callable[[list[str]], None]) -> None:
    """absl's app.run, but bad input (flags or KerasvizError) ends in one line and exit status 2."""

    def guarded(argv: list[str]) -> None:
        if len(argv) > 1:
            fail(f"unexpected arguments {argv[1:]}; every option is a --flag (see --help)")
        try:
            main(argv)
        except KerasvizError as err:
            fail(str(err))
        except KeyboardInterrupt:
            print("interrupted: finished outputs are kept; run again to continue", file=sys.stderr)
            sys.exit(130)

    app.run(guarded, flags_parser=_parse_flags)


def define_model_flags(default: str | None = "vgg16", what: str | None = None) -> None:
    """Defines --model (a name in models.MODELS or the path of a saved .keras/.h5 model) and --preprocess.

    `what` replaces the default's description in --model's help (e.g. for a default of None).
    """
    names = ", ".join(models.MODELS)
    flags.DEFINE_string(
        "model", default,
        f"{names}, or the path of a saved model (.keras, .h5; loaded in Keras' safe mode; outputs are named "
        f"after the file's stem){f' ({what})' if what else ''}.",
    )
    flags.DEFINE_enum(
        "preprocess", None, list(models.PREPROCESSING),
        "How the model's inputs are scaled: caffe (BGR minus ImageNet means), tf ([-1, 1]), torch (0-1, ImageNet "
        "mean/std) or none (0-255 RGB as given). Default: the network's own; none for a model file.",
    )
    flags.register_validator(
        "model", lambda value: value is None or models.is_model_file(value) or value.lower() in models.MODELS,
        message=f"--model must be one of {names} or the path of a .keras or .h5 file",
    )


def parse_indices(spec: str, count: int, *, what: str = "filter") -> list[int]:
    """'all', 'N', 'A-B' (inclusive) joined by commas -> sorted unique indices below `count`."""
    spec = spec.strip().lower()
    if spec == "all":
        return list(range(count))
    indices: set[int] = set()
    for part in spec.split(","):
        part = part.strip()
        try:
            if "-" in part:
                lo, hi = (int(p) for p in part.split("-", 1))
                if lo > hi:
                    raise ValueError
                indices.update(range(lo, hi + 1))
            else:
                indices.add(int(part))
        except ValueError:
            raise KerasvizError(f"cannot read {what}s {spec!r}: use 'all', N, A-B, joined by commas") from None
    bad = [i for i in sorted(indices) if not 0 <= i < count]
    if bad:
        raise KerasvizError(f"{what} {bad[0]} out of range: valid {what}s are 0-{count - 1}")
    return sorted(indices)


class Progress:
    """A progress(done, total) callback printing 'label: P% (elapsed, ~left)' on stderr every few seconds."""

    def __init__(self, label: str, every: float = 5.0):
        self.label, self.every = label, every
        self.start = self.last = time.perf_counter()

    def __call__(self, done: float, total: float) -> None:
        now = time.perf_counter()
        if done < total and now - self.last < self.every:
            return
        self.last = now
        elapsed = now - self.start
        left = f", ~{elapsed / done * (total - done):.0f} s left" if 0 < done < total else ""
        print(f"  {self.label}: {100 * done / total:.0f}% ({elapsed:.0f} s{left})", file=sys.stderr, flush=True)
