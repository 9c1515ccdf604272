"""One way to declare an algorithm's options: a frozen dataclass whose fields carry their bounds and help.

Each algorithm declares its options once, as a subclass of `Options` with fields made by `option(...)`:
the default, the bounds or choices, and the help line (with the paper or measurement behind the
default). Validation lives there (`__post_init__`), the scripts' absl flags are built from it
(`_cli.define_option_flags`), and the jobs record `facts()` in their sidecars. An option that does not
apply to the algorithm is an error (`Options.create`), never silently ignored.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from kerasviz.errors import KerasvizError

KINDS = ("int", "float", "bool", "str", "list", "layers")  # layers: names, or NAME:WEIGHT, or a {name: weight}


def option(default: Any, help: str, *, low: float | None = None, high: float | None = None,
           choices: Sequence[str] | None = None, kind: str | None = None, optional: bool = False,
           flag: bool = True) -> Any:
    """A field of an Options dataclass. `kind` (one of KINDS) is taken from the default unless given (it must
    be given where the default is None); a "list" option holds a tuple of strings, a "layers" option a tuple
    of "NAME" or "NAME:WEIGHT" strings (a {name: weight} given to it becomes that). `optional`: None is a
    valid value besides the default. `flag=False` keeps the option out of the scripts' flags."""
    kind = kind or _kind_of(default)
    if kind not in KINDS:
        raise ValueError(f"option kind {kind!r} not in {KINDS}")
    metadata = {"help": help, "low": low, "high": high, "choices": tuple(choices) if choices else None,
                "kind": kind, "flag": flag, "optional": optional or default is None}
    return dataclasses.field(default=default, metadata=metadata)


def _kind_of(default: Any) -> str:
    for kind, types in (("bool", bool), ("int", int), ("float", float), ("str", str), ("list", tuple | list)):
        if isinstance(default, types):
            return kind
    raise ValueError(f"give kind= for an option whose default is {default!r}")


@dataclasses.dataclass(frozen=True)
class Options:
    """Base of every algorithm's options: validates each field on construction."""

    WHAT = "this algorithm"  # the algorithm's name in error messages

    def __post_init__(self):
        for field in dataclasses.fields(self):
            value = _normalised(getattr(self, field.name), field.metadata["kind"])
            object.__setattr__(self, field.name, value)
            _check(self.WHAT, field, value)
        self.check()

    def check(self) -> None:
        """Checks that span fields, or values known only at run time; a subclass's own (none here)."""

    @classmethod
    def create(cls, options: Options | None = None, **overrides) -> Options:
        """`options` (default: the defaults) with `overrides`; a name that is no option of `cls` is an error."""
        known = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(overrides) - set(known))
        if unknown:
            raise KerasvizError(f"option {unknown[0]!r} does not apply to {cls.WHAT}; valid: {', '.join(known)}")
        if options is not None and not isinstance(options, cls):
            raise KerasvizError(f"options for {cls.WHAT} are {cls.__name__}, not {type(options).__name__}")
        return dataclasses.replace(options or cls(), **overrides)

    def facts(self) -> dict:
        """The options as JSON values (tuples as lists), for sidecars."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}


def _normalised(value: Any, kind: str) -> Any:
    if kind == "layers" and isinstance(value, Mapping):
        return tuple(f"{name}:{float(weight)!r}" for name, weight in value.items())
    if kind in ("list", "layers") and value is not None:
        return (value,) if isinstance(value, str) else tuple(str(v) for v in value)
    if kind == "float" and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _check(what: str, field: dataclasses.Field, value: Any) -> None:
    meta, name = field.metadata, field.name
    if value is None:
        if meta["optional"]:
            return
        raise KerasvizError(f"{name} of {what} cannot be None; default {field.default!r}")
    kind = meta["kind"]
    types = {"int": int, "float": float | int, "bool": bool, "str": str, "list": tuple, "layers": tuple}[kind]
    if not isinstance(value, types) or (kind in ("int", "float") and isinstance(value, bool)):
        raise KerasvizError(f"{name} of {what} must be {kind}; got {value!r}")
    if meta["choices"] is not None and value not in meta["choices"]:
        raise KerasvizError(f"{name} {value!r} is not valid for {what}; valid: {', '.join(meta['choices'])}")
    if meta["low"] is not None and value < meta["low"] or meta["high"] is not None and value > meta["high"]:
        bounds = f"{'' if meta['low'] is None else meta['low']}..{'' if meta['high'] is None else meta['high']}"
        raise KerasvizError(f"{name} of {what} must be in {bounds}; got {value!r}")
