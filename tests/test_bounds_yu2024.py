"""memcap bounds rows from Yu, Gao & Zhang 2024 (Sec. 4.2, 5.2 necessary conditions; Thms 4.8 and 5.2
sufficient), with the paper's numbers; and the mechanism of Theorem 4.3 checked on real networks."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

import memcap
from memcap.bounds import Architecture, evaluate
from memcap.bounds.yu2024 import shell_cover_size
from memcap.cli import app
from memcap.network import IDENTITY, RELU, Dense, Network


def rows(arch, N, **opts):
    return {r.source.split("2024, ", 1)[1]: r for r in evaluate(arch, N, **opts)
            if r.source.startswith("Yu, Gao")}


def test_theorem_48_and_52_sufficient_match_the_built_networks():
    rng = np.random.default_rng(0)
    ds = memcap.Dataset(rng.standard_normal((6, 3)), [0, 1, 2, 0, 1, 2], task="classification")
    for method, key in (("yu-robust", "Theorem 4.8 (yu-robust)"),
                        ("yu-lipschitz", "Theorem 5.2 (yu-lipschitz)")):
        c = memcap.construct(ds, method)
        arch = Architecture(3, 3, tuple(c.network.widths))
        assert rows(arch, 6)[key].holds is True
        short = tuple(c.network.widths[:-1])
        assert rows(Architecture(3, 3, short), 6)[key].holds is False
        thin = tuple(w - 1 if i == 0 else w for i, w in enumerate(c.network.widths))
        assert rows(Architecture(3, 3, thin), 6)[key].holds is False


def test_theorem_43_width_n():
    r = rows(Architecture(4, 1, (3, 50, 50)), 10)["Theorem 4.3"]
    assert r.kind == "necessary" and r.holds is False and r.values["robust_accuracy_at_most"] == 0.8
    assert rows(Architecture(4, 1, (4, 2)), 10)["Theorem 4.3"].holds is True
    assert rows(Architecture(4, 1, (3,)), 10, budget=0.5)["Theorem 4.3"].holds is None
    assert "Theorem 4.3" not in rows(Architecture(4, 1, (3,)), 4)  # needs N >= n + 1


def test_theorem_43_mechanism_on_networks():
    """App. B.2: a first layer narrower than n has a null direction v; the points x_0 + δ_0 and
    x_s + δ_s (||δ||_∞ = 1/3 < λ_D/2 = 1/2) then get the same output, so one of the two differently
    labelled points is not robust at budget λ_D/3."""
    rng = np.random.default_rng(1)
    n = 5
    for _ in range(5):
        net = Network([Dense(rng.standard_normal((n - 1, n)), rng.standard_normal(n - 1), RELU),
                       Dense(rng.standard_normal((7, n - 1)), rng.standard_normal(7), RELU),
                       Dense(rng.standard_normal((1, 7)), rng.standard_normal(1), IDENTITY)])
        W1 = net.layers[0].weight
        v = np.linalg.svd(W1)[2][-1]
        v /= np.max(np.abs(v))
        s = int(np.argmax(np.abs(v)))
        d0 = -v[s] * v / 3
        d0[s] = 1 / 3
        ds_ = v[s] * v / 3
        ds_[s] = 0
        x0, xs = np.zeros(n), np.eye(n)[s]
        assert np.max(np.abs(d0)) <= 1 / 3 + 1e-12 and np.max(np.abs(ds_)) <= 1 / 3 + 1e-12
        a, b = net(np.array([x0 + d0, xs + ds_]))
        assert a == pytest.approx(b, abs=1e-9)


def test_proposition_45_needs_enough_points():
    assert shell_cover_size(2, 0.5) == 1 + 4 * 6  # (λ+2μ)/μ = 2/0.5 + 2 = 6 cubes per face
    assert shell_cover_size(3, 0.9) == 1 + 6 * 5 ** 2
    few = rows(Architecture(2, 1, (1, 9)), 10, budget=0.5)["Proposition 4.5"]
    assert few.holds is None and few.values["N_needed"] == 25
    many = rows(Architecture(2, 1, (1, 9)), 25, budget=0.5)["Proposition 4.5"]
    assert many.holds is False
    assert rows(Architecture(2, 1, (2, 9)), 25, budget=0.5)["Proposition 4.5"].holds is True


def test_proposition_46_depth2_width():
    N = 20
    assert rows(Architecture(1, 1, (2 * (N - 4) - 1,)), N)["Proposition 4.6(2)"].holds is False
    assert rows(Architecture(1, 1, (2 * (N - 4),)), N)["Proposition 4.6(2)"].holds is True
    assert rows(Architecture(1, 1, (9,)), 9)["Proposition 4.6(2)"].holds is False  # 2(9-4) = 10 > 9
    assert rows(Architecture(1, 1, (8,)), 8)["Proposition 4.6(2)"].holds is True  # 2(8-4) = 8
    assert rows(Architecture(1, 1, (N,)), N, budget=0.7)["Proposition 4.6(2)"].holds is None
    assert "Proposition 4.6(2)" not in rows(Architecture(1, 1, (5, 5)), N)


def test_section_52_rows():
    r = rows(Architecture(3, 1, (100,)), 10)["Proposition 5.4"]
    assert r.holds is False
    assert rows(Architecture(2, 1, (100,)), 10)["Proposition 5.4"].holds is None  # E6: n <= 2
    n, N = 10, 110
    M = N // (n + 1)
    need = M * n * (n - 1) // 2
    assert need == 450
    assert rows(Architecture(n, 1, (need - 1,)), N)["Proposition 5.5(2)"].holds is False
    assert rows(Architecture(n, 1, (need,)), N)["Proposition 5.5(2)"].holds is True
    assert rows(Architecture(9, 1, (10,)), N)["Proposition 5.5(2)"].holds is None  # needs n > 9
    r = rows(Architecture(n, 1, (4 * n * M,)), N)["Proposition 5.5(2)"]
    assert r.holds is False and r.values["budget_from"] == pytest.approx(2 / (2 + 1 / (100 * n * n)))


def test_bad_budget_and_regression():
    with pytest.raises(ValueError, match="budget"):
        evaluate(Architecture(2, 1, (3,)), 5, budget=1.0)
    reg = memcap.Dataset(np.arange(5.0)[:, None], np.arange(5.0), task="regression")
    assert not [r for r in evaluate(Architecture(1, 1, (3,)), 5, reg) if r.source.startswith("Yu, Gao")]


def test_cli_shows_rows():
    res = CliRunner().invoke(app, ["bounds", "--widths", "3,3", "-n", "10", "--d-x", "4", "--json"])
    assert res.exit_code == 0, res.output
    assert "Theorem 4.3" in res.output and "Theorem 4.8" in res.output


def test_cli_budget_option():
    res = CliRunner().invoke(app, ["bounds", "--widths", "3,40", "-n", "25", "--d-x", "4", "--budget", "0.5",
                                   "--json"])
    assert res.exit_code == 0, res.output
    assert "N_needed" in res.output and "1729" in res.output  # 1 + 8·6^3 points cover the shell
    bad = CliRunner().invoke(app, ["bounds", "--widths", "3", "-n", "5", "--budget", "1.5"])
    assert bad.exit_code == 2 and "budget" in bad.output


# ---- the hard datasets behind the rows, and what the paper builds on them ------------------------
def test_hard_datasets_have_unit_separation():
    from memcap.constructions.yu2024 import (
        exact_separation,
        prop46_dataset,
        prop54_dataset,
        prop55_dataset,
        thm43_dataset,
    )

    for ds in (thm43_dataset(3, 12), prop46_dataset(12), prop54_dataset(4), prop55_dataset(3, 11)):
        assert exact_separation(ds)[0] == 1, ds.name
    assert prop55_dataset(3, 11).N == 11 and thm43_dataset(3, 12).N == 12
    with pytest.raises(memcap.constructions.base.ConditionError):
        thm43_dataset(3, 10)


def test_deep_networks_do_what_the_narrow_ones_cannot():
    """yu-robust (width 3n+1 >= n, depth 2N+1) is robust on Thm 4.3's and Prop. 4.6(2)'s datasets at
    the budgets where narrow / depth-2 networks provably fail."""
    from memcap.constructions.yu2024 import prop46_dataset, thm43_dataset
    from tests.test_yu2024 import check_strict

    for ds, budget in ((thm43_dataset(3, 8), 0.9), (prop46_dataset(14), 0.8 + 1e-9)):
        c = memcap.construct(ds, "yu-robust", budget=budget)
        assert check_strict(c, ds, k=20) > 0


def test_proposition_55_1_depth2_network_is_robust():
    from memcap.constructions.yu2024 import prop55_dataset, prop55_network
    from tests.test_yu2024 import scores_robust

    n, N = 3, 11
    ds = prop55_dataset(n, N)
    for mu in (0.2, 0.45, 0.499):
        net = prop55_network(n, N, mu)
        assert net.depth == 2 and net.widths == [4 * n * (N // (n + 1))]
        rep = memcap.verify(net, ds)
        assert rep.memorized and rep.certified
        m = scores_robust(net, ds, mu, float("inf"))
        assert np.all(m > 1 - 1e-6)  # F = ±1 exactly on the balls: margin y·F = 1
    with pytest.raises(memcap.constructions.base.ConditionError):
        prop55_network(n, N, 0.5)


def test_proposition_54_fails_for_n2():
    """Erratum YGZ-6: 1 - 2·max(x_1, x_2) is a depth-2 memorizer of T (n = 2) with Lip∞ = 2 = 2/λ_T."""
    from memcap.certify.lipschitz import gradient_lower_bound, interval_bound, pairs_lower_bound
    from memcap.constructions.yu2024 import prop54_dataset, prop54_n2_network

    ds, net = prop54_dataset(2), prop54_n2_network()
    rep = memcap.verify(net, ds)
    assert rep.memorized and rep.certified and net.depth == 2
    Z = np.random.default_rng(0).uniform(-3, 3, (500, 2))
    assert gradient_lower_bound(net, Z) == pytest.approx(2.0)
    assert pairs_lower_bound(net, ds.X) == pytest.approx(2.0)
    # certified: where all three units are stable the interval bound is exactly 2; on a large box the
    # interval Jacobian cannot see that the kinks never add up (it gives 6)
    c = np.array([0.3, -0.2])
    assert interval_bound(net, c - 0.05, c + 0.05).value == pytest.approx(2.0, rel=1e-9)
    assert interval_bound(net, -5 * np.ones(2), 5 * np.ones(2)).value >= 2.0
