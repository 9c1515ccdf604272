"""What every kerasviz script shares: one-line errors with exit status 2, common flags, index lists, progress bars."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Mapping, Sequence

from absl import app, flags
from tqdm import tqdm

from kerasviz import models
from kerasviz.errors import KerasvizError
from kerasviz.options import Options

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


def _script() -> str:
    """The module absl lists a flag under: the running script, so that its --help shows the flags defined
    here for it, beside its own."""
    return sys.argv[0]


WEIGHTS_HELP = "auto, imagenet, offline (VGG16 only), a weights file, or none."
CLASSIFIER_WEIGHTS_HELP = "auto or imagenet (the offline backbone has no classifier), a weights file, or none."


def define_model_flags(default: str | None = "vgg16", what: str | None = None, *,
                       weights_help: str = WEIGHTS_HELP) -> None:
    """Defines --model (a name in models.MODELS or the path of a saved .keras/.h5 model), --preprocess and
    --weights (read it with `weights()`).

    `what` replaces the default's description in --model's help (e.g. for a default of None).
    """
    names = ", ".join(models.MODELS)
    flags.DEFINE_string(
        "model", default,
        f"{names}, or the path of a saved model (.keras, .h5; loaded in Keras' safe mode; outputs are named "
        f"after the file's stem){f' ({what})' if what else ''}.", module_name=_script(),
    )
    flags.DEFINE_enum(
        "preprocess", None, list(models.PREPROCESSING),
        "How the model's inputs are scaled: caffe (BGR minus ImageNet means), tf ([-1, 1]), torch (0-1, ImageNet "
        "mean/std) or none (0-255 RGB as given). Default: the network's own; none for a model file.",
        module_name=_script(),
    )
    flags.register_validator(
        "model", lambda value: value is None or models.is_model_file(value) or value.lower() in models.MODELS,
        message=f"--model must be one of {names} or the path of a .keras or .h5 file",
    )
    flags.DEFINE_string("weights", "auto", weights_help, module_name=_script())


def define_option_flags(options: type[Options], *, skip: Sequence[str] = (), defaults: Options | None = None,
                        flag_values: flags.FlagValues = flags.FLAGS) -> None:
    """One flag per option of `options` (an Options dataclass), with its default (or that of `defaults`, an
    instance, where a job has its own), bounds, choices and help; options marked flag=False and those in
    `skip` get none. Read them back with `options_from_flags`."""
    for field in dataclasses.fields(options):
        if field.metadata["flag"] and field.name not in skip:
            default = field.default if defaults is None else getattr(defaults, field.name)
            _define_flag(field.name, default, field.metadata["help"], field.metadata, flag_values)


def define_shared_option_flags(fields: Mapping[str, Mapping[str, dataclasses.Field]], *,
                               flag_values: flags.FlagValues = flags.FLAGS) -> tuple[str, ...]:
    """One flag per option name of a family whose members each have their own Options dataclass (the saliency
    methods): `fields` maps each name to {member (or members) it applies to: its field there}. The default is
    None, each member's own default; the help is each distinct help line with its default and the members it
    applies to; bounds and choices are the fields' where all of them agree, else none (the Options class checks
    the value). A name whose fields are all flag=False gets none. Returns the names of the flags defined."""
    defined = []
    for name, owners in fields.items():
        owners = {who: field for who, field in owners.items() if field.metadata["flag"]}
        if not owners:
            continue
        metas = [field.metadata for field in owners.values()]
        kinds = sorted({meta["kind"] for meta in metas})
        if len(kinds) > 1:
            raise ValueError(f"option {name!r} is {' and '.join(kinds)} in different Options; one flag cannot be both")
        agreed = {key: metas[0][key] if all(m[key] == metas[0][key] for m in metas) else None
                  for key in ("choices", "low", "high")}  # fmt: skip
        _define_flag(name, None, _shared_help(owners), {**metas[0], **agreed}, flag_values)
        defined.append(name)
    return tuple(defined)


def _shared_help(owners: Mapping[str, dataclasses.Field]) -> str:
    """Each distinct (help, default) of the fields with the members it applies to."""
    groups: dict[tuple[str, str], list[str]] = {}
    for who, field in owners.items():
        default = "" if field.default is None else f" Default {field.default!r}."
        groups.setdefault((field.metadata["help"], default), []).append(who)
    if len(groups) == 1:
        (help_text, default), whos = next(iter(groups.items()))
        return f"{help_text}{default} Applies to {', '.join(whos)}."
    return " ".join(f"For {', '.join(whos)}: {help_text}{default}" for (help_text, default), whos in groups.items())


def _define_flag(name: str, default, help_text: str, meta: Mapping, flag_values: flags.FlagValues) -> None:
    """An absl flag of an option's `kind`, with its `choices` (an enum) or bounds (`low`, `high`) from `meta`."""
    if meta["choices"] is not None:
        flags.DEFINE_enum(name, default, list(meta["choices"]), help_text, flag_values=flag_values,
                          module_name=_script())
    elif meta["kind"] in ("list", "layers"):
        flags.DEFINE_list(name, None if default is None else list(default), help_text, flag_values=flag_values,
                          module_name=_script())
    else:
        define = {"int": flags.DEFINE_integer, "float": flags.DEFINE_float, "bool": flags.DEFINE_boolean,
                  "str": flags.DEFINE_string}[meta["kind"]]
        bounds = {k: v for k, v in (("lower_bound", meta["low"]), ("upper_bound", meta["high"])) if v is not None}
        define(name, default, help_text, flag_values=flag_values, module_name=_script(), **bounds)


def options_from_flags(options: type[Options], *, skip: Sequence[str] = (),
                       flag_values: flags.FlagValues = flags.FLAGS, **values) -> Options:
    """An `options` instance from the flags define_option_flags made, with `values` for the rest."""
    for field in dataclasses.fields(options):
        if field.metadata["flag"] and field.name not in skip and field.name not in values:
            values[field.name] = flag_values[field.name].value
    return options.create(**values)


def weights() -> str | None:
    """--weights as load_model takes it: None (random weights) for 'none'."""
    value = flags.FLAGS.weights
    return None if value.lower() == "none" else value


def define_output_flags(default: str | None = None, *, folder: bool = False, what: str | None = None) -> None:
    """Defines --out (a folder, or FILE.png with FILE.json beside it; required without a default) and
    --overwrite (outputs a finished earlier run left are skipped without it). `what`: --out's own help."""
    what = what or ("Output folder." if folder else "Output PNG file; FILE.json is written beside it.")
    flags.DEFINE_string("out", default, what, required=default is None, module_name=_script())
    flags.DEFINE_boolean("overwrite", False, "Redo outputs that already exist." if folder
                         else "Redo the output if it already exists.", module_name=_script())


def define_seed_flag(of: str) -> None:
    """Defines --seed (default 0), the seed of `of` (e.g. "the starting noise"): the same seed, the same output."""
    flags.DEFINE_integer("seed", 0, f"Random seed of {of}; the same seed gives the same output.",
                         module_name=_script())


def report(facts: dict, details: str) -> None:
    """The last line of a script on stdout: 'wrote PNG (details)', or 'kept PNG (...)' for an earlier run's."""
    print(f"{'kept' if facts.get('skipped') else 'wrote'} {facts['png']} ({details})")


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


class ProgressBar:
    """A progress(done, total) callback drawing a tqdm bar (rate and time left) on stderr.

    Silent when stderr is not a terminal (a log file, a pipe, CI): the scripts' own last line says what
    was written and how long it took. `total` may be None where it is not known (a count and a rate).
    Use it as a context manager, or call `close`, so an early stop still ends the bar's line.
    """

    def __init__(self, label: str, unit: str = "step"):
        self.label, self.unit = label, unit
        self.done, self.total = 0, None
        self._bar: tqdm | None = None  # opened at the first report, when the total is known

    def __call__(self, done: int, total: int | None = None) -> None:
        if self._bar is None:
            self._bar = tqdm(desc=self.label, total=total, unit=self.unit, disable=None, file=sys.stderr,
                             dynamic_ncols=True)
        elif total != self.total:
            self._bar.total = total
        self.total = total
        self._bar.update(done - self.done)
        self.done = done

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        self._bar, self.done = None, 0

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class ProgressBars:
    """A factory of ProgressBar for jobs with several long steps: bars(label) closes the last bar, opens one."""

    def __init__(self):
        self._bar: ProgressBar | None = None

    def __call__(self, label: str) -> ProgressBar:
        self.close()
        self._bar = ProgressBar(label)
        return self._bar

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> ProgressBars:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
