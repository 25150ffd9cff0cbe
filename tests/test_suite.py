"""VNN-COMP suites: the writer, the parse-back, witnesses in onnxruntime, the exact tier, the scorer.

Checks are independent of the code under test where it matters: unsat answers against onnxruntime
on many points of the box, sat witnesses re-run in onnxruntime, exact bounds against a dense grid.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

from memcap.certify.robust.bounds import bound_margins, prepare
from memcap.certify.robust.exact import exact_lp_bound, exact_margin_proof
from memcap.certify.robust.floatmodel import certify_box, float32_box, round_network
from memcap.certify.robust.milp import milp_point
from memcap.certify.robust.vnn import run_suite
from memcap.cli import app
from memcap.errors import OptionError
from memcap.io.suite import (
    CE_ATOL,
    check_witness,
    format_counterexample,
    network_from_onnx,
    ort_outputs,
    parse_result,
    read_answers,
    read_instances,
    read_property,
    result_name,
    robustness_vnnlib,
    score_suite,
    suite_onnx,
    write_tree,
)
from memcap.network import RELU
from memcap.vnnsuite import SuiteSpec, write_suite
from tests.test_robust_helpers import ACTS, random_net

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
runner = CliRunner()


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    out = tmp_path_factory.mktemp("s") / "suite"
    spec = SuiteSpec(data=["builtin:iris"], n=20, points=4, fractions=[0.5, 1.3], vnnlib_version=1, seed=0)
    write_suite(spec, out)
    return out


def _box_points(prop, rng, n=300):
    lo, hi = prop.lo, prop.hi
    corners = np.where(rng.random((n // 3, len(lo))) < 0.5, lo, hi)
    inner = lo + (hi - lo) * rng.random((n, len(lo)))
    return np.concatenate([corners, inner])


def test_writer_layout_and_onnx(suite):
    inst = read_instances(suite)
    assert inst and all(not r[0].startswith("onnx,") for r in inst)         # no header: VNN-COMP's
    answers = read_answers(suite)
    assert len(answers) == len(inst)
    assert {a["answer"] for a in answers} == {"sat", "unsat"}
    for (o, v, t), a in zip(inst, answers, strict=True):
        assert (suite / o).is_file() and (suite / v).is_file() and t > 0 and a["vnnlib"] == v
        if a["answer"] == "sat":
            assert (suite / a["witness"]).is_file()
    m = onnx.load(str(suite / inst[0][0]))
    assert m.opset_import[0].version == 13
    assert {n.op_type for n in m.graph.node} <= {"Gemm", "Relu"}
    shape = [d.dim_value for d in m.graph.input[0].type.tensor_type.shape.dim]
    assert shape[0] == 1 and m.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    meta = json.loads((suite / "suite.json").read_text())
    assert meta["instances"] == len(inst) and meta["models"][0]["method"] == "yu-robust"


def test_every_answer_checked_independently(suite):
    """sat: the stored witness is accepted by onnxruntime with zero tolerance; unsat: onnxruntime
    misclassifies none of many points (corners and random) of the box enlarged by VNN-COMP's tolerance."""
    rng = np.random.default_rng(0)
    for a in read_answers(suite):
        model = (suite / a["onnx"]).read_bytes()
        prop = read_property((suite / a["vnnlib"]).read_text())
        assert prop.label == int(a["label"])
        if a["answer"] == "sat":
            res = parse_result((suite / a["witness"]).read_text())
            assert res.status == "sat"
            assert check_witness(model, prop, res.x, res.y).status == "correct"
        else:
            prop.lo, prop.hi = prop.lo - CE_ATOL, prop.hi + CE_ATOL
            Z = _box_points(prop, rng)
            Y = ort_outputs(model, Z)
            y = prop.label
            assert np.all(Y[:, y] - np.max(np.delete(Y, y, axis=1), axis=1) > CE_ATOL)


def test_onnx_round_trip_is_the_rounded_network():
    rng = np.random.default_rng(3)
    net = random_net(rng, 3, [5, 4], 3, RELU)
    model = suite_onnx(net, "float32")
    back, dt = network_from_onnx(model)
    ref = round_network(net, "float32")
    assert dt == "float32"
    for a, b in zip(back.layers, ref.layers, strict=True):
        assert np.array_equal(a.weight, b.weight) and np.array_equal(a.bias, b.bias)
        assert a.activation == b.activation
    X = rng.standard_normal((20, 3))
    assert np.allclose(ort_outputs(model, X), back(X.astype(np.float32).astype(np.float64)), atol=1e-5)
    with pytest.raises(OptionError):
        suite_onnx(random_net(rng, 3, [4], 2, ACTS[1]))                      # hard-tanh: not Gemm/Relu


@pytest.mark.parametrize("version", [1, 2])
def test_vnnlib_parse_back(version):
    lo = np.array([0.1, -2.5, 3.0], np.float32).astype(np.float64)
    hi = lo + np.array([0.25, 1.0, 2.0**-20])
    text = robustness_vnnlib(lo, hi, 2, 4, version)
    p = read_property(text, 4)
    assert p.version == version and p.label == 2 and len(p.unsafe) == 3
    assert np.array_equal(p.lo, lo) and np.array_equal(p.hi, hi)
    if version == 2:                      # the reference parser itself accepts the file
        import vnnlib

        q = vnnlib.parse_query_string(text)
        assert len(q.networks) == 1 and len(q.assertions) == 2 * 3 + 1


def test_witness_checks_follow_vnncomp():
    rng = np.random.default_rng(1)
    net = random_net(rng, 2, [6], 2, RELU)
    model = suite_onnx(net)
    x = np.zeros(2)
    y0 = ort_outputs(model, x[None, :])[0]
    label = int(np.argmin(y0))                                  # x itself is a counterexample
    prop = read_property(robustness_vnnlib(x - 0.1, x + 0.1, label, 2, 1))
    assert check_witness(model, prop, x, y0).status == "correct"
    assert check_witness(model, prop, x, y0 * 1.1 + 1).status == "exec_doesnt_match"
    assert check_witness(model, prop, x + 0.1 + CE_ATOL / 2).status in ("correct_up_to_tolerance",
                                                                        "spec_not_violated")
    assert check_witness(model, prop, x + 0.2).status == "spec_not_violated"   # outside the box
    assert check_witness(model, prop, np.zeros(3)).status == "wrong_shape"
    flipped = read_property(robustness_vnnlib(x - 0.1, x + 0.1, 1 - label, 2, 1))
    assert check_witness(model, flipped, x).status == "spec_not_violated"
    res = parse_result("sat\n" + format_counterexample(x, y0))
    assert np.array_equal(res.x, x) and np.allclose(res.y, y0)
    assert parse_result("holds\n").status == "unsat" and parse_result("maybe").status == "malformed"


def test_float_model_bound_is_sound_for_float32():
    """The float-model lower bound never exceeds a margin onnxruntime (float32) computes in the box."""
    rng = np.random.default_rng(7)
    for trial in range(6):
        net = random_net(rng, 3, [8, 8], 3, RELU)
        model = suite_onnx(net)
        net32, _ = network_from_onnx(model)
        x = rng.standard_normal(3)
        y = int(np.argmax(net32(x[None, :])[0]))
        lo, hi = float32_box(x - 0.05, x + 0.05)
        cert = certify_box(net32, lo, hi, y)
        Z = _box_points(type("P", (), {"lo": lo, "hi": hi})(), rng, 600)
        Y = ort_outputs(model, Z)
        worst = float(np.min(Y[:, y] - np.max(np.delete(Y, y, axis=1), axis=1)))
        assert cert.margin <= worst + 1e-12, (trial, cert.margin, worst)
        assert all(np.all(e >= 0) for e in cert.eps) and np.any(cert.eps[0] > 0)


def test_exact_tier_against_a_grid():
    """Exact proofs hold (bound <= true minimum on a dense grid), are found when the minimum is
    clearly positive, and are never claimed when it is negative."""
    rng = np.random.default_rng(5)
    seen = set()
    for act in ACTS:
        for r in (0.5, 1.5, 3.0):
            net = random_net(rng, 1, [6, 5], 2, act)
            x = np.array([0.2])
            y = int(np.argmax(net(x[None, :])[0]))
            grid = np.linspace(x[0] - r, x[0] + r, 100001)[:, None]
            o = net(grid)
            true_min = float(np.min(o[:, y] - o[:, 1 - y]))
            zb = bound_margins(net, x[None, :], np.array([y]), r, "inf").z_bounds[0]
            lo, hi = np.nextafter(x - r, -np.inf), np.nextafter(x + r, np.inf)
            res = exact_margin_proof(prepare(net), lo, hi, zb, y, [1 - y], time_limit=20)
            seen.add(res.status)
            if res.status == "proven":
                assert res.bound <= true_min + 1e-9 and true_min > 0
            if true_min > 1e-3:
                assert res.status == "proven", (act, r, res)
    assert seen >= {"proven", "unknown"}


def test_exact_bound_holds_for_any_multipliers():
    """Weak duality: the exactly evaluated bound is valid whatever multipliers the solver returns."""
    from memcap.certify.robust.exact import _build

    rng = np.random.default_rng(2)
    net = random_net(rng, 1, [4], 2, RELU)
    x, r = np.array([0.0]), 1.0
    zb = bound_margins(net, x[None, :], np.array([0]), r, "inf").z_bounds[0]
    lp, out = _build(prepare(net), x - r, x + r, zb, None)
    from memcap.certify.robust.exact import fq

    c = {out[0]: fq(1.0), out[1]: fq(-1.0)}
    grid = np.linspace(-r, r, 20001)[:, None]
    o = net(grid)
    true_min = float(np.min(o[:, 0] - o[:, 1]))
    for _ in range(30):
        mu = rng.standard_normal(len(lp.kind)) * rng.choice([0.0, 1.0, 10.0])
        assert float(exact_lp_bound(lp, c, mu, lp.lb, lp.ub)) <= true_min + 1e-9


def test_milp_proofs_are_rechecked_exactly():
    rng = np.random.default_rng(11)
    net = random_net(rng, 2, [6], 2, RELU)
    x = np.array([0.3, -0.2])
    y = int(np.argmax(net(x[None, :])[0]))
    zb = bound_margins(net, x[None, :], np.array([y]), 0.01, "inf").z_bounds[0]
    out = milp_point(net, x, y, 0.01, "inf", zb, time_limit=10)
    assert out.status == "proven" and "re-checked exactly" in out.detail
    res = milp_point(net, x, y, 0.01, "1", zb, time_limit=10)
    assert res.status == "proven"


def test_scorer_confusion_and_cli(suite, tmp_path):
    answers = read_answers(suite)
    sat = [a for a in answers if a["answer"] == "sat"]
    unsat = [a for a in answers if a["answer"] == "unsat"]
    res = tmp_path / "res"
    res.mkdir()
    (res / result_name(unsat[0]["vnnlib"])).write_text("unsat\n")                           # correct
    (res / result_name(sat[0]["vnnlib"])).write_text("unsat\n")                             # incorrect
    (res / result_name(sat[1]["vnnlib"])).write_text((suite / sat[1]["witness"]).read_text())  # correct
    far = read_property((suite / sat[2]["vnnlib"]).read_text()).lo + 100      # outside the box: incorrect
    (res / result_name(sat[2]["vnnlib"])).write_text("sat\n" + format_counterexample(far, [0, 0, 0]))
    (res / result_name(unsat[1]["vnnlib"])).write_text("timeout\n")
    (res / result_name(unsat[2]["vnnlib"])).write_text("what\n")
    rep = score_suite(suite, res)
    c = rep.counts()
    assert c["correct"] == 2 and c["incorrect"] == 2 and c["no_answer"] == len(answers) - 4
    assert rep.confusion["sat"]["unsat"] == 1 and rep.confusion["unsat"]["malformed"] == 1
    r = runner.invoke(app, ["score", str(suite), str(res)])
    assert r.exit_code == 1
    assert r.stdout.index("incorrect results") < r.stdout.index("confusion table")
    r = runner.invoke(app, ["score", str(suite), str(res), "--json"])
    d = json.loads(r.stdout)
    assert d["counts"]["incorrect"] == 2 and d["points"] == 2 * 10 - 2 * 150


def test_memcap_scores_zero_incorrect(suite, tmp_path):
    rows = run_suite(suite, tmp_path / "mine")
    rep = score_suite(suite, tmp_path / "mine")
    assert not rep.incorrect and not rep.memcap_wrong
    assert len(rows) == len(rep.rows) and rep.counts().get("correct", 0) >= 1
    r = runner.invoke(app, ["score", str(suite), str(tmp_path / "mine")])
    assert r.exit_code == 0, r.stdout


def test_atomic_folder(tmp_path, suite, monkeypatch):
    out = tmp_path / "s"
    out.mkdir()
    (out / "keep.txt").write_text("old")
    r = runner.invoke(app, ["benchmark", "-d", "builtin:iris", "-o", str(out)])
    assert r.exit_code == 2 and (out / "keep.txt").read_text() == "old"
    write_tree({"a/b.txt": b"new"}, out, force=True)
    assert not (out / "keep.txt").exists() and (out / "a/b.txt").read_bytes() == b"new"

    import pathlib

    real = pathlib.Path.write_bytes

    def interrupted(self, data):
        if data == b"2":
            raise KeyboardInterrupt
        return real(self, data)

    monkeypatch.setattr(pathlib.Path, "write_bytes", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_tree({"one": b"1", "two": b"2"}, out, force=True)
    monkeypatch.undo()
    assert (out / "a/b.txt").read_bytes() == b"new"                     # untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s"]          # no temporary left
    with pytest.raises(OptionError):
        write_tree({"x": b""}, out)
    shutil.rmtree(out)


def test_vnnlib2_float64_suite_runs_and_scores(tmp_path):
    import vnnlib

    out = tmp_path / "s2"
    spec = SuiteSpec(data=["builtin:iris"], methods=["zhang17-wide"], n=10, points=2, fractions=[0.1, 1.3],
                     vnnlib_version=2, dtype="float64")
    write_suite(spec, out)
    m = onnx.load(str(out / read_instances(out)[0][0]))
    assert m.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.DOUBLE
    for a in read_answers(out):
        text = (out / a["vnnlib"]).read_text()
        assert text.startswith("(vnnlib-version <2.0>)")
        vnnlib.parse_query_string(text)                              # the reference parser accepts it
    run_suite(out, tmp_path / "r")
    rep = score_suite(out, tmp_path / "r")
    assert not rep.incorrect and not rep.memcap_wrong and rep.counts().get("correct", 0) >= 1


def test_l2_cuts_are_checked_exactly():
    from memcap.certify.robust.exact import valid_l2_cuts

    x, r = np.array([0.5, -1.0, 2.0]), 0.3
    v = np.array([0.6, 0.0, 0.8])                                  # |v| = 1 (nearly, in floats)
    tangent = float(v @ x) + r * (1 + 1e-12)
    kept = valid_l2_cuts(x, r, [(v, tangent), (v, float(v @ x) + r * (1 - 1e-9)), (v, float(v @ x) - 1)])
    assert len(kept) == 1 and kept[0][1] == tangent
