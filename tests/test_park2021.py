"""Park et al. (2021): Theorems 1 and 2 as exact networks; sizes by formula; Δ-separation refusals."""

from __future__ import annotations

import re
from fractions import Fraction

import numpy as np
import pytest

import memcap
from memcap.constructions.base import ConditionError
from memcap.constructions.park2021.gadgets import mod_gadget, pack_labels
from memcap.constructions.park2021.program import Expr, Program, Q, compile_program, evaluate_program
from memcap.constructions.registry import get_method
from memcap.numerics import forward_exact, to_exact_array
from memcap.theory.park2021 import (
    check_separated,
    count,
    default_delta,
    label_bits,
    plan_sublinear,
    plan_width3,
    separation,
)


def _cls(X: np.ndarray, y: np.ndarray, name: str = "t") -> memcap.Dataset:
    return memcap.Dataset(X, y, task="classification", name=name)


def _gauss(n: int, d: int, c: int, seed: int) -> memcap.Dataset:
    rng = np.random.default_rng(seed)
    return _cls(rng.standard_normal((n, d)), rng.integers(0, c, n), f"gauss{n}")


def _check(c: memcap.constructions.base.Construction, ds: memcap.Dataset, method: str, **opts) -> None:
    rep = c.verification
    assert rep.memorized and rep.certified, rep.summary()
    sizes = get_method(method).size_formula(ds, **opts)
    assert c.network.widths == sizes["widths"]
    assert c.network.parameters == sizes["parameters"]
    assert c.network.depth == sizes["depth"]


# ---- the worked examples of memcap (sizes by formula only) --------------------------------
def test_sizes_match_the_spec_worked_examples():
    pl = plan_sublinear(1000, 10, 10, Fraction(100), variant="paper", activation="hardtanh")
    assert (pl.K0, pl.L1, pl.U, pl.V) == (198_166_365, 10, 250_001, 10_000)
    assert pl.c2_targets == [125_001, 62_501, 31_251, 15_626, 10_000]
    assert pl.c2_blocks == [8, 17, 33, 67, 100]
    assert (pl.A, pl.B, pl.R, pl.S) == (100, 100, 1, 400)
    n = count(pl, d_out=1)
    assert (n["hidden_layers"], n["width"], n["parameters"]) == (822, 201, 17_139)
    p2 = plan_width3(1000, 10, 10, Fraction(100))
    assert (p2.A, p2.B) == (300, 34)
    n2 = count(p2, d_out=1)
    assert (n2["hidden_layers"], n2["width"], n2["parameters"]) == (1055, 3, 12_685)


def test_size_formula_for_huge_n_is_fast_and_sublinear():
    n = count(plan_sublinear(10**9, 10, 10, Fraction(100)))
    assert n["parameters"] < 10**9 // 4
    paper = count(plan_sublinear(10**9, 10, 10, Fraction(100), variant="paper"))
    assert n["parameters"] <= paper["parameters"]


def test_label_bits_errata_c1():
    assert [label_bits(c) for c in (1, 2, 3, 4, 5, 10, 1000)] == [1, 1, 2, 2, 3, 4, 10]


# ---- gadgets -------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(5))
def test_mod_gadget_keeps_floors_distinct_and_fractions(seed: int):
    rng = np.random.default_rng(seed)
    N, T = 12, 40
    K = 2 * T
    floors = rng.choice(K, size=N, replace=False)
    fr = [Q(int(v), 7) for v in rng.integers(0, 7, N)]
    z = [Q(int(f)) + q for f, q in zip(floors, fr, strict=True)]
    prog = Program(1)
    hi = np.sort(floors[floors >= T])
    M = sorted({T, *[int(hi[i]) for i in range(3, len(hi), 3)], K})
    out, new = mod_gadget(prog, prog.inputs()[0], floors.astype(np.int64), T, M, [3, 3, 3, 3], "t")
    prog.outputs = [out]
    ev = evaluate_program(prog, np.array([[v] for v in z], dtype=object))
    vals = ev.outputs[0]
    assert len({int(v.floor()) for v in vals}) == N
    assert all(0 <= v < T for v in vals)
    assert [int(v.floor()) for v in vals] == new.tolist()
    assert all(v - v.floor() == q for v, q in zip(vals, fr, strict=True))  # fractional parts kept


def test_pack_labels_msb_first():
    ws = pack_labels(np.array([0, 1, 3]), np.array([2, 1, 3]), A=2, B=2, D=2)
    assert ws == [Q(0b1001, 16), Q(0b0011, 16)]


def test_compiled_step_id_program_is_exact_in_every_activation():
    prog = Program(1)
    x = prog.inputs()[0]
    prog.open_layer("a")
    s, i = prog.step(x - 2), prog.ident(x)
    prog.outputs = [s * 5 + i]
    X = np.array([[Q(1, 3)], [Q(2)], [Q(7, 2)], [Q(-1, 8)]], dtype=object)
    ev = evaluate_program(prog, X)
    for act in ("relu", "hardtanh", "relu-narrow"):
        net = compile_program(prog, ev, act)
        got = [r[0] for r in forward_exact(net, np.array([[1 / 3], [2.0], [3.5], [-0.125]]))]
        assert got[1:] == [Q(7), Q(17, 2), Q(-1, 8)]
        assert abs(got[0] - Q(1, 3)) < Q(1, 10**15)  # 1/3 enters as a float
        if act == "relu-narrow":
            assert max(net.widths) == 2


# ---- memorization, certified ---------------------------------------------------------------------
@pytest.mark.parametrize("method", ["park-sublinear", "park-width3"])
def test_memorizes_gaussian_data(method: str):
    ds = _gauss(60, 4, 5, 1)
    _check(memcap.construct(ds, method), ds, method)


@pytest.mark.parametrize(("method", "opts"), [
    ("park-sublinear", {"variant": "paper"}),
    ("park-sublinear", {"variant": "paper", "bottlenecks": False, "activation": "hardtanh"}),
    ("park-sublinear", {"R": 3, "w": "5/6"}),
    ("park-width3", {"activation": "relu-narrow"}),
])
def test_options_memorize_and_match_formula(method: str, opts: dict):
    ds = _gauss(40, 3, 4, 2)
    c = memcap.construct(ds, method, **opts)
    _check(c, ds, method, **opts)
    if opts.get("activation") == "relu-narrow":
        assert max(c.network.widths) == 3


@pytest.mark.parametrize("method", ["park-sublinear", "park-width3"])
def test_memorizes_digits_subset(method: str):
    full = memcap.load_dataset("builtin:digits")
    ds = _cls(full.X[:120], full.labels[:120], "digits[:120]")
    c = memcap.construct(ds, method)
    _check(c, ds, method)
    assert c.certificate.arithmetic == "exact"


def test_memorizes_mnist1d_subset():
    pytest.importorskip("mnist1d")
    full = memcap.load_dataset("builtin:mnist1d")
    ds = _cls(full.X[:100], full.labels[:100], "mnist1d[:100]")
    for method in ("park-sublinear", "park-width3"):
        _check(memcap.construct(ds, method), ds, method)


def test_adversarial_collinear_and_tiny_gaps():
    # collinear points with one tiny gap: huge Δ, long compression-1
    x = np.concatenate([np.arange(20.0), [20.0 + 1e-6]])
    ds = _cls(np.outer(x, [1.0, -2.0]), np.arange(21) % 3, "line")
    for method in ("park-sublinear", "park-width3"):
        _check(memcap.construct(ds, method), ds, method)


# ---- Δ-separation --------------------------------------------------------------------------------
def test_not_separated_at_stated_delta_is_refused_with_the_pairs():
    X = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 1.0], [5.0, 5.0]])
    ds = _cls(X, [0, 1, 0, 1])
    # diameter: points 1 and 2 (√101); minimum distance: points 0 and 2 (1)
    with pytest.raises(ConditionError) as e:
        memcap.construct(ds, "park-sublinear", delta=10)
    msg = str(e.value)
    assert re.search(r"points (1 and 2|2 and 1) are 10\.0499", msg)
    assert re.search(r"points (0 and 2|2 and 0) only 1\b", msg)
    c = memcap.construct(ds, "park-sublinear", delta=Fraction(1006, 100))  # > √101 = 10.0499
    assert c.verification.memorized


def test_default_delta_is_certified_above_the_ratio():
    ds = _gauss(50, 3, 2, 3)
    d = default_delta(ds)
    sep = separation(ds)
    assert d * d > sep["dmax2"] / sep["dmin2"]
    assert check_separated(ds, d)[1].holds
    with pytest.raises(ConditionError):
        check_separated(ds, sep["ratio"] * 0.999)


def test_float64_request_is_refused_when_weights_need_more_bits():
    ds = _gauss(200, 3, 10, 4)
    with pytest.raises(ConditionError, match="arithmetic='exact'"):
        get_method("park-sublinear").build(ds, arithmetic="float64", variant="paper")


def test_regression_is_refused():
    ds = memcap.Dataset(np.arange(6.0)[:, None], np.arange(6.0), task="regression")
    with pytest.raises(ConditionError, match="class labels"):
        get_method("park-width3").build(ds)


def test_exact_weights_are_exact_rationals():
    ds = _gauss(30, 2, 3, 5)
    c = memcap.construct(ds, "park-width3", arithmetic="exact")
    assert c.network.exact
    out = forward_exact(c.network, ds.X[:5])
    assert [int(np.argmax([float(v) for v in r])) for r in out] == ds.labels[:5].tolist()
    assert to_exact_array(np.array([0.5]))[0] == Q(1, 2)
    assert isinstance(Expr.constant(1), Expr)


def test_to_torch_refuses_exact_only_networks_unless_asked():
    torch = pytest.importorskip("torch")
    ds = _gauss(80, 3, 10, 6)
    c = memcap.construct(ds, "park-sublinear", variant="paper")
    assert c.network.meta["exact_only"] is True
    assert c.network.meta["verification"]["float64_memorizes"] is False
    assert any("float64 NOT certified" in n for n in c.certificate.notes)
    with pytest.raises(ValueError, match="not certified to memorize"):
        c.network.to_torch(torch.float64)
    with pytest.warns(RuntimeWarning, match="not certified"):
        c.network.to_torch(torch.float64, allow_unfaithful=True)


def test_huge_delta_beyond_int64_and_one_class_per_point():
    # min distance 2^-52 next to a diameter of 20: Δ ≈ 9e16, K0 ≈ 2.7e19 > 2^63
    X = np.array([[1.0], [1.0 + 2**-52]] + [[float(k)] for k in range(2, 22)])
    ds = _cls(X, np.arange(len(X)) % 3, "huge-delta")
    for method in ("park-sublinear", "park-width3"):
        c = memcap.construct(ds, method)
        _check(c, ds, method)
        assert c.info["plan"]["K0"] > 2**63
    ds = _gauss(33, 2, 33, 7)  # C = N: D = 6 bits per label
    ds = _cls(ds.X, np.arange(33), "one-class-each")
    _check(memcap.construct(ds, "park-sublinear"), ds, "park-sublinear")
