"""memcap.train: projections, mirrored init, the regime fitting m < n, checkpoints, CLI, bounds."""

import json

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

import memcap
from memcap.bounds import Architecture, evaluate
from memcap.bounds.zhang2021 import zhang2021_bounds
from memcap.cli import app
from memcap.data import Dataset
from memcap.network import Activation
from memcap.train import train
from memcap.train import zhang21 as Z

runner = CliRunner()
floats = st.floats(-50, 50, allow_nan=False, width=64)


def synthetic(n: int, d: int, seed: int = 0) -> Dataset:
    """The paper's synthetic data (App. H.2): x ~ N(0, I), ||x|| = 1, y = (1^T x)^2."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    return Dataset(X, X.sum(1) ** 2, task="regression", name=f"synthetic(n={n},d={d})")


@given(st.lists(floats, min_size=1, max_size=12), st.floats(1e-4, 1.0), st.floats(1.0, 20.0),
       st.integers(1, 3))
def test_v_projection_is_feasible_and_optimal(vals, zeta, kappa, C):
    u = torch.tensor(np.array(vals * C).reshape(C, len(vals)).T[None], dtype=torch.float64)
    p = Z.project_v(u, zeta, kappa)
    assert Z.in_constraint_set(u, u, p, None, zeta, kappa)
    # a projection onto a convex set satisfies <u - P(u), z - P(u)> <= 0 for every feasible z;
    # feasible points: clip(random, a, kappa a) for random a >= zeta
    rng = np.random.default_rng(len(vals))
    for _ in range(20):
        a = zeta * (1 + 10 * rng.random())
        z = torch.tensor(rng.uniform(a, kappa * a, size=u.shape), dtype=torch.float64)
        inner = float(((u - p) * (z - p)).sum())
        assert inner <= 1e-7 * (1 + float((u - p).norm()) * float((z - p).norm()))
    # projecting a feasible point leaves it (almost) unchanged
    assert torch.allclose(Z.project_v(p, zeta, kappa), p, rtol=1e-9, atol=1e-12)


@given(st.integers(1, 4), st.integers(1, 6), st.floats(1e-3, 10.0), st.integers(0, 10**6))
def test_ball_projection_keeps_iterates_in_the_ball(G, m, eps, seed):
    g = torch.Generator().manual_seed(seed)
    W0 = torch.randn(G, m, 3, generator=g, dtype=torch.float64)
    W = W0 + 5 * torch.randn(G, m, 3, generator=g, dtype=torch.float64)
    P = Z.project_ball(W, W0, eps)
    assert Z.in_constraint_set(P, W0, None, eps, Z.ZETA, Z.KAPPA)
    inside = (W - W0).flatten(1).norm(dim=1) <= eps
    assert torch.equal(P[inside], W[inside])  # points inside are not moved


def test_the_papers_printed_projectv_is_not_a_projection():
    u = torch.tensor([-1.0, 5.0], dtype=torch.float64)
    legacy = Z.legacy_projectv(u)
    assert legacy.tolist() == [0.001, 5.0]  # infeasible for kappa = 1: 5 / 0.001 > 1
    assert not Z.in_constraint_set(u[None], u[None], legacy.view(1, 2, 1), None, 1e-3, 1.0)
    exact = Z.project_v(u.view(1, 2, 1), 1e-3, 1.0)
    assert Z.in_constraint_set(u[None], u[None], exact, None, 1e-3, 1.0)
    assert exact.flatten().tolist() == [2.0, 2.0]  # kappa = 1: max(zeta, mean(u))


def test_iterates_stay_feasible_during_training():
    ds = synthetic(30, 6)
    for eps, kappa in [(0.3, 1.0), (0.5, 2.0)]:
        r = train(ds, 10, "zhang21", eps=eps, kappa=kappa, steps=60,
                  lrs=[(0.5, 0.5), (0.1, 0.01)])
        assert r.info["feasible"] and r.info["w_move"] <= eps * (1 + 1e-12)


def test_mirrored_init_output_is_exactly_zero():
    ds = synthetic(40, 8)
    g = torch.Generator().manual_seed(3)
    W0, v0 = Z.mirrored_lecun_init(torch, 2, 12, 8, 1, g, dtype=torch.float64)
    assert torch.equal(W0[:, :6], W0[:, 6:])
    X = torch.tensor(ds.X)
    H = torch.tanh(torch.einsum("nd,gmd->gnm", X, W0))
    assert torch.equal((H[:, :, :6] - H[:, :, 6:]) @ v0, torch.zeros(2, 40, 1, dtype=torch.float64))
    # end to end: zero steps -> the loss is mean(y^2) exactly, i.e. f(X; W0, v) = 0 for the projected v too
    y2 = float((torch.tensor(ds.targets) ** 2).mean())
    for vp in ("exact", "off"):
        r = train(ds, 12, "zhang21", steps=0, v_projection=vp)
        assert r.info["final_loss"] == y2
    # the regular LeCun init does not start at zero
    assert train(ds, 12, "regular", steps=0).info["final_loss"] != y2


def test_odd_width_is_refused():
    with pytest.raises(ValueError, match="even"):
        train(synthetic(10, 4), 5, "zhang21", steps=1)


def test_regime_defaults_fit_a_narrow_net():
    """m = 2n/d = 10 < n = 60 (Assumption 1 with equality). Theorem 1: a zero-loss point exists in the
    ball and stationary points there have zero loss; so the regime's default settings must reach
    memorization to the verifier's default tolerance (1e-6·max(1, max|y|)), certified."""
    ds = synthetic(60, 12, seed=1)
    assert Z.min_width(ds.N, ds.d_x) == 10
    r = train(ds, 10, "zhang21", steps=3000, target_loss=1e-26)
    assert r.info["width_condition"]["holds"] and r.info["width_condition"]["narrow"]
    assert r.info["feasible"] and r.info["w_move"] <= Z.EPS
    rep = memcap.verify(r.network, ds)
    assert rep.memorized and rep.certified, rep.summary()
    # the history is the loss per logged step, decreasing overall
    assert r.history["loss"][-1] < r.history["loss"][0]


def test_checkpoint_resume_matches_uninterrupted_run(tmp_path):
    ds = synthetic(30, 6)
    ck = tmp_path / "ck.npz"
    kw = dict(steps=80, batch_size=7, lrs=[(0.1, 0.1)], seed=5)
    straight = train(ds, 8, "zhang21", **kw)
    train(ds, 8, "zhang21", **{**kw, "steps": 35}, checkpoint=ck, checkpoint_every=10)
    resumed = train(ds, 8, "zhang21", **kw, checkpoint=ck, checkpoint_every=10)
    assert resumed.info["resumed_from"] == 35
    np.testing.assert_allclose(resumed.network.layers[0].weight, straight.network.layers[0].weight,
                               rtol=0, atol=1e-13)
    with pytest.raises(ValueError, match="another configuration"):
        train(ds, 8, "zhang21", **{**kw, "seed": 6}, checkpoint=ck)
    np.savez(tmp_path / "bad.npz", x=np.arange(3))
    with pytest.raises(ValueError, match="not a memcap training checkpoint|cannot read"):
        train(ds, 8, "zhang21", **kw, checkpoint=tmp_path / "bad.npz")


def test_regular_baseline_and_classification():
    ds = memcap.load_dataset("gen:gaussian?n=40&d=5&seed=2&task=classification&classes=3")
    r = train(ds, 16, "regular", steps=300, lr_w=0.5, lr_v=0.5)
    assert r.network.widths == [16] and r.network.out_dim == 3
    assert r.info["loss"] == "cross_entropy"
    out = r.network(ds.X)
    assert np.mean(out.argmax(1) == ds.labels) == pytest.approx(r.info["train_accuracy"])


def test_cli_train_and_errors(tmp_path):
    out = tmp_path / "net.npz"
    src = "gen:gaussian?n=30&d=6&seed=0"
    r = runner.invoke(app, ["train", "-d", src, "--width", "10", "-o", str(out), "--steps", "1500", "--json"])
    assert r.exit_code == 0, r.output
    payload = json.loads(r.stdout)
    assert payload["verification"]["memorized"] and payload["info"]["regime"] == "zhang21"
    assert memcap.load(out).meta["trained"] is True
    bad = tmp_path / "bad.npz"
    r = runner.invoke(app, ["train", "-d", src, "--width", "7", "-o", str(bad)])
    assert r.exit_code == 2 and "even" in r.output and not bad.exists()
    r = runner.invoke(app, ["train", "-d", src, "--width", "4", "-o", str(bad), "--steps", "5"])
    assert r.exit_code == 1 and not bad.exists()  # not a memorizer: nothing written without --keep
    r = runner.invoke(app, ["train", "-d", src, "--width", "4", "-o", str(bad), "--steps", "5", "--keep"])
    assert r.exit_code == 1 and memcap.load(bad).meta["memorizes"] is False


def test_bounds_rows_report_the_width_condition():
    rows = zhang2021_bounds(Architecture(40, 1, (10,), Activation.parse("tanh")), 200)
    z = [r for r in rows if r.source.startswith("Zhang")]
    assert len(z) == 2 and all(r.holds for r in z) and z[0].values["smallest even m"] == 10
    rows = zhang2021_bounds(Architecture(40, 1, (8,), Activation.parse("tanh")), 200)
    assert not any(r.holds for r in rows if r.source.startswith("Zhang"))
    rows = zhang2021_bounds(Architecture(40, 1, (10,), Activation.parse("relu")), 200)
    assert any("Assumption 2" in r.detail for r in rows if r.source.startswith("Zhang"))
    # registered with the bounds command, for smooth and piecewise-linear activations alike
    for act in ("tanh", "softplus", "relu"):
        rows = evaluate(Architecture(40, 1, (10,), Activation.parse(act)), 200)
        assert any(r.source.startswith("Zhang") for r in rows)
    r = runner.invoke(app, ["bounds", "--widths", "10", "-n", "200", "--d-x", "40", "--activation", "tanh"])
    assert r.exit_code == 0 and "Zhang" in r.output


@pytest.mark.parametrize("kind", ["tanh", "softplus"])
def test_smooth_activations_float_bound_balls_torch_and_exact_refusal(kind):
    from memcap.network import IDENTITY, Dense, Network
    from memcap.numerics import forward_balls, forward_exact, forward_float, forward_float_bounded

    rng = np.random.default_rng(1)
    act = Activation.parse(kind)
    assert act.smooth and act.lipschitz == 1 and Activation.from_json(act.to_json()) == act
    net = Network([Dense(rng.normal(size=(6, 3)) * 4, rng.normal(size=6), act),
                   Dense(rng.normal(size=(2, 6)), rng.normal(size=2), IDENTITY)], {})
    X = rng.normal(size=(5, 3)) * 3
    balls = forward_balls(net, X, 200)
    for dtype in (np.float64, np.float32):
        out, bound = forward_float_bounded(net, X, dtype)
        np.testing.assert_array_equal(out, forward_float(net, X, dtype).astype(np.float64))
        for i in range(5):
            for j in range(2):  # the certified bound contains the true value (a 200-bit ball)
                assert abs(balls[i][j] - float(out[i, j])) <= bound[i, j]
    t = net.to_torch()(torch.tensor(X)).detach().numpy()
    np.testing.assert_allclose(t, forward_float(net, X), rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="transcendental"):
        forward_exact(net, X)
    with pytest.raises(ValueError, match="piecewise linear"):
        _ = act.pieces
