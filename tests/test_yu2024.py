"""yu-robust (Thm 4.8, B.5, B.6) and yu-lipschitz (Thm 5.2): certified memorization, sizes equal to
the formulas, refusals with the necessary-condition numbers, and robustness checked empirically on
ball corners, faces, random points and the points pushed towards the nearest opposite label."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import memcap
from memcap.certify.lipschitz import gradient_lower_bound, pairs_lower_bound
from memcap.constructions.base import ConditionError
from memcap.constructions.yu2024 import (
    exact_separation,
    lipschitz,
    lipschitz_sizes,
    robust,
    robust_sizes,
)
from memcap.errors import OptionError
from memcap.numerics import forward_exact, forward_float_bounded
from tests.strategies import datasets


# ---- helpers --------------------------------------------------------------------------------------
def ball_points(ds: memcap.Dataset, mu: float, p: float, rng: np.random.Generator, k: int = 30
                ) -> tuple[np.ndarray, np.ndarray]:
    """Points of every closed Lp ball B(x_i, mu) and their owners i: corners/vertices (all of them
    for n <= 6), face points, random interior points, and the point of the ball closest to the
    nearest opposite-label data point (the most dangerous direction)."""
    X, lab = ds.X, ds.labels
    n = ds.d_x
    Z, owner = [], []
    for i, x in enumerate(X):
        pts = []
        opp = X[lab != lab[i]]
        if p == math.inf:
            if n <= 6:
                pts += [x + mu * np.array(s) for s in itertools.product((-1.0, 1.0), repeat=n)]
            R = rng.uniform(-1, 1, (k, n))
            pts += list(x + mu * R)
            F = rng.uniform(-1, 1, (k, n))
            F[np.arange(k), rng.integers(0, n, k)] = rng.choice([-1.0, 1.0], k)
            pts += list(x + mu * F)
            if len(opp):
                j = np.argmin(np.max(np.abs(opp - x), axis=1))
                pts.append(x + mu * np.sign(opp[j] - x))
        else:
            if p == 1:
                for j in range(n):
                    for s in (-1.0, 1.0):
                        e = np.zeros(n)
                        e[j] = s
                        pts.append(x + mu * e)
            G = rng.standard_normal((k, n))
            G /= np.linalg.norm(G, ord=p, axis=1)[:, None]
            pts += list(x + mu * G)
            pts += list(x + mu * G * rng.uniform(0, 1, (k, 1)))
            if len(opp):
                j = np.argmin(np.linalg.norm(opp - x, ord=p, axis=1))
                d = opp[j] - x
                pts.append(x + mu * d / np.linalg.norm(d, ord=p))
        Z += pts
        owner += [i] * len(pts)
    Z = np.array(Z)
    # keep only points inside the closed ball in float64 (rounding may push a corner out by an ulp)
    o = np.array(owner)
    dist = np.linalg.norm(Z - X[o], ord=p, axis=1)
    keep = dist <= mu
    return Z[keep], o[keep]


def check_strict(c: memcap.constructions.base.Construction, ds: memcap.Dataset, seed: int = 0,
                 k: int = 30) -> int:
    """Thm 4.8/B.5/B.6 nets: the paper's F = s_1 + 1/2 equals the owner's label (1..L) on every
    sampled ball point, within the certified float error; argmax is the label. Returns #points."""
    rob = c.info["robust"]
    p = math.inf if rob["norm"] == "inf" else int(rob["norm"])
    Z, o = ball_points(ds, rob["radius"], p, np.random.default_rng(seed), k)
    out, bnd = forward_float_bounded(c.network, Z)
    y = ds.labels[o] + 1
    Fz = out[:, 0] + 0.5
    cmax = float(np.max(np.abs(c.network.layers[1].weight)))
    # a float point may sit an ulp outside the exact ball: allow c·(few ulps)
    slack = bnd[:, 0] + 1e-9 * (1 + cmax) * (1 + float(np.max(np.abs(ds.X))))
    assert np.all(np.abs(Fz - y) <= slack), np.max(np.abs(Fz - y) - slack)
    assert np.all(np.argmax(out, axis=1) == ds.labels[o])
    return len(Z)


def check_strict_exact(c: memcap.constructions.base.Construction, ds: memcap.Dataset, seed: int = 0,
                       k: int = 5) -> int:
    """Exact evaluation: F = y exactly at sampled points lying (exactly) in the L∞ balls."""
    from fractions import Fraction

    mu = Fraction(c.info["robust"]["radius"])
    Z, o = ball_points(ds, float(mu), math.inf, np.random.default_rng(seed), k)
    inside = [max(abs(Fraction(a) - Fraction(b)) for a, b in zip(z, ds.X[i], strict=True)) <= mu
              for z, i in zip(Z, o, strict=True)]
    Z, o = Z[np.array(inside)], o[np.array(inside)]
    half = memcap.numerics._fmpq(0.5)
    for v, i in zip(forward_exact(c.network, Z), o, strict=True):
        assert v[0] + half == ds.labels[i] + 1
    return len(Z)


def scores_robust(net: memcap.Network, ds: memcap.Dataset, mu: float, p: float, seed: int = 0
                  ) -> np.ndarray:
    Z, o = ball_points(ds, mu, p, np.random.default_rng(seed))
    out, bnd = forward_float_bounded(net, Z)
    lab = ds.labels[o]
    own = out[np.arange(len(Z)), lab] - bnd[np.arange(len(Z)), lab]
    other = np.where(np.eye(out.shape[1], dtype=bool)[lab], -np.inf, out + bnd).max(axis=1)
    return own - other  # certified lower bounds on the margins at the sampled points


def robust_verifier():
    from memcap.certify.robust import verify_robust

    return verify_robust


def grid_data(seed: int, N: int = 12, n: int = 2, L: int = 2) -> memcap.Dataset:
    rng = np.random.default_rng(seed)
    X = np.unique(rng.integers(-4, 5, (N, n)).astype(float), axis=0)
    y = rng.integers(0, L, len(X))
    y[:L] = np.arange(L)
    return memcap.Dataset(X, y, task="classification")


# ---- yu-robust, L∞ ------------------------------------------------------------------------------
@settings(max_examples=12, deadline=None)
@given(ds=datasets(task="classification"), budget=st.floats(0.05, 0.999))
def test_robust_certified_and_robust_on_hypothesis_data(ds, budget):
    c = memcap.construct(ds, "yu-robust", budget=budget)
    assert c.verification.memorized and c.verification.certified
    sizes = robust_sizes(ds, budget=budget)
    assert c.network.widths == sizes["widths"] and c.network.depth == 2 * ds.N + 1
    assert c.network.parameters == sizes["parameters"]
    assert max(c.network.widths) == 3 * ds.d_x + 1
    lam, _ = exact_separation(ds)
    # the radius asked for: budget·λ_D/2 (strictly inside the theorem's μ < λ_D/2)
    assert c.info["robust"]["radius"] == pytest.approx(budget * float(lam) / 2, rel=1e-12)
    assert c.info["robust"]["radius"] < float(lam) / 2
    assert c.info["robust"]["norm"] == "inf" and c.network.meta["robust"] == c.info["robust"]
    assert check_strict(c, ds) > 0


def test_robust_paper_worked_example_sizes():
    """Reading aid 4.3: N=10, n=2 -> width 7, depth 21, 210 structural parameters (paper: 263)."""
    rng = np.random.default_rng(3)
    X = rng.standard_normal((10, 2))
    ds = memcap.Dataset(X, np.arange(10) % 2, task="classification")
    c = memcap.construct(ds, "yu-robust", budget=0.9)
    assert c.network.widths == [7, 4] * 10 and c.network.depth == 21
    assert c.info["paper_parameters"] == 210 and c.info["paper_claimed_parameters"] == 263
    # every entry the construction sets is nonzero here (no hinge bias x_1 ± μ is 0): structural
    # count = paper's (scalar output: 2) - 2 + score output (2L weights + L biases)
    assert c.network.nonzeros == 210 - 2 + 3 * 2
    lam = float(exact_separation(ds)[0])
    c1 = -c.network.layers[1].weight[1, 1:5]  # c_1 = y_1/(λ_D - 2μ) on the 2n hinges of point 1
    assert np.allclose(c1, (ds.labels[0] + 1) / (0.1 * lam), rtol=1e-9)


def test_robust_exact_is_strict_on_corners_exactly():
    ds = grid_data(5, N=14, n=2, L=3)
    lam, _ = exact_separation(ds)
    c = memcap.construct(ds, "yu-robust", arithmetic="exact", budget=0.75)
    mu = c.info["robust"]["radius"]
    assert c.certificate.arithmetic == "exact" and mu == float(lam) * 0.375
    corners = np.array([x + mu * np.array(s) for x in ds.X for s in itertools.product((-1, 1), repeat=2)])
    owners = np.repeat(ds.labels, 4)
    vals = forward_exact(c.network, corners)
    for v, lab in zip(vals, owners, strict=True):
        F = v[0] + memcap.numerics._fmpq(0.5)
        assert F == lab + 1  # F = y exactly: strict robust memorization (Remark 4.9)


@pytest.mark.parametrize("opts", [{"budget": 1.0}, {"budget": 0.0}, {"budget": 1.5}, {"radius": 0.0},
                                  {"radius": -1.0}, {"radius": 1.0}, {"radius": 1.2}])
def test_radius_at_or_above_half_separation_refused(opts):
    ds = memcap.Dataset([[0.0, 0.0], [2.0, 0.0], [5.0, 5.0]], [0, 1, 1], task="classification")
    assert float(exact_separation(ds)[0]) == 2.0
    with pytest.raises(ConditionError) as exc:
        memcap.construct(ds, "yu-robust", **opts)
    msg = str(exc.value)
    assert ("λ_D/2" in msg) or ("> 0" in msg)
    if "radius" in opts and opts["radius"] >= 1:
        assert "1" in msg and "intersect" in msg  # the necessary condition, with the numbers
    with pytest.raises(ConditionError):
        memcap.construct(ds, "yu-lipschitz", **opts)


def test_radius_just_below_half_escalates_to_exact():
    ds = memcap.Dataset([[0.0, 0.0], [0.3, 0.1], [1.0, 0.0]], [0, 0, 1], task="classification")
    lam = float(exact_separation(ds)[0])
    r = float(np.nextafter(lam / 2, 0))
    with pytest.raises(ConditionError, match="exact"):
        robust(ds, radius=r)  # float64 rounding cannot fit between μ and λ_D/2
    c = memcap.construct(ds, "yu-robust", radius=r)
    assert c.certificate.arithmetic == "exact" and c.info["robust"]["radius"] == r
    assert check_strict_exact(c, ds) >= 12  # float evaluation cannot resolve c_i ~ 1/(λ_D - 2μ) ~ 1e16
    verify_robust = robust_verifier()
    if verify_robust is not None:
        rep = verify_robust(c.network, ds, r, "inf", tiers=("attack", "bounds"))
        assert rep.refuted == 0 and not rep.inconsistent


def test_regression_and_one_class_refused():
    reg = memcap.Dataset(np.arange(6.0)[:, None], np.arange(6.0), task="regression")
    for m in ("yu-robust", "yu-lipschitz"):
        with pytest.raises(ConditionError, match="classification"):
            memcap.construct(reg, m)
    with pytest.raises(ConditionError, match="classification"):
        robust(reg)
    one = memcap.Dataset(np.arange(6.0)[:, None], np.zeros(6), task="classification")
    with pytest.raises(ConditionError, match="two classes"):
        robust(one)


@pytest.mark.parametrize("norm", ["1.5", "0", "foo", -2])
def test_bad_norm_refused(norm):
    ds = grid_data(0)
    with pytest.raises(OptionError, match="norm"):  # memcap.norms: a bad option, not a broken condition
        robust(ds, norm=norm)


def test_iris_raw_and_scaled():
    iris = memcap.load_dataset("builtin:iris")
    Xs = (iris.X - iris.X.mean(axis=0)) / iris.X.std(axis=0)
    scaled = memcap.Dataset(Xs, iris.y, task="classification", name="iris-std")
    for ds in (iris, scaled):
        c = memcap.construct(ds, "yu-robust", budget=0.95)
        assert c.verification.certified and c.verification.memorized
        assert check_strict(c, ds, k=20) > 16 * ds.N
        assert c.info["robust"]["radius"] == pytest.approx(0.95 * ds.separation_linf / 2, rel=1e-12)


def test_digits_subset_scaled():
    digits = memcap.load_dataset("builtin:digits")
    ds = memcap.Dataset(digits.X[:60] / 16.0, digits.y[:60], task="classification", name="digits/16[:60]")
    c = memcap.construct(ds, "yu-robust", budget=0.9)
    assert c.verification.certified and c.network.depth == 121 and max(c.network.widths) == 193
    check_strict(c, ds, k=10)


def test_part_b_verifier_proves_the_promise():
    verify_robust = robust_verifier()
    ds = grid_data(7, N=10, n=2, L=3)
    c = memcap.construct(ds, "yu-robust", budget=0.9)
    r = c.info["robust"]["radius"]
    rep = verify_robust(c.network, ds, r, "inf", tiers=("attack", "bounds"))
    assert rep.refuted == 0 and not rep.inconsistent


# ---- yu-robust, Lp (Thms B.5, B.6) ----------------------------------------------------------------
@pytest.mark.parametrize("p", [1, 2, 3])
@pytest.mark.parametrize("seed", [0, 1])
def test_lp_strict_on_balls(p, seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((7, 3))
    y = rng.integers(0, 3, 7)
    y[:3] = [0, 1, 2]
    ds = memcap.Dataset(X, y, task="classification")
    for arith in ("float64", "exact"):
        c = memcap.construct(ds, "yu-robust", norm=p, budget=0.85, arithmetic=arith)
        assert c.certificate.arithmetic == arith and c.verification.certified
        sizes = robust_sizes(ds, norm=p, budget=0.85)
        assert c.network.widths == sizes["widths"] and c.network.depth == 3 * ds.N + 1
        assert c.network.parameters == sizes["parameters"]
        if p == 1:
            assert sizes["knots"] == 1 and c.network.widths[0] == 3 * ds.d_x + 1
        assert c.info["robust"]["norm"] == str(p)
        assert c.info["robust"]["radius"] == pytest.approx(0.85 * ds.separation(p) / 2, rel=1e-9)
        check_strict(c, ds)


@settings(max_examples=8, deadline=None)
@given(ds=datasets(task="classification", max_n=12), budget=st.floats(0.05, 0.99), p=st.sampled_from([1, 2]))
def test_lp_hypothesis_data(ds, budget, p):
    c = memcap.construct(ds, "yu-robust", norm=p, budget=budget)
    assert c.verification.certified and c.verification.memorized
    assert c.network.widths == robust_sizes(ds, norm=p, budget=budget)["widths"]
    check_strict(c, ds, k=10)


def test_lp_verified_by_part_b():
    verify_robust = robust_verifier()
    ds = grid_data(3, N=8, n=2, L=2)
    for p in (1, 2):
        c = memcap.construct(ds, "yu-robust", norm=p, budget=0.9)
        rep = verify_robust(c.network, ds, c.info["robust"]["radius"], str(p), tiers=("attack", "bounds"))
        assert rep.refuted == 0 and not rep.inconsistent


def test_theorem_b6_paper_constants_fail_ours_hold():
    """Reading aid E7: D = {(0, 1), (2e_1, 2)}, p = 2, γ = 0.1. The paper's F with κ = (3γ)^p·L and
    exact t^p gives F(0.9e_1) = 1.9504 -> label 2 inside the ball of x_1; ours gives 1."""
    lam, gam, p, L = 2.0, 0.1, 2, 2
    z = np.array([0.9, 0.0])
    xs, ys = [np.zeros(2), np.array([2.0, 0.0])], [1, 2]
    tau = (lam / 2 - gam / 3) ** p
    F_paper = max(0.0, *(y - (3 * gam) ** p * L * max(0.0, float(np.sum((z - x) ** p)) - tau)
                         for x, y in zip(xs, ys, strict=True)))
    assert F_paper == pytest.approx(1.9504) and F_paper > 1.5  # nearest label 2, inside ball of 1
    ds = memcap.Dataset(np.array(xs), [0, 1], task="classification")
    c = memcap.construct(ds, "yu-robust", norm=2, radius=lam / 2 - gam)
    out = c.network(z[None, :])
    assert np.argmax(out) == 0 and out[0, 0] + 0.5 == pytest.approx(1.0)


# ---- yu-lipschitz (Thm 5.2) -----------------------------------------------------------------------
def closed_form(ds: memcap.Dataset, Z: np.ndarray, w: float) -> np.ndarray:
    """Per-class max_{y_i = c} r(1 - w ||z - x_i||_∞) (the paper's F = s_+ - s_- for binary)."""
    D = np.max(np.abs(Z[:, None, :] - ds.X[None, :, :]), axis=2)
    H = np.maximum(0, 1 - w * D)
    return np.stack([np.max(np.where(ds.labels[None, :] == c, H, 0), axis=1)
                     for c in range(ds.n_classes)], axis=1)


@settings(max_examples=10, deadline=None)
@given(ds=datasets(task="classification", max_n=14), exact=st.booleans())
def test_lipschitz_certified_optimal_and_robust(ds, exact):
    c = memcap.construct(ds, "yu-lipschitz", arithmetic="exact" if exact else "float64")
    assert c.verification.memorized and c.verification.certified
    sizes = lipschitz_sizes(ds)
    net = c.network
    assert net.widths == sizes["widths"] and net.parameters == sizes["parameters"]
    n, N, L = ds.d_x, ds.N, ds.n_classes
    e = math.ceil(math.log2(n)) if n > 1 else 0
    assert net.depth == N * (2 * e + 5) + 2
    lam = float(exact_separation(ds)[0])
    lip = c.info["lipschitz"]
    if exact:
        assert lip["is_optimal"] and lip["value"] == 2 / lam
    else:
        assert 2 / lam <= lip["value"] <= 2 / lam * (1 + 1e-9)
    if L == 2:
        assert max(net.widths) == max(3 * n + 1, n + 4)
        assert net.nonzeros == sizes["paper_parameters"] - 2 + 4  # all set entries are nonzero
    # the margins' Lipschitz constant: the data pair at distance λ_D attains 2/λ_D ...
    assert pairs_lower_bound(net, ds.X) == pytest.approx(2 / lam, rel=1e-9)
    # ... and no sampled gradient exceeds the claim
    rng = np.random.default_rng(0)
    lo, hi = ds.X.min(axis=0) - lam, ds.X.max(axis=0) + lam
    Z = np.concatenate([rng.uniform(lo, hi, (200, n)), ds.X + rng.uniform(-lam / 2, lam / 2, ds.X.shape)])
    assert gradient_lower_bound(net, Z) <= lip["value"] * (1 + 1e-9)
    # the network is the closed form of memcap (binary: scores ±F/2)
    S = closed_form(ds, np.concatenate([Z, lo - 1 - rng.uniform(0, 5, (20, n))]), lip["value"])
    out = net(np.concatenate([Z, lo - 1 - rng.uniform(0, 5, (20, n))]))
    if L == 2:
        Fz = S[:, 1] - S[:, 0]
        assert np.allclose(out, np.stack([-Fz / 2, Fz / 2], axis=1), atol=1e-9)
    else:
        assert np.allclose(out, S, atol=1e-9)
    # sign robust on every ball of radius 0.99·λ_D/2, margin >= 1 - 0.99 (up to rounding)
    m = scores_robust(net, ds, 0.99 * lam / 2, math.inf)
    assert np.all(m > 0.01 - 1e-6)


def test_lipschitz_binary_worked_example_sizes():
    """Reading aid 7.2: N=10, n=2 -> depth 72, width 7, block widths (7,5,5,4,6,5,3), 517 params."""
    rng = np.random.default_rng(2)
    ds = memcap.Dataset(rng.standard_normal((10, 2)), np.arange(10) % 2, task="classification")
    c = memcap.construct(ds, "yu-lipschitz")
    assert c.network.depth == 72 and max(c.network.widths) == 7
    assert c.network.widths == [3] + [7, 5, 5, 4, 6, 5, 3] * 10
    assert c.info["paper_parameters"] == 517
    for n, N, para in ((3, 10, 799), (6, 30, 4605)):
        X = np.random.default_rng(n).standard_normal((N, n))
        d = memcap.Dataset(X, np.arange(N) % 2, task="classification")
        assert lipschitz_sizes(d)["paper_parameters"] == para


def test_lipschitz_iris_and_digits_subset():
    iris = memcap.load_dataset("builtin:iris")
    c = memcap.construct(iris, "yu-lipschitz", budget=0.99)
    assert c.verification.certified and c.info["lipschitz"]["norm"] == "inf"
    assert np.all(scores_robust(c.network, iris, c.info["robust"]["radius"], math.inf) > 0)
    digits = memcap.load_dataset("builtin:digits")
    sel = np.isin(digits.y, [3, 8])
    ds = memcap.Dataset(digits.X[sel][:40] / 16, digits.y[sel][:40], task="classification")
    c = lipschitz(ds)
    assert c.network.depth == 40 * (2 * 6 + 5) + 2
    rep = memcap.verify(c.network, ds)
    assert rep.certified and rep.memorized


def test_lipschitz_small_proven_by_part_b_milp():
    """Sound bound propagation cannot follow the running-max channel through many blocks, but the
    exact MILP tier proves every ball of a small yu-lipschitz network."""
    verify_robust = robust_verifier()
    rng = np.random.default_rng(0)
    X = np.unique(rng.integers(-3, 4, (8, 2)).astype(float), axis=0)
    ds = memcap.Dataset(X, np.arange(len(X)) % 2, task="classification")
    c = memcap.construct(ds, "yu-lipschitz", budget=0.9)
    rep = verify_robust(c.network, ds, c.info["robust"]["radius"], "inf", time_limit=20)
    assert rep.refuted == 0 and not rep.inconsistent and rep.proven == ds.N
