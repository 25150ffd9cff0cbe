"""Declared options (memcap.constructions.options): every method refuses an unknown, mistyped or
out-of-range option the same way, before any work, and lists its valid options; text is coerced."""

from __future__ import annotations

import inspect
import json
import math
from fractions import Fraction

import numpy as np
import pytest
from typer.testing import CliRunner

import memcap
from memcap.cli import app
from memcap.constructions.options import GATE, Option, validate_options
from memcap.constructions.registry import all_methods, get_method
from memcap.errors import OptionError
from memcap.network import HARDTANH, RELU, Activation, as_activation
from memcap.norms import norm_name, parse_norm

METHODS = [m.name for m in all_methods()]


def _data(m: memcap.constructions.base.Method) -> memcap.Dataset:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((12, 3))
    if "regression" in m.tasks:
        return memcap.Dataset(X, rng.standard_normal(12), task="regression")
    return memcap.Dataset(X, np.arange(12) % 3, task="classification")


@pytest.mark.parametrize("name", METHODS)
def test_declaration_matches_the_signature(name):
    m = get_method(name)
    # memcap.construct passes tol and progress itself to a build that takes them (adaptive)
    params = {k: p for k, p in inspect.signature(m.build).parameters.items()
              if k not in ("ds", "arithmetic", "tol", "progress")}
    assert not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()), \
        f"{name} swallows unknown options (**kwargs)"
    assert [o.name for o in m.options] and {o.name for o in m.options} == set(params)
    for o in m.options:
        assert params[o.name].default == o.default, (o.name, params[o.name].default, o.default)
        assert o.coerce(o.default, name) == o.default or o.name == "gate"  # the default is valid


@pytest.mark.parametrize("name", METHODS)
def test_unknown_option_is_refused_with_the_valid_ones(name):
    m = get_method(name)
    with pytest.raises(OptionError) as e:
        memcap.construct(_data(m), name, qq_typo=7)
    msg = str(e.value)
    assert "qq_typo" in msg
    for o in m.options:
        assert f"{o.name}: " in msg, (o.name, msg)


@pytest.mark.parametrize("name", METHODS)
def test_cli_unknown_option_exits_2_listing_options(name, tmp_path):
    out = tmp_path / "net.npz"
    r = CliRunner().invoke(app, ["construct", "--data", "builtin:iris", "--method", name,
                                 "--option", "qq_typo=7", "-o", str(out)])
    assert r.exit_code == 2, r.output
    assert "has no option 'qq_typo'" in r.output and "Traceback" not in r.output
    flags = ("widths", "activation", "seed")
    shown = [o.name for o in get_method(name).options if o.name not in flags]
    text = " ".join(r.output.split())
    for o in shown:
        assert f"{o}: " in text, (o, text)
    assert not out.exists()


@pytest.mark.parametrize("name", METHODS)
def test_out_of_range_and_mistyped_values_are_refused_before_work(name):
    m = get_method(name)
    ds = _data(m)
    calls = []
    build = m.build
    object.__setattr__(m, "build", lambda *a, **k: calls.append(1) or build(*a, **k))
    try:
        for o in m.options:
            bad: list[object] = []
            if o.type in (int, float) and o.low is not None:
                bad.append(o.low - 1)
            if o.type in (int, float, "number", bool):
                bad.append("not-a-number")
            if o.choices is not None:
                bad.append("no-such-choice")
            if o.type in ("widths", "ints"):
                bad += [(-1, 2), "a,b", 3.5]
            for v in bad:
                with pytest.raises(OptionError, match=o.name):
                    memcap.construct(ds, name, **{o.name: v})
    finally:
        object.__setattr__(m, "build", build)
    assert not calls  # refused at the door: the construction never ran


def test_text_is_coerced_to_the_declared_type():
    assert Option("k", int, 0, low=0).coerce("5") == 5
    assert Option("b", bool, True).coerce("false") is False and Option("b", bool, True).coerce("on") is True
    assert Option("x", float, 0.5).coerce("0.25") == 0.25 and Option("x", float, 0.5).coerce(1) == 1.0
    assert Option("d", "number", None).coerce("1/3") == Fraction(1, 3)
    assert Option("w", "widths", None).coerce("8, 16") == (8, 16)
    assert Option("w", "widths", None).coerce([np.int64(3), 4]) == (3, 4)
    assert Option("q", int, None).coerce(None) is None
    with pytest.raises(OptionError, match="int"):
        Option("k", int, 0).coerce(True)  # a bool is not a count
    with pytest.raises(OptionError, match="None"):
        Option("k", int, 0).coerce(None)
    with pytest.raises(OptionError, match="finite"):
        Option("x", float, 0.5).coerce(math.nan)
    with pytest.raises(OptionError, match=r"0 < x"):
        Option("x", float, 0.5, low=0, open_low=True).coerce(0)
    with pytest.raises(TypeError):
        Option("x", list, None)


def test_gate_has_one_meaning_and_the_old_spelling_works():
    assert GATE.coerce(3) == "3unit" and GATE.coerce("3") == "3unit" and GATE.coerce(None) == "paper"
    with pytest.raises(OptionError, match=r"'paper' \| '3unit'"):
        GATE.coerce(4)
    for m in all_methods():
        for o in m.options:
            if o.name == "gate":
                assert o is GATE, m.name
    iris = memcap.load_dataset("builtin:iris")
    c = memcap.construct(iris, "yun-classifier", gate=3)  # old int spelling, via the door
    assert c.verification.certified and c.network.widths[-1] == 3 * iris.d_y


def test_cli_options_are_coerced_by_the_declared_type(tmp_path):
    out = tmp_path / "net.npz"
    r = CliRunner().invoke(app, ["construct", "--data", "builtin:iris", "--method", "park-sublinear",
                                 "--option", "bottlenecks=false", "--option", "variant=paper", "-o", str(out),
                                 "--json"])
    assert r.exit_code == 0, r.output
    notes = json.loads(r.stdout)["certificate"]["notes"]
    assert any("variant paper" in n and "bottlenecks = False" in n for n in notes), notes
    r = CliRunner().invoke(app, ["construct", "--data", "builtin:iris", "--method", "yun-3layer",
                                 "--option", "margin=-1", "-o", str(tmp_path / "x.npz")])
    assert r.exit_code == 2 and "margin" in r.output
    r = CliRunner().invoke(app, ["construct", "--data", "builtin:iris", "-m", "yun-3layer",
                                 "--option", "seed=3",
                                 "-o", str(tmp_path / "x.npz")])
    assert r.exit_code == 2 and "--seed" in r.output


def test_methods_name_lists_the_options():
    r = CliRunner().invoke(app, ["methods", "twoproj-5layer", "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert [o["name"] for o in d["options"]] == [o.name for o in get_method("twoproj-5layer").options]
    lp = next(o for o in d["options"] if o["name"] == "lp_norm")
    assert lp["default"] == "mass" and "'range'" in lp["type"]
    r = CliRunner().invoke(app, ["methods", "yun-deep"], env={"COLUMNS": "200"})
    assert r.exit_code == 0 and "blocks" in r.output and "'paper' | '3unit'" in r.output
    r = CliRunner().invoke(app, ["methods", "no-such-method"])
    assert r.exit_code == 2 and "yun-3layer" in r.output


def test_validate_options_exclude_and_note():
    decl = (Option("a", int, 0), Option("b", str, "x", choices=("x", "y")))
    assert validate_options("m", decl, {"a": "2", "b": "y"}) == {"a": 2, "b": "y"}
    with pytest.raises(OptionError, match=r"no option 'a'.*b: .*\(a: use --a\)"):
        validate_options("m", decl, {"a": 1}, exclude=("a",), note="a: use --a")


# ---- one norm parser, one activation coercion ---------------------------------------------------
@pytest.mark.parametrize(("text", "p"), [("inf", math.inf), ("Linf", math.inf), ("l_inf", math.inf),
                                         ("∞", math.inf), (math.inf, math.inf), (np.inf, math.inf),
                                         ("max", math.inf), (2, 2), ("2", 2), ("L2", 2), (2.0, 2),
                                         ("1", 1), (np.int64(3), 3), ("l3", 3)])
def test_parse_norm_spellings(text, p):
    assert parse_norm(text) == p
    assert norm_name(parse_norm(text)) == ("inf" if p == math.inf else str(p))


@pytest.mark.parametrize("bad", ["1.5", "0", "foo", -2, True, None, -math.inf, [2]])
def test_parse_norm_refuses_with_the_spellings(bad):
    with pytest.raises(OptionError, match="integer p >= 1"):
        parse_norm(bad)


def test_parse_norm_allowed():
    assert parse_norm("L1", allowed=(math.inf, 1, 2)) == 1
    with pytest.raises(OptionError, match="inf, 1, 2"):
        parse_norm(3, allowed=(math.inf, 1, 2))


def test_as_activation():
    assert as_activation("relu") is RELU and as_activation(HARDTANH) is HARDTANH
    assert as_activation("leaky:0.1") == Activation("relu_like", Fraction(1), Fraction(1, 10))
    for bad in ("swish", 3, "relu_like:1", "leaky:x", "relu_like:0,1"):
        with pytest.raises(OptionError, match="leaky:SLOPE"):
            as_activation(bad)
