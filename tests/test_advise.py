"""The advisor: conditions, ranking, sizes from each method's formula, plot, CLI."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

import memcap
from memcap import advise as advise_mod
from memcap.advise import advise, size_curves
from memcap.cli import app
from memcap.constructions.base import Method
from memcap.constructions.registry import all_methods, get_method

runner = CliRunner()


def _gauss(n=30, d=3, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    return memcap.Dataset(rng.standard_normal((n, d)), np.arange(n) % classes, task="classification")


def test_ranking_sizes_and_certification_on_general_position_data():
    ds = _gauss()
    rep = advise(ds, methods=["yun-2layer-gp", "yun-resnet", "yun-3layer", "zhang17-wide"])
    assert rep.conditions["general_position"] is True and rep.conditions["classification"]
    rows = {r.method: r for r in rep.rows}
    assert all(r.applicable and r.certified for r in rep.rows)
    for r in rep.rows:  # sizes come from the method's own formula and match the built network
        s = get_method(r.method).size_formula(ds)
        assert r.widths == list(s["widths"]) and r.parameters == s["parameters"] and r.bits_needed
        assert r.reason == ""
    params = [r.parameters for r in rep.rows]
    assert params == sorted(params)
    assert rep.best().method == rep.rows[0].method
    assert rows["zhang17-wide"].hidden_neurons == ds.N
    assert "2-layer" in rows["zhang17-wide"].floor


def test_conditions_that_fail_are_named():
    with pytest.warns(UserWarning):
        iris = memcap.load_dataset("builtin:iris")
    rep = advise(iris, build=False)
    rows = {r.method: r for r in rep.rows}
    assert rep.conditions["general_position"] is False
    for name in ("yun-2layer-gp", "yun-resnet"):
        assert not rows[name].applicable and "[4, 7, 25, 26, 35]" in rows[name].reason
    assert rows["zhang17-wide"].applicable and rows["zhang17-wide"].bits_needed is None  # not built
    reg = advise(memcap.Dataset(np.eye(4), [0.1, 0.2, 0.3, 0.4]), build=False)
    assert not {r.method: r for r in reg.rows}["yun-resnet"].applicable
    # inapplicable methods rank after applicable ones
    flags = [r.applicable for r in rep.rows]
    assert flags == sorted(flags, reverse=True)


def test_budget_orders_and_excludes():
    ds = _gauss()
    small = advise(ds, budget_params=1, build=False)
    assert small.best() is None and all(r.within_budget is False for r in small.rows if r.applicable)
    rep = advise(ds, budget_params=600, build=False)
    inside = [r for r in rep.rows if r.applicable and r.within_budget]
    assert inside and all(r.parameters <= 600 for r in inside)
    assert rep.rows[: len(inside)] == inside


def test_methods_added_later_appear(monkeypatch):
    def fake_sizes(ds, **_):
        return {"widths": [3, 3], "parameters": 7, "depth": 3}

    fake = Method("fake-method", "Theorem X", "none", "tiny", build=lambda ds, **k: None,
                  size_formula=fake_sizes)
    monkeypatch.setattr(advise_mod, "all_methods", lambda: [*all_methods(), fake])
    rep = advise(_gauss(), build=False)
    assert rep.rows[0].method == "fake-method" and rep.rows[0].parameters == 7


def test_size_curves_against_theorem_33():
    Ns = [10, 100, 1000]
    c = size_curves(4, 3, "classification", Ns, methods=["zhang17-wide", "yun-3layer", "yun-2layer-gp"])
    two = dict(c["Thm 3.3 floor, 2-layer"])
    assert all(dict(c["zhang17-wide"])[N] >= two[N] for N in Ns)  # zhang's N units vs the floor N - 2
    assert set(c) >= {"zhang17-wide", "yun-3layer", "yun-2layer-gp", "Thm 3.3 floor, 3-layer"}


def test_cli(tmp_path):
    src = "gen:gaussian?n=30&d=3&task=classification&classes=3"
    res = runner.invoke(app, ["advise", "--data", src, "--json", "--no-build"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout)
    assert d["best"] and d["conditions"]["general_position"] is True
    pytest.importorskip("matplotlib")
    png = tmp_path / "sizes.png"
    res = runner.invoke(app, ["advise", "--data", src, "--no-build", "--plot", str(png)])
    assert res.exit_code == 0, res.output
    assert png.read_bytes()[:4] == b"\x89PNG" and "best:" in res.output
    bad = runner.invoke(app, ["advise", "--data", src, "--plot", str(tmp_path / "x.txt")])
    assert bad.exit_code == 2 and not (tmp_path / "x.txt").exists()
    assert runner.invoke(app, ["advise", "--data", src, "--budget-params", "0"]).exit_code == 2
    assert runner.invoke(app, ["advise", "--data", src, "--budget-params", "1", "--no-build"]).exit_code == 1
    assert runner.invoke(app, ["advise", "--data", "nope.npz"]).exit_code == 2


def test_time_budget_skips_methods_estimated_too_costly(monkeypatch):
    ds = _gauss(n=20)
    sizes = advise(ds, build=False).rows
    params = sorted(r.parameters for r in sizes if r.applicable)
    cut = params[len(params) // 2]
    # one estimated second per `cut` parameters on these 20 points: the larger half costs > 1 s
    monkeypatch.setattr("memcap.theory.costs.PARAM_POINT_SECONDS", 1.0 / (cut * ds.N))
    monkeypatch.setattr("memcap.theory.costs.LAYER_POINT_SECONDS", 0.0)
    lines = []
    rep = advise(ds, time_budget=1.0, progress=lines.append)
    assert rep.time_budget == 1.0 and rep.to_json()["time_budget"] == 1.0
    for r in rep.rows:
        if not r.applicable:
            continue
        assert r.estimated_seconds == pytest.approx(r.parameters / cut)
        if r.estimated_seconds > 1.0:
            assert r.certified is None and r.bits_needed is None and "time budget" in r.reason
            assert any(r.method in m and "skipping" in m for m in lines)
        elif r.certified is not None:
            assert r.estimated_seconds <= 1.0 and r.build_seconds is not None
    assert any(r.certified for r in rep.rows)  # the cheapest method was built
    none = advise(ds, time_budget=0.0, methods=["yun-3layer"])
    assert none.rows[0].certified is None and "not built: estimated" in none.rows[0].reason
    with pytest.raises(memcap.OptionError):
        advise(ds, time_budget=-1)


def test_a_build_running_past_the_time_budget_is_stopped(monkeypatch):
    import multiprocessing
    import time

    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("stopping a build needs the fork start method")

    def slow(ds, method, **k):
        time.sleep(60)

    monkeypatch.setattr("memcap.advise.construct", slow)
    t0 = time.perf_counter()
    rep = advise(_gauss(n=12), methods=["yun-3layer"], time_budget=1.5)
    assert time.perf_counter() - t0 < 20
    row = rep.rows[0]
    assert row.certified is None and "stopped after" in row.reason and "time budget" in row.reason
