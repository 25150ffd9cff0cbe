"""``memcap train``: train a narrow 1-hidden-layer net (Zhang et al. 2021 regime or the regular baseline),
certify what it memorizes, and save it."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from memcap import meta as mk
from memcap.cli._common import (
    STATE,
    UsageFailure,
    check_float,
    check_int,
    check_output_file,
    console,
    emit_json,
)
from memcap.cli._options import (
    DataOpt,
    ForceOpt,
    JsonOpt,
    LabelOpt,
    OutputOpt,
    QuietOpt,
    SeedOpt,
    TaskOpt,
    TolOpt,
)
from memcap.cli.app import get_data, out, report_table, user_errors, verification_json, verification_rows
from memcap.train import zhang21 as Z


def _parse_eps(text: str) -> float | None | str:
    t = text.strip().lower()
    if t == "default":
        return "default"
    if t in ("inf", "none", "unconstrained"):
        return None
    try:
        val = float(t)
    except ValueError:
        raise UsageFailure(f"--eps must be a positive number, 'inf' or 'default', got {text!r}") from None
    if not val > 0:
        raise UsageFailure(f"--eps must be > 0 (or 'inf' for unconstrained), got {text!r}")
    return None if math.isinf(val) else val


def train(
    data: DataOpt,
    width: Annotated[int, typer.Option("--width", help="Hidden width m, an integer ≥ 1 (even for zhang21).",
                                       show_default=False)],
    output: OutputOpt,
    regime: Annotated[str, typer.Option(help="zhang21 (mirrored init, pairwise v, projected GD) or "
                                             "regular (baseline).")] = "zhang21",
    activation: Annotated[str, typer.Option(help="tanh (theory), softplus (theory) or relu.")] = "tanh",
    steps: Annotated[int, typer.Option(help="Optimizer steps (full-batch iterations by default).")] = 3000,
    eps: Annotated[str, typer.Option(help="Radius of B_eps(w^0): a number, 'inf', or 'default' "
                                          f"({Z.EPS:g} for zhang21, inf for regular).")] = "default",
    lr_w: Annotated[float, typer.Option(help="Hidden-layer step size (the paper's lr_1).")] = Z.LR_W,
    lr_v: Annotated[float, typer.Option(help="Output-layer step size (lr_2).")] = Z.LR_V,
    momentum: Annotated[float, typer.Option(help="Heavy-ball momentum (0 = Algorithm 2's plain PGD).")
                        ] = Z.MOMENTUM,
    optimizer: Annotated[str, typer.Option(help="sgd (with momentum) or adam.")] = "sgd",
    loss: Annotated[str | None, typer.Option(help="mse (default, regression), half_sum (eq. 2) or "
                                                  "cross_entropy (default, classification).")] = None,
    v_projection: Annotated[str, typer.Option(help="exact (project v onto B_zeta,kappa; the theory) or "
                                                   "off (as the paper's experiments ran).")] = "exact",
    zeta: Annotated[float, typer.Option(help="B_zeta,kappa: v >= zeta.")] = Z.ZETA,
    kappa: Annotated[float, typer.Option(help="B_zeta,kappa: v_j/v_j' <= kappa.")] = Z.KAPPA,
    init: Annotated[str, typer.Option(help="lecun_normal (the paper's text) or torch_default (its code)."
                                      )] = "lecun_normal",
    batch_size: Annotated[int | None, typer.Option(help="Mini-batch size (default: full batch).")] = None,
    seed: SeedOpt = 0,
    checkpoint: Annotated[Path | None, typer.Option(
        help="Checkpoint file (.npz): resumed from when present, rewritten every --checkpoint-every steps."
    )] = None,
    checkpoint_every: Annotated[int, typer.Option(help="Steps between checkpoints.")] = 1000,
    tol: TolOpt = None,
    keep: Annotated[bool, typer.Option(
        "--keep", help="Save the network even when it is not a certified memorizer (meta records it).")
    ] = False,
    label: LabelOpt = None,
    task: TaskOpt = None,
    as_json: JsonOpt = False,
    force: ForceOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Train, certify with memcap's verifier, and save (only a certified memorizer unless --keep)."""
    import memcap
    from memcap.train.certified import train_certified

    with user_errors():
        check_output_file(output, force)
        if checkpoint is not None and str(checkpoint) and Path(checkpoint).is_file():
            pass  # an existing checkpoint is resumed from, and rewritten
        else:
            check_output_file(checkpoint, True, "--checkpoint")
        check_int(width, "--width", lo=1, hi=10**7)
        check_int(steps, "--steps", lo=1)
        check_int(batch_size, "--batch-size", lo=1)
        check_int(checkpoint_every, "--checkpoint-every", lo=1)
        check_int(seed, "--seed", lo=0, hi=2**63 - 1)
        check_float(tol, "--tol", lo=0.0)
        for flag, v in (("--lr-w", lr_w), ("--lr-v", lr_v), ("--zeta", zeta), ("--kappa", kappa)):
            check_float(v, flag, lo=0.0, lo_open=True)
        check_float(momentum, "--momentum", lo=0.0, hi=1.0, hi_open=True)
        eps_v = _parse_eps(eps)
        ds = get_data(data, label, task)
        kw: dict[str, Any] = dict(activation=activation, steps=steps, eps=eps_v, lr_w=lr_w, lr_v=lr_v,
                                  momentum=momentum, optimizer=optimizer, loss=loss, zeta=zeta, kappa=kappa,
                                  v_projection=v_projection, init=init, batch_size=batch_size, seed=seed,
                                  checkpoint=checkpoint, checkpoint_every=checkpoint_every)
        if as_json or STATE.quiet or not console.is_terminal:
            res, rep = train_certified(ds, width, regime, tol=tol, **kw)
        else:
            from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

            with Progress(TextColumn("training"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                          TextColumn("loss {task.fields[loss]}"), TimeRemainingColumn(),
                          console=console) as bar:
                tid = bar.add_task("train", total=steps, loss="—")

                def cb(step: int, total: int, lossv: float) -> None:
                    if step % 10 == 0 or step == total - 1:
                        bar.update(tid, completed=step + 1, loss=f"{lossv:.3e}")

                res, rep = train_certified(ds, width, regime, tol=tol, progress=cb, **kw)
        net = res.network
        net.meta[mk.MEMORIZES] = bool(rep.memorized and rep.certified)
        net.meta[mk.DATA] = data
        memorizes = rep.memorized and rep.certified
        if memorizes or keep:
            memcap.save(net, output)
    info = res.info
    if as_json:
        emit_json({"output": str(output) if (memorizes or keep) else None, "info": info,
                   "history": res.history, "runs": res.runs, "verification": verification_json(rep)})
    else:
        wc = info["width_condition"]
        rows: list[tuple[str, Any]] = [
            ("data", f"{ds.name}: n={ds.N}, d={ds.d_x}, outputs={ds.d_y}, task={ds.task}"),
            ("regime", info["regime"]), ("activation", info["activation"]),
            ("width m (theory asks m ≥ 2n/d)",
             f"{info['width']} (2n/d = {wc['2n/d']:.4g}; {'holds' if wc['holds'] else 'FAILS'}; "
             f"{'narrow: m < n' if wc['narrow'] else 'not narrow: m ≥ n'})"),
            ("eps (radius of B_eps(w^0))", "∞ (unconstrained)" if info["eps"] is None else info["eps"]),
            ("||W - W0||_F", info["w_move"]),
            ("lr_w / lr_v / momentum", f"{info['lr_w']:g} / {info['lr_v']:g} / {info['momentum']:g}"),
            ("steps (resumed from)", f"{info['steps']} ({info['resumed_from'] or '—'})"),
            ("final training loss", info["final_loss"]),
        ]
        if "rel_error" in info:
            rows.append(("relative error MSE/mean(y²)", info["rel_error"]))
        if "train_accuracy" in info:
            rows.append(("training accuracy", info["train_accuracy"]))
        rows += [("s_min(J) at the end", info["s_min_J"]), ("iterate feasible for (7)", info["feasible"]),
                 ("steps per second", info["steps_per_second"]), ("seconds", info["seconds"])]
        out.print(report_table(f"memcap train --regime {regime}", rows))
        out.print(report_table("certified verification of the trained network", verification_rows(rep)))
        if memorizes or keep:
            out.print(f"[green]saved[/] {escape(str(output))}"
                      + ("" if memorizes else " (not a certified memorizer)"))
    if not memorizes:
        console.print("[yellow]the trained network is not a certified memorizer of the data[/]"
                      + ("" if keep else "; nothing was written (pass --keep to save it anyway)"))
        raise typer.Exit(1)
