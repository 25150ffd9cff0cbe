"""The ``memcap`` command line: a thin face over the Python API.

Commands live here (construct, verify, methods, data) and in :mod:`memcap.commands` modules, each of
which adds its own commands to :data:`app` (listed in ``COMMAND_MODULES``). Exit code 0 only when the
answer is certified; 1 when it is certified negative or undecided; 2 for bad input.
"""

from __future__ import annotations

import importlib
import json
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from memcap.constructions.base import ConditionError, ConstructionError
from memcap.data import SOURCES_HELP, DataError, Dataset, load_dataset

app = typer.Typer(
    name="memcap",
    help="Build networks with computed weights that provably memorize a dataset, and certify them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)
out = Console()

#: modules under memcap.commands that register more commands on ``app``
COMMAND_MODULES: list[str] = ["info", "bounds", "experiment", "train", "robust", "export", "advise",
                             "lipschitz"]

DataOpt = Annotated[str, typer.Option("--data", "-d", help=f"Dataset source: {SOURCES_HELP}.")]
LabelOpt = Annotated[str | None, typer.Option("--label", help="CSV label column (name or index).")]
TaskOpt = Annotated[str | None, typer.Option(
    "--task", help="Override the inferred task: regression or classification.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")]
PrecisionOpt = Annotated[str | None, typer.Option(
    "--precision", help="float32, float64 or exact: certify memorization when the network is "
    "evaluated in float32 / float64 (any summation order; default tolerance 1e-3·max(1,|y|) for "
    "float32) or in exact arithmetic.")]


def fail(msg: str, code: int = 2) -> typer.Exit:
    console.print(f"[bold red]error:[/] {msg}")
    return typer.Exit(code)


@contextmanager
def user_errors() -> Any:
    """Turn expected errors into one clear message and exit code 2 (no traceback)."""
    try:
        yield
    except (DataError, ConditionError, ConstructionError, ValueError, KeyError, FileNotFoundError,
            ImportError) as exc:
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
        raise fail(str(msg)) from None


def get_data(data: str, label: str | None, task: str | None) -> Dataset:
    if task not in (None, "regression", "classification"):
        raise DataError(f"--task must be regression or classification, got {task!r}")
    return load_dataset(data, label=label, task=task)  # type: ignore[arg-type]


@contextmanager
def progress_status(enabled: bool = True) -> Any:
    """A spinner showing the current step; yields a callback taking a message."""
    if not enabled or not console.is_terminal:
        yield lambda _m: None
        return
    with console.status("working") as status:
        yield lambda m: status.update(m)


def parse_widths(text: str | None) -> tuple[int, ...] | None:
    if text is None:
        return None
    try:
        ws = tuple(int(w) for w in text.replace(" ", "").split(",") if w)
    except ValueError:
        raise DataError(f"--widths must be comma-separated integers, got {text!r}") from None
    if not ws or any(w < 1 for w in ws):
        raise DataError(f"--widths must be positive integers, got {text!r}")
    return ws


def parse_method_options(method: str, items: list[str]) -> dict[str, Any]:
    """``--option KEY=VALUE`` items -> keyword options of ``method``'s construction (numbers parsed),
    refusing keys the construction does not take."""
    import inspect

    from memcap.constructions.base import get_method

    params = inspect.signature(get_method(method).build).parameters
    opts: dict[str, Any] = {}
    for item in items:
        key, sep, val = (x.strip() for x in item.partition("="))
        if not sep or not key:
            raise DataError(f"--option must be KEY=VALUE, got {item!r}")
        if key not in params or key in ("ds", "widths", "activation", "arithmetic", "seed"):
            allowed = [k for k in params if k not in ("ds", "widths", "activation", "arithmetic", "seed")]
            raise DataError(f"{method} has no option {key!r} (its options: {', '.join(allowed) or 'none'}; "
                            "widths, activation, arithmetic and seed have their own flags)")
        for cast in (int, float):
            try:
                opts[key] = cast(val)
                break
            except ValueError:
                opts[key] = val
    return opts


def report_table(title: str, rows: list[tuple[str, Any]]) -> Table:
    t = Table(title=title, show_header=False, title_justify="left")
    t.add_column("what", style="bold")
    t.add_column("value")
    for k, v in rows:
        t.add_row(k, _fmt(v))
    return t


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if v is None:
        return "—"
    return escape(str(v))


def precision_rows(pc: Any, attempts: list[Any]) -> list[tuple[str, Any]]:
    """Rows of a :class:`memcap.certify.precision.PrecisionCertificate` (and the methods passed over)."""
    rows: list[tuple[str, Any]] = [
        ("precision", pc.precision), ("certified", pc.certified), ("why", pc.reason)]
    if pc.task == "regression":
        rows += [("tolerance", pc.tolerance), ("worst-case |f - y| (certified ≤)", pc.worst_bound)]
    else:
        rows += [("smallest margin at this precision (certified ≥)", pc.worst_bound)]
    rows += [("rounding bound (any summation order)", pc.rounding_bound),
             ("measured error (numpy)", pc.measured_error), ("significand bits needed", pc.bits_needed)]
    for a in attempts:
        if not a.certified:
            rows.append((f"passed over: {a.method} {a.options or ''}".strip(),
                         f"{a.parameters} parameters: {a.reason}"))
    return rows


def verification_rows(rep: Any) -> list[tuple[str, Any]]:
    rows: list[tuple[str, Any]] = [
        ("memorized", rep.memorized), ("certified", rep.certified),
        ("decided by", ", ".join(f"{k} {v}" for k, v in rep.tiers.items() if v)),
    ]
    if rep.task == "regression":
        rows += [("tolerance", rep.tolerance), ("worst error (certified ≤)", rep.worst_error)]
    else:
        rows += [("smallest margin (certified ≥)", rep.min_margin)]
    if rep.failing:
        rows.append(("failing points", f"{len(rep.failing)} (first: {rep.failing[:8]})"))
    rows += [
        ("float64: measured error", rep.float64_error),
        ("float64: certified rounding bound", rep.float64_bound),
        ("float64 memorizes (any summation order)", rep.float64_memorizes),
        ("float32: measured error", rep.float32_error),
        ("float32: certified rounding bound", rep.float32_bound),
        ("float32 memorizes: measured / certified",
         f"{_fmt(rep.float32_measured_memorizes)} / {_fmt(rep.float32_memorizes)}"),
        ("mantissa bits needed", rep.bits_needed),
        ("verification seconds", rep.seconds),
    ]
    return rows


# ---- commands -----------------------------------------------------------------------------------
@app.command()
def construct(
    data: DataOpt,
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the network (.npz).")],
    method: Annotated[str | None, typer.Option(
        "--method", "-m", help="Registry name (see `memcap methods`). Default: the method whose "
        "network has the fewest stored parameters among those certified at --precision (float32 "
        "unless given).")] = None,
    activation: Annotated[str | None, typer.Option(
        help="relu, hardtanh, leaky:SLOPE or relu_like:S+,S- (default: the method's).")] = None,
    widths: Annotated[str | None, typer.Option(
        help="Hidden widths, comma-separated (default: the smallest the theorem allows).")] = None,
    arithmetic: Annotated[str, typer.Option(
        help="auto (float64, escalating to exact if certification fails), float64 or exact.")] = "auto",
    tol: Annotated[float | None, typer.Option(
        help="Regression tolerance (default 1e-6·max(1, max|y|)).")] = None,
    seed: Annotated[int, typer.Option(help="Seed for the random choices of the construction.")] = 0,
    option: Annotated[list[str] | None, typer.Option(
        "--option", help="A method option KEY=VALUE (repeatable), e.g. gate=3unit, variant=regression, "
        "margin=0.5 (see the method's docstring).")] = None,
    budget: Annotated[float | None, typer.Option(
        help="Robust methods (yu-robust): radius as a fraction of λ_D/2, e.g. 0.45.")] = None,
    radius: Annotated[float | None, typer.Option(
        help="Robust methods (yu-robust): absolute robustness radius (must be < λ_D/2).")] = None,
    norm: Annotated[str | None, typer.Option(
        help="Robust methods (yu-robust): the ball's norm, inf (default), 1, 2 or an integer p.")] = None,
    label: LabelOpt = None,
    task: TaskOpt = None,
    as_json: JsonOpt = False,
    precision: PrecisionOpt = None,
) -> None:
    """Build a network that memorizes the data, certify it, and save it (only if certified)."""
    import memcap

    pcert, attempts = None, []
    with user_errors():
        ds = get_data(data, label, task)
        opts: dict[str, Any] = {"seed": seed}
        if activation is not None:
            opts["activation"] = activation
        if method is None:
            precision = precision or "float32"  # the default: what PyTorch / onnxruntime run
        if widths is not None:
            if method is None:
                raise DataError("--widths belongs to one method: also give --method")
            opts["widths"] = parse_widths(widths)
        robust_flags = (("budget", budget), ("radius", radius), ("norm", norm))
        option = list(option or []) + [f"{k}={v}" for k, v in robust_flags if v is not None]
        if method is not None:
            opts.update(parse_method_options(method, option))
        elif option:
            raise DataError("--option belongs to one method: also give --method")
        with progress_status(not as_json) as say:
            if precision is None:
                c = memcap.construct(ds, method, arithmetic=arithmetic, tol=tol, progress=say, **opts)
            else:
                from memcap.select import choose_method

                c, pcert, attempts = choose_method(
                    ds, precision, tol=tol, methods=None if method is None else [method],
                    progress=say, **opts)
                method = c.certificate.method
        c.network.meta["data"] = data
        memcap.save(c.network, output)
    rep = c.verification
    if as_json:
        out.print_json(json.dumps({
            "output": str(output), "method": method, "counts": c.network.counts(),
            "certificate": c.certificate.to_json(), "verification": rep.to_json(),
            "info": {k: v for k, v in c.info.items() if k != "u"},
            **({"precision": pcert.to_json(), "attempts": [
                {"method": a.method, "options": a.options, "parameters": a.parameters,
                 "certified": a.certified, "reason": a.reason} for a in attempts]}
               if pcert is not None else {}),
        }, default=str))
        return
    cert = c.certificate
    out.print(report_table(f"{method}: {cert.theorem} ({cert.reference})", [
        ("data", f"{ds.name}: N={ds.N}, d_x={ds.d_x}, d_y={ds.d_y}, task={ds.task}"),
        *[("condition", str(cond)) for cond in cert.conditions],
        ("arithmetic of weights", cert.arithmetic),
        *[(k, v) for k, v in c.network.counts().items()],
        ("build seconds", c.info.get("build_seconds")),
        *[("note", n) for n in cert.notes],
    ]))
    out.print(report_table("certified verification", verification_rows(rep)))
    if pcert is not None:
        out.print(report_table(f"certified at precision {pcert.precision}", precision_rows(pcert, attempts)))
    elif not rep.float32_memorizes:
        where = "float64 and exact arithmetic" if rep.float64_memorizes else "exact arithmetic"
        out.print(f"[yellow]note:[/] {method}'s network is certified to memorize only in {where} of "
                  "its stored weights, not when evaluated in float32 (PyTorch / onnxruntime default); "
                  "omit --method for the smallest network certified in float32")
    out.print(f"[green]saved[/] {output}")


@app.command()
def verify(
    network: Annotated[Path, typer.Argument(help="Network file written by `memcap construct`.")],
    data: DataOpt,
    tol: Annotated[float | None, typer.Option(help="Regression tolerance.")] = None,
    label: LabelOpt = None,
    task: TaskOpt = None,
    as_json: JsonOpt = False,
    precision: PrecisionOpt = None,
) -> None:
    """Certify that a saved network memorizes the data (exit 0 only if certified; with
    --precision, only if certified when evaluated at that precision)."""
    import memcap

    pcert = None
    with user_errors():
        net = memcap.load(network)
        ds = get_data(data, label, task)
        with progress_status(not as_json) as say:
            if precision is None:
                rep = memcap.verify(net, ds, tol=tol, progress=say)
            else:
                from memcap.certify.precision import certify_precision, precision_tolerance

                rep = memcap.verify(net, ds, tol=precision_tolerance(ds, precision, tol), progress=say)
                pcert = certify_precision(net, ds, precision, tol=tol, report=rep)
    if as_json:
        d = rep.to_json()
        if pcert is not None:
            d["precision"] = pcert.to_json()
        out.print_json(json.dumps(d, default=str))
    else:
        out.print(report_table(f"verify {network} on {ds.name} (N={ds.N})", verification_rows(rep)))
        if pcert is not None:
            out.print(report_table(f"certified at precision {pcert.precision}", precision_rows(pcert, [])))
    if not (rep.memorized and rep.certified) or (pcert is not None and not pcert.certified):
        raise typer.Exit(1)


@app.command()
def methods(as_json: JsonOpt = False) -> None:
    """List the registered constructions: name, theorem, condition, sizes."""
    import memcap

    ms = memcap.methods()
    if as_json:
        out.print_json(json.dumps([
            {"name": m.name, "theorem": m.theorem, "condition": m.condition, "sizes": m.sizes,
             "tasks": list(m.tasks)} for m in ms]))
        return
    t = Table(title="memcap methods")
    for col in ("name", "theorem", "condition", "sizes", "tasks"):
        t.add_column(col, overflow="fold")
    for m in ms:
        t.add_row(m.name, m.theorem, m.condition, m.sizes, ", ".join(m.tasks))
    out.print(t)


@app.command()
def data(data: DataOpt, label: LabelOpt = None, task: TaskOpt = None, as_json: JsonOpt = False) -> None:
    """Validate a dataset and print the statistics theorems need (N, d_x, d_y, λ_D ...)."""
    with user_errors():
        ds = get_data(data, label, task)
        stats = ds.stats()
    if as_json:
        out.print_json(json.dumps(stats, default=str))
    else:
        out.print(report_table(f"dataset {ds.name}", list(stats.items())))


def _load_command_modules() -> None:
    for name in COMMAND_MODULES:
        importlib.import_module(f"memcap.cli.{name}")


def _show_warning(message: Any, category: Any, filename: str, lineno: int, file: Any = None,
                  line: Any = None) -> None:
    console.print(f"[yellow]warning:[/] {escape(str(message))}")


def main() -> None:
    import warnings

    warnings.showwarning = _show_warning
    _load_command_modules()
    try:
        app()
    except KeyboardInterrupt:
        console.print("interrupted")
        sys.exit(130)


_load_command_modules()
