"""The user's path through the CLI: every bad input is one clear error (exit 2) before any work, and
nothing is written. Each test reproduces a reported case."""

import json
import os
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

import memcap
from memcap.cli import app

runner = CliRunner()
SMALL = "gen:gaussian?n=12&d=2"


def run(args):
    return runner.invoke(app, [str(a) for a in args])


def assert_user_error(r, *needles, code=2):
    """Exit ``code``, exactly one ``error:`` line on stderr, no traceback, no Python exception."""
    assert r.exit_code == code, (r.exit_code, r.output)
    assert isinstance(r.exception, SystemExit) or r.exception is None, repr(r.exception)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip() and not ln.startswith(("memcap:", "warning:"))]
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    assert "Traceback" not in r.output
    for n in needles:
        assert n in lines[0], (n, lines[0])
    return lines[0]


@pytest.fixture(scope="module")
def net_file(tmp_path_factory):
    p = tmp_path_factory.mktemp("net") / "net.npz"
    memcap.save(memcap.construct(memcap.load_dataset(SMALL), "yun-3layer").network, p)
    return p


# ---- output paths: checked first, never replaced ------------------------------------------------
def test_output_is_a_folder_empty_below_a_file_or_unwritable(tmp_path):
    f = tmp_path / "file.txt"
    f.write_text("x")
    before = sorted(tmp_path.iterdir())
    assert_user_error(run(["construct", "-d", SMALL, "-o", tmp_path]), "is a folder")
    assert_user_error(run(["construct", "-d", SMALL, "-o", ""]))
    assert_user_error(run(["construct", "-d", SMALL, "-o", f / "net.npz"]), "is a file, not a folder")
    assert_user_error(run(["construct", "-d", SMALL, "-o", tmp_path / "no" / "net.npz"]), "does not exist")
    if Path("/proc").is_dir():  # writable by nobody, root included
        assert_user_error(run(["construct", "-d", SMALL, "-o", "/proc/memcap-net.npz"]), "cannot write")
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        if os.geteuid() != 0:
            assert_user_error(run(["construct", "-d", SMALL, "-o", ro / "n.npz"]), "cannot write")
    finally:
        ro.chmod(0o700)
    assert sorted(tmp_path.iterdir()) == sorted([*before, ro]) and not list(ro.iterdir())


def test_special_files_are_refused_not_replaced():
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full")
    r = run(["construct", "-d", SMALL, "-o", "/dev/full", "--force"])
    assert_user_error(r, "not a regular file")
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)


def test_output_checked_before_any_work(tmp_path):
    """A bad -o fails before the data are loaded or anything is built (no progress line at all)."""
    r = run(["construct", "-d", "builtin:digits", "-o", tmp_path])
    assert_user_error(r)
    assert "building" not in r.stderr and "verif" not in r.stderr


def test_existing_output_needs_force(tmp_path):
    out = tmp_path / "n.npz"
    out.write_bytes(b"keep me")
    assert_user_error(run(["construct", "-d", SMALL, "-o", out]), "exists", "--force")
    assert out.read_bytes() == b"keep me"
    r = run(["construct", "-d", SMALL, "-m", "yun-3layer", "-o", out, "--force", "-q"])
    assert r.exit_code == 0, r.output
    assert memcap.load(out).meta["certificate"]["method"] == "yun-3layer"


def test_export_onnx_to_a_folder_and_counterexamples_on_a_file(tmp_path, net_file):
    assert_user_error(run(["export", net_file, "--onnx", tmp_path]), "--onnx", "is a folder")
    f = tmp_path / "f.txt"
    f.write_text("x")
    assert_user_error(run(["robust", net_file, "-d", SMALL, "-r", "0.01", "--counterexamples", f]),
                      "--counterexamples", "is a file")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.txt"]


# ---- input files ------------------------------------------------------------------------------
def test_truncated_empty_and_foreign_network_files(tmp_path, net_file):
    trunc = tmp_path / "trunc.npz"
    trunc.write_bytes(net_file.read_bytes()[: net_file.stat().st_size // 2])
    for cmd in (["info", trunc], ["verify", trunc, "-d", SMALL]):
        assert_user_error(run(cmd), "truncated")
    empty = tmp_path / "empty.npz"
    empty.write_bytes(b"")
    assert_user_error(run(["info", empty]), "empty")
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    line = assert_user_error(run(["info", text]), "not a memcap network")
    assert "pickle" not in line
    line = assert_user_error(run(["verify", tmp_path / "missing.npz", "-d", SMALL]), "no such")
    # the library says the same without the CLI's door
    with pytest.raises(ValueError, match="cannot read"):
        memcap.load(trunc)
    with pytest.raises(ValueError, match="empty"):
        memcap.load(empty)
    with pytest.raises(ValueError) as exc:
        memcap.load(text)
    assert "pickle" not in str(exc.value)


# ---- numbers and options ------------------------------------------------------------------------
@pytest.mark.parametrize("tol", ["inf", "nan", "-1", "-inf"])
def test_bad_tolerance_refused_before_building(tmp_path, tol):
    r = run(["construct", "-d", SMALL, "-o", tmp_path / "n.npz", "--tol", tol])
    line = assert_user_error(r, "--tol")
    assert "integer ratio" not in line and "building" not in r.stderr
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("n", ["-5", "0", str(10**20)])
def test_bounds_refuses_impossible_n(n):
    assert_user_error(run(["bounds", "--widths", "4,4", "-n", n]), "--n")


@pytest.mark.parametrize("opt,needle", [
    ("candidates=abc", "must be int"), ("candidates=0", "1 ≤ candidates"), ("margin=-1", "0 < margin"),
    ("_=1", "'_'"),
    ("nope=1", "no option"), ("margin=nan", "finite"), ("candidates", "KEY=VALUE"),
    ("seed=3", "--seed"),
])
def test_method_options_are_typed_and_ranged(tmp_path, opt, needle):
    r = run(["construct", "-d", SMALL, "-m", "yun-3layer", "-o", tmp_path / "n.npz", "-O", opt])
    assert_user_error(r, needle)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("method,opt", [("twoproj-5layer", "workers=0"), ("decoupled-3layer", "slack=-1")])
def test_options_of_other_methods(tmp_path, method, opt):
    assert_user_error(run(["construct", "-d", SMALL, "-o", tmp_path / "n.npz", "-m", method, "-O", opt]),
                      opt.split("=")[0])


def test_widths_and_activation_messages(tmp_path):
    line = assert_user_error(run(["construct", "-d", SMALL, "-m", "yun-3layer", "-o", tmp_path / "n.npz",
                                  "--widths", "4"]))
    assert "two widths" in line and "unpack" not in line
    line = assert_user_error(run(["construct", "-d", SMALL, "-m", "yun-3layer", "-o", tmp_path / "n.npz",
                                  "--activation", "leaky:abc"]), "leaky:abc")
    assert "Fraction" not in line


def test_huge_generator_refused_with_an_estimate():
    # 10^8 points x (64 + 1) float64 columns = 48.4 GiB, refused before numpy allocates anything
    assert_user_error(run(["data", "-d", "gen:gaussian?n=100000000&d=64"]), "48.4 GiB", "limit")


def test_experiment_unknown_option_refused(tmp_path):
    r = run(["experiment", "yun19-sgd", "--profile", "test", "-O", "foo=1", "--out-dir", tmp_path / "e"])
    assert_user_error(r, "no option 'foo'")
    assert not (tmp_path / "e").exists()


# ---- data files ---------------------------------------------------------------------------------
def test_bad_csv_is_one_error_line(tmp_path):
    """(The CSV reader's own messages -- header-only, delimiters, string labels -- are tested with
    memcap.data.sources; here: the CLI turns them into one line.)"""
    h = tmp_path / "h.csv"
    h.write_text("a,b,label\n")
    assert_user_error(run(["data", "-d", h]), "no data rows")
    s = tmp_path / "s.csv"
    s.write_text("a;b;y\n1;2;0\n3;4;1\n")
    r = run(["data", "-d", s, "--json"])  # the ';' delimiter is detected, the header kept
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["N"] == 2 and json.loads(r.stdout)["d_x"] == 2
    lab = tmp_path / "lab.csv"
    lab.write_text("0.5,1.0,cat\n1.5,2.0,dog\n2.5,0.0,cat\n")
    r = run(["data", "-d", lab, "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["N"] == 3
    rr = tmp_path / "r.csv"
    rr.write_text("1,2,0\n3,4\n")
    assert_user_error(run(["data", "-d", rr]), "ragged")


# ---- messages keep their brackets ------------------------------------------------------------------
def test_install_hint_keeps_the_extra(tmp_path, net_file, monkeypatch):
    from memcap._util import require_extra

    def missing(*_a, **_k):
        return require_extra("memcap_no_such_module", "onnx")

    monkeypatch.setattr("memcap.io.onnx.to_onnx", missing)
    line = assert_user_error(run(["export", net_file, "--onnx", tmp_path / "n.onnx"]))
    assert "memcap[onnx]" in line


# ---- JSON ---------------------------------------------------------------------------------------
def _strict(text):
    def bad(c):
        raise AssertionError(f"non-JSON constant {c}")
    return json.loads(text, parse_constant=bad)


def test_json_is_strict_and_non_finite_is_null(tmp_path):
    one = tmp_path / "one.csv"
    one.write_text("1,2,0\n")
    r = run(["data", "-d", one, "--json"])
    assert r.exit_code == 0, r.output
    d = _strict(r.stdout)
    assert d["N"] == 1 and d["min_distance_l2"] is None


def test_errors_under_json_are_json(tmp_path):
    r = run(["construct", "-d", "builtin:nope", "-o", tmp_path / "n.npz", "--json"])
    assert r.exit_code == 2
    d = _strict(r.stdout)
    assert d["error"]["exit_code"] == 2 and "nope" in d["error"]["message"]
    r = run(["bounds", "--widths", "4,4", "-n", "abc", "--json"])  # a parse error is JSON too
    assert r.exit_code == 2 and "error" in _strict(r.stdout)


def test_experiment_list_json():
    r = run(["experiment", "--list", "--json"])
    assert r.exit_code == 0
    names = {e["name"] for e in _strict(r.stdout)}
    assert "zhang21-synthetic" in names


def test_verify_json_lists_every_failing_point(tmp_path):
    out = tmp_path / "n.npz"
    assert run(["construct", "-d", "gen:gaussian?n=80&d=2&seed=1", "-o", out, "-q"]).exit_code == 0
    r = run(["verify", out, "-d", "gen:gaussian?n=80&d=2&seed=2", "--json"])
    assert r.exit_code == 1
    d = _strict(r.stdout)
    assert d["failing_count"] == len(d["failing"]) > 50
    direct = memcap.verify(memcap.load(out), memcap.load_dataset("gen:gaussian?n=80&d=2&seed=2"))
    assert d["failing"] == direct.failing


# ---- conventions ----------------------------------------------------------------------------------
def test_version_and_short_help():
    r = run(["--version"])
    assert r.exit_code == 0 and r.stdout.startswith("memcap ")
    for args in (["-h"], ["construct", "-h"], ["robust", "-h"]):
        r = run(args)
        assert r.exit_code == 0 and "Usage" in r.stdout


def test_progress_is_plain_lines_when_piped_and_quiet_silences_it(tmp_path):
    r = run(["construct", "-d", SMALL, "-m", "yun-3layer", "-o", tmp_path / "a.npz"])
    assert r.exit_code == 0 and "memcap: building yun-3layer" in r.stderr
    r = run(["construct", "-d", SMALL, "-m", "yun-3layer", "-o", tmp_path / "b.npz", "--quiet"])
    assert r.exit_code == 0 and r.stderr == ""


def test_tables_fit_80_columns_or_csv_markdown():
    import csv
    import io

    r = run(["methods"])
    assert r.exit_code == 0 and max(len(ln) for ln in r.stdout.splitlines()) <= 80
    assert "yun-3layer" in r.stdout
    r = run(["methods", "--format", "csv"])
    rows = list(csv.reader(io.StringIO(r.stdout)))
    assert rows[0] == ["name", "theorem", "condition", "sizes", "tasks"] and len(rows) > 5
    r = run(["bounds", "--widths", "16,24", "-n", "37", "--format", "markdown"])
    assert r.exit_code == 0 and "| source | kind | verdict |" in r.stdout
    r = run(["bounds", "--widths", "16,24", "-n", "37"])
    assert max(len(ln) for ln in r.stdout.splitlines()) <= 80
    assert_user_error(run(["methods", "--format", "xml"]), "--format")


def test_warnings_go_to_stderr_one_line_and_quiet_hides_them(tmp_path):
    r = run(["data", "-d", "builtin:iris"])  # iris has one duplicate row: a warning
    warn = [ln for ln in r.stderr.splitlines() if ln.startswith("warning:")]
    assert r.exit_code == 0 and len(warn) == 1 and "duplicate" in warn[0]
    assert run(["data", "-d", "builtin:iris", "-q"]).stderr == ""


def test_ray_takes_an_optional_address():
    from memcap.cli._common import _prepare_args

    assert _prepare_args(["experiment", "x", "--ray"]) == ["experiment", "x", "--ray", "local"]
    assert _prepare_args(["experiment", "x", "--ray", "--workers", "2"])[3] == "local"
    assert _prepare_args(["experiment", "x", "--ray", "ray://head:10001"])[3] == "ray://head:10001"
    assert _prepare_args(["experiment", "x", "--ray", "10.0.0.1:6379"])[3] == "10.0.0.1:6379"
    assert _prepare_args(["x", "--", "--ray"]) == ["x", "--", "--ray"]


def test_the_real_entry_point(tmp_path):
    """`python -m memcap.cli` (what the `memcap` script runs): exit codes and one line, no traceback."""
    import subprocess
    import sys

    def cli(*args):
        env = {**os.environ, "PYTHONPATH": str(Path(memcap.__file__).parents[1])}
        return subprocess.run([sys.executable, "-m", "memcap.cli", *args], capture_output=True, text=True,
                              env=env, timeout=120)

    p = cli("bounds", "--widths", "4,4", "-n", "-5")
    assert p.returncode == 2 and p.stdout == "" and p.stderr.count("\n") == 1
    assert p.stderr.startswith("error: ") and "Traceback" not in p.stderr
    p = cli("--version")
    assert p.returncode == 0 and p.stdout.startswith("memcap ")
    p = cli("info", str(tmp_path / "missing.npz"), "--json")
    assert p.returncode == 2 and json.loads(p.stdout)["error"]["exit_code"] == 2
