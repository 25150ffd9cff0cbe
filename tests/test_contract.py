"""The contract every registry method keeps (memcap.testing.check_construction): certified
memorization of any distinct data of its tasks (or a ConditionError outside the theorem's data
assumption), a fresh verification agreeing, sizes equal to its documented formula, a condition
broken by one unit refused, a misspelt option refused, a save/load round trip, torch float
evaluation agreeing with the certificate's float claim, and exact re-evaluation of the weights."""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings

import memcap
from memcap.constructions.registry import all_methods
from memcap.testing import CHECKS, check_construction
from tests.strategies import datasets

METHODS = [(m.name, task) for m in all_methods() for task in m.tasks]
#: checks run on the real data only: the option refusal does not depend on the data, and one round
#: trip per method covers its kind of weights (save_load fsyncs a file: slow on a busy disk)
ONCE = ("unknown_option", "save_load")


def test_registry_is_not_empty():
    assert ("yun-3layer", "regression") in METHODS


def _check(name: str, ds: memcap.Dataset, checks: list[str]) -> None:
    results = check_construction(name, [ds], checks=checks, max_exact_points=8)
    assert {r.check for r in results} == set(checks)


@pytest.mark.parametrize(("name", "task"), METHODS)
def test_contract(name: str, task: str) -> None:
    @settings(max_examples=6)
    @given(ds=datasets(task=task))
    def run(ds: memcap.Dataset) -> None:
        m = memcap.constructions.registry.get_method(name)
        assume(m.assumption is None or m.assumption(ds) is None)
        _check(name, ds, [c for c in CHECKS if c not in ONCE])

    run()


@pytest.mark.parametrize(("name", "task"), METHODS)
def test_contract_on_real_data(name: str, task: str) -> None:
    if task == "classification":
        ds = memcap.load_dataset("builtin:iris")
    else:
        from sklearn.datasets import load_diabetes

        b = load_diabetes()
        ds = memcap.Dataset(b.data[:120], b.target[:120], task="regression", name="diabetes[:120]")
    _check(name, ds, list(CHECKS))
