import json

import numpy as np
from typer.testing import CliRunner

from memcap.cli import app

runner = CliRunner()


def test_construct_verify_round_trip(tmp_path):
    out = tmp_path / "net.npz"
    r = runner.invoke(app, ["construct", "--data", "builtin:iris", "--output", str(out), "--json",
                            "--method", "yun-3layer"])
    assert r.exit_code == 0, r.output
    payload = json.loads(r.stdout)
    assert payload["verification"]["memorized"] and payload["counts"]["widths"] == [52, 36]
    r = runner.invoke(app, ["verify", str(out), "--data", "builtin:iris"])
    assert r.exit_code == 0 and "memorized" in r.stdout


def test_verify_fails_on_other_data(tmp_path):
    out = tmp_path / "net.npz"
    r = runner.invoke(app, ["construct", "-d", "gen:gaussian?n=20&d=2&seed=1", "-o", str(out)])
    assert r.exit_code == 0
    r = runner.invoke(app, ["verify", str(out), "-d", "gen:gaussian?n=20&d=2&seed=2"])
    assert r.exit_code == 1


def test_bad_input_exits_2_and_writes_nothing(tmp_path):
    out = tmp_path / "net.npz"
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,y\n1,2,0.5\nnan,3,0.2\n")
    cases = [
        ["construct", "-d", str(bad), "-o", str(out)],
        ["construct", "-d", "builtin:iris", "-o", str(out), "--widths", "4,4"],
        ["construct", "-d", "builtin:iris", "-o", str(out), "--widths", "a,b"],
        ["construct", "-d", "builtin:nope", "-o", str(out)],
        ["construct", "-d", "builtin:iris", "-o", str(out), "--method", "nope"],
        ["construct", "-d", "builtin:iris", "-o", str(out), "--activation", "swish"],
        ["construct", "-d", str(tmp_path / "missing.npz"), "-o", str(out)],
        ["construct", "-d", "builtin:iris", "-o", str(out), "--label", "x"],
    ]
    for args in cases:
        r = runner.invoke(app, args)
        assert r.exit_code == 2, (args, r.output)
        assert "error" in r.output
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [bad]


def test_conflicting_duplicates_message(tmp_path):
    p = tmp_path / "d.npz"
    np.savez(p, X=np.array([[0.0], [1.0], [0.0]]), y=np.array([0.1, 0.2, 0.3]))
    r = runner.invoke(app, ["construct", "-d", str(p), "-o", str(tmp_path / "n.npz")])
    assert r.exit_code == 2 and "rows 0 and 2" in r.output


def test_methods_and_data_commands():
    r = runner.invoke(app, ["methods", "--json"])
    assert r.exit_code == 0 and any(m["name"] == "yun-3layer" for m in json.loads(r.stdout))
    r = runner.invoke(app, ["data", "-d", "builtin:digits", "--json"])
    stats = json.loads(r.stdout)
    assert stats["N"] == 1797 and stats["lambda_D_linf"] > 0


def test_bounds_command():
    r = runner.invoke(app, ["bounds", "--widths", "16,24", "-n", "37", "--json"])
    rows = json.loads(r.stdout)
    assert r.exit_code == 0 and any(row["holds"] for row in rows)


def test_info_shows_the_stored_certificate(tmp_path):
    out = tmp_path / "net.npz"
    assert runner.invoke(app, ["construct", "-d", "gen:gaussian?n=12&d=2", "-o", str(out),
                               "-m", "yun-3layer"]).exit_code == 0
    r = runner.invoke(app, ["info", str(out), "--json"])
    payload = json.loads(r.stdout)
    assert r.exit_code == 0 and payload["meta"]["certificate"]["method"] == "yun-3layer"
    assert runner.invoke(app, ["info", str(tmp_path / "nope.npz")]).exit_code == 2


def test_robust_flags_map_to_method_options(tmp_path):
    out = tmp_path / "r.npz"
    r = runner.invoke(app, ["construct", "-d", "builtin:iris", "-m", "yu-robust", "--budget", "0.45",
                            "-o", str(out), "--json"])
    assert r.exit_code == 0, r.output
    assert "0.045" in json.loads(r.stdout)["certificate"]["guarantees"][0]
    r = runner.invoke(app, ["construct", "-d", "builtin:iris", "-m", "yu-robust", "--radius", "0.5",
                            "-o", str(tmp_path / "x.npz")])
    assert r.exit_code == 2 and "λ_D/2" in r.output and not (tmp_path / "x.npz").exists()
    r = runner.invoke(app, ["construct", "-d", "builtin:iris", "--budget", "0.4",
                            "-o", str(tmp_path / "y.npz")])
    assert r.exit_code == 2 and "--method" in r.output  # the flag belongs to one method
