"""memcap.certify.lipschitz: the upper bounds are sound (never below a gradient or a difference
quotient inside their region), exact on linear maps, consistent for exact and float weights."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import memcap
from memcap.certify.lipschitz import (
    gradient_lower_bound,
    interval_bound,
    lipschitz_report,
    margin_directions,
    pairs_lower_bound,
    product_bound,
)
from memcap.network import IDENTITY, RELU, Dense, Network, Residual
from memcap.numerics import to_exact_array


def hand_net(exact: bool = False) -> Network:
    W1 = np.array([[1.0, -2.0], [3.0, 0.5]])
    W2 = np.array([[1.0, -1.0]])
    conv = to_exact_array if exact else (lambda a: a)
    return Network([Dense(conv(W1), conv(np.array([0.5, -1.0])), RELU),
                    Dense(conv(W2), conv(np.array([0.0])), IDENTITY)])


@pytest.mark.parametrize("exact", [False, True])
def test_product_bound_by_hand(exact):
    net = hand_net(exact)
    # L∞: ||W2||_1 · ||W1||_∞ = 2 · 3.5 = 7;  L1: ||W2||_∞ · max column sum 4 = 4;
    # L2: ||W2||_2 · sqrt(||W1||_1 ||W1||_∞) = sqrt(2) · sqrt(4 · 3.5)
    for norm, want in (("inf", 7.0), ("1", 4.0), ("2", math.sqrt(2) * math.sqrt(14))):
        b = product_bound(net, norm)
        assert want <= b.value <= want * (1 + 1e-9), (norm, b.value)


def test_linear_map_is_exact():
    W = np.array([[2.0, -3.0, 0.25]])
    net = Network([Dense(W, np.zeros(1), IDENTITY)])
    for norm, want in (("inf", 5.25), ("1", 3.0), ("2", float(np.linalg.norm(W)))):
        ib = interval_bound(net, -np.ones(3), np.ones(3), norm)
        assert want <= ib.value <= want * (1 + 1e-9)
        assert gradient_lower_bound(net, np.zeros((1, 3)), norm) == pytest.approx(want)


@st.composite
def nets(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    d = draw(st.integers(1, 4))
    widths = [d] + [draw(st.integers(1, 6)) for _ in range(draw(st.integers(1, 3)))] + [draw(
        st.integers(1, 3))]
    act = draw(st.sampled_from(["relu", "leaky:0.1", "hardtanh"]))
    layers = [Dense(rng.standard_normal((widths[i + 1], widths[i])), rng.standard_normal(widths[i + 1]),
                    memcap.network.Activation.parse(act) if i < len(widths) - 2 else IDENTITY)
              for i in range(len(widths) - 1)]
    return Network(layers)


@settings(max_examples=40, deadline=None)
@given(net=nets(), seed=st.integers(0, 1000), scale=st.floats(0.01, 3.0),
       norm=st.sampled_from(["inf", "1", "2"]))
def test_upper_bounds_are_sound(net, seed, scale, norm):
    rng = np.random.default_rng(seed)
    c = rng.standard_normal(net.in_dim)
    lo, hi = c - scale, c + scale
    ib = interval_bound(net, lo, hi, norm)
    pb = product_bound(net, norm)
    Z = rng.uniform(lo, hi, (300, net.in_dim))
    g = gradient_lower_bound(net, Z, norm)
    q = pairs_lower_bound(net, Z, norm)
    # g is exact up to rounding; the float difference quotient q loses digits to cancellation
    assert g <= ib.value * (1 + 1e-9) + 1e-12 and q <= ib.value * (1 + 1e-6) + 1e-9
    assert g <= pb.value * (1 + 1e-9) + 1e-12 and q <= pb.value * (1 + 1e-6) + 1e-9
    # exact weights give (essentially) the same bounds
    ex = Network([Dense(to_exact_array(L.weight), to_exact_array(L.bias), L.activation) for L in net.layers])
    assert interval_bound(ex, lo, hi, norm).value == pytest.approx(ib.value, rel=1e-9, abs=1e-12)


def test_margin_directions():
    assert margin_directions(1).tolist() == [[1.0]]
    C = margin_directions(3)
    assert C.shape == (3, 3) and np.all(C.sum(axis=1) == 0)


def test_bad_input():
    with pytest.raises(ValueError, match="norm"):
        product_bound(hand_net(), "3")
    with pytest.raises(ValueError, match="lo <= hi"):
        interval_bound(hand_net(), np.ones(2), np.zeros(2))
    res = Network([Residual(np.eye(2), np.zeros(2), np.eye(2), np.zeros(2)),
                   Dense(np.ones((1, 2)), np.zeros(1))])
    with pytest.raises(ValueError, match="residual"):
        product_bound(res)


def test_report_on_constructions():
    rng = np.random.default_rng(4)
    X = rng.standard_normal((8, 2))
    ds = memcap.Dataset(X, np.arange(8) % 2, task="classification")
    c = memcap.construct(ds, "yu-lipschitz", arithmetic="exact")
    rep = lipschitz_report(c.network, ds.X)
    lam = ds.separation_linf
    assert rep["claimed"] == pytest.approx(2 / lam) and rep["claim_consistent"]
    assert rep["pairs_lower_bound"] == pytest.approx(2 / lam)
    assert rep["product_bound"] >= rep["interval_bound"] >= 2 / lam
    # Thm 4.8 nets are constant on each ball (strict): sampled gradients there are exactly zero
    r = memcap.construct(ds, "yu-robust", budget=0.9)
    mu = r.info["robust"]["radius"]
    Z = (ds.X[:, None, :] + rng.uniform(-mu, mu, (8, 50, 2))).reshape(-1, 2)
    assert gradient_lower_bound(r.network, Z) == 0.0


def test_cli_lipschitz(tmp_path):
    from typer.testing import CliRunner

    from memcap.cli import app

    rng = np.random.default_rng(5)
    X = rng.standard_normal((6, 2))
    csv = tmp_path / "d.csv"
    csv.write_text("a,b,label\n" + "\n".join(f"{a},{b},{i % 2}" for i, (a, b) in enumerate(X)))
    net = tmp_path / "n.npz"
    r = CliRunner().invoke(app, ["construct", "--data", str(csv), "--label", "label", "--method",
                                 "yu-lipschitz", "-o", str(net), "--task", "classification"])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(app, ["lipschitz", str(net), "--data", str(csv), "--label", "label", "--json"])
    assert r.exit_code == 0, r.output
    import json

    rep = json.loads(r.stdout)
    ds = memcap.load_dataset(str(csv), label="label", task="classification")
    assert rep["claim_consistent"] and rep["claimed"] == pytest.approx(2 / ds.separation_linf)
    assert rep["gradient_lower_bound"] == pytest.approx(2 / ds.separation_linf)
    bad = CliRunner().invoke(app, ["lipschitz", str(tmp_path / "missing.npz")])
    assert bad.exit_code == 2


def _cancelling_net():
    """f(x) = relu(2^1200 x) - relu(2^1200 x) ≡ 0: the product of layer norms (≈ 2^1201) is beyond
    float64, so every upper bound is vacuous while the function is constant."""
    from memcap.network import RELU

    big = 2.0**600
    return Network([Dense(np.array([[big], [big]]), np.zeros(2), RELU),
                    Dense(np.array([[big, 0.0], [0.0, big]]), np.zeros(2), RELU),
                    Dense(np.array([[1.0, -1.0]]), np.zeros(1))],
                   meta={"lipschitz": {"norm": "inf", "value": 1.0}})


def test_vacuous_upper_bounds_leave_the_claim_unchecked():
    net = _cancelling_net()
    X = np.array([[0.0], [1e-70], [3e-70]])
    rep = lipschitz_report(net, X)
    assert rep["product_bound_vacuous"] and rep["product_bound_log2"] > 1023
    assert product_bound(net).vacuous
    assert rep["claim_consistent"] is None and "vacuous" in rep["claim_check"]


def test_cli_lipschitz_says_vacuous(tmp_path):
    from typer.testing import CliRunner

    from memcap.cli import app

    path = tmp_path / "n.npz"
    memcap.save(_cancelling_net(), path)
    r = CliRunner().invoke(app, ["lipschitz", str(path)])
    assert r.exit_code == 1, r.output
    assert "vacuous" in r.output and "consistent with the bounds │ yes" not in r.output
