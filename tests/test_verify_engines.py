"""The tiers after the float bound: precision ladder, pattern sweep, exact integer path, workers,
max_seconds and the memory refusal (memcap.certify.{memorization,tiers,structured,scaled,parallel}).

Every engine is checked against exact rational evaluation (memcap.numerics.forward_exact) or against
the generic ball ladder, never against itself."""

from fractions import Fraction

import flint
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import memcap
from memcap import Dataset
from memcap.certify import memorization
from memcap.certify.scaled import ScaledPlan
from memcap.certify.structured import SweepPlan, rank_one_factor, sweep_order
from memcap.certify.tiers import decide_chunk
from memcap.errors import ConstructionError, OptionError, TooLargeError
from memcap.network import HARDTANH, IDENTITY, RELU, Activation, Dense, Network, Residual
from memcap.numerics import forward_exact


def _third_net(n: int, gap_bits: int = 140, fail: bool = True) -> tuple[Network, Dataset, float]:
    """f(x) = x/3 + b on x_i = 3k_i, y_i = k_i: the exact error is |b| = tol ± 2^-gap_bits at every
    point; float64 cannot see it, 128-bit balls around 1/3 cannot either, 256-bit balls can. b is
    the non-dyadic tol ± 2^-gap_bits·(1/3 + 1/3^40) so that the ladder starts at 128 bits."""
    tol = 2.0**-20
    b = Fraction(tol) + (1 if fail else -1) * Fraction(1, 2**gap_bits) * (Fraction(1, 3) + Fraction(1, 3**40))
    W = np.empty((1, 1), dtype=object)
    W[0, 0] = flint.fmpq(1, 3)
    bias = np.empty(1, dtype=object)
    bias[0] = flint.fmpq(b.numerator, b.denominator)
    k = np.arange(1, n + 1, dtype=np.float64)
    return Network([Dense(W, bias, IDENTITY)]), Dataset((3 * k)[:, None], k[:, None]), tol


def _comparable(rep):
    d = rep.to_json()
    d.pop("seconds")
    return d


# ---- the precision ladder -------------------------------------------------------------------------
def test_ladder_tries_every_precision_with_more_than_512_undecided_points():
    net, ds, tol = _third_net(1100)
    rep = memcap.verify(net, ds, tol=tol, structure=False)
    assert rep.certified and rep.failing == list(range(1100))
    # every precision from 128 on, in order, until all are decided; nothing skipped
    assert rep.tiers == {"float64+bound": 0, "float80+bound": 0, "arb128": 0, "arb256": 1100}
    assert any("ball precisions tried: 128, 256 bits" in n for n in rep.notes)


def test_ladder_memorized_side_and_exact_integer_engine_agree():
    net, ds, tol = _third_net(600, fail=False)
    generic = memcap.verify(net, ds, tol=tol, structure=False)
    fast = memcap.verify(net, ds, tol=tol)
    assert generic.memorized and generic.certified and fast.memorized and fast.certified
    assert fast.tiers["exact-int"] == 600  # exact: the verdict needs no precision ladder
    assert fast.worst_error <= generic.worst_error  # exact value vs an upper bound of it


# ---- the exact integer path -----------------------------------------------------------------------
def _rand_net(rng, dims, acts, residual=False, kind="dyadic"):
    def num(shape):
        n = int(np.prod(shape))
        nums = rng.integers(-40, 41, n)
        dens = 2 ** rng.integers(0, 6, n) if kind == "dyadic" else rng.integers(1, 8, n)
        vals = [flint.fmpq(int(v), int(d)) for v, d in zip(nums, dens, strict=True)]
        a = np.empty(n, dtype=object)
        a[:] = vals
        return a.reshape(shape)

    layers = []
    for i, act in enumerate(acts):
        if residual and i == 1:
            layers.append(Residual(num((3, dims[i])), num((3,)), num((dims[i], 3)), num((dims[i],)), act))
            dims = dims[:i + 1] + [dims[i]] + dims[i + 1:]
        else:
            layers.append(Dense(num((dims[i + 1], dims[i])), num((dims[i + 1],)), act))
    return Network(layers)


@pytest.mark.parametrize("kind", ["dyadic", "rational"])
@pytest.mark.parametrize("residual", [False, True])
def test_scaled_integer_evaluation_is_exact(kind, residual):
    rng = np.random.default_rng(1)
    acts = [RELU, Activation("relu_like", Fraction(3, 2), Fraction(1, 3)), HARDTANH, IDENTITY]
    net = _rand_net(rng, [3, 5, 4, 4, 2], acts, residual=residual, kind=kind)
    X = np.vstack([rng.normal(size=(20, 3)), np.zeros((1, 3)), [[0.5, -0.25, 2.0**-30]]])
    got = ScaledPlan(net).evaluate(X)
    assert got == forward_exact(net, X)


# ---- the activation-pattern sweep -----------------------------------------------------------------
def _yun(n, act, seed=0, d=3, near_duplicate=False):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    if near_duplicate:
        X[1] = np.nextafter(X[0], np.inf)  # distinct, but equal to float64 resolution but one ulp
    ds = Dataset(X, rng.uniform(-1, 1, size=(n, 1)))
    c = memcap.methods  # noqa: B018 - registry import
    from memcap.constructions.registry import get_method

    c = get_method("yun-3layer").build(ds, arithmetic="exact", activation=act)
    return c.network, ds


def _contains(outs, exact):
    """Every output ball contains the exact rational (compared at 1024 bits)."""
    old = flint.ctx.prec
    flint.ctx.prec = 1024
    try:
        return all(o is None or all(b.contains(flint.arb(e)) for b, e in zip(o, row, strict=True))
                   for o, row in zip(outs, exact, strict=True))
    finally:
        flint.ctx.prec = old


@pytest.mark.parametrize("act", ["relu", "hardtanh"])
def test_sweep_encloses_exact_outputs_of_yun3layer_in_any_order(act):
    net, ds = _yun(40, act, near_duplicate=True)
    assert rank_one_factor(net.layers[0].weight) is not None
    exact = forward_exact(net, ds.X)
    plan = SweepPlan(net, 128)
    order = sweep_order(net, ds.X)
    outs, placed = plan.run(ds.X[order])
    assert placed.mean() > 0.9
    assert _contains(outs, [exact[i] for i in order])
    # a bad order (a wrong "hint") may only cost time: still enclosures of the exact values
    shuffled = np.random.default_rng(0).permutation(ds.N)
    outs, _ = plan.run(ds.X[shuffled])
    assert _contains(outs, [exact[i] for i in shuffled])


def test_sweep_without_rank_one_first_layer_and_points_on_breakpoints():
    # integer weights; inputs put units of layer 1 exactly on their ReLU / hard-tanh breakpoints
    W1 = np.array([[1.0, -1.0], [1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    b1 = np.array([0.0, -1.0, 1.0, 0.0])
    W2 = np.array([[1.0, -2.0, 1.0, 0.5], [0.0, 1.0, -1.0, 1.0], [1.0, 1.0, 1.0, -1.0]])
    b2 = np.array([0.0, 0.5, -1.0])
    W3 = np.array([[1.0, -1.0, 2.0]])
    for act in (RELU, HARDTANH):
        net = Network([Dense(W1, b1, act), Dense(W2, b2, act), Dense(W3, np.array([0.25]), IDENTITY)])
        assert rank_one_factor(net.layers[0].weight) is None
        X = np.array([[1.0, 1.0], [1.0, 0.0], [0.0, -0.5], [2.0, -2.0], [0.3, 0.7], [0.3, 0.7 + 2**-52],
                      [-1.0, 3.0]])
        exact = forward_exact(net, X)
        outs, placed = SweepPlan(net, 128).run(X)
        assert _contains(outs, exact)
        # x = (1, 1) puts unit 0 exactly on its breakpoint: its exact ball (0 ± 0) lies in a closed
        # piece, so it is placed; either piece is the same function there
        Y = np.array([[float(r[0])] for r in exact])
        task = {"X": X, "Y": Y, "labels": None, "tol": 1e-9, "deadline": None, "start_prec": 128}
        sweep = decide_chunk(net, {}, {**task, "engine": "sweep"})
        balls = decide_chunk(net, {}, {**task, "engine": "balls"})
        assert sweep["verdict"].tolist() == balls["verdict"].tolist()
        assert set(sweep["tier"]) >= {"sweep128"}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10**6), act=st.sampled_from(["relu", "hardtanh", "leaky"]),
       rank1=st.booleans(), on_knee=st.booleans())
def test_sweep_property_random_networks(seed, act, rank1, on_knee):
    rng = np.random.default_rng(seed)
    leaky = Activation("relu_like", Fraction(1), Fraction(1, 4))
    a = {"relu": RELU, "hardtanh": HARDTANH, "leaky": leaky}[act]
    d, h1, h2 = 3, 6, 5
    if rank1:
        w, u = rng.integers(-3, 4, h1).astype(float), rng.integers(-3, 4, d).astype(float)
        W1 = np.outer(w, u) / 4
    else:
        W1 = rng.integers(-3, 4, (h1, d)) / 4
    net = Network([Dense(W1, rng.integers(-2, 3, h1) / 2, a),
                   Dense(rng.integers(-3, 4, (h2, h1)) / 2, rng.integers(-2, 3, h2) / 4, a),
                   Dense(rng.integers(-3, 4, (2, h2)) / 2, np.zeros(2), IDENTITY)])
    X = rng.integers(-4, 5, (12, d)) / 4 if on_knee else rng.normal(size=(12, d))
    exact = forward_exact(net, X)
    outs, placed = SweepPlan(net, 128).run(X[sweep_order(net, X)])
    assert _contains(outs, [exact[i] for i in sweep_order(net, X)])
    Y = np.array([[float(r[0]), float(r[1])] for r in exact]) + rng.choice([0.0, 1e-3], size=(12, 1))
    task = {"X": X, "Y": Y, "labels": None, "tol": 5e-4, "deadline": None, "start_prec": 128}
    assert (decide_chunk(net, {}, {**task, "engine": "sweep"})["verdict"].tolist()
            == decide_chunk(net, {}, {**task, "engine": "balls"})["verdict"].tolist()
            == decide_chunk(net, {}, {**task, "engine": "scaled"})["verdict"].tolist())
    # classification: margins of random labels (ties give margin 0: not memorized, in every engine)
    labels = rng.integers(0, 2, 12)
    ctask = {**task, "labels": labels, "tol": None}
    expect = [int(r[lab] - r[1 - lab] > 0) for r, lab in zip(exact, labels, strict=True)]
    for engine in ("sweep", "balls", "scaled"):
        assert decide_chunk(net, {}, {**ctask, "engine": engine})["verdict"].tolist() == expect


def test_verify_sweep_engine_agrees_with_generic_on_exact_yun(monkeypatch):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(60, 3))
    ds = Dataset(X, rng.uniform(-1, 1, (60, 1)))
    from memcap.constructions.registry import get_method

    net = get_method("yun-3layer").build(ds, arithmetic="exact").network
    tol = 1e-15  # exact weights fit exactly; so tight a tolerance leaves the float bound undecided
    slow = memcap.verify(net, ds, tol=tol, structure=False)
    default = memcap.verify(net, ds, tol=tol)
    monkeypatch.setattr(memorization, "choose_engine", lambda _net: "sweep")
    fast = memcap.verify(net, ds, tol=tol)
    assert sum(v for k, v in fast.tiers.items() if k.startswith("sweep")) > 30
    for rep in (slow, default, fast):
        assert rep.memorized and rep.certified
    # break one target by 2^-40: every engine catches exactly that point
    bad = Dataset(X, ds.targets + np.where(np.arange(60) == 7, 2.0**-40, 0.0)[:, None])
    assert memcap.verify(net, bad, tol=tol).failing == [7]
    monkeypatch.undo()
    assert memcap.verify(net, bad, tol=tol).failing == [7] == memcap.verify(net, bad, tol=tol,
                                                                            structure=False).failing


# ---- workers, Ray, max_seconds, memory ------------------------------------------------------------
def _small_chunks(monkeypatch):
    monkeypatch.setitem(memorization.PILOT, "scaled", 5)
    monkeypatch.setitem(memorization.CHUNK, "scaled", 10)
    monkeypatch.setitem(memorization.PILOT, "sweep", 5)
    monkeypatch.setitem(memorization.CHUNK, "sweep", 10)


def test_processes_and_ray_give_the_same_report_as_one_worker(monkeypatch):
    _small_chunks(monkeypatch)
    rng = np.random.default_rng(5)
    X = rng.normal(size=(36, 3))
    ds = Dataset(X, rng.uniform(-1, 1, (36, 1)))
    from memcap.constructions.registry import get_method

    net = get_method("yun-3layer").build(ds, arithmetic="exact", activation="hardtanh").network
    monkeypatch.setattr(memorization, "choose_engine", lambda _net: "sweep")
    tol = 1e-15
    one = memcap.verify(net, ds, tol=tol, workers=1)
    assert one.memorized and one.certified and sum(v for k, v in one.tiers.items() if "sweep" in k) > 10
    two = memcap.verify(net, ds, tol=tol, workers=2)
    assert _comparable(two) == _comparable(one)
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        viaray = memcap.verify(net, ds, tol=tol, ray=True)
    finally:
        ray.shutdown()
    assert _comparable(viaray) == _comparable(one)


def test_max_seconds_stops_with_undecided_points_and_construct_refuses():
    net, ds, tol = _third_net(50, fail=False)
    rep = memcap.verify(net, ds, tol=tol, max_seconds=1e-4)
    assert not rep.certified and not rep.memorized and rep.undecided == list(range(50))
    assert any("max_seconds" in n for n in rep.notes)
    assert memcap.verify(net, ds, tol=tol, max_seconds=600).memorized
    with pytest.raises(OptionError):
        memcap.verify(net, ds, tol=tol, max_seconds=0)
    ds2 = memcap.load_dataset("gen:gaussian?n=40&d=3&seed=2")
    with pytest.raises(ConstructionError, match="max_seconds"):
        memcap.construct(ds2, "yun-3layer", arithmetic="exact", max_seconds=1e-4)


def test_estimate_and_eta_reach_the_progress_callback(monkeypatch):
    _small_chunks(monkeypatch)
    monkeypatch.setattr(memorization, "ANNOUNCE_SECONDS", 0.0)
    net, ds, tol = _third_net(40, fail=False)
    msgs: list[str] = []
    rep = memcap.verify(net, ds, tol=tol, progress=msgs.append, workers=1)
    assert rep.memorized
    assert any(m.startswith("estimate:") and "MiB" in m for m in msgs)
    assert any("ETA" in m for m in msgs)


def test_too_large_for_memory_is_a_typed_refusal(monkeypatch):
    monkeypatch.setattr(memorization, "_mem_available", lambda: 10_000)
    net, ds, tol = _third_net(10)
    with pytest.raises(TooLargeError, match="GiB"):
        memcap.verify(net, ds, tol=tol)


def test_fail_fast_stops_at_the_first_certified_failure(monkeypatch):
    _small_chunks(monkeypatch)
    net, ds, tol = _third_net(60, fail=True)
    full = memcap.verify(net, ds, tol=tol, workers=1)
    assert full.failing == list(range(60))
    fast = memcap.verify(net, ds, tol=tol, workers=1, fail_fast=True)
    assert fast.failing == list(range(5)) and fast.undecided == list(range(5, 60))
    assert not fast.memorized and not fast.certified


def test_broken_pool_falls_back_to_this_process_with_the_same_report(monkeypatch):
    from memcap.certify import parallel

    _small_chunks(monkeypatch)
    net, ds, tol = _third_net(40, fail=False)
    one = memcap.verify(net, ds, tol=tol, workers=1)

    def broken(*_a, **_k):
        raise RuntimeError("cannot start workers")

    monkeypatch.setattr(parallel, "ProcessPool", broken)
    msgs: list[str] = []
    two = memcap.verify(net, ds, tol=tol, workers=2, progress=msgs.append)
    assert _comparable(two) == _comparable(one)
    assert any("continuing in this process" in m for m in msgs)
