"""memcap.testing: the contract checks pass on a correct method and fail on broken ones."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import memcap
import memcap.build
from memcap.constructions import base, registry
from memcap.errors import OptionError
from memcap.testing import CHECKS, check_construction


def _reg_data() -> memcap.Dataset:
    rng = np.random.default_rng(1)
    return memcap.Dataset(rng.standard_normal((15, 2)), rng.standard_normal(15), task="regression",
                          name="r15")


@pytest.fixture
def broken(monkeypatch):
    """Register a copy of zhang17-wide under a new name with one part broken."""

    def make(**changes):
        good = registry.get_method("zhang17-wide")
        m = dataclasses.replace(good, name="broken-test", **changes)
        monkeypatch.setitem(base._REGISTRY, "broken-test", m)
        return m

    return make


def test_every_check_passes_on_a_correct_method():
    res = check_construction("zhang17-wide", [_reg_data()])
    assert [r.check for r in res] == list(CHECKS)
    assert all(r.status in ("passed", "skipped") for r in res), res
    assert sum(r.status == "passed" for r in res) >= 7


def test_a_wrong_size_formula_fails(broken):
    good = registry.get_method("zhang17-wide").size_formula
    broken(size_formula=lambda ds, **o: {**good(ds, **o), "parameters": good(ds, **o)["parameters"] + 1})
    with pytest.raises(AssertionError, match="size_formula.*parameters"):
        check_construction("broken-test", [_reg_data()])


def test_a_condition_that_is_not_refused_fails(broken):
    broken(break_condition=lambda ds: {"widths": (ds.N + 5,)})  # does not break anything
    res = check_construction("broken-test", [_reg_data()], raise_on_failure=False)
    assert [r.status for r in res if r.check == "break_condition"] == ["failed"]


def _off_by_one(build):
    def bad(ds, **kw):
        c = build(ds, **kw)
        c.network.layers[-1].bias = c.network.layers[-1].bias + 1  # int: float and exact weights alike
        return c

    return bad


def test_a_construction_that_does_not_memorize_is_caught(broken):
    broken(build=_off_by_one(registry.get_method("zhang17-wide").build))
    res = check_construction("broken-test", [_reg_data()], raise_on_failure=False)
    assert [r.status for r in res if r.check == "memorizes_or_refuses"] == ["failed"]


def test_checks_independent_of_the_verifier_catch_a_lying_certificate(broken, monkeypatch):
    """memcap.construct's verifier replaced by one that certifies anything: the re-verification,
    the exact re-evaluation and the torch evaluation still see the error."""
    import memcap.api

    real = memcap.build.verify

    def lying(net, ds, **kw):
        rep = real(net, ds, **kw)
        return dataclasses.replace(rep, memorized=True, certified=True, float32_memorizes=True,
                                   float64_memorizes=True)

    monkeypatch.setattr(memcap.build, "verify", lying)
    broken(build=_off_by_one(registry.get_method("zhang17-wide").build))
    res = check_construction("broken-test", [_reg_data()], raise_on_failure=False)
    status = {r.check: r.status for r in res}
    assert status["memorizes_or_refuses"] == "passed"  # fooled, as designed
    assert status["verifies_again"] == status["exact_reevaluation"] == "failed"
    assert status["torch_float"] in ("failed", "skipped")  # skipped only without torch


def test_an_unrefused_assumption_fails(broken):
    broken(assumption=lambda ds: "made-up assumption")  # zhang17-wide builds anyway
    res = check_construction("broken-test", [_reg_data()], raise_on_failure=False)
    assert [r.status for r in res if r.check == "memorizes_or_refuses"] == ["failed"]


def test_expected_failures_and_unknown_checks(broken):
    good = registry.get_method("zhang17-wide").size_formula
    broken(size_formula=lambda ds, **o: {**good(ds, **o), "widths": [0]})
    res = check_construction("broken-test", [_reg_data()], checks=["size_formula"],
                             expected_failed_checks={"size_formula": "a test"})
    assert res[0].status == "xfail"
    with pytest.raises(AssertionError, match="expected to fail"):
        check_construction("zhang17-wide", [_reg_data()], checks=["size_formula"],
                           expected_failed_checks={"size_formula": "it does not"})
    with pytest.raises(OptionError, match="save_load"):
        check_construction("zhang17-wide", [_reg_data()], checks=["nope"])
