"""Robustness verification: each tier on networks whose answer is known."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import memcap
from memcap import Dataset
from memcap.certify.robust import ball_norm, promised_robustness, verify_robust
from memcap.certify.robust.attack import attack, inside_exact
from memcap.certify.robust.bounds import bound_margins
from memcap.certify.robust.milp import milp_point
from memcap.numerics import forward_exact
from tests.test_robust_helpers import ACTS, nearest_prototype_linf, random_net, three_points


def _exact_margin(net, z, y):
    vals = forward_exact(net, np.asarray(z, np.float64)[None, :])[0]
    return min(vals[y] - v for c, v in enumerate(vals) if c != y)


def _sampled_worst(net, X, labels, r, norm, rng, n=400):
    """Lowest float margin over random points of each ball (and the ball's corners for L∞)."""
    worst = np.full(len(X), np.inf)
    rows = np.arange(len(X))
    for _ in range(n // 20):
        d = rng.uniform(-1, 1, (20,) + X.shape)
        if norm == "inf":
            d = r * np.sign(d) if rng.random() < 0.3 else r * d
        elif norm == "2":
            d = r * d / np.linalg.norm(d, axis=2, keepdims=True) * rng.uniform(0, 1, (20, len(X), 1))
        else:
            d = r * d / np.abs(d).sum(axis=2, keepdims=True)
        for k in range(20):
            o = net(X + d[k])
            other = o.copy()
            other[rows, labels] = -np.inf
            worst = np.minimum(worst, o[rows, labels] - other.max(axis=1))
    return worst


def test_just_below_half_separation_is_proven_on_a_robust_net():
    ds = three_points()
    net = nearest_prototype_linf(ds.X)
    lam = ds.separation_linf
    assert lam == 1.0
    rep = verify_robust(net, ds, 0.499 * lam, "inf")
    assert rep.status == ["proven"] * 3 and rep.robust_accuracy == 1.0
    assert rep.tiers["bounds"].proven + rep.tiers["milp"].proven == 3
    assert rep.tiers["attack"].refuted == 0 and not rep.counterexamples


def test_yu_robust_net_proven_at_its_promised_radius():
    ds = memcap.load_dataset("gen:gaussian?n=12&d=2&seed=3&task=classification&classes=3")
    c = memcap.construct(ds, "yu-robust", budget=0.99)
    promise = promised_robustness(c.network)
    assert promise is not None and promise["norm"] == "inf"
    rep = verify_robust(c.network, ds, promise["radius"], "inf", tiers=("bounds", "milp"))
    assert rep.all_proven and rep.covered_by_promise and not rep.promise_broken
    assert promise["radius"] < ds.separation_linf / 2


def test_radius_above_half_separation_is_attacked():
    # two opposite-label points at L∞ distance 1: closed balls of radius 0.6 meet, so every
    # classifier fails on one of them; the attack must exhibit it
    X = np.array([[0.0, 0.0], [1.0, 0.3]])
    ds = Dataset(X, np.array([0, 1]), task="classification")
    net = nearest_prototype_linf(X)
    rep = verify_robust(net, ds, 0.6, "inf", tiers=("attack",))
    assert rep.refuted >= 1 and rep.proven == 0
    assert any("λ_D/2" in n for n in rep.notes)
    for i, ce in rep.counterexamples.items():
        assert inside_exact(ce.z, ds.X[i], 0.6, "inf")
        assert _exact_margin(net, ce.z, int(ds.labels[i])) <= 0


def test_yu_robust_net_refuted_above_half_separation():
    ds = memcap.load_dataset("gen:gaussian?n=10&d=2&seed=2&task=classification&classes=2")
    net = memcap.construct(ds, "yu-robust", budget=0.9).network
    r = 0.6 * ds.separation_linf
    rep = verify_robust(net, ds, r, "inf", tiers=("attack", "milp"), time_limit=20)
    assert rep.refuted >= 1 and not rep.inconsistent
    for i, ce in rep.counterexamples.items():
        assert inside_exact(ce.z, ds.X[i], r, "inf")
        assert _exact_margin(net, ce.z, int(ds.labels[i])) <= 0


def test_broken_network_caught_by_every_tier():
    ds = three_points()
    # the network's prototype for class 0 sits 0.3 behind the data point: at radius 0.4 the ball
    # around x_0 crosses the decision boundary towards x_1
    P = ds.X.copy()
    P[0] = [-0.3, 0.0]
    net = nearest_prototype_linf(P)
    net.meta["robust"] = {"radius": 0.45, "norm": "inf"}
    assert memcap.verify(net, ds).memorized
    rep = verify_robust(net, ds, 0.4, "inf", cascade=False)
    assert rep.status[0] == "refuted"
    assert 0 in rep.counterexamples
    t = rep.tiers
    assert t["attack"].refuted >= 1                       # tier 1 finds a counterexample
    assert rep.bounds_margin[0] <= 0                      # tier 2 cannot prove it (it is false)
    assert t["milp"].refuted >= 1                         # tier 3 refutes it exactly
    assert rep.promise_broken and not rep.inconsistent
    out = milp_point(net, ds.X[0], 0, 0.4, "inf", bound_margins(net, ds.X[:1], ds.labels[:1], 0.4,
                                                                  "inf").z_bounds[0])
    assert out.status == "refuted" and _exact_margin(net, out.counterexample.z, 0) <= 0


@pytest.mark.parametrize("norm", ["inf", "2", "1"])
def test_every_norm_on_the_prototype_net(norm):
    ds = three_points()
    net = nearest_prototype_linf(ds.X)
    # L1 and L2 balls of radius r lie inside the L∞ ball of radius r: robust below λ_D(L∞)/2
    rep = verify_robust(net, ds, 0.45, norm)
    assert rep.all_proven
    rep = verify_robust(net, ds, 1.2, norm, tiers=("attack", "milp"))
    assert rep.refuted >= 1 and not rep.inconsistent
    rep = verify_robust(net, ds, 0.45, norm, tiers=("milp",))     # L2: cutting planes
    assert rep.all_proven, rep.tiers["milp"].notes
    rep = verify_robust(net, ds, 0.7, norm, tiers=("milp",))
    assert rep.refuted >= 1 and rep.proven + rep.refuted == 3


def test_milp_is_exact_in_one_dimension():
    """The MILP optimum equals the true minimum margin (dense grid in 1-D), for every activation,
    including hard-tanh neurons whose interval holds both breakpoints (two binaries)."""
    rng = np.random.default_rng(5)
    outcomes = set()
    for act in ACTS:
        for r, residual in ((0.7, False), (2.0, False), (1.0, True)):
            net = random_net(rng, 1, [6, 5], 2, act, residual)
            x = np.array([0.2])
            y = int(np.argmax(net(x[None, :])[0]))
            zb = bound_margins(net, x[None, :], np.array([y]), r, "inf").z_bounds[0]
            grid = np.linspace(x[0] - r, x[0] + r, 200001)[:, None]
            o = net(grid)
            true_min = float(np.min(o[:, y] - o[:, 1 - y]))
            out = milp_point(net, x, y, r, "inf", zb, time_limit=20)
            outcomes.add(out.status)
            if true_min > 1e-5 and residual:
                # the exact tier does not cover residual blocks, so HiGHS's answer is not a proof
                assert out.status == "unknown" and "exact re-check" in out.detail, (act, out)
            elif true_min > 1e-5:
                assert out.status == "proven" and abs(out.min_margin - true_min) < 1e-4, (act, out)
                assert "re-checked exactly" in out.detail
            elif true_min < -1e-5:
                assert out.status == "refuted", (act, out)
                assert _exact_margin(net, out.counterexample.z, y) <= 0
    assert outcomes >= {"proven", "refuted"}


def test_bad_input():
    ds = three_points()
    net = nearest_prototype_linf(ds.X)
    reg = Dataset(ds.X, np.array([0.1, 0.2, 0.3]))
    with pytest.raises(ValueError, match="classification"):
        verify_robust(net, reg, 0.1)
    for r in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="radius"):
            verify_robust(net, ds, r)
    with pytest.raises(ValueError, match="norm"):
        verify_robust(net, ds, 0.1, norm="3")
    with pytest.raises(ValueError, match="tier"):
        verify_robust(net, ds, 0.1, tiers=("guess",))
    assert ball_norm(np.inf) == "inf" and ball_norm(2) == "2" and ball_norm("L1") == "1"


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), act=st.sampled_from(ACTS), norm=st.sampled_from(["inf", "2", "1"]),
       residual=st.booleans(), scale=st.sampled_from([0.01, 0.1, 0.5]))
def test_tier2_proofs_are_never_refuted(seed, act, norm, residual, scale):
    rng = np.random.default_rng(seed)
    d, k = int(rng.integers(1, 4)), int(rng.integers(2, 4))
    net = random_net(rng, d, [int(rng.integers(2, 7))] * int(rng.integers(1, 3)), k, act, residual)
    X = rng.standard_normal((6, d))
    labels = np.argmax(net(X), axis=1)
    res = bound_margins(net, X, labels, scale, norm)
    worst = _sampled_worst(net, X, labels, scale, norm, rng)
    assert np.all(res.ibp <= worst) and np.all(res.crown <= worst)
    proven = (res.ibp > 0) | (res.crown > 0)
    found = attack(net, X, labels, scale, norm, steps=15, restarts=2, seed=seed)
    assert not any(proven[i] and found[i] is not None for i in range(len(X)))
    assert all(proven[i] <= (worst[i] > 0) for i in range(len(X)))


def test_exact_weight_network_bounds_are_sound():
    ds = memcap.load_dataset("gen:gaussian?n=8&d=2&seed=4&task=classification&classes=2")
    c = memcap.construct(ds, "yu-robust", arithmetic="exact", budget=0.9)
    assert c.network.exact
    r = promised_robustness(c.network)["radius"]
    rep = verify_robust(c.network, ds, r, "inf", tiers=("bounds", "milp"))
    assert rep.proven + rep.unknown == ds.N and rep.refuted == 0
    assert rep.tiers["milp"].proven == 0          # rounded weights: the MILP never claims a proof
    rep = verify_robust(c.network, ds, 0.6 * ds.separation_linf, "inf", tiers=("milp",))
    assert rep.refuted >= 1 and rep.proven == 0   # ... but its counterexamples are confirmed exactly


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), act=st.sampled_from(ACTS), norm=st.sampled_from(["inf", "1"]),
       residual=st.booleans(), scale=st.sampled_from([0.05, 0.3, 1.0]))
def test_tiers_never_contradict_each_other(seed, act, norm, residual, scale):
    rng = np.random.default_rng(seed)
    net = random_net(rng, 2, [5], 3, act, residual)
    X = rng.standard_normal((5, 2))
    labels = np.argmax(net(X), axis=1)
    if len(set(labels)) < 3:
        labels[:3] = [0, 1, 2]
    ds = Dataset(X, labels, task="classification")
    rep = verify_robust(net, ds, scale, norm, cascade=False, attack_steps=10, attack_restarts=2,
                        time_limit=5)
    assert not rep.inconsistent
    worst = _sampled_worst(net, X, ds.labels, scale, norm, rng)
    for i, s in enumerate(rep.status):
        if s == "proven":
            assert worst[i] > 0
        if s == "refuted":
            ce = rep.counterexamples[i]
            assert inside_exact(ce.z, X[i], scale, norm) and _exact_margin(net, ce.z, int(ds.labels[i])) <= 0


def test_sparse_weights_give_the_same_sound_bounds(monkeypatch):
    from memcap.certify.robust.floatbound import Lin

    rng = np.random.default_rng(11)
    net = random_net(rng, 3, [40, 40], 3, ACTS[0], residual=True)
    for layer in net.layers[1:-1]:
        for a in layer.arrays():
            if a.ndim == 2:
                a[rng.random(a.shape) > 0.1] = 0.0
    assert Lin(net.layers[1].weight).S is not None
    X = rng.standard_normal((8, 3))
    labels = np.argmax(net(X), axis=1)
    sparse = bound_margins(net, X, labels, 0.05, "inf")
    monkeypatch.setattr(Lin, "SPARSE_MAX_DENSITY", -1.0)
    assert Lin(net.layers[1].weight).S is None
    dense = bound_margins(net, X, labels, 0.05, "inf")
    np.testing.assert_allclose(sparse.per_class, dense.per_class, rtol=1e-9, atol=1e-12)
    worst = _sampled_worst(net, X, labels, 0.05, "inf", rng)
    assert np.all(sparse.per_class.min(axis=1) <= worst)


def test_a_highs_solve_error_is_retried_and_never_a_failure(monkeypatch):
    import scipy.optimize

    ds = three_points()
    net = nearest_prototype_linf(ds.X)
    zb = bound_margins(net, ds.X[:1], ds.labels[:1], 0.45, "inf").z_bounds[0]
    real = scipy.optimize.milp
    calls = []

    class SolveError:
        status, x, fun, message, mip_dual_bound = 4, None, None, "(HiGHS Status 4: Solve error)", None

    def fails_first(*a, **k):
        calls.append(1)
        return SolveError() if len(calls) == 1 else real(*a, **k)

    monkeypatch.setattr(scipy.optimize, "milp", fails_first)
    out = milp_point(net, ds.X[0], 0, 0.45, "inf", zb)
    assert out.status == "proven" and len(calls) >= 2 and "retried" in out.detail
    monkeypatch.setattr(scipy.optimize, "milp", lambda *a, **k: SolveError())
    out = milp_point(net, ds.X[0], 0, 0.45, "inf", zb)
    assert out.status == "unknown" and out.min_margin is None and out.counterexample is None
