"""``memcap info FILE``: what a saved network is and what was certified about it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from memcap.cli.app import app, out, report_table, user_errors


@app.command()
def info(
    network: Annotated[Path, typer.Argument(help="Network file written by memcap.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show a saved network: layers, counts, and the certificate stored with it."""
    import memcap

    with user_errors():
        net = memcap.load(network)
    layers = [f"{type(layer).__name__} {layer.in_dim}→{layer.out_dim} {layer.activation.name}"
              for layer in net.layers]
    if as_json:
        out.print_json(json.dumps({"layers": layers, "counts": net.counts(), "meta": net.meta},
                                  default=str))
        return
    cert = net.meta.get("certificate", {})
    ver = net.meta.get("verification", {})
    rows = [("layers", "; ".join(layers)), *net.counts().items()]
    if cert:
        rows += [("method", cert.get("method")), ("theorem", cert.get("theorem")),
                 ("reference", cert.get("reference")), ("weights", cert.get("arithmetic"))]
        rows += [("condition", f"{c['statement']} {c['values']}") for c in cert.get("conditions", [])]
        rows += [("guarantee", g) for g in cert.get("guarantees", [])]
        rows += [("note", n) for n in cert.get("notes", [])]
    if ver:
        rows += [(f"at build: {k}", v) for k, v in ver.items()]
    if "data" in net.meta:
        rows.append(("built on", net.meta["data"]))
    if net.meta.get("label_column") is not None:
        rows.append(("label column", net.meta["label_column"]))
    if net.meta.get("class_names"):
        rows.append(("classes (output order)", ", ".join(
            f"{k}: {n}" for k, n in enumerate(net.meta["class_names"]))))
    out.print(report_table(f"{network}", rows))
