"""`memcap robust`: exit codes, the BUG on a broken promise, counterexample files, bad input."""

import json

import numpy as np
from typer.testing import CliRunner

import memcap
from memcap.cli import app
from tests.test_robust_helpers import nearest_prototype_linf, three_points

runner = CliRunner()


def _files(tmp_path):
    ds = three_points()
    data = tmp_path / "three.npz"
    np.savez(data, X=ds.X, y=ds.labels)
    good = tmp_path / "good.npz"
    memcap.save(nearest_prototype_linf(ds.X), good)
    P = ds.X.copy()
    P[0] = [-0.3, 0.0]
    broken = nearest_prototype_linf(P)
    broken.meta["robust"] = {"radius": 0.45, "norm": "inf"}   # a promise it does not keep
    bad = tmp_path / "broken.npz"
    memcap.save(broken, bad)
    return str(data), str(good), str(bad)


def test_proven_exit_0_and_json(tmp_path):
    data, good, _ = _files(tmp_path)
    r = runner.invoke(app, ["robust", good, "--data", data, "--radius", "0.45", "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["robust_accuracy"] == 1.0 and d["proven"] == 3 and d["refuted"] == 0
    assert set(d["tiers"]) == {"attack", "bounds", "milp"}
    r = runner.invoke(app, ["robust", good, "--data", data, "--radius", "0.45", "--norm", "2"])
    assert r.exit_code == 0 and "robust accuracy" in r.stdout


def test_broken_promise_is_a_loud_bug(tmp_path):
    data, _, bad = _files(tmp_path)
    ce = tmp_path / "ce"
    r = runner.invoke(app, ["robust", bad, "--data", data, "--radius", "0.4", "--all-tiers",
                            "--counterexamples", str(ce)])
    assert r.exit_code == 1
    assert "BUG" in r.output and "promises robustness" in r.output
    files = sorted(ce.iterdir())
    assert [f.name for f in files] == ["counterexample_00000.json"]
    d = json.loads(files[0].read_text())
    z = np.array([float.fromhex(h) for h in d["z_hex"]])
    assert np.max(np.abs(z - three_points().X[0])) <= 0.4 and d["label"] == 0 and d["predicted"] != 0
    assert d["row"] == 0  # the point's row in the user's data


def test_not_robust_without_promise_exits_1_without_bug(tmp_path):
    data, good, _ = _files(tmp_path)
    r = runner.invoke(app, ["robust", good, "--data", data, "--radius", "0.7", "--tiers", "attack"])
    assert r.exit_code == 1 and "BUG" not in r.output and "λ_D/2" in r.output


def test_bad_input_exits_2_and_writes_nothing(tmp_path):
    data, good, _ = _files(tmp_path)
    reg = tmp_path / "reg.npz"
    np.savez(reg, X=three_points().X, y=np.array([0.1, 0.2, 0.3]))
    ce = tmp_path / "ce"
    cases = [
        ["--data", data, "--radius", "0"],
        ["--data", data, "--radius", "-1"],
        ["--data", data, "--radius", "0.1", "--norm", "3"],
        ["--data", data, "--radius", "0.1", "--tiers", "attack,magic"],
        ["--data", data, "--radius", "0.1", "--time-limit", "0"],
        ["--data", str(reg), "--radius", "0.1"],
        ["--data", "builtin:iris", "--radius", "0.1"],
    ]
    for args in cases:
        r = runner.invoke(app, ["robust", good, *args, "--counterexamples", str(ce)])
        assert r.exit_code == 2, (args, r.output)
        assert "error" in r.output
    r = runner.invoke(app, ["robust", str(tmp_path / "missing.npz"), "--data", data, "--radius", "0.1"])
    assert r.exit_code == 2
    assert not ce.exists()


def test_unverified_promise_is_reported_as_such(tmp_path):
    data, good, _ = _files(tmp_path)
    net = memcap.load(good)
    net.meta["robust"] = {"radius": 0.499, "norm": "inf"}   # true, but IBP/CROWN alone cannot show it
    f = tmp_path / "promised.npz"
    memcap.save(net, f)
    r = runner.invoke(app, ["robust", str(f), "--data", data, "--radius", "0.499", "--tiers", "bounds"])
    assert r.exit_code == 1 and "promise not verified" in r.output and "refuted" not in r.output.split(
        "promise not verified")[1].split("none")[0]
    r = runner.invoke(app, ["robust", str(f), "--data", data, "--radius", "0.499"])
    assert r.exit_code == 0 and "BUG" not in r.output
