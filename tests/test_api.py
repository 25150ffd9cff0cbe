"""memcap.construct records what later commands need about the data in Network.meta."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

import memcap
from memcap.cli import app


def _csv(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((12, 2))
    names = np.array(["cat", "dog", "emu"])[np.arange(12) % 3]
    p = tmp_path / "d.csv"
    rows = [f"{a},{b},{n}" for (a, b), n in zip(X, names, strict=True)]
    # data row 0 repeats X[5] (data row 6), which is merged away: later rows keep their numbers
    lines = ["f1,f2,animal", rows[5], *rows]
    p.write_text("\n".join(lines) + "\n")
    return p


def test_class_names_and_label_column_travel_with_the_network(tmp_path):
    p = _csv(tmp_path)
    with pytest.warns(UserWarning, match="duplicate"):
        ds = memcap.load_dataset(str(p), label="animal")
    c = memcap.construct(ds, "yun-3layer")
    assert c.network.meta["class_names"] == ["cat", "dog", "emu"]
    assert c.network.meta["label_column"] == "animal"
    f = tmp_path / "n.npz"
    memcap.save(c.network, f)
    assert memcap.load(f).meta["class_names"] == ["cat", "dog", "emu"]
    r = CliRunner().invoke(app, ["info", str(f)])
    assert r.exit_code == 0 and "0: cat" in r.output and "animal" in r.output, r.output
    r = CliRunner().invoke(app, ["verify", str(f), "--data", str(p), "--label", "animal", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["class_names"] == ["cat", "dog", "emu"]


def test_failing_points_are_named_by_the_users_rows(tmp_path):
    p = _csv(tmp_path)
    with pytest.warns(UserWarning):
        ds = memcap.load_dataset(str(p), label="animal")
    net = memcap.construct(ds, "yun-3layer").network
    f = tmp_path / "n.npz"
    memcap.save(net, f)
    assert ds.N == 12 and ds.source_rows.tolist() == [0, 1, 2, 3, 4, 5, 7, 8, 9, 10, 11, 12]
    # relabel data row 12 (file line 14), which is point 11 of the dataset
    lines = p.read_text().splitlines()
    a, b, lab = lines[13].split(",")
    lines[13] = f"{a},{b},{'cat' if lab != 'cat' else 'dog'}"
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(lines) + "\n")
    r = CliRunner().invoke(app, ["verify", str(f), "--data", str(bad), "--label", "animal", "--json"])
    assert r.exit_code == 1
    rep = json.loads(r.stdout)
    assert rep["failing"] == [11] and rep["failing_rows"] == [12]
    r = CliRunner().invoke(app, ["verify", str(f), "--data", str(bad), "--label", "animal"])
    assert "row 12 (" in r.output


def test_construct_states_an_estimate_before_building():
    from memcap.advise import estimate_seconds
    from memcap.constructions.registry import get_method

    rng = np.random.default_rng(1)
    ds = memcap.Dataset(rng.standard_normal((30, 2)), np.arange(30) % 2, task="classification")
    lines = []
    c = memcap.construct(ds, "yu-lipschitz", progress=lines.append)
    s = get_method("yu-lipschitz").size_formula(ds)
    first = next(i for i, m in enumerate(lines) if m.startswith("building"))
    est = [m for m in lines[:first] if "estimated" in m]
    assert est and f"{int(s['parameters']):,} parameters" in est[0] and f"depth {int(s['depth']):,}" in est[0]
    assert c.info["estimated_seconds"] == pytest.approx(estimate_seconds(s["parameters"], s["depth"], ds.N))
    assert c.network.parameters == s["parameters"]  # the formula the estimate comes from is the real size
