"""Generated bad command lines: whatever mix of invalid arguments a user types, memcap exits 2 with one
``error:`` line (a JSON error object under --json), no traceback, and writes nothing."""

import json
import re
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from memcap.cli import app

runner = CliRunner()
SMALL = "gen:gaussian?n=12&d=2"

_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=12)
_nonfinite = st.sampled_from(["inf", "-inf", "nan", "NaN", "1e999"])
_not_a_number = _text.filter(lambda s: not re.fullmatch(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*", s))
_bad_float_nonneg = st.one_of(_nonfinite, st.floats(max_value=-1e-9, allow_nan=False).map(repr),
                              _not_a_number.filter(lambda s: s.strip() not in ("inf", "nan")))
_bad_float_pos = st.one_of(_bad_float_nonneg, st.just("0"), st.just("-0.0"))
_bad_count = st.one_of(st.integers(max_value=0).map(str), _not_a_number, st.just("1.5"))
_bad_widths = st.one_of(
    st.lists(st.integers(max_value=0), min_size=1, max_size=3).map(lambda w: ",".join(map(str, w))),
    _text.filter(lambda s: not re.fullmatch(r"\s*\d+(\s*,\s*\d+)*\s*,?\s*", s) or not s.strip()),
)
_bad_activation = st.one_of(
    st.builds(lambda t: f"leaky:{t}", _not_a_number.filter(lambda s: s.strip() != "")),
    st.builds(lambda a, b: f"relu_like:{a},{b}", _not_a_number.filter(lambda s: s.strip() != ""), _text),
    st.sampled_from(["swish", "gelu", "relu_like:1", "leaky:1/0", "leaky:nan", ""]),
)
_yun3_options = {"margin", "candidates"}
_bad_option = st.one_of(
    st.builds(lambda k, v: f"{k}={v}", st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True)
              .filter(lambda k: k not in _yun3_options), st.from_regex(r"[0-9a-z]{0,4}", fullmatch=True)),
    st.builds(lambda v: f"candidates={v}", _bad_count),
    st.builds(lambda v: f"margin={v}", _bad_float_pos),
    _text.filter(lambda s: "=" not in s),
    st.sampled_from(["widths=3,3", "seed=1", "activation=relu", "arithmetic=exact", "=1"]),
)
#: how a bad output path is made inside the example's temporary folder
_bad_output = st.sampled_from(["folder", "existing", "below-file", "missing-parent", "empty", "device"])

# each family: (flag, strategy of bad values) for `memcap construct`
CONSTRUCT = {
    "tol": ("--tol", _bad_float_nonneg),
    "widths": ("--widths", _bad_widths),
    "option": ("-O", _bad_option),
    "activation": ("--activation", _bad_activation),
    "seed": ("--seed", st.one_of(st.integers(max_value=-1).map(str), _not_a_number)),
    "arithmetic": ("--arithmetic", _text.filter(lambda s: s not in ("auto", "float64", "exact"))),
    "precision": ("--precision", _text.filter(lambda s: s not in ("float32", "float64", "exact"))),
    "budget": ("--budget", st.one_of(_bad_float_pos, st.floats(min_value=1.0, allow_nan=False,
                                                               allow_infinity=False).map(repr))),
    "output": ("-o", _bad_output),
}


def _output_path(kind: str, root: Path) -> str:
    return {"folder": str(root), "existing": str(root / "existing.npz"),
            "below-file": str(root / "existing.npz" / "n.npz"), "missing-parent": str(root / "a" / "n.npz"),
            "empty": "", "device": "/dev/null"}[kind]


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else b"<dir>") for p in root.rglob("*")}


def _check(args: list[str], as_json: bool, root: Path) -> None:
    before = _snapshot(root)
    r = runner.invoke(app, [*args, *(["--json"] if as_json else [])])
    assert r.exit_code == 2, (args, r.exit_code, r.output, repr(r.exception))
    assert isinstance(r.exception, SystemExit), (args, repr(r.exception))
    err = [ln for ln in r.stderr.splitlines() if ln.strip() and not ln.startswith(("memcap:", "warning:"))]
    assert len(err) == 1 and err[0].startswith("error: "), (args, r.stderr)
    assert "Traceback" not in r.output
    if as_json:
        d = json.loads(r.stdout, parse_constant=lambda c: (_ for _ in ()).throw(AssertionError(c)))
        assert d["error"]["exit_code"] == 2 and d["error"]["message"], (args, r.stdout)
    else:
        assert r.stdout == "", (args, r.stdout)
    assert _snapshot(root) == before, args
    assert not Path("/dev/null").is_file()


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), families=st.lists(st.sampled_from(sorted(CONSTRUCT)), min_size=1, max_size=3,
                                         unique=True), as_json=st.booleans())
def test_construct_with_bad_arguments(data, families, as_json):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "existing.npz").write_bytes(b"user's file")
        args = ["construct", "-d", SMALL]
        if "output" not in families:
            args += ["-o", str(root / "net.npz")]
        for fam in families:
            flag, strat = CONSTRUCT[fam]
            val = data.draw(strat, label=fam)
            args += [flag, _output_path(val, root) if fam == "output" else val]
        _check(args, as_json, root)


_bad_network = st.sampled_from(["missing", "folder", "empty", "text", "truncated-zip", "foreign-npz"])


def _network_path(kind: str, root: Path) -> str:
    import numpy as np

    p = root / f"{kind}.npz"
    if kind == "folder":
        p.mkdir()
    elif kind == "empty":
        p.write_bytes(b"")
    elif kind == "text":
        p.write_text("not a network\n")
    elif kind == "truncated-zip":
        np.savez(p, a=np.arange(1000))
        p.write_bytes(p.read_bytes()[:200])
    elif kind == "foreign-npz":
        np.savez(p, a=np.arange(3))
    return str(p)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=_bad_network, command=st.sampled_from(["info", "verify", "robust", "export", "lipschitz"]),
       as_json=st.booleans())
def test_commands_on_bad_network_files(kind, command, as_json):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        path = _network_path(kind, root)
        extra = {"info": [], "verify": ["-d", SMALL], "robust": ["-d", SMALL, "-r", "0.1"],
                 "export": ["--onnx", str(root / "n.onnx")], "lipschitz": []}[command]
        _check([command, path, *extra], as_json, root)


_NET: list = []


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(args=st.one_of(
    st.builds(lambda n: ["bounds", "--widths", "4,4", "-n", n],
              st.one_of(st.integers(max_value=0).map(str), st.integers(min_value=2**53 + 1).map(str),
                        _not_a_number)),
    st.builds(lambda w: ["bounds", "--widths", w, "-n", "10"], _bad_widths),
    st.builds(lambda f: ["methods", "--format", f],
              _text.filter(lambda s: s.strip().lower() not in ("table", "csv", "markdown"))),
    st.builds(lambda r: ["robust", "NET", "-d", SMALL, "-r", r], _bad_float_pos),
    st.builds(lambda q: ["data", "-d", f"gen:gaussian?{q}"],
              st.sampled_from(["n=0", "n=-3", "d=0", "n=100000000&d=64", "zz=1", "n=abc", "seed=-1"])),
    st.builds(lambda o: ["experiment", "yun19-sgd", "--profile", "test", "-O", o],
              st.from_regex(r"[a-z]{1,6}=[0-9]{1,3}", fullmatch=True)),
    st.builds(lambda w: ["experiment", "yun19-sgd", "--profile", "test", "--workers", w], _bad_count),
), as_json=st.booleans())
def test_other_commands_with_bad_arguments(args, as_json):
    import memcap

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if "NET" in args:
            net = root / "net.npz"
            if not _NET:
                _NET.append(memcap.construct(memcap.load_dataset(SMALL), "zhang17-wide").network)
            memcap.save(_NET[0], net)
            args = [str(net) if a == "NET" else a for a in args]
        if args[0] == "experiment":
            args = [*args, "--out-dir", str(root / "exp")]
        _check(args, as_json, root)
