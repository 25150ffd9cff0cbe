"""The ``memcap`` command line: a thin face over the Python API.

Commands live here (construct, verify, methods, data) and in one module per command under
:mod:`memcap.cli`, registered explicitly at the end of this file (``COMMANDS``). Shared flags are
defined once in :mod:`memcap.cli._options`; the error boundary, strict JSON, progress, tables and the
door checks are in :mod:`memcap.cli._common`. Exit code 0 only when the answer is certified; 1 when it
is certified negative or undecided; 2 for bad input (one ``error:`` line, nothing written).
"""

from __future__ import annotations

import importlib
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _dist_version
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from memcap import meta as mk
from memcap.cli._common import (
    MemcapGroup,
    UsageFailure,
    cell,
    check_float,
    check_format,
    check_int,
    check_network_file,
    check_output_file,
    console,
    emit_json,
    out,
    parse_key_values,
    print_rows,
    print_table,
    progress,
    typed_options,
)
from memcap.cli._options import (
    ActivationOpt,
    DataOpt,
    ForceOpt,
    FormatOpt,
    JsonOpt,
    LabelOpt,
    MaxSecondsOpt,
    MethodOptional,
    NetworkArg,
    OptionOpt,
    OutputOpt,
    PrecisionOpt,
    QuietOpt,
    RayOpt,
    SeedOpt,
    TaskOpt,
    TolOpt,
    WidthsOpt,
    WorkersOpt,
)
from memcap.data import DataError, Dataset, load_dataset
from memcap.errors import MemcapError, OptionError

__all__ = ["app", "main", "COMMANDS", "console", "out", "fail", "user_errors", "get_data", "progress_status",
           "parse_widths", "parse_activation", "parse_method_options", "report_table", "verification_rows",
           "verification_json", "precision_rows", "DataOpt", "LabelOpt", "TaskOpt", "JsonOpt", "PrecisionOpt"]

app = typer.Typer(
    name="memcap",
    cls=MemcapGroup,
    help="Build networks with computed weights that provably memorize a dataset, and certify them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    rich_markup_mode=None,
)


def _version() -> str:
    try:
        return _dist_version("memcap")
    except PackageNotFoundError:  # running from a source tree without installing
        return "unknown (not installed)"


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"memcap {_version()}")
        raise typer.Exit(0)


@app.callback()
def _root(version: bool = typer.Option(False, "--version", help="Print memcap's version and exit.",
                                       callback=_version_callback, is_eager=True)) -> None:
    """Build networks with computed weights that provably memorize a dataset, and certify them.

    Every command takes -h. Bad input exits 2 with one error line and writes nothing; --json prints
    strict JSON (inf/NaN as null), errors included.
    """


class Failed(MemcapError):
    """A command ends with a message and an exit code (:func:`fail`)."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def fail(msg: str, code: int = 2) -> Failed:
    """An exception to raise: ``msg`` becomes the one error line, ``code`` the exit code."""
    return Failed(msg, code)


@contextmanager
def user_errors() -> Any:
    """Kept for command modules written against it: errors now propagate to the one error boundary
    (:class:`memcap.cli._common.MemcapGroup`), which prints one line and picks the exit code."""
    yield


def get_data(data: str, label: str | None, task: str | None) -> Dataset:
    if task not in (None, "regression", "classification"):
        raise DataError(f"--task must be regression or classification, got {task!r}")
    return load_dataset(data, label=label, task=task)  # type: ignore[arg-type]


def progress_status(enabled: bool = True) -> Any:
    """A spinner (terminal) or plain log lines on stderr (piped); yields a callback taking a message."""
    return progress(enabled)


def parse_widths(text: str | None) -> tuple[int, ...] | None:
    if text is None:
        return None
    parts = [w for w in text.replace(" ", "").split(",")]
    try:
        ws = tuple(int(w) for w in parts)
    except ValueError:
        raise UsageFailure(f"--widths must be comma-separated positive integers, e.g. 16,24; got {text!r}"
                           ) from None
    if not ws or any(w < 1 for w in ws):
        raise UsageFailure(f"--widths must be comma-separated positive integers, e.g. 16,24; got {text!r}")
    if any(w > 10**7 for w in ws):
        raise UsageFailure(f"--widths: a layer of more than 10^7 neurons is not buildable, got {text!r}")
    return ws


def parse_activation(text: str | None, flag: str = "--activation") -> Any:
    """Check an activation spec at the door (the library's parser; a malformed slope is refused here)."""
    if text is None:
        return None
    from memcap.network import Activation

    try:
        return Activation.parse(text)  # an OptionError / ValueError naming the accepted forms
    except OptionError:
        raise
    except (ValueError, ArithmeticError):  # Fraction's "Invalid literal", a zero denominator
        raise UsageFailure(f"{flag} {text!r}: a slope is not a finite decimal or fraction; use relu, "
                           "hardtanh, identity, tanh, softplus, leaky:SLOPE (e.g. leaky:0.1) or "
                           "relu_like:S_PLUS,S_MINUS (e.g. relu_like:1,1/8)") from None


_RESERVED = {"widths": "--widths", "activation": "--activation", "arithmetic": "--arithmetic",
             "seed": "--seed"}


def parse_method_options(method: str, items: list[str]) -> dict[str, Any]:
    """``--option KEY=VALUE`` items -> keyword options of ``method``'s construction: unknown keys
    refused (with the method's options listed), values typed and range-checked. Uses the method's
    declared options (``memcap.constructions.options.validate_options``) where it has them, else
    the construction's signature."""
    from memcap.constructions.registry import get_method

    m = get_method(method)
    given = parse_key_values(items)
    for key in given:
        if key in _RESERVED:
            raise UsageFailure(f"{method}: {key} has its own flag, use {_RESERVED[key]}")
    declared = getattr(m, "options", None)
    if declared:
        try:
            from memcap.constructions.options import validate_options
        except ImportError:  # pragma: no cover - declarations without the validator
            pass
        else:
            return validate_options(method, declared, given, exclude=tuple(_RESERVED))
    return typed_options(m.build, given, owner=method, reserved=_RESERVED)


def report_table(title: str, rows: list[tuple[str, Any]]) -> Table:
    t = Table(title=escape(title), show_header=False, title_justify="left")
    t.add_column("what", style="bold", overflow="fold")
    t.add_column("value", overflow="fold")
    for k, v in rows:
        t.add_row(escape(str(k)), _fmt(v))
    return t


def _fmt(v: Any) -> str:
    return escape(cell(v))


def precision_rows(pc: Any, attempts: list[Any]) -> list[tuple[str, Any]]:
    """Rows of a :class:`memcap.certify.precision.PrecisionCertificate` (and the methods passed over)."""
    rows: list[tuple[str, Any]] = [
        ("precision", pc.precision), ("certified", pc.certified), ("why", pc.reason)]
    if pc.task == "regression":
        rows += [("tolerance", pc.tolerance), ("worst-case |f - y| (certified ≤)", pc.worst_bound)]
    else:
        rows += [("smallest margin at this precision (certified ≥)", pc.worst_bound)]
    rows += [("rounding bound (any summation order)", pc.rounding_bound),
             ("measured error (numpy)" if pc.task == "regression" else "measured smallest margin (numpy)",
              pc.measured_error), ("significand bits needed", pc.bits_needed)]
    for a in attempts:
        if not a.certified:
            rows.append((f"passed over: {a.method} {a.options or ''}".strip(),
                         f"{a.parameters} parameters: {a.reason}"))
    return rows


def verification_rows(rep: Any, ds: Dataset | None = None) -> list[tuple[str, Any]]:
    """Rows of a verification report; with ``ds``, failing points are named by the user's row numbers
    (``ds.source_rows``, which survive merging duplicates) and classes by name."""
    rows: list[tuple[str, Any]] = [
        ("memorized", rep.memorized), ("certified", rep.certified),
        ("decided by", ", ".join(f"{k} {v}" for k, v in rep.tiers.items() if v)),
    ]
    if rep.task == "regression":
        rows += [("tolerance", rep.tolerance), ("worst error (certified ≤)", rep.worst_error)]
    else:
        rows += [("smallest margin (certified ≥)", rep.min_margin)]
    if rep.failing and ds is not None:
        first = [f"row {r}" + (f" ({ds.class_name(ds.labels[i])})" if ds.class_names else "")
                 for i, r in zip(rep.failing[:8], ds.row_names(rep.failing[:8]), strict=True)]
        rows.append(("failing points", f"{len(rep.failing)} (first: {', '.join(first)})"))
    elif rep.failing:
        rows.append(("failing points", f"{len(rep.failing)} (first: {rep.failing[:8]})"))
    if rep.undecided:
        rows.append(("undecided points", f"{len(rep.undecided)} (first: {rep.undecided[:8]})"))
    measured = "measured error" if rep.task == "regression" else "measured smallest margin"
    rows += [
        (f"float64: {measured}", rep.float64_error),
        ("float64: certified rounding bound", rep.float64_bound),
        ("float64 memorizes (any summation order)", rep.float64_memorizes),
        (f"float32: {measured}", rep.float32_error),
        ("float32: certified rounding bound", rep.float32_bound),
        ("float32 memorizes: measured / certified",
         f"{cell(rep.float32_measured_memorizes)} / {cell(rep.float32_memorizes)}"),
        ("mantissa bits needed", rep.bits_needed),
        ("verification seconds", rep.seconds),
    ]
    return rows


def verification_json(rep: Any) -> dict[str, Any]:
    """A verification report as JSON with the full failing / undecided lists and their counts."""
    d = rep.to_json()
    d["failing"] = [int(i) for i in rep.failing]
    d["undecided"] = [int(i) for i in rep.undecided]
    d["failing_count"] = len(rep.failing)
    d["undecided_count"] = len(rep.undecided)
    return d


_PRECISIONS = ("float32", "float64", "exact")
_ARITHMETIC = ("auto", "float64", "exact")


def engine_kwargs(max_seconds: float | None, workers: int | None, ray: str | None) -> dict[str, Any]:
    """--max-seconds / --workers / --ray checked at the door, as memcap.construct / memcap.verify
    keywords (``ray``: None, True for a local instance, or a cluster address)."""
    from memcap.cli._options import RAY_LOCAL

    check_float(max_seconds, "--max-seconds", lo=0.0, lo_open=True)
    check_int(workers, "--workers", lo=1, hi=1024)
    return {"max_seconds": max_seconds, "workers": workers,
            "ray": None if ray is None else (True if ray == RAY_LOCAL else ray)}


def check_precision(precision: str | None) -> str | None:
    if precision is not None and precision not in _PRECISIONS:
        raise UsageFailure(f"--precision must be one of {', '.join(_PRECISIONS)}, got {precision!r}")
    return precision


def check_tol(tol: float | None) -> float | None:
    return check_float(tol, "--tol", lo=0.0)


def check_seed(seed: int) -> int:
    return check_int(seed, "--seed", lo=0, hi=2**63 - 1)  # type: ignore[return-value]


# ---- commands -----------------------------------------------------------------------------------
@app.command()
def construct(
    data: DataOpt,
    output: OutputOpt,
    method: MethodOptional = None,
    activation: ActivationOpt = None,
    widths: WidthsOpt = None,
    arithmetic: Annotated[str, typer.Option(
        help="auto (float64, escalating to exact if certification fails), float64 or exact.")] = "auto",
    tol: TolOpt = None,
    seed: SeedOpt = 0,
    option: OptionOpt = None,
    budget: Annotated[float | None, typer.Option(
        help="Robust methods (yu-robust): radius as a fraction of λ_D/2, in (0, 1), e.g. 0.45.")] = None,
    radius: Annotated[float | None, typer.Option(
        "--radius", "-r", help="Robust methods (yu-robust): absolute robustness radius (must be < λ_D/2).")
    ] = None,
    norm: Annotated[str | None, typer.Option(
        help="Robust methods (yu-robust): the ball's norm, inf (default), 1, 2 or an integer p.")] = None,
    label: LabelOpt = None,
    task: TaskOpt = None,
    as_json: JsonOpt = False,
    precision: PrecisionOpt = None,
    max_seconds: MaxSecondsOpt = None,
    workers: WorkersOpt = None,
    ray: RayOpt = None,
    force: ForceOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Build a network that memorizes the data, certify it, and save it (only if certified).
    --method defaults to yun-3layer, or with --precision to the smallest method certified there."""
    import memcap

    pcert, attempts = None, []
    # the door: every argument and path is checked before the data are loaded or anything is built
    check_output_file(output, force)
    check_tol(tol)
    check_seed(seed)
    check_precision(precision)
    if arithmetic not in _ARITHMETIC:
        raise UsageFailure(f"--arithmetic must be one of {', '.join(_ARITHMETIC)}, got {arithmetic!r}")
    check_float(budget, "--budget", lo=0.0, lo_open=True, hi=1.0, hi_open=True)
    check_float(radius, "--radius", lo=0.0, lo_open=True)
    parse_activation(activation)
    engine = engine_kwargs(max_seconds, workers, ray)
    opts: dict[str, Any] = {"seed": seed}
    if activation is not None:
        opts["activation"] = activation
    if method is None:
        precision = precision or "float32"  # the default: what PyTorch / onnxruntime run
    if widths is not None:
        if method is None:
            raise UsageFailure("--widths belongs to one method: also give --method")
        opts["widths"] = parse_widths(widths)
    robust_flags = (("budget", budget), ("radius", radius), ("norm", norm))
    option = list(option or []) + [f"{k}={v}" for k, v in robust_flags if v is not None]
    if method is not None:
        opts.update(parse_method_options(method, option))
    elif option:
        raise UsageFailure("--option belongs to one method: also give --method")
    ds = get_data(data, label, task)
    with progress_status() as say:
        if precision is None:
            c = memcap.construct(ds, method, arithmetic=arithmetic, tol=tol, progress=say, **engine,
                                 **opts)
        else:
            from memcap.select import choose_method

            if engine["max_seconds"] is not None:
                opts["max_seconds"] = engine["max_seconds"]  # the adaptive candidate's search budget
            c, pcert, attempts = choose_method(
                ds, precision, tol=tol, methods=None if method is None else [method],
                progress=say, **opts)
            method = c.certificate.method
    c.network.meta[mk.DATA] = data
    memcap.save(c.network, output)
    rep = c.verification
    floors = memcap.api.lower_bounds(c.network, ds, c.info)
    if as_json:
        emit_json({
            "output": str(output), "method": method, "counts": c.network.counts(),
            "certificate": c.certificate.to_json(), "verification": verification_json(rep),
            "info": {k: v for k, v in c.info.items() if k != "u"},
            "floors": {k: v for k, v in floors.items() if k != "lines"},
            **({"precision": pcert.to_json(), "attempts": [
                {"method": a.method, "options": a.options, "parameters": a.parameters,
                 "certified": a.certified, "reason": a.reason} for a in attempts]}
               if pcert is not None else {}),
        })
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
    out.print(report_table("lower bounds: parameters any memorizer of N points needs",
                           [("floor", line) for line in floors["lines"]]))
    if pcert is not None:
        out.print(report_table(f"certified at precision {pcert.precision}", precision_rows(pcert, attempts)))
    elif not rep.float32_memorizes:
        where = "float64 and exact arithmetic" if rep.float64_memorizes else "exact arithmetic"
        out.print(f"[yellow]note:[/] {escape(str(method))}'s network is certified to memorize only in "
                  f"{where} of its stored weights, not when evaluated in float32 (PyTorch / onnxruntime "
                  "default); "
                  "omit --method for the smallest network certified in float32")
    out.print(f"[green]saved[/] {escape(str(output))}")


@app.command()
def verify(
    network: NetworkArg,
    data: DataOpt,
    tol: TolOpt = None,
    label: LabelOpt = None,
    task: TaskOpt = None,
    as_json: JsonOpt = False,
    precision: PrecisionOpt = None,
    quiet: QuietOpt = False,
    max_seconds: MaxSecondsOpt = None,
    workers: WorkersOpt = None,
    ray: RayOpt = None,
) -> None:
    """Certify that a saved network memorizes the data (exit 0 only if certified; with
    --precision, only if certified when evaluated at that precision)."""
    import memcap

    check_network_file(network)
    check_tol(tol)
    check_precision(precision)
    pcert = None
    engine = engine_kwargs(max_seconds, workers, ray)
    net = memcap.load(network)
    ds = get_data(data, label, task)
    if ds.d_x != net.in_dim:
        raise DataError(f"{network} takes {net.in_dim} inputs but {data} has d_x = {ds.d_x}")
    with progress_status() as say:
        if precision is None:
            rep = memcap.verify(net, ds, tol=tol, progress=say, **engine)
        else:
            from memcap.certify.precision import certify_precision, precision_tolerance

            rep = memcap.verify(net, ds, tol=precision_tolerance(ds, precision, tol), progress=say,
                                **engine)
            pcert = certify_precision(net, ds, precision, tol=tol, report=rep)
    names = net.meta.get(mk.CLASS_NAMES)
    if names and ds.class_names and list(names) != list(ds.class_names):
        console.print(f"[yellow]warning:[/] the network's outputs are the classes {names}, the data's "
                      f"classes are {ds.class_names}")
    if as_json:
        d = verification_json(rep)
        d["failing_rows"] = ds.row_names(rep.failing[:50])
        if names or ds.class_names:
            d["class_names"] = names or ds.class_names
        if pcert is not None:
            d["precision"] = pcert.to_json()
        emit_json(d)
    else:
        rows = verification_rows(rep, ds)
        if names or ds.class_names:
            rows.insert(0, ("classes (output order)", ", ".join(names or ds.class_names or [])))
        out.print(report_table(f"verify {network} on {ds.name} (N={ds.N})", rows))
        if pcert is not None:
            out.print(report_table(f"certified at precision {pcert.precision}", precision_rows(pcert, [])))
    if not (rep.memorized and rep.certified) or (pcert is not None and not pcert.certified):
        raise typer.Exit(1)


@app.command()
def methods(
    name: Annotated[str | None, typer.Argument(help="A method: list its options (name, type, range, "
                                                    "default, help).")] = None,
    as_json: JsonOpt = False, fmt: FormatOpt = "table",
) -> None:
    """List the registered constructions (name, theorem, condition, sizes), or one method's options."""
    import memcap

    fmt = check_format(fmt)
    if name is not None:
        from memcap.constructions.options import option_table
        from memcap.constructions.registry import get_method

        m = get_method(name)
        rows = option_table(m.options)
        if as_json:
            emit_json({"name": m.name, "theorem": m.theorem, "condition": m.condition,
                       "sizes": m.sizes, "tasks": list(m.tasks), "options": rows})
            return
        print_rows(f"{m.name}: {m.theorem}", [
            ("condition", m.condition), ("sizes", m.sizes), ("tasks", ", ".join(m.tasks))], fmt)
        print_table(f"{m.name} options (memcap construct --option KEY=VALUE; widths, activation, seed: "
                    "their own flags)", ["option", "type / range", "default", "help"],
                    [(r["name"], r["type"], repr(r["default"]), r["help"]) for r in rows], fmt)
        return
    ms = memcap.methods()
    if as_json:
        emit_json([{"name": m.name, "theorem": m.theorem, "condition": m.condition, "sizes": m.sizes,
                    "tasks": list(m.tasks), "options": [o.name for o in m.options]} for m in ms])
        return
    print_table("memcap methods (memcap methods NAME: its options)",
                ["name", "theorem", "condition", "sizes", "tasks"],
                [(m.name, m.theorem, m.condition, m.sizes, ", ".join(m.tasks)) for m in ms], fmt)


@app.command()
def data(data: DataOpt, label: LabelOpt = None, task: TaskOpt = None, as_json: JsonOpt = False,
         fmt: FormatOpt = "table", quiet: QuietOpt = False) -> None:
    """Validate a dataset and print the statistics theorems need (N, d_x, d_y, λ_D ...)."""
    fmt = check_format(fmt)
    ds = get_data(data, label, task)
    stats = ds.stats()
    if as_json:
        emit_json(stats)
    else:
        print_rows(f"dataset {ds.name}", list(stats.items()), fmt)


# ---- registration (explicit: one line per command module) ------------------------------------------
#: (module under memcap.cli, function name) of the commands defined outside this file
COMMANDS: list[tuple[str, str]] = [
    ("info", "info"), ("bounds", "bounds"), ("experiment", "experiment"), ("train", "train"),
    ("robust", "robust"), ("export", "export"), ("advise", "advise"), ("lipschitz", "lipschitz"),
    ("benchmark", "benchmark"), ("score", "score"),
]
#: kept for code that extends the command list by module name (the function has the module's name)
COMMAND_MODULES: list[str] = [m for m, _ in COMMANDS]


def _register_commands() -> None:
    registered = {c.callback for c in app.registered_commands}
    for mod, fn in COMMANDS:
        f = getattr(importlib.import_module(f"memcap.cli.{mod}"), fn)
        if f not in registered:
            app.command(name=fn.replace("_", "-"))(f)
            registered.add(f)


def main() -> None:
    _register_commands()
    app()


_register_commands()
