"""``memcap lipschitz``: certified upper bounds (and lower bounds) on a network's Lipschitz constant."""

from __future__ import annotations

from typing import Annotated

import typer

from memcap.cli._common import UsageFailure, check_network_file, emit_json
from memcap.cli._options import JsonOpt, LabelOpt, NetworkArg, QuietOpt
from memcap.cli.app import get_data, out, report_table, user_errors


def lipschitz(
    network: NetworkArg,
    data: Annotated[str | None, typer.Option("--data", "-d", help="Dataset: its bounding box for the "
                                             "interval bound and its pairs for the lower bound.")] = None,
    norm: Annotated[str, typer.Option(help="Input norm: inf, 1 or 2.")] = "inf",
    label: LabelOpt = None,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Lipschitz constant of every class margin f_a - f_b: certified upper bounds (global product of
    layer norms; interval Jacobian on the data's box) next to lower bounds and the construction's claim."""
    import memcap
    from memcap.certify.lipschitz import lipschitz_report

    with user_errors():
        if norm.strip().lower() not in ("inf", "1", "2"):
            raise UsageFailure(f"--norm must be inf, 1 or 2, got {norm!r}")
        check_network_file(network)
        net = memcap.load(network)
        X = None
        if data is not None:
            ds = get_data(data, label, None)
            if ds.d_x != net.in_dim:
                raise ValueError(f"the network takes {net.in_dim} inputs but the data have d_x = {ds.d_x}")
            X = ds.X
        rep = lipschitz_report(net, X, norm)
    if as_json:
        emit_json(rep)
        if "claim_consistent" in rep and rep["claim_consistent"] is not True:
            raise typer.Exit(1)
        return
    prod = (f"{rep['product_bound']:.6g}" if not rep["product_bound_vacuous"]
            else "vacuous (infinite in float64)")
    rows = [("norm of the input", rep["norm"]), ("function", rep["of"]),
            ("certified upper bound, all of R^n (product of layer norms)",
             f"{prod}  (log2 = {rep['product_bound_log2']:.6g})")]
    if "interval_bound" in rep:
        rows.append((f"certified upper bound on the data's {rep['interval_box']} (interval Jacobian)",
                     f"{rep['interval_bound']:.6g}" if not rep["interval_bound_vacuous"]
                     else "vacuous (infinite in float64)"))
    if "pairs_lower_bound" in rep:
        rows.append(("lower bound: largest difference quotient over data pairs",
                     f"{rep['pairs_lower_bound']:.6g}"))
        rows.append(("lower bound: largest sampled gradient", f"{rep['gradient_lower_bound']:.6g}"))
    if "claimed" in rep:
        rows.append(("claimed by the construction (theorem, for the stored weights)",
                     f"{rep['claimed']:.17g}"))
        verdict = {True: "yes", False: "NO"}.get(rep["claim_consistent"],
                                                 "not checked: the upper bounds are vacuous")
        rows.append(("claim consistent with the bounds", verdict))
        rows.append(("claim checked against", rep["claim_check"]))
    out.print(report_table(f"Lipschitz constant of {network}", rows))
    if "claim_consistent" in rep and rep["claim_consistent"] is not True:  # refuted or unchecked
        raise typer.Exit(1)
