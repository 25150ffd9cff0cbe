"""``memcap robust``: is every point classified correctly on its whole ball? Three tiers, separately."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from memcap.certify.robust import TIERS, RobustReport, ball_norm, verify_robust
from memcap.certify.robust.files import save_counterexamples
from memcap.cli._common import (
    UsageFailure,
    check_float,
    check_int,
    check_network_file,
    check_output_dir,
    emit_json,
    print_table,
)
from memcap.cli._options import (
    DataOpt,
    ForceOpt,
    JsonOpt,
    LabelOpt,
    NetworkArg,
    NormOpt,
    QuietOpt,
    RadiusOpt,
    SeedOpt,
)
from memcap.cli.app import _fmt, console, get_data, out, progress_status, user_errors


def _parse_tiers(text: str) -> tuple[str, ...]:
    tiers = tuple(t.strip().lower() for t in text.split(",") if t.strip())
    bad = [t for t in tiers if t not in TIERS]
    if bad or not tiers:
        raise UsageFailure(f"--tiers must be a comma-separated subset of {','.join(TIERS)}, got {text!r}")
    return tiers


def _print_tier_table(rep: RobustReport) -> None:
    print_table("tiers (each reported on the points it examined)",
                ("tier", "examined", "proven", "refuted", "undecided", "by", "s/point", "notes"),
                [(tr.name, tr.examined, tr.proven, tr.refuted, tr.undecided,
                  ", ".join(f"{k} {v}" for k, v in tr.by_method.items()), tr.seconds_per_point,
                  "; ".join(tr.notes)) for tr in rep.tiers.values()])


def robust(
    network: NetworkArg,
    data: DataOpt,
    radius: RadiusOpt,
    norm: NormOpt = "inf",
    tiers: Annotated[str, typer.Option(help="Comma-separated tiers to run: attack,bounds,milp.")
                     ] = "attack,bounds,milp",
    time_limit: Annotated[float, typer.Option(help="MILP time limit per point, seconds.")] = 10.0,
    milp_max_points: Annotated[int | None, typer.Option(
        help="Run the MILP on at most this many open points (the rest stay unknown).")] = None,
    all_tiers: Annotated[bool, typer.Option(
        "--all-tiers", help="Run every tier on every point (default: a tier sees only points the "
                            "earlier tiers left open).")] = False,
    counterexamples: Annotated[Path | None, typer.Option(
        help="Folder to write one JSON file per counterexample found (created if missing).")] = None,
    label: LabelOpt = None,
    seed: SeedOpt = 0,
    as_json: JsonOpt = False,
    force: ForceOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Robust accuracy: prove (sound bounds, exact MILP) or refute (attack, MILP) robustness of every
    point on its Lp ball. Exit 0 only when every point is proven robust.

    Long: the command's flags are checked one by one at the door before any work.
    """
    import memcap

    with user_errors():
        check_float(radius, "--radius", lo=0.0, lo_open=True)
        p = ball_norm(norm)
        tier_t = _parse_tiers(tiers)
        check_int(milp_max_points, "--milp-max-points", lo=0)
        check_float(time_limit, "--time-limit", lo=0.0, lo_open=True)
        check_int(seed, "--seed", lo=0, hi=2**63 - 1)
        check_network_file(network)
        check_output_dir(counterexamples, "--counterexamples", force=force,
                         clobbers=("counterexample_*.json",))
        net = memcap.load(network)
        ds = get_data(data, label, None)
        if ds.task != "classification":
            raise ValueError(f"{data} is {ds.task} data; robust memorization is defined for class "
                             "labels (use a classification dataset, e.g. builtin:iris)")
        with progress_status(not as_json) as say:
            rep = verify_robust(net, ds, radius, p, tiers=tier_t, time_limit=time_limit,
                                cascade=not all_tiers, seed=seed, milp_max_points=milp_max_points,
                                progress=say)
    written = (save_counterexamples(rep, counterexamples, ds) if counterexamples and rep.counterexamples
               else [])
    if as_json:
        d = rep.to_json()
        d["refuted_points"] = sorted(int(i) for i in rep.counterexamples)
        d["unknown_points"] = [i for i, s in enumerate(rep.status) if s == "unknown"]
        d["refuted_count"], d["unknown_count"] = len(d["refuted_points"]), len(d["unknown_points"])
        d["counterexample_files"] = [str(w) for w in written]
        emit_json(d)
    else:
        out.print(_summary(rep, network, ds.name))
        _print_tier_table(rep)
        for i, ce in list(sorted(rep.counterexamples.items()))[:5]:
            zs = ", ".join(f"{v:.8g}" for v in ce.z[:8])
            out.print(f"counterexample at point {i} (data row {int(ds.source_rows[i])}, by "
                      f"{ce.found_by}): z = [{zs}"
                      f"{', …' if len(ce.z) > 8 else ''}] is classified {ce.predicted}, label {ce.label} "
                      f"(margin {ce.margin:.3g})", markup=False)
        if written:
            out.print(f"[green]wrote[/] {len(written)} counterexample file(s) to "
                      f"{escape(str(counterexamples))}")
    for n in rep.notes:
        console.print(f"[yellow]note:[/] {escape(n)}")
    if rep.inconsistent:
        console.print(f"[bold red]BUG in the verifier:[/] points {rep.inconsistent[:10]} proven and refuted")
    if rep.promise_broken:
        pr = rep.promised
        head = (f"the network's certificate promises robustness at radius {pr['radius']:.6g} "
                f"(L{pr['norm']}) but at radius {rep.radius:.6g} only {rep.proven}/{rep.N} points are proven")
        if rep.refuted:
            console.print(f"[bold red]BUG:[/] {head}; {rep.refuted} refuted (counterexamples at points "
                          f"{sorted(rep.counterexamples)[:10]}), {rep.unknown} unknown. The construction "
                          "broke its promise: please report this network.")
        else:
            console.print(f"[bold yellow]promise not verified (no counterexample):[/] {head}; "
                          f"{rep.unknown} unknown, none refuted. Raise --time-limit / --milp-max-points "
                          "to decide them.")
    if not rep.all_proven or rep.inconsistent:
        raise typer.Exit(1)


def _summary(rep: RobustReport, network: Path, name: str) -> Table:
    from memcap.cli.app import report_table

    lam = rep.separation
    rows = [
        ("ball", f"L{rep.norm}, radius {rep.radius:.6g} = {rep.radius / (lam / 2):.4g}·λ_D/2 "
                 f"(λ_D = {lam:.6g} in L{rep.norm})"),
        ("robust accuracy (proven, certified lower bound)", f"{rep.robust_accuracy:.4f} "
                                                            f"({rep.proven}/{rep.N})"),
        ("upper bound (1 - refuted/N)", f"{rep.robust_accuracy_upper:.4f} ({rep.refuted} refuted)"),
        ("unknown", rep.unknown),
        ("promised by the certificate", "—" if not rep.promised else
         f"radius {rep.promised['radius']:.6g} (L{rep.promised['norm']}); covers this radius: "
         f"{_fmt(rep.covered_by_promise)}"),
        ("seconds", rep.seconds),
    ]
    return report_table(f"robust {network} on {name} (N={rep.N})", rows)
