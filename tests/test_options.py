"""Options dataclasses: one declaration gives validation, flags and sidecar facts; what does not apply is an error."""

import dataclasses

import numpy as np
import pytest
from absl import flags

from kerasviz import _cli
from kerasviz.errors import KerasvizError
from kerasviz.options import Options, option
from kerasviz.synthesis import style


@dataclasses.dataclass(frozen=True)
class Toy(Options):
    WHAT = "the toy"
    steps: int = option(10, "Steps.", low=1, high=100)
    rate: float = option(0.5, "Rate.", low=0)
    mode: str = option("a", "Mode.", choices=("a", "b"))
    layers: tuple = option(None, "Layers.", kind="layers")
    quiet: bool = option(False, "Quiet.")


def test_defaults_bounds_and_choices_are_checked_where_declared():
    assert Toy().steps == 10 and Toy(rate=2).rate == 2.0  # an int for a float option becomes a float
    for bad, message in [({"steps": 0}, "steps of the toy must be in 1..100; got 0"),
                         ({"steps": 101}, "must be in 1..100"),
                         ({"rate": -1.0}, "rate of the toy must be in 0..; got -1.0"),
                         ({"mode": "c"}, "mode 'c' is not valid for the toy; valid: a, b"),
                         ({"steps": "5"}, "steps of the toy must be int"),
                         ({"quiet": None}, "quiet of the toy cannot be None")]:
        with pytest.raises(KerasvizError, match=message):
            Toy(**bad)


def test_an_option_that_does_not_apply_is_an_error_not_ignored():
    with pytest.raises(KerasvizError, match="option 'colour' does not apply to the toy; valid: steps, rate, mode"):
        Toy.create(colour=True)
    with pytest.raises(KerasvizError, match="option 'octaves' does not apply to style transfer"):
        style.style_transfer(np.zeros((8, 8, 3)), np.zeros((8, 8, 3)), octaves=3)


def test_layer_weights_from_a_mapping_and_facts_are_json_values():
    toy = Toy.create(Toy(steps=3), layers={"c1": 0.25, "c2": 1})
    assert toy.layers == ("c1:0.25", "c2:1.0") and toy.steps == 3
    assert toy.facts() == {"steps": 3, "rate": 0.5, "mode": "a", "layers": ["c1:0.25", "c2:1.0"], "quiet": False}


def test_flags_are_built_from_the_dataclass_with_its_bounds():
    values = flags.FlagValues()
    _cli.define_option_flags(Toy, skip=("quiet",), flag_values=values)
    values(["prog", "--steps=7", "--mode=b", "--layers=c1,c2:2"])
    assert "quiet" not in values and values["steps"].help == "Steps."
    built = _cli.options_from_flags(Toy, skip=("quiet",), flag_values=values)
    assert built == Toy(steps=7, mode="b", layers=("c1", "c2:2"))
    with pytest.raises(flags.IllegalFlagValueError):
        values["steps"].parse("0")  # the dataclass's lower bound is the flag's
