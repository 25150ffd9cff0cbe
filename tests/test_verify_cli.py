"""CLI faces of the long-run options: --max-seconds, --workers, --ray [ADDRESS] (verify, construct)."""

import json

from typer.testing import CliRunner

from memcap.cli import app

runner = CliRunner()
DATA = "gen:gaussian?n=40&d=3&seed=4"


def test_verify_max_seconds_reports_undecided_and_exits_1(tmp_path):
    net = tmp_path / "net.npz"
    r = runner.invoke(app, ["construct", "-d", DATA, "-m", "yun-3layer", "-o", str(net),
                            "--arithmetic", "exact",
                            "--workers", "1"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["verify", str(net), "-d", DATA, "--tol", "1e-15", "--json", "--workers", "1"])
    assert r.exit_code == 0, r.output
    full = json.loads(r.stdout)
    assert full["certified"] and full["memorized"]
    r = runner.invoke(app, ["verify", str(net), "-d", DATA, "--tol", "1e-15", "--json",
                            "--max-seconds", "0.0001"])
    assert r.exit_code == 1
    cut = json.loads(r.stdout)
    assert not cut["certified"] and cut["undecided"] and any("max_seconds" in n for n in cut["notes"])


def test_construct_max_seconds_refuses_and_writes_nothing(tmp_path):
    net = tmp_path / "net.npz"
    r = runner.invoke(app, ["construct", "-d", DATA, "-m", "yun-3layer", "-o", str(net),
                            "--arithmetic", "exact",
                            "--max-seconds", "0.0001"])
    assert r.exit_code == 1 and "max_seconds" in r.output and "Traceback" not in r.output
    assert not net.exists() and not list(tmp_path.iterdir())


def test_bad_engine_options_exit_2(tmp_path):
    net = tmp_path / "net.npz"
    for extra in (["--max-seconds", "0"], ["--workers", "0"], ["somewhere:6379"]):
        r = runner.invoke(app, ["construct", "-d", DATA, "-o", str(net), *extra])
        assert r.exit_code == 2, (extra, r.output)
        assert not net.exists()
