"""What every command shares at run time: the error boundary, strict JSON, progress, tables, and the
door checks (every path and argument is validated before any work starts).

The error boundary is :class:`MemcapGroup` (the click group behind ``memcap``): whatever a command
raises becomes one ``error: ...`` line on stderr (and, under ``--json``, one ``{"error": {...}}``
object on stdout) with exit code 2 for bad input, 1 for a network that could not be certified, 3 for
an internal error (a bug: the traceback is shown only with ``MEMCAP_DEBUG=1``).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import stat
import sys
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from typer._click.exceptions import NoArgsIsHelpError, UsageError  # typer vendors click
from typer.core import TyperGroup

from memcap.errors import ConstructionError, MemcapError, OptionError

__all__ = ["MemcapGroup", "STATE", "console", "out", "emit_json", "strict_json", "progress",
           "print_table", "print_rows", "check_output_file", "check_output_dir", "check_network_file",
           "check_float", "check_int", "check_format", "check_workers", "check_max_seconds",
           "parse_key_values", "typed_options", "UsageFailure"]

console = Console(stderr=True, highlight=False)
out = Console(highlight=False)


@dataclass
class _State:
    json: bool = False
    quiet: bool = False


#: per-invocation flags read from the command line before parsing (errors need them too)
STATE = _State()


class UsageFailure(OptionError):
    """A command-line argument is invalid (the CLI's own checks)."""


# ---- error boundary ---------------------------------------------------------------------------------
_RAY_ADDRESS = re.compile(r"^(auto|local|ray://\S+|[\w.\-]+:\d+)$")


def _prepare_args(args: list[str]) -> list[str]:
    """``--ray`` takes an optional ADDRESS: without one (last token, or the next token is not an
    address) it means a local instance."""
    from memcap.cli._options import RAY_LOCAL

    res: list[str] = []
    for i, a in enumerate(args):
        res.append(a)
        if a == "--":
            res.extend(args[i + 1:])
            break
        if a == "--ray":
            nxt = args[i + 1] if i + 1 < len(args) else None
            if nxt is None or not _RAY_ADDRESS.match(nxt):
                res.append(RAY_LOCAL)
    return res


def _one_line(msg: str) -> str:
    return " ".join(str(msg).split()) or "(no message)"


def report_error(message: str, code: int, kind: str) -> None:
    """One line on stderr; under --json also one JSON object on stdout."""
    msg = _one_line(message)
    if STATE.json:
        sys.stdout.write(strict_json({"error": {"type": kind, "message": msg, "exit_code": code}}) + "\n")
        sys.stdout.flush()
    console.print(f"[bold red]error:[/] {escape(msg)}", soft_wrap=True)


def _exit_code_of(exc: BaseException) -> tuple[int, str, str]:
    """(exit code, error type, message) of an exception escaping a command."""
    if isinstance(exc, KeyError) and exc.args:
        return 2, type(exc).__name__, str(exc.args[0])
    code = getattr(exc, "code", None)
    if isinstance(exc, MemcapError) and isinstance(code, int) and not isinstance(code, bool):
        return code, type(exc).__name__, str(exc)
    if isinstance(exc, ConstructionError):
        return 1, type(exc).__name__, str(exc)
    if isinstance(exc, MemcapError | ValueError | FileNotFoundError | ImportError):
        return 2, type(exc).__name__, str(exc)
    if isinstance(exc, MemoryError):
        return 2, "MemoryError", "not enough memory for this request; ask for less (fewer points, " \
                                 "smaller dimensions)"
    if isinstance(exc, OSError):
        return 1, type(exc).__name__, f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else "")
    return 3, type(exc).__name__, f"internal error (a bug in memcap, please report it): " \
                                  f"{type(exc).__name__}: {exc}"


class MemcapGroup(TyperGroup):
    """The ``memcap`` group with one error boundary for every command (see the module docstring)."""

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True, **extra: Any) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        head = argv[: argv.index("--")] if "--" in argv else argv
        STATE.json = "--json" in head
        STATE.quiet = "--quiet" in head or "-q" in head
        code = 0
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            try:
                rv = super().main(args=_prepare_args(argv), prog_name=prog_name or "memcap",
                                  complete_var=complete_var, standalone_mode=False, **extra)
                code = rv if isinstance(rv, int) and not isinstance(rv, bool) else 0
            except typer.Exit as e:
                code = e.exit_code
            except NoArgsIsHelpError as e:
                typer.echo(e.ctx.get_help() if e.ctx is not None else e.format_message())
                code = 0
            except UsageError as e:
                hint = f" (see: {e.ctx.command_path} -h)" if e.ctx is not None else ""
                code = 2
                report_error(e.format_message() + hint, 2, "UsageError")
            except typer.TyperException as e:
                code = e.exit_code
                report_error(e.format_message(), code, type(e).__name__)
            except (typer.Abort, KeyboardInterrupt):
                code = 130
                report_error("interrupted", 130, "Interrupted")
            except Exception as e:  # noqa: BLE001 -- the one place that turns errors into exit codes
                if os.environ.get("MEMCAP_DEBUG") == "1":
                    raise
                code, kind, msg = _exit_code_of(e)
                if code == 3:
                    import traceback

                    console.print(escape("".join(traceback.format_exception(e))), soft_wrap=True)
                report_error(msg, code, kind)
        if standalone_mode:
            sys.exit(code)
        return code


def _show_warning(message: Any, category: Any, filename: str, lineno: int, file: Any = None,
                  line: Any = None) -> None:
    if not STATE.quiet:
        console.print(f"[yellow]warning:[/] {escape(_one_line(str(message)))}", soft_wrap=True)


# ---- strict JSON --------------------------------------------------------------------------------
def _clean(v: Any) -> Any:
    if isinstance(v, bool) or v is None or isinstance(v, int | str):
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, dict):
        return {str(k): _clean(x) for k, x in v.items()}
    if isinstance(v, list | tuple | set | frozenset):
        return [_clean(x) for x in v]
    if isinstance(v, Path):
        return str(v)
    if isinstance(v, Fraction):
        return str(v)
    try:
        import numpy as np

        if isinstance(v, np.ndarray):
            return _clean(v.tolist())
        if isinstance(v, np.generic):
            return _clean(v.item())
    except ImportError:  # pragma: no cover
        pass
    return str(v)


def strict_json(obj: Any) -> str:
    """``obj`` as strict JSON: inf/NaN become null, numpy values plain numbers, anything else a string."""
    return json.dumps(_clean(obj), allow_nan=False, indent=2, ensure_ascii=False)


def emit_json(obj: Any) -> None:
    sys.stdout.write(strict_json(obj) + "\n")
    sys.stdout.flush()


# ---- progress -----------------------------------------------------------------------------------
@contextmanager
def progress(enabled: bool = True) -> Iterator[Callable[[str], None]]:
    """Yield ``say(message)``: a spinner on a terminal, plain ``memcap: message`` lines on stderr when
    stderr is not a terminal, nothing under ``--quiet``."""
    if not enabled or STATE.quiet:
        yield lambda _m: None
        return
    if console.is_terminal:
        with console.status("working") as status:
            yield lambda m: status.update(escape(str(m)))
        return
    last: list[str] = []

    def say(m: str) -> None:
        text = _one_line(str(m))
        if not last or last[-1] != text:
            last[:] = [text]
            sys.stderr.write(f"memcap: {text}\n")
            sys.stderr.flush()

    yield say


# ---- tables -------------------------------------------------------------------------------------
FORMATS = ("table", "csv", "markdown")


def check_format(fmt: str) -> str:
    f = fmt.strip().lower()
    if f not in FORMATS:
        raise UsageFailure(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    return f


def cell(v: Any) -> str:
    """A table cell: floats to 4 significant digits, booleans yes/no, None a dash."""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.4g}"
    if v is None:
        return "—"
    return str(v)


def print_table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]], fmt: str = "table",
                ) -> None:
    """Print a table: ``table`` fits the console (too wide: one block of ``column value`` lines per row),
    ``csv`` (RFC 4180, header row, no title), ``markdown`` (a heading and a pipe table)."""
    body = [[cell(v) for v in r] for r in rows]
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(columns)
        w.writerows(body)
        sys.stdout.write(buf.getvalue())
        return
    if fmt == "markdown":
        def md(s: str) -> str:
            return s.replace("|", "\\|").replace("\n", " ")

        lines = [f"### {md(title)}", "", "| " + " | ".join(md(c) for c in columns) + " |",
                 "|" + "|".join("---" for _ in columns) + "|"]
        lines += ["| " + " | ".join(md(c) for c in r) + " |" for r in body]
        sys.stdout.write("\n".join(lines) + "\n\n")
        return
    widths = [max([len(c), *(len(r[j]) for r in body)]) for j, c in enumerate(columns)]
    natural = sum(widths) + 3 * len(columns) + 1
    if natural <= out.width or len(columns) <= 2:
        t = Table(title=escape(title), title_justify="left")
        for c in columns:
            t.add_column(escape(c), overflow="fold")
        for r in body:
            t.add_row(*[escape(c) for c in r])
        out.print(t)
        return
    # too wide for the console: one two-column block per row (keeps every value readable)
    out.print(escape(title), style="bold", soft_wrap=True)
    for i, r in enumerate(body, 1):
        t = Table(show_header=False, box=None, padding=(0, 1), title=f"{i}.", title_justify="left")
        t.add_column("what", style="bold", overflow="fold", max_width=max(12, out.width // 3))
        t.add_column("value", overflow="fold")
        for c, v in zip(columns, r, strict=True):
            t.add_row(escape(c), escape(v))
        out.print(t)


def print_rows(title: str, rows: Sequence[tuple[str, Any]], fmt: str = "table") -> None:
    """A two-column report (what / value)."""
    if fmt == "table":
        t = Table(title=escape(title), show_header=False, title_justify="left")
        t.add_column("what", style="bold", overflow="fold")
        t.add_column("value", overflow="fold")
        for k, v in rows:
            t.add_row(escape(str(k)), escape(cell(v)))
        out.print(t)
    else:
        print_table(title, ["what", "value"], [(k, v) for k, v in rows], fmt)


# ---- door checks ------------------------------------------------------------------------------------
def check_output_file(path: Path | str | None, force: bool, flag: str = "--output") -> Path | None:
    """Refuse an output path that cannot be written as a regular file, before any work: empty, a
    folder, a special file (device, pipe, socket), an existing file without ``--force``, a missing
    or non-folder parent, an unwritable folder."""
    if path is None:
        return None
    text = str(path)
    if not text.strip():
        raise UsageFailure(f"{flag} is empty; give a file name, e.g. {flag} net.npz")
    p = Path(text).expanduser()
    if p.is_symlink() and not p.exists():
        raise UsageFailure(f"{flag} {text}: a dangling symbolic link; give a regular file")
    if p.exists():
        st = p.stat()
        if stat.S_ISDIR(st.st_mode):
            raise UsageFailure(f"{flag} {text} is a folder; give a file name inside it, e.g. "
                               f"{p / 'net.npz'}")
        if not stat.S_ISREG(st.st_mode):
            raise UsageFailure(f"{flag} {text} is not a regular file (a device, pipe or socket); "
                               "memcap writes regular files only")
        if not force:
            raise UsageFailure(f"{flag} {text} exists; pass --force to overwrite it")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.exists():
        raise UsageFailure(f"{flag} {text}: the folder {parent} does not exist (create it first)")
    if not parent.is_dir():
        raise UsageFailure(f"{flag} {text}: {parent} is a file, not a folder")
    _probe_writable(parent, f"{flag} {text}")
    return p


def _probe_writable(folder: Path, what: str) -> None:
    """Create and remove an empty temporary file in ``folder`` (permissions alone do not tell, e.g.
    for root, read-only mounts or /proc)."""
    import tempfile

    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageFailure(f"{what}: cannot write in the folder {folder} (permission denied)")
    try:
        fd, tmp = tempfile.mkstemp(prefix=".memcap-probe-", dir=folder)
    except OSError as exc:
        raise UsageFailure(f"{what}: cannot write in the folder {folder} ({exc.strerror or exc})") from None
    os.close(fd)
    os.unlink(tmp)


def check_output_dir(path: Path | str | None, flag: str, force: bool = True,
                     clobbers: Sequence[str] = ()) -> Path | None:
    """Refuse an output folder that is empty, a file, below a file or unwritable; without ``force``,
    also one that already holds files matching ``clobbers`` (glob patterns)."""
    if path is None:
        return None
    text = str(path)
    if not text.strip():
        raise UsageFailure(f"{flag} is empty; give a folder name")
    p = Path(text).expanduser()
    if p.exists() and not p.is_dir():
        raise UsageFailure(f"{flag} {text} is a file, not a folder; give a folder name")
    probe = p
    while not probe.exists():
        if probe.is_symlink():
            raise UsageFailure(f"{flag} {text}: {probe} is a dangling symbolic link")
        probe = probe.parent
    if not probe.is_dir():
        raise UsageFailure(f"{flag} {text}: {probe} is a file, not a folder")
    _probe_writable(probe, f"{flag} {text}")
    if p.is_dir() and not force:
        clash = sorted({q.name for pat in clobbers for q in p.glob(pat)})
        if clash:
            raise UsageFailure(f"{flag} {text} already holds {', '.join(clash[:3])}"
                               f"{' …' if len(clash) > 3 else ''}; pass --force to overwrite")
    return p


def check_network_file(path: Path | str) -> Path:
    """A network file must exist, be a readable regular file and look like an npz (zip) archive."""
    text = str(path)
    if not text.strip():
        raise UsageFailure("the network file name is empty")
    p = Path(text).expanduser()
    if not p.exists():
        raise UsageFailure(f"no such network file: {text}")
    if p.is_dir():
        raise UsageFailure(f"{text} is a folder, not a network file (.npz written by memcap construct)")
    if not p.is_file():
        raise UsageFailure(f"{text} is not a regular file")
    if not os.access(p, os.R_OK):
        raise UsageFailure(f"cannot read {text} (permission denied)")
    with open(p, "rb") as fh:
        head = fh.read(4)
    if not head:
        raise UsageFailure(f"{text} is empty (0 bytes), not a memcap network file")
    if head[:2] != b"PK":
        raise UsageFailure(f"{text} is not a memcap network file (an .npz archive written by memcap "
                           "construct / memcap.save)")
    import zipfile

    try:
        with zipfile.ZipFile(p) as z:
            names = z.namelist()
    except (zipfile.BadZipFile, OSError, EOFError):
        raise UsageFailure(f"{text} is damaged or truncated (not a complete .npz archive); "
                           "write it again with memcap construct") from None
    if "__memcap__.npy" not in names:
        raise UsageFailure(f"{text} is an .npz archive but not a memcap network (no __memcap__ header)")
    return p


def check_float(value: float | None, flag: str, *, lo: float | None = None, lo_open: bool = False,
                hi: float | None = None, hi_open: bool = False) -> float | None:
    """A finite float within the given bounds, or None."""
    if value is None:
        return None
    rng = ""
    if lo is not None:
        rng += f" {'>' if lo_open else '≥'} {lo:g}"
    if hi is not None:
        rng += f"{' and' if rng else ''} {'<' if hi_open else '≤'} {hi:g}"
    want = f"a finite number{rng}"
    if not math.isfinite(value):
        raise UsageFailure(f"{flag} must be {want}, got {value}")
    if lo is not None and (value <= lo if lo_open else value < lo):
        raise UsageFailure(f"{flag} must be {want}, got {value:g}")
    if hi is not None and (value >= hi if hi_open else value > hi):
        raise UsageFailure(f"{flag} must be {want}, got {value:g}")
    return value


def check_int(value: int | None, flag: str, *, lo: int | None = None, hi: int | None = None) -> int | None:
    if value is None:
        return None
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        rng = " and ".join(x for x in (f"≥ {lo}" if lo is not None else "",
                                         f"≤ {hi:.3g}" if hi is not None else "") if x)
        raise UsageFailure(f"{flag} must be an integer {rng}, got {value}")
    return value


def check_workers(workers: int | None) -> int | None:
    """``--workers``: None (all cores) or an integer ≥ 1."""
    return check_int(workers, "--workers", lo=1, hi=4096)


def check_max_seconds(seconds: float | None) -> float | None:
    """``--max-seconds``: None (no limit) or a finite number > 0."""
    return check_float(seconds, "--max-seconds", lo=0, lo_open=True)


def parse_key_values(items: Sequence[str] | None, flag: str = "--option") -> dict[str, str]:
    """``KEY=VALUE`` items -> {key: value-string}; a repeated key is an error."""
    res: dict[str, str] = {}
    for item in items or []:
        key, sep, val = (x.strip() for x in item.partition("="))
        if not sep or not key:
            raise UsageFailure(f"{flag} must be KEY=VALUE, got {item!r}")
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", key):
            raise UsageFailure(f"{flag}: {key!r} is not an option name (letters, digits, _)")
        if key in res:
            raise UsageFailure(f"{flag} {key} is given twice")
        res[key] = val
    return res


_TRUE, _FALSE = ("true", "yes", "1", "on"), ("false", "no", "0", "off")
#: option names whose integer values count something (must be ≥ 1)
_COUNTS = {"candidates", "workers", "projections", "lp_starts", "lp_rounds", "layers", "gp_budget",
           "max_redraws", "q", "p", "A", "blocks", "seeds", "steps", "restarts", "classes"}
#: float options that must be > 0, or ≥ 0
_POSITIVE = {"margin", "radius", "budget", "lr", "delta", "tol", "eps"}
_NONNEG = {"slack", "momentum", "warmup"}


def _convert(name: str, text: str, kind: str, flag: str) -> Any:
    def bad(want: str) -> UsageFailure:
        return UsageFailure(f"{flag} {name}={text!r}: {name} must be {want}")

    if kind == "bool":
        t = text.lower()
        if t in _TRUE or t in _FALSE:
            return t in _TRUE
        raise bad("true or false")
    if kind == "int":
        try:
            v = int(text)
        except ValueError:
            raise bad("an integer") from None
        if name in _COUNTS and v < 1:
            raise bad("an integer ≥ 1")
        if name in _POSITIVE and v <= 0:
            raise bad("a number > 0")
        if name in _NONNEG and v < 0:
            raise bad("a number ≥ 0")
        return v
    if kind == "float":
        try:
            f = float(text)
        except ValueError:
            raise bad("a number") from None
        if not math.isfinite(f):
            raise bad("a finite number")
        if name in _POSITIVE and f <= 0:
            raise bad("a number > 0")
        if name in _NONNEG and f < 0:
            raise bad("a number ≥ 0")
        return f
    if kind == "str":
        if not text:
            raise bad("a non-empty string")
        return text
    # untyped: an integer, else a number, else the string
    try:
        int(text)
    except ValueError:
        pass
    else:
        return _convert(name, text, "int", flag)
    try:
        float(text)
    except ValueError:
        return text
    return _convert(name, text, "float", flag)


def _kind_of(annotation: Any, default: Any) -> str:
    ann = str(annotation).replace("typing.", "").replace(" ", "")
    parts = {p for p in ann.split("|") if p not in ("None", "NoneType")}
    if parts == {"bool"} or isinstance(default, bool):
        return "bool"
    if parts == {"int"}:
        return "int"
    if parts == {"float"} or parts == {"int", "float"}:
        return "float"
    if parts == {"str"}:
        return "str"
    if default is not None and default is not Ellipsis:
        return {int: "int", float: "float", str: "str"}.get(type(default), "any")
    return "any"


def typed_options(fn: Callable[..., Any], items: dict[str, str], *, owner: str,
                  reserved: dict[str, str] | None = None, flag: str = "--option") -> dict[str, Any]:
    """Parse ``{key: text}`` against ``fn``'s keyword parameters: unknown names (also ``_`` and
    ``**kwargs`` catch-alls) are refused with the list of valid ones, values converted by the
    parameter's annotation (int, float, bool, str) and range-checked where the name says what it
    counts. ``reserved`` maps parameters that have their own flag to that flag."""
    import inspect

    reserved = reserved or {}
    params = {k: p for k, p in inspect.signature(fn).parameters.items()
              if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and not k.startswith("_")
              and k != "ds"}
    allowed = [k for k in params if k not in reserved]
    res: dict[str, Any] = {}
    for key, text in items.items():
        if key in reserved:
            raise UsageFailure(f"{owner}: {key} has its own flag, use {reserved[key]}")
        if key not in params:
            raise UsageFailure(f"{owner} has no option {key!r} (its options: "
                               f"{', '.join(allowed) or 'none'})")
        p = params[key]
        res[key] = _convert(key, text, _kind_of(p.annotation, p.default), flag)
    return res
