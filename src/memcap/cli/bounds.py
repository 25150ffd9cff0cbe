"""``memcap bounds``: what each theorem says about an architecture and N (or a dataset)."""

from __future__ import annotations

from typing import Annotated

import typer

from memcap.cli._common import UsageFailure, check_float, check_format, check_int, emit_json, print_table
from memcap.cli._options import DataOptional, FormatOpt, JsonOpt, LabelOpt, WidthsRequired
from memcap.cli.app import get_data, parse_activation, parse_widths

#: the largest N (and d_x, d_y, C) the bound formulas are evaluated for: integers exact in float64
MAX_COUNT = 2**53


def bounds(
    widths: WidthsRequired,
    n: Annotated[int | None, typer.Option("--n", "-n", help="Number of points N, 1 ≤ N ≤ 2^53.")] = None,
    data: DataOptional = None,
    d_x: Annotated[int, typer.Option(help="Input dimension (without --data).")] = 1,
    d_y: Annotated[int, typer.Option(help="Output dimension (without --data).")] = 1,
    activation: Annotated[str, typer.Option(help="relu, hardtanh, leaky:SLOPE, ...")] = "relu",
    residual: Annotated[bool, typer.Option(help="Residual hidden layers (ResNet).")] = False,
    label: LabelOpt = None,
    as_json: JsonOpt = False,
    delta: Annotated[str | None, typer.Option(help="Δ-separation ratio (Park et al. 2021 Thm 3), "
                                              "e.g. 100 or 1827/256.")] = None,
    classes: Annotated[int | None, typer.Option(help="Number of classes C (without --data).")] = None,
    budget: Annotated[float | None, typer.Option(help="Robust radius as a fraction of λ_D/2, in (0, 1) "
                                                 "(Yu et al. 2024 rows).")] = None,
    fmt: FormatOpt = "table",
) -> None:
    """Which theorems guarantee (sufficient) or rule out (necessary) memorizing N points."""
    from memcap.bounds import Architecture, evaluate

    fmt = check_format(fmt)
    if data is None and n is None:
        raise UsageFailure("give --n N or --data SRC")
    if data is not None and n is not None:
        raise UsageFailure("give --n N or --data SRC, not both (the data set N)")
    check_int(n, "--n", lo=1, hi=MAX_COUNT)
    check_int(d_x, "--d-x", lo=1, hi=MAX_COUNT)
    check_int(d_y, "--d-y", lo=1, hi=MAX_COUNT)
    check_int(classes, "--classes", lo=2, hi=MAX_COUNT)
    check_float(budget, "--budget", lo=0.0, lo_open=True, hi=1.0, hi_open=True)
    if delta is not None:
        _check_delta(delta)
    ws = parse_widths(widths) or ()
    act = parse_activation(activation)
    ds = get_data(data, label, None) if data else None
    N = ds.N if ds is not None else int(n)  # type: ignore[arg-type]
    arch = Architecture(ds.d_x if ds else d_x, ds.d_y if ds else d_y, tuple(ws), act, residual)
    opts = {k: v for k, v in {"delta": delta, "classes": classes, "budget": budget}.items()
            if v is not None}
    rows = evaluate(arch, N, ds, **opts)
    if as_json:
        emit_json([r.__dict__ for r in rows])
        return
    title = (f"bounds for widths {list(ws)}, N={N}, d_x={arch.d_x}, d_y={arch.d_y}, "
             f"{arch.activation.name}{' residual' if residual else ''}")
    print_table(title, ["source", "kind", "verdict", "condition", "numbers", "detail"],
                [(r.source, r.kind, {True: "holds", False: "fails", None: "—"}[r.holds], r.statement,
                  ", ".join(f"{k}={v}" for k, v in r.values.items()), r.detail) for r in rows], fmt)


def _check_delta(text: str) -> None:
    from fractions import Fraction

    try:
        val = Fraction(text.strip())
    except (ValueError, ZeroDivisionError):
        raise UsageFailure(f"--delta must be a number > 0 such as 100 or 1827/256, got {text!r}") from None
    if val <= 0:
        raise UsageFailure(f"--delta must be > 0 (a separation ratio), got {text!r}")
