"""adaptive: trained + certified in float32 + repaired. Checked independently of the code under test:
torch float32 evaluation, exact rational re-evaluation (forward_exact), gates exactly zero off their
point, same seed -> same weights, typed refusals."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import assume, given, settings

import memcap
from memcap.adaptive import adaptive
from memcap.adaptive.repair import GATE_REACH, assemble, design_gate
from memcap.errors import ConditionError, ConstructionError, OptionError
from memcap.network import Network
from memcap.numerics import forward_exact
from tests.strategies import datasets

torch = pytest.importorskip("torch")


def _digits(n: int, random_labels: bool = False) -> memcap.Dataset:
    ds = memcap.load_dataset("builtin:digits")
    y = ds.labels[:n]
    if random_labels:
        y = np.random.default_rng(3).integers(0, 10, n)
    return memcap.Dataset(ds.X[:n], y, task="classification", name="digits-sub")


def _torch32(net: Network, X: np.ndarray) -> np.ndarray:
    model = net.to_torch(dtype=torch.float32)
    with torch.no_grad():
        return model(torch.tensor(X, dtype=torch.float32)).numpy().astype(np.float64)


def _exact(net: Network, X: np.ndarray) -> list[list[Fraction]]:
    return [[Fraction(int(v.p), int(v.q)) for v in row] for row in forward_exact(net, X)]


def _check_classifier(net: Network, ds: memcap.Dataset) -> None:
    out = _torch32(net, ds.X)
    assert np.all(np.argmax(out, axis=1) == ds.labels), "torch float32 misclassifies a point"
    for row, y in zip(_exact(net, ds.X), ds.labels, strict=True):
        assert all(row[y] > v for c, v in enumerate(row) if c != y), "exact evaluation misclassifies"


def _float32_weights(net: Network) -> bool:
    return all(np.array_equal(a, a.astype(np.float32).astype(np.float64))
               for layer in net.layers for a in layer.arrays())


def _gate_values(net: Network, X: np.ndarray, d_y: int) -> list[list[Fraction]]:
    """Exact layer-2 activations of the gate units (after the d_y carry units)."""
    pre = Network(net.layers[:2])
    return [row[d_y:] for row in _exact(pre, X)]


def test_digits_subset_certified_and_torch_float32_correct():
    ds = _digits(300)
    c = memcap.construct(ds, "adaptive", max_seconds=30, steps=1500)
    assert c.verification.memorized and c.verification.certified and c.verification.float32_memorizes
    assert c.certificate.arithmetic == "float32"
    assert _float32_weights(c.network)
    _check_classifier(c.network, ds)
    assert c.network.parameters < 2000  # far below the worst-case constructions (≥ 16,000)


def test_same_seed_same_weights():
    ds = _digits(150)
    a = adaptive(ds, seed=5, max_seconds=60, max_width=16, steps=800)
    b = adaptive(ds, seed=5, max_seconds=60, max_width=16, steps=800)
    assert not a.info["budget_hit"]
    assert a.network.widths == b.network.widths
    for la, lb in zip(a.network.layers, b.network.layers, strict=True):
        for x, y in zip(la.arrays(), lb.arrays(), strict=True):
            assert np.array_equal(x, y)


def test_random_labels_repaired_by_gates_exactly_zero_elsewhere():
    ds = _digits(200, random_labels=True)
    c = adaptive(ds, widths=(4,), steps=1000, max_seconds=60)  # too narrow: repair needed
    net = c.network
    assert c.info["gates"] > 0 and net.depth == 3 and _float32_weights(net)
    rep = memcap.verify(net, ds)
    assert rep.memorized and rep.certified and rep.float32_memorizes
    _check_classifier(net, ds)
    G = _gate_values(net, ds.X, ds.d_y)
    open_at = [[k for k, g in enumerate(row) if g != 0] for row in G]
    owners = [i for i, ks in enumerate(open_at) if ks]
    assert len(owners) == c.info["gates"]  # each gate open at exactly one training point
    assert all(len(ks) == 1 for ks in open_at if ks)
    assert all(G[i][open_at[i][0]] > Fraction(1, 2) for i in owners)


def test_near_duplicates_at_1e6_are_repaired():
    rng = np.random.default_rng(1)
    X = rng.uniform(-0.1, 0.1, (40, 3))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    Xn = X[:3].copy()
    Xn[:, 2] += 1e-6
    ds = memcap.Dataset(np.vstack([X, Xn]), np.concatenate([y, 1 - y[:3]]), task="classification")
    c = adaptive(ds, max_seconds=20, max_width=8, steps=800)
    assert c.info["gates"] >= 3
    rep = memcap.verify(c.network, ds)
    assert rep.memorized and rep.float32_memorizes
    _check_classifier(c.network, ds)


def test_points_float32_cannot_resolve_are_refused():
    rng = np.random.default_rng(1)
    X = rng.uniform(-1, 1, (30, 2))
    y = (X[:, 0] > 0).astype(int)
    Xn = X[:1].copy()
    Xn[:, 1] += 1e-7  # ~1 ulp of float32 at |x| ~ 1
    ds = memcap.Dataset(np.vstack([X, Xn]), np.concatenate([y, 1 - y[:1]]), task="classification")
    with pytest.raises(ConstructionError, match="no network certified in float32"):
        adaptive(ds, max_seconds=10, max_width=4, steps=400)


def test_regression_within_float32_tolerance():
    ds = memcap.load_dataset("gen:gaussian?n=40&d=3&seed=2")
    tol = 1e-3
    c = memcap.construct(ds, "adaptive", tol=tol, max_seconds=20, steps=500)
    assert c.verification.float32_memorizes and c.verification.tolerance == tol
    out = _torch32(c.network, ds.X)
    assert np.max(np.abs(out - ds.targets)) <= tol
    for row, t in zip(_exact(c.network, ds.X), ds.targets, strict=True):
        assert abs(row[0] - Fraction(float(t[0]))) <= Fraction(tol)


def test_gate_gadget_alone():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((12, 3))
    ds = memcap.Dataset(X, rng.uniform(-1, 1, 12), task="regression")
    gates = [design_gate(X, r, rng) for r in (2, 7)]
    assert all(g is not None for g in gates)
    for g in gates:
        t = X @ g.w + g.b
        assert np.all(np.abs(np.delete(t, g.r)) >= GATE_REACH)
    net = assemble(ds, None, gates)  # lookup: output b + Σ v_r g_r
    G = _gate_values(net, X, 0)
    for i in range(12):
        for k, g in enumerate(gates):
            assert (G[i][k] != 0) == (i == g.r)


def test_choose_method_picks_adaptive_when_smallest():
    from memcap.select import choose_method

    ds = _digits(200)
    c, cert, attempts = choose_method(ds, "float32", max_seconds=30)
    assert c.certificate.method == "adaptive" and cert.certified
    assert attempts[-1].method == "adaptive"
    _check_classifier(c.network, ds)
    others = [a.parameters for a in attempts if a.method != "adaptive"]
    assert all(c.network.parameters <= p for p in others)  # only smaller candidates go first


def test_bad_options_are_typed_errors():
    ds = _digits(50)
    with pytest.raises(OptionError):
        adaptive(ds, max_seconds=0)
    with pytest.raises(OptionError):
        adaptive(ds, widths=(0,))
    with pytest.raises(ConditionError):
        adaptive(ds, activation="hardtanh")


def test_cli_construct_precision_float32(tmp_path):
    from typer.testing import CliRunner

    from memcap.cli import app

    r = CliRunner().invoke(app, ["construct", "--data", "builtin:iris", "--precision", "float32",
                                 "--method", "adaptive", "--option", "steps=800", "--option",
                                 "max_width=8", "--max-seconds", "30", "-o", str(tmp_path / "n.npz"),
                                 "--json"])
    assert r.exit_code == 0, r.output
    net = memcap.load(tmp_path / "n.npz")
    ds = memcap.load_dataset("builtin:iris")
    assert net.meta["method"] == "adaptive"
    _check_classifier(net, ds)
    r = CliRunner().invoke(app, ["construct", "--data", "builtin:iris", "--method", "yun-3layer",
                                 "--max-seconds", "0", "-o", str(tmp_path / "m.npz")])
    assert r.exit_code == 2 and not (tmp_path / "m.npz").exists()  # a budget must be > 0


@settings(max_examples=15)
@given(ds=datasets(task="regression", max_n=10, max_d=3, max_dy=1))
def test_gates_are_exact_zero_off_their_point_property(ds):
    rng = np.random.default_rng(0)
    gates = [g for g in (design_gate(ds.X, r, rng) for r in range(ds.N)) if g is not None]
    assume(gates)
    G = _gate_values(assemble(ds, None, gates), ds.X, 0)
    for i in range(ds.N):
        for k, g in enumerate(gates):
            assert (G[i][k] != 0) == (i == g.r)
            if i == g.r:
                assert G[i][k] > Fraction(1, 2)
