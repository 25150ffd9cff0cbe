"""ONNX export (checked with onnxruntime) and VNN-LIB properties (parsed back)."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

import memcap
from memcap.certify.robust import verify_robust
from memcap.cli import app
from memcap.io.onnx import check_onnx, to_onnx
from memcap.io.vnnlib import read_vnnlib, vnnlib_property
from memcap.network import Dense, Network
from tests.test_robust_helpers import ACTS, nearest_prototype_linf, random_net, three_points

runner = CliRunner()


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("act", ACTS, ids=lambda a: a.name)
def test_onnx_matches_within_the_certified_bound(dtype, act):
    rng = np.random.default_rng(1)
    net = random_net(rng, 3, [7, 5], 3, act, residual=True)
    X = rng.standard_normal((40, 3)) * 2
    for batch in (1, None):
        chk = check_onnx(to_onnx(net, dtype, batch), net, X, dtype)
        assert chk.ok and chk.worst_ratio <= 1 and chk.points == 40


def test_onnx_check_catches_a_different_network():
    rng = np.random.default_rng(2)
    net = random_net(rng, 2, [4], 2, ACTS[0])
    other = Network([*net.layers[:-1], Dense(net.layers[-1].weight * 1.001, net.layers[-1].bias)])
    chk = check_onnx(to_onnx(other, "float64"), net, rng.standard_normal((10, 2)), "float64")
    assert not chk.ok and chk.worst_ratio > 1


def test_vnnlib_states_the_intended_property():
    x = np.array([0.1, -2.5, 1e-7])
    r = 0.05
    prop = read_vnnlib(vnnlib_property(x, 2, 4, r, comment="point 7"))
    assert prop.n_inputs == 3 and prop.n_outputs == 4
    for j in range(3):
        lo, hi = prop.lower[j], prop.upper[j]
        assert lo <= x[j] - r <= x[j] + r <= hi                       # the box contains the ball
        assert np.nextafter(lo, np.inf) >= x[j] - r and np.nextafter(hi, -np.inf) <= x[j] + r
    assert sorted(prop.unsafe) == sorted([[(">=", f"Y_{c}", "Y_2")] for c in (0, 1, 3)])
    with pytest.raises(ValueError):
        vnnlib_property(x, 0, 4, 0.0)
    with pytest.raises(ValueError, match="unbalanced"):
        read_vnnlib("(assert (<= X_0 1.0)")


def test_counterexample_satisfies_the_exported_unsafe_property():
    """The VNN-LIB file of a non-robust point is satisfiable: our counterexample satisfies it
    (input bounds, and onnxruntime's outputs satisfy one disjunct)."""
    import onnxruntime as ort

    ds = three_points()
    P = ds.X.copy()
    P[0] = [-0.3, 0.0]
    net = nearest_prototype_linf(P)
    rep = verify_robust(net, ds, 0.4, "inf", tiers=("attack",))
    ce = rep.counterexamples[0]
    prop = read_vnnlib(vnnlib_property(ds.X[0], 0, 3, 0.4))
    assert all(prop.lower[j] <= ce.z[j] <= prop.upper[j] for j in range(2))
    sess = ort.InferenceSession(to_onnx(net, "float64"), providers=["CPUExecutionProvider"])
    y = sess.run(None, {"input": ce.z[None, :]})[0][0]
    val = {f"Y_{c}": y[c] for c in range(3)}
    assert any(all(val[a] >= val[b] for _, a, b in conj) for conj in prop.unsafe)


def test_export_command(tmp_path):
    ds = memcap.load_dataset("gen:gaussian?n=12&d=2&seed=3&task=classification&classes=3")
    src = "gen:gaussian?n=12&d=2&seed=3&task=classification&classes=3"
    c = memcap.construct(ds, "yu-robust", budget=0.9)
    netf = tmp_path / "yu.npz"
    memcap.save(c.network, netf)
    onnx_f, props = tmp_path / "yu.onnx", tmp_path / "props"
    assert c.verification.float32_memorizes  # float32 is covered by the certificate here
    r = runner.invoke(app, ["export", str(netf), "--onnx", str(onnx_f), "--vnnlib", str(props),
                            "--data", src, "--dtype", "float32", "--json"])
    assert r.exit_code == 0, r.output
    info = json.loads(r.stdout)
    assert info["onnx_check"]["ok"] and info["memorizes_certified"] and info["properties"] == 12
    assert "float32 evaluation memorizes for any summation order" in info["dtype_certificate"]
    radius = c.network.meta["robust"]["radius"]
    assert info["radius"] == radius
    files = sorted(p.name for p in props.iterdir())
    assert files == ["instances.csv"] + [f"prop_{i:05d}.vnnlib" for i in range(12)] + ["yu.onnx"]
    assert (props / "yu.onnx").read_bytes() == onnx_f.read_bytes()  # the folder is self-contained
    for i in (0, 11):
        prop = read_vnnlib((props / f"prop_{i:05d}.vnnlib").read_text())
        y = int(ds.labels[i])
        assert prop.unsafe == [[(">=", f"Y_{k}", f"Y_{y}")] for k in range(3) if k != y]
        assert all(prop.lower[j] <= ds.X[i, j] - radius and prop.upper[j] >= ds.X[i, j] + radius
                   for j in range(2))
    lines = (props / "instances.csv").read_text().splitlines()
    assert lines[0] == "onnx,vnnlib,timeout" and lines[1].startswith("yu.onnx,prop_00000.vnnlib,")


def test_export_bad_input_writes_nothing(tmp_path):
    ds = three_points()
    data = tmp_path / "d.npz"
    np.savez(data, X=ds.X, y=ds.labels)
    reg = tmp_path / "reg.npz"
    np.savez(reg, X=ds.X, y=np.array([0.1, 0.2, 0.3]))
    netf = tmp_path / "n.npz"
    memcap.save(nearest_prototype_linf(ds.X), netf)
    onnx_f, props = tmp_path / "o.onnx", tmp_path / "props"
    cases = [
        [],                                                      # nothing to export
        ["--onnx", str(onnx_f), "--vnnlib", str(props)],          # properties need data
        ["--vnnlib", str(props), "--data", str(data)],           # no radius, none promised
        ["--vnnlib", str(props), "--data", str(data), "--radius", "-0.1"],
        ["--onnx", str(onnx_f), "--data", str(reg)],             # regression data
        ["--onnx", str(onnx_f), "--dtype", "float16"],
        ["--onnx", str(onnx_f), "--data", "builtin:iris"],       # wrong dimensions
    ]
    for args in cases:
        r = runner.invoke(app, ["export", str(netf), *args])
        assert r.exit_code == 2, (args, r.output)
    # a network that does not memorize the data is refused unless forced
    P = ds.X.copy()
    P[[0, 1]] = P[[1, 0]]
    memcap.save(nearest_prototype_linf(P), netf)
    r = runner.invoke(app, ["export", str(netf), "--onnx", str(onnx_f), "--data", str(data)])
    assert r.exit_code == 2 and "refusing" in r.output
    assert not onnx_f.exists() and not props.exists()
    r = runner.invoke(app, ["export", str(netf), "--onnx", str(onnx_f), "--data", str(data),
                            "--allow-unverified"])
    assert r.exit_code == 0 and onnx_f.exists()


def test_vnnlib_folder_is_self_contained_and_replaced_whole(tmp_path):
    import csv

    import onnxruntime as ort

    src = "gen:gaussian?n=8&d=2&seed=3&task=classification&classes=2"
    ds = memcap.load_dataset(src)
    c = memcap.construct(ds, "yu-robust", budget=0.9)
    netf = tmp_path / "yu.npz"
    memcap.save(c.network, netf)
    props = tmp_path / "bench" / "props"
    r = runner.invoke(app, ["export", str(netf), "--vnnlib", str(props), "--data", src])
    assert r.exit_code == 0, r.output
    moved = tmp_path / "elsewhere"
    (tmp_path / "bench" / "props").rename(moved)  # paths are relative to the folder: still resolve
    for row in csv.DictReader((moved / "instances.csv").open()):
        model, prop = moved / row["onnx"], moved / row["vnnlib"]
        assert model.is_file() and prop.is_file()
        sess = ort.InferenceSession(model.read_bytes(), providers=["CPUExecutionProvider"])
        assert sess.get_inputs()[0].shape[1] == 2 and read_vnnlib(prop.read_text()).n_inputs == 2
    # a second export with fewer points leaves no stale property behind
    small = "gen:gaussian?n=8&d=2&seed=3&task=classification&classes=2"
    (moved / "prop_00099.vnnlib").write_text("; stale\n")
    r = runner.invoke(app, ["export", str(netf), "--vnnlib", str(moved), "--data", small, "--force"])
    assert r.exit_code == 0, r.output
    assert not (moved / "prop_00099.vnnlib").exists() and len(list(moved.glob("*.vnnlib"))) == 8
    # a folder memcap did not write is refused, untouched
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    r = runner.invoke(app, ["export", str(netf), "--vnnlib", str(mine), "--data", src])
    assert r.exit_code == 2 and (mine / "notes.txt").read_text() == "keep"
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"]


def _tiny_margin_net():
    """Scores 1000 ± 1e-6·x: every point right in float64, but float32's rounding near 1000 (ulp 6e-5)
    exceeds the margin 2e-6, so only float64 is certified."""
    net = Network([Dense(np.array([[1e-6], [-1e-6]]), np.array([1000.0, 1000.0]))])
    ds = memcap.Dataset([[1.0], [-1.0]], [0, 1], task="classification")
    rep = memcap.verify(net, ds)
    assert rep.memorized and rep.float64_memorizes and not rep.float32_memorizes
    net.meta["verification"] = {"memorized": True, "certified": True, "float64_memorizes": True,
                                "float32_memorizes": False, "bits_needed": rep.bits_needed}
    return net, ds


def test_export_refuses_uncovered_dtype_in_the_library(tmp_path):
    from memcap.io.onnx import build_onnx, dtype_certificate, export_onnx

    net, ds = _tiny_margin_net()
    assert dtype_certificate(net, "float64")[0] and not dtype_certificate(net, "float32")[0]
    with pytest.raises(memcap.OptionError, match="float32"):
        export_onnx(net, tmp_path / "a.onnx", "float32")
    assert not (tmp_path / "a.onnx").exists()
    chk = export_onnx(net, tmp_path / "a.onnx", "float64", X=ds.X, labels=ds.labels)
    assert chk.ok and (tmp_path / "a.onnx").exists()
    model, chk32, why = build_onnx(net, "float32", X=ds.X, labels=ds.labels, allow_uncertified=True)
    assert chk32.ok and why.startswith("NOT certified") and chk32.memorizes_any_order is False
    bare = Network(net.layers)  # no stored verification: refused unless verified on data
    with pytest.raises(memcap.OptionError, match="no verification"):
        build_onnx(bare, "float64")
    rep = memcap.verify(bare, ds)
    assert build_onnx(bare, "float64", X=ds.X, report=rep)[1].ok
    with pytest.raises(memcap.OptionError):
        build_onnx(bare, "float32", X=ds.X, report=rep)


def test_export_command_refuses_uncertified_float32(tmp_path):
    net, ds = _tiny_margin_net()
    netf, data, onnx_f = tmp_path / "n.npz", tmp_path / "d.npz", tmp_path / "n.onnx"
    memcap.save(net, netf)
    np.savez(data, X=ds.X, y=ds.labels)
    r = runner.invoke(app, ["export", str(netf), "--onnx", str(onnx_f), "--dtype", "float32"])
    assert r.exit_code == 2 and "refusing to export in float32" in r.output and not onnx_f.exists()
    r = runner.invoke(app, ["export", str(netf), "--onnx", str(onnx_f), "--dtype", "float32", "--data",
                            str(data)])
    assert r.exit_code == 2 and not onnx_f.exists()
    r = runner.invoke(app, ["export", str(netf), "--onnx", str(onnx_f), "--dtype", "float32",
                            "--allow-uncertified"])
    assert r.exit_code == 0 and onnx_f.exists()
    r = runner.invoke(app, ["export", str(netf), "--onnx", str(tmp_path / "f64.onnx")])
    assert r.exit_code == 0, r.output
