"""``memcap score``: score a verifier's VNN-COMP result files against a suite's known answers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from memcap.cli._options import JsonOpt
from memcap.cli.app import _fmt, app, console, out, user_errors


@app.command()
def score(
    suite: Annotated[Path, typer.Argument(help="Suite folder written by `memcap benchmark`.")],
    results: Annotated[Path, typer.Argument(help="Folder of result files, one per instance, named like "
                                            "the instance's .vnnlib file with .txt (first line sat/unsat/"
                                            "timeout/unknown/error; sat followed by the counterexample).")],
    as_json: JsonOpt = False,
) -> None:
    """Confusion table of the results against the known answers (incorrect results first); every sat
    witness is re-run in onnxruntime with VNN-COMP's tolerances. Exit 0 only with no incorrect result."""
    from memcap.io.suite import score_suite

    with user_errors():
        if not suite.is_dir():
            raise FileNotFoundError(f"no suite folder {suite}")
        rep = score_suite(suite, results)
    if as_json:
        out.print_json(json.dumps(rep.to_json(), default=str))
    else:
        bad = rep.memcap_wrong + rep.incorrect
        if bad:
            t = Table(title=f"incorrect results ({len(rep.incorrect)}) and broken known answers "
                            f"({len(rep.memcap_wrong)})", title_justify="left")
            for col in ("instance", "known", "reported", "witness", "verdict", "detail"):
                t.add_column(col, overflow="fold")
            for r in bad:
                t.add_row(r["instance"], r["known"], r["reported"], _fmt(r["witness"]), r["verdict"],
                          _fmt(r["detail"]))
            out.print(t)
        t = Table(title=f"confusion table: {len(rep.rows)} instances, VNN-COMP points {rep.points} "
                        "(+10 correct, -150 incorrect)", title_justify="left")
        cols = ["sat", "unsat", "timeout", "unknown", "error", "missing", "malformed"]
        t.add_column("known \\ reported", style="bold")
        for c in cols:
            t.add_column(c)
        for k in ("sat", "unsat"):
            t.add_row(k, *[str(rep.confusion[k][c]) for c in cols])
        out.print(t)
        out.print(", ".join(f"{k}: {v}" for k, v in sorted(rep.counts().items())))
    if rep.memcap_wrong:
        console.print(f"[bold red]BUG in memcap:[/] {len(rep.memcap_wrong)} witness(es) break a certified "
                      "unsat answer; please report this suite")
    if rep.incorrect or rep.memcap_wrong:
        raise typer.Exit(1)
