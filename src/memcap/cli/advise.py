"""``memcap advise``: rank the registered constructions for a dataset, sizes and bounds side by side."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from memcap.cli._common import (
    UsageFailure,
    check_float,
    check_format,
    check_int,
    check_output_file,
    console,
    emit_json,
    print_table,
)
from memcap.cli._options import DataOpt, ForceOpt, FormatOpt, JsonOpt, LabelOpt, QuietOpt, TaskOpt
from memcap.cli.app import _fmt, get_data, out, progress_status, report_table, user_errors


def _short(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def advise(
    data: DataOpt,
    budget_params: Annotated[int | None, typer.Option(
        "--budget-params", help="Parameter budget: methods above it rank last.")] = None,
    build: Annotated[bool, typer.Option(
        help="Build and certify each method to measure the precision bits it needs.")] = True,
    max_build_n: Annotated[int, typer.Option(help="Build only when N is at most this.")] = 2000,
    time_budget: Annotated[float, typer.Option(
        "--time-budget", help="Seconds for building and certifying: methods are built cheapest first "
        "and one whose estimated cost (from its size formula) exceeds the time left is skipped.")] = 60.0,
    plot: Annotated[Path | None, typer.Option(
        "--plot", help="Write a PNG of parameters vs N for every method against Theorem 3.3 (must not "
        "exist unless --force).")] = None,
    label: LabelOpt = None,
    task: TaskOpt = None,
    as_json: JsonOpt = False,
    fmt: FormatOpt = "table",
    force: ForceOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Which construction fits this data best: applicable methods ranked by parameters, with hidden
    neurons, depth, precision bits, each theorem's condition and Theorem 3.3's floor.

    Long: the command's flags are checked one by one at the door before any work.
    """
    from memcap.advise import advise as run_advise
    from memcap.advise import plot_sizes

    with user_errors():
        fmt = check_format(fmt)
        check_int(budget_params, "--budget-params", lo=1)
        check_int(max_build_n, "--max-build-n", lo=0)
        check_float(time_budget, "--time-budget", lo=0.0)
        if plot is not None and plot.suffix.lower() != ".png":
            raise UsageFailure(f"--plot writes a PNG file; give a name ending in .png, got {str(plot)!r}")
        check_output_file(plot, force, "--plot")
        ds = get_data(data, label, task)
        with progress_status(not as_json) as say:
            say(f"checking conditions and building each method (time budget {time_budget:g} s)")
            rep = run_advise(ds, budget_params=budget_params, build=build, max_build_n=max_build_n,
                             time_budget=time_budget, progress=say)
            plotted = None
            if plot is not None:
                say("computing size curves for the plot")
                plotted = plot_sizes(str(plot), ds.d_x, ds.d_y, ds.task, N_data=ds.N)
    if as_json:
        d = rep.to_json()
        if plotted:
            d["plot"] = plotted["path"]
        emit_json(d)
        if rep.best() is None:
            raise typer.Exit(1)
        return
    c = rep.conditions
    out.print(report_table(f"data {ds.name}: N={ds.N}, d_x={ds.d_x}, d_y={ds.d_y}, {ds.task}", [
        ("general position (Assumption 4.1)", c["general_position_detail"]),
        ("separation λ_D (L2 / L∞)", f"{_fmt(c['lambda_D_l2'])} / {_fmt(c['lambda_D_linf'])}"),
        ("min distance (L2)", c["min_distance_l2"]),
        ("d_x ≥ d_y", c["d_x>=d_y"]),
        ("parameter budget", budget_params),
        ("time budget for building (s)", f"{rep.time_budget:g} ({rep.seconds_spent:.3g} spent)"
         if rep.time_budget is not None else None),
    ]))
    cols = ("#", "method", "ok", "depth", "widths", "neurons", "params", "bits", "certified",
            "Thm 3.3 floor", "note")
    body, conds = [], []
    for i, r in enumerate(rep.rows, 1):
        ok = "yes" if r.applicable and r.within_budget is not False else (
            "over budget" if r.applicable else "no")
        widths = "" if r.widths is None else (
            ",".join(map(str, r.widths)) if len(r.widths) <= 6 else f"{len(r.widths)} layers")
        body.append((i, r.method, ok, r.depth, widths, r.hidden_neurons, r.parameters, r.bits_needed,
                     r.certified, r.floor, _short(r.reason, 160)))
        conds.append((r.method, r.theorem, r.condition))
    print_table("methods, best first", cols, body, fmt)
    print_table("each method's theorem and sufficient condition", ("method", "theorem", "condition"),
                conds, fmt)
    best = rep.best()
    if best is not None:
        out.print(f"[green]best:[/] {best.method} — {best.parameters} parameters, {best.hidden_neurons} "
                  f"hidden neurons, depth {best.depth}"
                  + (f", {best.bits_needed} mantissa bits" if best.bits_needed else ""))
    skipped = [r.method for r in rep.rows if r.reason.startswith(("not built: estimated", "not finished"))]
    if skipped:
        out.print(f"[yellow]not built within the {rep.time_budget:g} s time budget[/] (estimated cost too "
                  f"high, or stopped at the limit; sizes from the formula): {', '.join(skipped)} — raise "
                  "--time-budget to build them")
    if plotted:
        out.print(f"[green]plot written[/] {escape(str(plotted['path']))}")
    if best is None:
        console.print("[yellow]no registered method applies within the budget[/]")
        raise typer.Exit(1)
