"""``memcap bounds``: what each theorem says about an architecture and N (or a dataset)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from memcap.bounds import Architecture, evaluate
from memcap.cli.app import _fmt, app, get_data, out, parse_widths, user_errors
from memcap.data import DataError
from memcap.network import as_activation


@app.command()
def bounds(
    widths: Annotated[str, typer.Option(help="Hidden widths, comma-separated, e.g. 64,64.")],
    n: Annotated[int | None, typer.Option("--n", "-n", help="Number of points N.")] = None,
    data: Annotated[str | None, typer.Option("--data", "-d", help="Dataset (sets N, d_x, d_y).")] = None,
    d_x: Annotated[int, typer.Option(help="Input dimension (without --data).")] = 1,
    d_y: Annotated[int, typer.Option(help="Output dimension (without --data).")] = 1,
    activation: Annotated[str, typer.Option(help="relu, hardtanh, leaky:SLOPE, ...")] = "relu",
    residual: Annotated[bool, typer.Option(help="Residual hidden layers (ResNet).")] = False,
    label: Annotated[str | None, typer.Option(help="CSV label column.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    delta: Annotated[str | None, typer.Option(help="Δ-separation ratio (Park et al. 2021 Thm 3), "
                                              "e.g. 100 or 1827/256.")] = None,
    classes: Annotated[int | None, typer.Option(help="Number of classes C (without --data).")] = None,
    budget: Annotated[float | None, typer.Option(help="Robust radius as a fraction of λ_D/2, in (0, 1) "
                                                 "(Yu et al. 2024 rows).")] = None,
) -> None:
    """Which theorems guarantee (sufficient) or rule out (necessary) memorizing N points."""
    with user_errors():
        ds = get_data(data, label, None) if data else None
        if ds is None and n is None:
            raise DataError("give --n N or --data SRC")
        N = ds.N if ds is not None else int(n)  # type: ignore[arg-type]
        ws = parse_widths(widths) or ()
        arch = Architecture(ds.d_x if ds else d_x, ds.d_y if ds else d_y, tuple(ws),
                            as_activation(activation), residual)
        opts = {k: v for k, v in {"delta": delta, "classes": classes, "budget": budget}.items()
                if v is not None}
        rows = evaluate(arch, N, ds, **opts)
    if as_json:
        out.print_json(json.dumps([r.__dict__ for r in rows], default=str))
        return
    t = Table(title=f"bounds for widths {list(ws)}, N={N}, d_x={arch.d_x}, d_y={arch.d_y}, "
                    f"{arch.activation.name}{' residual' if residual else ''}")
    for col in ("source", "kind", "verdict", "condition", "numbers", "detail"):
        t.add_column(col, overflow="fold")
    for r in rows:
        verdict = {True: "holds", False: "fails", None: "—"}[r.holds]
        t.add_row(_fmt(r.source), r.kind, verdict, _fmt(r.statement),
                  _fmt(", ".join(f"{k}={v}" for k, v in r.values.items())), _fmt(r.detail))
    out.print(t)
