"""yun-deep: Proposition 3.4 and Corollaries A.1-A.3 (Yun et al. 2019, App. A, E)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import memcap
import memcap.constructions.yun2019.deep as deep_mod
from memcap import Dataset
from memcap.cli import app
from memcap.constructions.base import ConditionError
from memcap.constructions.registry import get_method
from memcap.constructions.yun2019.deep import deep_default_widths, deep_network, deep_sizes, plan_deep
from memcap.data.generators import hard_alternating, line
from memcap.network import HARDTANH, RELU, Activation
from memcap.numerics import forward_exact
from tests.strategies import datasets

ACTS = ["relu", "hardtanh", "leaky:0.1"]


def _cap(d1, d2, r, k, dy):
    return 4 * ((d1 - r) // k) * ((d2 - r) // (k * dy))


# ---- the choice of l_1..l_m ------------------------------------------------------------------------
def test_two_hidden_layers_reduce_to_theorem_3_1():
    for d1, d2, dy in [(8, 8, 1), (13, 30, 2), (4, 3, 1)]:
        for act, k in [(RELU, 4), (HARDTANH, 2)]:
            plan = plan_deep((d1, d2), dy, act)
            assert plan.blocks == [1] and plan.r == [0]
            assert plan.capacity == _cap(d1, d2, 0, k, dy)


def test_prop_3_2_is_cor_a2_with_l_1_3():
    plan = plan_deep((8, 8, 12), 3, RELU, "classification")
    assert plan.blocks == [1] and plan.gate_layer == 3 and plan.r == [0] and plan.capacity == 16
    assert plan_deep((8, 8, 11), 3, RELU, "classification").capacity == 0
    assert plan_deep((8, 8, 9), 3, RELU, "classification", gate="3unit").gate_layer == 3


def test_plan_matches_hand_computation():
    # 3 blocks at (1,2), (3,4), (5,6), d_y = 1, ReLU: r = 1, 2, 1
    plan = plan_deep((10,) * 6, 1, RELU)
    assert plan.blocks == [1, 3, 5] and plan.r == [1, 2, 1]
    assert plan.capacity == _cap(10, 10, 1, 4, 1) + _cap(10, 10, 2, 4, 1) + _cap(10, 10, 1, 4, 1) == 48
    # a narrow layer in the middle carries v and the sum (d_y + 1 = 2 units)
    plan = plan_deep((16, 16, 2, 16, 16), 1, RELU)
    assert plan.blocks == [1, 4] and plan.capacity == 2 * _cap(16, 16, 1, 4, 1) == 72
    # one block without carriers beats two with them at width 12: 36 > 2·16
    assert plan_deep((12, 12, 2, 12, 12), 1, RELU).blocks == [1]
    # a 1-unit layer cannot carry v and the sum: only one block fits
    plan = plan_deep((16, 16, 1, 16, 16), 1, RELU)
    assert plan.blocks == [1] and plan.capacity == 64
    # the tail after the last block must carry d_y sums
    assert plan_deep((12, 12, 12, 1), 2, HARDTANH).capacity == 0
    assert plan_deep((12, 12, 12, 2), 2, HARDTANH).blocks == [1]


@settings(max_examples=40)
@given(st.lists(st.integers(1, 14), min_size=2, max_size=8), st.integers(1, 3),
       st.sampled_from([RELU, HARDTANH]))
def test_plan_is_optimal_and_valid(ws, dy, act):
    """Brute force over all index lists: the DP's choice is valid and has the largest sum."""
    import itertools

    k = 2 if act == HARDTANH else 4
    H = len(ws)
    best = -1
    for m in range(1, H // 2 + 1):
        for ls in itertools.combinations(range(1, H), m):
            if any(b - a < 2 for a, b in zip(ls, ls[1:], strict=False)):
                continue
            rs = [dy * (j > 0) + (j < m - 1) for j in range(m)]
            if any(ws[lj - 1] < r or ws[lj] < r for lj, r in zip(ls, rs, strict=True)):
                continue
            gaps = [ws[i - 1] for a, b in zip(ls, ls[1:], strict=False) for i in range(a + 2, b)]
            if any(g < dy + 1 for g in gaps) or any(w < dy for w in ws[ls[-1] + 1:]):
                continue
            best = max(best, sum(_cap(ws[lj - 1], ws[lj], r, k, dy) for lj, r in zip(ls, rs, strict=True)))
    plan = plan_deep(tuple(ws), dy, act)
    assert plan.capacity == max(best, 0)


# ---- sizes ----------------------------------------------------------------------------------------
def test_default_widths_are_the_smallest_equal_width():
    for N, dy, act in [(149, 3, RELU), (60, 2, HARDTANH), (1000, 1, RELU)]:
        for variant in ("regression", "classification"):
            ws = deep_default_widths(N, dy, act, variant)
            assert len(ws) == 6 + (variant == "classification")
            assert plan_deep(ws, dy, act, variant).capacity >= N
            narrower = tuple(w - 1 for w in ws[:6]) + ws[6:]
            assert plan_deep(narrower, dy, act, variant).capacity < N
    assert deep_default_widths(149, 3, RELU, "classification") == (17,) * 6 + (12,)


def _formula_widths(plan, dy, act, H):
    """The width accounting of Prop. 3.4: the fewest units the construction uses."""
    k2 = 1 if act == HARDTANH else 2
    out = [1] * H
    ls = plan.blocks
    for j, (lj, r) in enumerate(zip(ls, plan.r, strict=True)):
        out[lj - 1] = k2 * plan.p[j] + r
        out[lj] = k2 * dy * plan.q[j] + r
        nxt = ls[j + 1] if j + 1 < len(ls) else H + 1
        for i in range(lj + 2, nxt):
            out[i - 1] = dy + (j + 1 < len(ls))
    return out


@pytest.mark.parametrize("act", [RELU, HARDTANH, Activation.parse("leaky:0.1")])
def test_formula_widths_exactly_suffice(act):
    plan = plan_deep((20, 20, 3, 20, 20, 2, 2), 2, act)
    assert len(plan.blocks) == 2
    n = plan.capacity - plan.p[-1] * plan.q[-1] + 1  # every block gets points
    rng = np.random.default_rng(5)
    ds = Dataset(rng.standard_normal((n, 3)), rng.uniform(-1, 1, (n, 2)), name="r")
    ws = _formula_widths(plan, 2, act, 7)
    assert plan_deep(tuple(ws), 2, act).capacity == plan.capacity
    c = memcap.construct(ds, "yun-deep", widths=tuple(ws), activation=act)
    assert c.network.widths == ws and c.verification.certified
    # and the network uses every unit: no all-zero row in any hidden layer
    for layer in c.network.layers[:-1]:
        assert np.all(np.any(np.asarray(layer.weight, float) != 0, axis=1))


def test_size_formula():
    rng = np.random.default_rng(1)
    ds = Dataset(rng.standard_normal((30, 2)), rng.uniform(-1, 1, 30))
    s = deep_sizes(ds, widths=(9, 9, 9, 9))
    assert s == {"widths": [9, 9, 9, 9], "depth": 5, "parameters": 9 * 3 + 3 * 9 * 10 + 10}
    c = deep_network(ds, widths=(9, 9, 9, 9), activation="hardtanh")
    assert c.network.widths == s["widths"] and c.network.parameters == s["parameters"]


# ---- memorization ---------------------------------------------------------------------------------
@pytest.mark.parametrize("activation", ACTS)
def test_iris_default_and_regression_variant(activation):
    ds = memcap.load_dataset("builtin:iris")
    for variant in ("auto", "regression"):
        c = memcap.construct(ds, "yun-deep", activation=activation, variant=variant)
        assert c.verification.memorized and c.verification.certified
        assert c.info["variant"] == ("classification" if variant == "auto" else "regression")


def test_iris_gate3_and_exact_outputs():
    ds = memcap.load_dataset("builtin:iris")
    c = deep_network(ds, widths=(18,) * 8 + (9,), gate="3unit", arithmetic="exact")
    assert c.info["gate_layer"] == 9 and len(c.info["blocks"]) >= 3
    out = forward_exact(c.network, ds.X)
    assert all(out[i][j] == int(ds.targets[i, j]) for i in range(ds.N) for j in range(3))


def test_digits_deep():
    ds = memcap.load_dataset("builtin:digits")
    c = memcap.construct(ds, "yun-deep")
    assert c.verification.memorized and c.verification.certified


def test_exact_regression_is_exact():
    rng = np.random.default_rng(2)
    ds = Dataset(rng.standard_normal((70, 2)), rng.uniform(-5, 5, (70, 2)))
    c = deep_network(ds, widths=(20,) * 8, arithmetic="exact", activation="leaky:0.1")
    assert c.info["blocks"] == [1, 3, 5, 7] and c.info["capacity"] == 128  # 3 blocks get points
    out = forward_exact(c.network, ds.X)
    Y = memcap.numerics.to_exact_array(ds.targets)
    assert all(out[i][t] == Y[i, t] for i in range(ds.N) for t in range(2))


@settings(max_examples=12)
@given(ds=datasets(task="regression"), act=st.sampled_from(ACTS), extra=st.integers(0, 3),
       depth=st.integers(3, 9))
def test_random_data_random_architectures(ds, act, extra, depth):
    a = Activation.parse(act)
    w = min(w for w in range(2, 40) if plan_deep((w,) * depth, ds.d_y, a).capacity >= ds.N) + extra
    c = memcap.construct(ds, "yun-deep", widths=(w,) * depth, activation=act)
    assert c.verification.memorized and c.verification.certified


@settings(max_examples=12)
@given(ds=datasets(task="classification", max_classes=4), act=st.sampled_from(ACTS),
       ws=st.lists(st.integers(2, 16), min_size=3, max_size=8))
def test_random_width_lists_build_or_refuse(ds, act, ws):
    a = Activation.parse(act)
    ok = any(plan_deep(tuple(ws), ds.d_y, a, v).capacity >= ds.N for v in ("classification", "regression"))
    if ok:
        c = memcap.construct(ds, "yun-deep", widths=tuple(ws), activation=act)
        assert c.verification.memorized and c.verification.certified and c.network.widths == ws
    else:
        with pytest.raises(ConditionError, match=f"< N = {ds.N}|no hidden layer|no valid placement"):
            memcap.construct(ds, "yun-deep", widths=tuple(ws), activation=act)


def _adversarial():
    rng = np.random.default_rng(11)
    X = rng.standard_normal((25, 3))
    near = np.concatenate([X, X + 1e-9 * rng.standard_normal(X.shape)])
    yield Dataset(near, rng.uniform(-1, 1, 50), name="near-duplicates")
    yield Dataset(near, rng.integers(0, 3, 50), task="classification", name="near-duplicates-cls")
    yield line(n=90, d=4, seed=2)
    yield hard_alternating(n=100, d=2)
    yield hard_alternating(n=100, d=1, task="classification")
    geo = 1.3 ** np.arange(60)  # very uneven gaps
    yield Dataset(geo[:, None], np.sin(np.arange(60)), name="geometric")


@pytest.mark.parametrize("ds", list(_adversarial()), ids=lambda d: d.name)
def test_adversarial_data(ds):
    for act in ("relu", "hardtanh"):
        c = memcap.construct(ds, "yun-deep", activation=act)
        assert c.verification.memorized and c.verification.certified, (act, c.info)


def test_boundary_thresholds_are_essential(monkeypatch):
    """Ablation: without the boundary-variant thresholds some blocks leak onto
    other chunks and the network fails; with them every case is memorized."""
    original = deep_mod.thm31_block
    failures = 0
    for seed in range(30):
        rng = np.random.default_rng(seed)
        n = int(rng.integers(10, 40))
        ds = Dataset(rng.standard_normal((n, 2)), rng.uniform(-1, 1, n))
        monkeypatch.setattr(deep_mod, "thm31_block",
                            lambda *a, **k: original(*a, **{**k, "boundary": False}))
        c = deep_network(ds, activation="hardtanh", arithmetic="exact")
        failures += not memcap.verify(c.network, ds).memorized
        monkeypatch.setattr(deep_mod, "thm31_block", original)
        assert memcap.verify(deep_network(ds, activation="hardtanh", arithmetic="exact").network,
                             ds).memorized
        if failures:
            break
    assert failures > 0


# ---- refusals ------------------------------------------------------------------------------------
def test_iris_with_width_8_is_refused_with_the_numbers():
    ds = memcap.load_dataset("builtin:iris")
    with pytest.raises(ConditionError) as e:
        deep_network(ds, widths=(8,) * 6)
    msg = str(e.value)
    assert "N = 149" in msg and "needs ≥ 12 units" in msg and "17,17,17,17,17,17,12" in msg
    # the suggested widths work
    assert memcap.construct(ds, "yun-deep", widths=(17,) * 6 + (12,)).verification.certified
    # hard-tanh with width 8: the sum is shown
    with pytest.raises(ConditionError, match=r"= 72 < N = 149"):
        deep_network(ds, widths=(8,) * 6, activation="hardtanh", variant="classification")


def test_other_refusals():
    rng = np.random.default_rng(0)
    reg = Dataset(rng.standard_normal((20, 2)), rng.uniform(-1, 1, 20))
    with pytest.raises(ConditionError, match="class labels"):
        deep_network(reg, variant="classification")
    with pytest.raises(ConditionError, match="no valid placement"):
        deep_network(reg, widths=(50,))
    with pytest.raises(ValueError, match="variant"):
        deep_network(reg, variant="wide")
    for ds in (reg, memcap.load_dataset("builtin:iris")):
        m = get_method("yun-deep")
        with pytest.raises(ConditionError):
            memcap.construct(ds, "yun-deep", **m.break_condition(ds))


def test_cli(tmp_path):
    runner = CliRunner()
    out = tmp_path / "y.npz"
    r = runner.invoke(app, ["construct", "--data", "builtin:iris", "--method", "yun-deep",
                            "--widths", "8,8,8,8,8,8", "-o", str(out)])
    assert r.exit_code == 2 and not out.exists()
    assert "149" in r.output and "17,17,17,17,17,17,12" in r.output.replace("\n", "")
    r = runner.invoke(app, ["construct", "--data", "builtin:iris", "--method", "yun-deep",
                            "--widths", "17,17,17,17,17,17,12", "-o", str(out)])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["verify", str(out), "--data", "builtin:iris"])
    assert r.exit_code == 0
    r = runner.invoke(app, ["construct", "--data", "gen:gaussian?n=200&d=3&seed=1", "--method", "yun-deep",
                            "--widths", ",".join(["8"] * 22), "--activation", "hardtanh", "-o", str(out),
                            "--force"])
    assert r.exit_code == 0, r.output


# ---- bounds rows ---------------------------------------------------------------------------------
def _rows(widths, N, d_y=3, act=RELU, ds=None):
    from memcap.bounds import Architecture, evaluate

    return {r.source: r for r in evaluate(Architecture(2, d_y, tuple(widths), act), N, ds)
            if r.source.startswith("Yun et al. 2019") and "Theorem" not in r.source}


def test_bounds_rows():
    rows = _rows((8, 8, 12), 16)
    assert rows["Yun et al. 2019, Proposition 3.2 (yun-classifier)"].holds
    assert rows["Yun et al. 2019, Corollary A.3 (yun-deep, classification)"].holds
    assert not _rows((8, 8, 11), 16)["Yun et al. 2019, Proposition 3.2 (yun-classifier)"].holds
    g3 = _rows((8, 8, 9), 16)
    key = "Yun et al. 2019, Proposition 3.2 (yun-classifier), 3-unit gate"
    assert g3[key].holds
    assert not g3["Yun et al. 2019, Proposition 3.2 (yun-classifier)"].holds
    # any depth: the rows agree with what yun-deep builds or refuses
    ds = memcap.load_dataset("builtin:iris")
    for ws in [(8,) * 6, (17,) * 6 + (12,), (29,) * 6]:
        rows = _rows(ws, ds.N, ds=ds)
        holds = any(r.holds for r in rows.values() if r.kind == "sufficient")
        if holds:
            assert memcap.construct(ds, "yun-deep", widths=ws).verification.certified
        else:
            with pytest.raises(ConditionError):
                deep_network(ds, widths=ws)
    info = _rows((8,) * 6, ds.N, ds=ds)
    assert info["Yun et al. 2019, Prop. 3.4/Cor. A.1: smallest equal width at depth 7"].values["w"] == 29
    assert info["Yun et al. 2019, Cor. A.2/A.3: smallest equal width at depth 7"].values["w"] == 21
    # regression data: no classification rows
    reg = Dataset(np.arange(10.0)[:, None], np.linspace(-1, 1, 10))
    assert all("classification" not in s and "3.2" not in s for s in _rows((8,) * 3, 10, 1, ds=reg))


def test_user_given_layer_pairs():
    rng = np.random.default_rng(4)
    ds = Dataset(rng.standard_normal((60, 2)), rng.uniform(-1, 1, 60))
    ws = (12,) * 9
    c = memcap.construct(ds, "yun-deep", widths=ws, blocks="2,5,8", activation="hardtanh")
    assert c.info["blocks"] == [2, 5, 8] and c.verification.certified
    assert "given by the caller" in " ".join(c.certificate.notes)
    auto = memcap.construct(ds, "yun-deep", widths=ws, activation="hardtanh")  # the note tells them apart
    assert "chosen by plan_deep" in " ".join(auto.certificate.notes)
    assert plan_deep(ws, 1, HARDTANH, blocks=[2, 5, 8]).r == [1, 2, 1]
    bad_cases = [("2,3", "l_\\(j\\+1\\) ≥ l_j \\+ 2"), ("9", "hidden layers 1..9"), ("x", "layer indices")]
    for bad, msg in bad_cases:
        with pytest.raises((ConditionError, ValueError), match=msg):
            deep_network(ds, widths=ws, blocks=bad, activation="hardtanh")
    iris = memcap.load_dataset("builtin:iris")
    c = memcap.construct(iris, "yun-deep", widths=(18,) * 8 + (12, 3), blocks=[1, 3, 5, 7, 9])
    assert c.info["gate_layer"] == 9 and c.info["blocks"] == [1, 3, 5, 7] and c.verification.certified
    with pytest.raises(ConditionError, match="gate layer 10 needs ≥ 12 units"):
        deep_network(iris, widths=(18,) * 8 + (12, 3), blocks=[1, 3, 5, 10])
    # a gate before the last layer: the layers after it carry the one-hot vector
    c = memcap.construct(iris, "yun-deep", widths=(18,) * 8 + (12, 3), blocks=[1, 3, 5, 8])
    assert c.info["gate_layer"] == 8 and c.verification.certified
