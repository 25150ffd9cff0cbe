"""decoupled-3layer, zigzag-3layer, twoproj-5layer: exact memorization (rational arithmetic, output
equal to the target) on random, collinear and Theorem 3.3's hard data; sizes = documented formulas;
conditions refused with the numbers; d_y > 1 and classification."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import memcap
from memcap.constructions.base import ConditionError
from memcap.constructions.faithful.common import maxmin_groups, split_groups
from memcap.constructions.faithful.three_layer import zigzag_minimal_widths
from memcap.constructions.registry import get_method
from memcap.data import Dataset, load_dataset
from memcap.numerics import forward_exact, to_exact_array

METHODS = ["decoupled-3layer", "zigzag-3layer", "twoproj-5layer"]


def _exact_equal(net: memcap.Network, ds: Dataset) -> bool:
    out = forward_exact(net, ds.X)
    Y = to_exact_array(ds.targets)
    return all(v == y for row, yrow in zip(out, Y, strict=True) for v, y in zip(row, yrow, strict=True))


@pytest.mark.parametrize("name", METHODS)
@pytest.mark.parametrize("src", [
    "gen:gaussian?n=37&d=3&seed=4",           # random
    "gen:line?n=30&d=4&seed=2",               # collinear
    "gen:hard?n=40",                          # Theorem 3.3's x_i = i·u, y_i = (-1)^i
    "gen:gaussian?n=9&d=2&seed=1&d_y=3",      # d_y > 1
])
def test_exact_memorization(name: str, src: str) -> None:
    ds = load_dataset(src)
    c = get_method(name).build(ds, arithmetic="exact")
    assert c.network.exact
    assert _exact_equal(c.network, ds), f"{name} does not reproduce the targets exactly on {src}"
    sizes = get_method(name).size_formula(ds)
    assert c.network.widths == sizes["widths"] and c.network.parameters == sizes["parameters"]


@pytest.mark.parametrize("name", METHODS)
def test_classification_one_hot_and_rescaled_targets(name: str) -> None:
    ds = load_dataset("gen:gaussian?n=30&d=3&seed=5&task=classification&classes=4")
    c = memcap.construct(ds, name)
    assert c.verification.memorized and c.verification.min_margin > 0.99
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 2))
    big = Dataset(X, rng.uniform(-50, 300, size=20))  # outside [-1, 1]: rescaled, undone at the end
    c = get_method(name).build(big, arithmetic="exact")
    assert _exact_equal(c.network, big)


@pytest.mark.parametrize("name", METHODS)
def test_break_condition_names_the_numbers(name: str) -> None:
    ds = load_dataset("gen:gaussian?n=50&d=2&seed=3")
    m = get_method(name)
    with pytest.raises(ConditionError, match=r"N = 50|N=50"):
        m.build(ds, **m.break_condition(ds))


def test_zigzag_is_half_of_theorem_31() -> None:
    """d1·d2 ≤ 2N (+ O(√N)) for the minimal widths; the condition is exactly ⌊(d1+1)/2⌋·2⌊d2/2⌋ ≥ N."""
    for N in list(range(1, 400)) + [1000, 4096, 10**5, 10**6]:
        d1, d2 = zigzag_minimal_widths(N)
        assert ((d1 + 1) // 2) * 2 * (d2 // 2) >= N
        assert d1 * d2 <= 2 * N + 4 * math.sqrt(N) + 4
    ds = load_dataset("gen:hard?n=64")
    c = get_method("zigzag-3layer").build(ds, arithmetic="exact", widths=(15, 8))  # d1·d2 = 120 < 2N
    assert _exact_equal(c.network, ds)
    with pytest.raises(ConditionError, match="⌊\\(d1\\+1\\)/2⌋"):
        get_method("zigzag-3layer").build(ds, widths=(15, 7))


@settings(max_examples=15, deadline=None)
@given(n=st.integers(2, 300), q=st.sampled_from([2, 4, 8, 16]), seed=st.integers(0, 10**6))
def test_group_splits_are_valid(n: int, q: int, seed: int) -> None:
    c = np.sort(np.random.default_rng(seed).standard_normal(n))
    c = np.unique(c)
    n = len(c)
    p = max(1, min(n, math.ceil(1.1 * n / q)))
    for b in (split_groups(c, p, q), maxmin_groups(c, p, q)):
        sizes = np.diff(b)
        assert b[0] == 0 and b[-1] == n and np.all(sizes >= 1) and np.all(sizes <= q)
    b = maxmin_groups(c, p, q)
    assert len(b) - 1 <= p


def test_twoproj_stores_sparse_layer_and_counts_nonzeros() -> None:
    ds = load_dataset("gen:gaussian?n=200&d=5&seed=0")
    c = memcap.construct(ds, "twoproj-5layer", q=8)
    net = c.network
    W2 = net.layers[1].weight
    assert W2.shape == (net.widths[1], net.widths[0])
    assert net.layers[1].sparse and np.all(np.diff(W2.indptr) <= 3)  # stored sparse (CSR)
    assert net.stored_parameters < net.parameters / 3
    assert net.nonzeros < net.parameters / 3
    assert f"non-zeros {net.nonzeros}" in " ".join(c.certificate.notes)


def test_digits_and_iris_certified() -> None:
    for src in ("builtin:iris", "builtin:digits"):
        ds = load_dataset(src)
        for name in METHODS:
            c = memcap.construct(ds, name)
            assert c.verification.memorized and c.verification.certified


@pytest.mark.parametrize("name", METHODS)
def test_non_relu_activation_refused(name: str) -> None:
    ds = load_dataset("gen:gaussian?n=10&d=2&seed=0")
    with pytest.raises(ConditionError, match="plain ReLU"):
        get_method(name).build(ds, activation="hardtanh")
    assert get_method(name).build(ds, activation="relu").network.exact is False


def test_twoproj_widths_option() -> None:
    ds = load_dataset("gen:gaussian?n=40&d=3&seed=2")
    m = get_method("twoproj-5layer")
    c = m.build(ds, widths=(13, 10, 8, 8), arithmetic="exact")  # p = 5, q = 8
    assert c.network.widths == [13, 10, 8, 8] == m.size_formula(ds, widths=(13, 10, 8, 8))["widths"]
    assert _exact_equal(c.network, ds)
    with pytest.raises(ConditionError, match="3p-2, 2p"):
        m.build(ds, widths=(13, 9, 8, 8))
    with pytest.raises(ConditionError, match="N = 40"):
        m.build(ds, widths=(4, 4, 8, 8))  # p = 2, q = 8: 16 < 40


def test_lp_direction_separates_groups_whose_features_span_16_orders() -> None:
    from memcap.constructions.faithful.common import lp_direction

    rng = np.random.default_rng(0)
    for _ in range(5):
        n = 24
        Xg = np.c_[1e-8 * rng.permutation(n), 1e8 * rng.integers(1, 3, n), rng.standard_normal(n)]
        v = lp_direction(Xg, rng, 5, 3)
        s = np.sort(Xg @ v)
        # the min gap is a fair share of the float mass Σ|v_i| max|x_i| (scale-free criterion)
        mass = float(np.abs(v) @ np.max(np.abs(Xg), axis=0))
        assert np.min(np.diff(s)) / mass > 1e-3 / n**2


def test_twoproj_group_that_float64_cannot_separate_asks_for_exact(monkeypatch) -> None:
    from memcap.constructions.faithful import twoproj
    from memcap.errors import NeedsExactArithmetic

    Xg = np.c_[1e-8 * np.arange(6), np.full(6, 1e10)]  # 1e10 + 5e-8 rounds to 1e10
    monkeypatch.setattr(twoproj, "lp_direction", lambda *a, **k: np.array([1.0, 1.0]))
    with pytest.raises(NeedsExactArithmetic, match="project"):  # not ZeroDivisionError
        twoproj._group_direction(Xg, np.random.default_rng(0), 5, 3)
