"""vardi-optimal / vardi-depth: exact memorization checked by an independent Fraction evaluator,
sizes against the pure formulas, the conditions' refusals, export refusal and the CLI."""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import memcap
from memcap.cli import app
from memcap.constructions.vardi2022 import vardi_depth, vardi_optimal
from memcap.errors import ConditionError, NeedsExactArithmetic
from memcap.theory import vardi2022 as th


def _fraction_forward(net: memcap.Network, x: np.ndarray) -> list[Fraction]:
    """Own evaluator: Python Fractions, ReLU / identity only, no numpy arithmetic."""
    a = [Fraction(float(v)) for v in x]
    for L in net.layers:
        W = [[Fraction(int(w.p), int(w.q)) for w in row] for row in L.weight]
        b = [Fraction(int(v.p), int(v.q)) for v in L.bias]
        z = [sum((wi * ai for wi, ai in zip(row, a, strict=True)), Fraction(0)) + bi
             for row, bi in zip(W, b, strict=True)]
        if L.activation.kind == "relu_like":
            assert L.activation.s_plus == 1 and L.activation.s_minus == 0
            z = [max(v, Fraction(0)) for v in z]
        else:
            assert L.activation.kind == "identity"
        a = z
    return a


def _data(N: int, d: int, C: int, seed: int, kind: str = "gauss") -> memcap.Dataset:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, d)) if kind == "gauss" else rng.integers(-4, 5, (N, d)).astype(float)
    X = np.unique(X, axis=0)
    y = rng.integers(0, C, len(X))
    y[: min(C, len(X))] = np.arange(min(C, len(X)))
    return memcap.Dataset(X, y, task="classification")


@settings(max_examples=8, deadline=None)
@given(N=st.integers(2, 40), d=st.integers(1, 4), C=st.integers(2, 6), seed=st.integers(0, 10**6),
       kind=st.sampled_from(["gauss", "grid"]), grouping=st.sampled_from(list(th.GROUPINGS)))
def test_optimal_memorizes_exactly_by_own_evaluator(N, d, C, seed, kind, grouping):
    ds = _data(N, d, C, seed, kind)
    c = vardi_optimal(ds, grouping=grouping, seed=seed % 7)
    net = c.network
    for x, y in zip(ds.X, ds.labels, strict=True):
        out = _fraction_forward(net, x)
        assert out == [2 * k * int(y) - k * k for k in range(ds.n_classes)]  # F = y exactly
    p = th.Plan(**c.info["plan"])
    assert max(net.widths) <= 12
    assert net.depth == 3 * p.N1 + p.n * (3 * p.ell + 2) + 3
    sz = th.sizes(p, out_bias=ds.n_classes - 1, out_rows=ds.n_classes - 1)
    assert net.widths == sz["widths"] and net.parameters == sz["parameters"]
    assert net.nonzeros <= sz["nonzeros_generic"]


@settings(max_examples=5, deadline=None)
@given(N=st.integers(2, 60), C=st.integers(2, 5), seed=st.integers(0, 10**6), extra=st.integers(0, 300))
def test_depth_variant_memorizes_within_depth(N, C, seed, extra):
    ds = _data(N, 3, C, seed)
    p1, _, _ = __import__("memcap.constructions.vardi2022", fromlist=["plan_for"]).plan_for(ds, n=1)
    L = 3 * p1.ell + 7 + extra
    c = vardi_depth(ds, depth=L)
    assert c.network.depth <= L
    for x, y in zip(ds.X[:8], ds.labels[:8], strict=True):
        assert _fraction_forward(c.network, x) == [2 * k * int(y) - k * k for k in range(ds.n_classes)]
    rep = memcap.verify(c.network, ds)
    assert rep.memorized and rep.certified and sum(rep.tiers.values()) == ds.N


def test_depth_below_minimum_is_refused_with_numbers():
    ds = _data(20, 2, 3, 0)
    with pytest.raises(ConditionError, match="3ℓ \\+ 7"):
        vardi_depth(ds, depth=20)


def test_conditions_refused_with_numbers():
    ds = _data(30, 3, 3, 1)
    norms = np.linalg.norm(ds.X, axis=1)
    with pytest.raises(ConditionError, match="norm"):
        vardi_optimal(ds, r=float(norms.max()) * 0.99)
    with pytest.raises(ConditionError, match="apart"):
        vardi_optimal(ds, delta=10.0)
    with pytest.raises(NeedsExactArithmetic):
        vardi_optimal(ds, arithmetic="float64")
    # larger r / smaller δ: a valid (bigger) architecture
    big = vardi_optimal(ds, r=float(norms.max()) * 100, delta=1e-3)
    small = vardi_optimal(ds)
    assert big.info["plan"]["ell"] > small.info["plan"]["ell"]


def test_regression_dyadic_targets_exact():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((25, 2))
    y = rng.uniform(-5, 5, 25)
    ds = memcap.Dataset(X, y, task="regression")
    c = memcap.construct(ds, "vardi-optimal")
    assert c.verification.memorized and c.verification.worst_error == 0.0
    for x, t in zip(ds.X[:5], y[:5], strict=True):
        assert _fraction_forward(c.network, x) == [Fraction(float(t))]
    with pytest.raises(ConditionError):
        memcap.construct(memcap.Dataset(X, np.c_[y, y], task="regression"), "vardi-optimal")


def test_certify_catches_a_corrupted_word():
    ds = _data(40, 3, 4, 5)
    c = memcap.construct(ds, "vardi-optimal")
    net = c.network
    # change the first group's label word w_1 (layer 3 = its gate layer, row V, column g) by ±1:
    # the label of the point in its last slot moves to a neighbouring class, exactly decided
    first = int(ds.labels[c.info["first_group_last_point"]])
    net.layers[3].weight[2, 1] = net.layers[3].weight[2, 1] + (1 if first == 0 else -1)
    rep = memcap.verify(net, ds)
    assert rep.certified and not rep.memorized and rep.failing


def test_save_load_and_torch_refusal(tmp_path):
    ds = _data(30, 2, 3, 2)
    c = memcap.construct(ds, "vardi-optimal")
    path = tmp_path / "v.npz"
    memcap.save(c.network, path)
    back = memcap.load(path)
    assert all((a == b).all() for L1, L2 in zip(c.network.layers, back.layers, strict=True)
               for a, b in zip(L1.arrays(), L2.arrays(), strict=True))
    assert memcap.verify(back, ds).memorized
    pytest.importorskip("torch")
    if not c.verification.float64_memorizes:
        with pytest.raises(NeedsExactArithmetic, match="bits"):
            c.network.to_torch()


def test_sizes_formula_table():
    # the architecture at N = 10^6 costs no building; depth ≈ 3√(N log N)-ish and width 12
    p = th.plan(10**6, 32, 1, 9, 1.0, 0.01)
    s = th.sizes(p)
    assert s["max_width"] == 12 and s["relu_layers"] == 3 * p.N1 + p.n * (3 * p.ell + 2) + 2
    lay = th.layout(10**6, 32, p.n, p.ell, 1)
    dims = [32, *lay.widths(), 1]
    assert lay.parameters == sum((dims[i] + 1) * dims[i + 1] for i in range(len(dims) - 1))
    # the depth-optimal n minimizes the layer count among neighbours
    for m in (p.n - 1, p.n + 1):
        assert th.sizes(th.plan(10**6, 32, 1, 9, 1.0, 0.01, n=m))["depth"] >= s["depth"]


def test_cli_construct_prints_floors(tmp_path):
    out = tmp_path / "v.npz"
    r = CliRunner().invoke(app, ["construct", "-d", "builtin:iris", "-o", str(out), "-m", "vardi-optimal",
                                 "--json"])
    assert r.exit_code == 0, r.output
    payload = json.loads(r.stdout)
    assert payload["verification"]["memorized"] and payload["verification"]["certified"]
    fl = payload["floors"]
    assert fl["ratio_parameters"] == payload["counts"]["parameters"] / fl["best_floor"]
    r = CliRunner().invoke(app, ["construct", "-d", "builtin:iris", "-o", str(tmp_path / "w.npz"),
                                 "-m", "vardi-depth", "--option", "depth=5"])
    assert r.exit_code == 2 and not (tmp_path / "w.npz").exists()
