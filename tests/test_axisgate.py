"""axisgate-5layer: float32-certified memorization with sparse layers, checked independently (exact
rationals, torch float32), and the default choice that returns it."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

import memcap
from memcap.cli import app
from memcap.constructions.base import ConditionError
from memcap.constructions.faithful.axisgate import axisgate_sizes
from memcap.constructions.registry import get_method
from memcap.data import Dataset, load_dataset
from memcap.numerics import forward_exact

runner = CliRunner()


def _regression(n: int, d: int, d_y: int = 1, seed: int = 0) -> Dataset:
    rng = np.random.default_rng(seed)
    return Dataset(rng.standard_normal((n, d)), rng.uniform(-1, 1, (n, d_y)) if d_y > 1
                   else rng.uniform(-1, 1, n), task="regression", name=f"g{n}")


def _torch32(net: memcap.Network, X: np.ndarray) -> np.ndarray:
    torch = pytest.importorskip("torch")
    with torch.no_grad():
        return net.to_torch(torch.float32)(torch.tensor(X, dtype=torch.float32)).double().numpy()


def test_regression_is_certified_in_float32_and_torch_agrees() -> None:
    # the issue's regression shape (N = 3000, d_x = 20, d_y = 3), at float32's tolerance 1e-3
    ds = _regression(3000, 20, 3)
    c = memcap.construct(ds, "axisgate-5layer", tol=1e-3)
    rep = c.verification
    assert rep.memorized and rep.certified and rep.float32_memorizes
    assert np.max(np.abs(_torch32(c.network, ds.X) - ds.targets)) <= 1e-3
    net = c.network
    assert net.sparse and net.stored_parameters <= 10 * ds.N * ds.d_y
    assert net.parameters == axisgate_sizes(ds)["parameters"]
    assert net.stored_parameters <= axisgate_sizes(ds)["stored"]


def test_classes_are_coded_in_one_output_and_decoded() -> None:
    ds = load_dataset("builtin:digits")
    rng = np.random.default_rng(0)
    rand = Dataset(ds.X, rng.integers(0, 10, ds.N), task="classification", name="digits-random")
    for data in (ds, rand):
        c = memcap.construct(data, "axisgate-5layer")
        assert c.verification.float32_memorizes and c.verification.min_margin > 0
        assert (_torch32(c.network, data.X).argmax(axis=1) == data.labels).all()
        # fewer stored parameters than the smallest sklearn MLP reaching 100 % on random labels
        assert c.network.stored_parameters < 9610
        assert c.network.layers[-1].out_dim == 10 and c.network.widths[-2] == 1  # one coded unit


def test_exact_arithmetic_memorizes_exactly() -> None:
    ds = _regression(40, 3, seed=2)
    c = get_method("axisgate-5layer").build(ds, arithmetic="exact", q=8)
    assert c.network.exact and not c.network.sparse  # exact weights are stored dense
    out = forward_exact(c.network, ds.X)
    from fractions import Fraction

    assert all(Fraction(int(v.p), int(v.q)) == Fraction(float(y)) for (v,), y in zip(out, ds.targets.ravel(),
                                                                                     strict=True))


def test_gates_fall_back_from_ties_and_integer_features_get_a_sparse_code() -> None:
    rng = np.random.default_rng(3)
    X = rng.integers(0, 8, size=(400, 6)).astype(float)  # every axis has many ties
    X = np.unique(X, axis=0)
    ds = Dataset(X, rng.uniform(-1, 1, len(X)), task="regression", name="ints")
    c = memcap.construct(ds, "axisgate-5layer", tol=1e-3)
    assert c.verification.float32_memorizes
    assert c.info["gate"] in ("radix", "projection")
    with pytest.raises(ConditionError, match="gate must be"):
        get_method("axisgate-5layer").build(ds, gate_direction="diagonal")


def test_default_construct_is_the_smallest_float32_certified_network() -> None:
    ds = _regression(600, 16, seed=4)
    c = memcap.construct(ds)  # method=None: smallest network certified in float32
    pc = c.network.meta["precision_certificate"]
    assert pc["precision"] == "float32" and pc["certified"]
    attempts = c.info["attempts"]
    assert attempts[-1]["certified"] and all(not a["certified"] for a in attempts[:-1])
    assert all(a["reason"] for a in attempts[:-1])
    assert np.max(np.abs(_torch32(c.network, ds.X) - ds.targets)) <= pc["worst_bound"]


def test_cli_default_is_float32_and_a_named_method_says_where_it_is_certified(tmp_path) -> None:
    rng = np.random.default_rng(6)
    X = rng.standard_normal((300, 8))
    y = rng.uniform(-1, 1, 300)
    src = tmp_path / "d.npz"
    np.savez(src, X=X, y=y)
    r = runner.invoke(app, ["construct", "--data", str(src), "-o", str(tmp_path / "a.npz")])
    assert r.exit_code == 0, r.output
    assert "certified at precision float32" in r.output and "passed over" in r.output
    net = memcap.load(tmp_path / "a.npz")
    assert np.max(np.abs(_torch32(net, X)[:, 0] - y)) <= 1e-3
    r = runner.invoke(app, ["construct", "--data", str(src), "-o", str(tmp_path / "b.npz"),
                            "--method", "yun-3layer"])
    assert r.exit_code == 0, r.output
    assert "not when evaluated in float32" in " ".join(r.output.split())
    r = runner.invoke(app, ["construct", "--data", str(src), "-o", str(tmp_path / "c.npz"),
                            "--widths", "4,4"])
    assert r.exit_code == 2 and "--method" in r.output


def test_pruned_bound_matches_the_full_bound_and_holds(monkeypatch) -> None:
    import memcap.numerics as nm

    ds = _regression(900, 6, seed=8)
    net = get_method("axisgate-5layer").build(ds, q=8).network
    X = ds.X
    full = nm.forward_float_bounded(net, X, np.float32)
    monkeypatch.setattr(nm, "_PRUNE_MIN_WIDTH", 32)
    monkeypatch.setattr(nm, "_PRUNE_MIN_POINTS", 16)
    assert nm._prune_axis(net) is not None
    pruned = nm.forward_float_bounded(net, X, np.float32)
    assert np.array_equal(pruned[0].shape, full[0].shape)
    # dropped units are exact zeros: the same values up to the order of the remaining sums
    assert np.all(np.abs(pruned[0] - full[0]) <= full[1] + pruned[1])
    assert np.all(pruned[1] <= full[1] * (1 + 1e-9))
    rows = np.random.default_rng(0).choice(len(X), 40, replace=False)
    exact = np.array([[float(v) for v in r] for r in forward_exact(net, X[rows])])
    assert np.all(np.abs(pruned[0][rows] - exact) <= pruned[1][rows])
    torch_out = _torch32(net, X)
    assert np.all(np.abs(torch_out[rows] - exact) <= pruned[1][rows])
