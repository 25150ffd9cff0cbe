"""The contract every registry method keeps: certified memorization of any distinct data of its
tasks, sizes equal to its documented formula, and a condition broken by one unit refused."""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings

import memcap
from memcap.constructions.base import ConditionError
from memcap.constructions.registry import all_methods
from tests.strategies import datasets

METHODS = [(m.name, task) for m in all_methods() for task in m.tasks]


def test_registry_is_not_empty():
    assert ("yun-3layer", "regression") in METHODS


def _check(name: str, ds: memcap.Dataset) -> None:
    method = memcap.constructions.registry.get_method(name)
    reason = method.assumption(ds) if method.assumption is not None else None
    if reason is not None:  # outside the theorem's data assumption: a clear refusal is the contract
        with pytest.raises(ConditionError):
            memcap.construct(ds, name)
        return
    c = memcap.construct(ds, name)
    rep = c.verification
    assert rep.memorized and rep.certified, rep.summary()
    # a fresh verification of the returned network agrees
    again = memcap.verify(c.network, ds)
    assert again.memorized and again.certified
    if method.size_formula is not None:
        sizes = method.size_formula(ds)
        assert list(c.network.widths) == list(sizes["widths"]), (c.network.widths, sizes)
        assert c.network.parameters == sizes["parameters"]
        if "depth" in sizes:
            assert c.network.depth == sizes["depth"]
    if method.break_condition is not None:
        with pytest.raises(ConditionError):
            memcap.construct(ds, name, **method.break_condition(ds))


@pytest.mark.parametrize(("name", "task"), METHODS)
def test_contract(name: str, task: str) -> None:
    @settings(max_examples=6)
    @given(ds=datasets(task=task))
    def run(ds: memcap.Dataset) -> None:
        m = memcap.constructions.registry.get_method(name)
        assume(m.assumption is None or m.assumption(ds) is None)
        _check(name, ds)

    run()


@pytest.mark.parametrize(("name", "task"), METHODS)
def test_contract_on_real_data(name: str, task: str) -> None:
    if task == "classification":
        ds = memcap.load_dataset("builtin:iris")
    else:
        from sklearn.datasets import load_diabetes

        b = load_diabetes()
        ds = memcap.Dataset(b.data[:120], b.target[:120], task="regression", name="diabetes[:120]")
    _check(name, ds)
