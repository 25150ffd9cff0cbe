"""``memcap info FILE``: what a saved network is and what was certified about it."""

from __future__ import annotations

from typing import Any

from memcap import meta as mk
from memcap.cli._common import check_format, check_network_file, emit_json, print_rows
from memcap.cli._options import FormatOpt, JsonOpt, NetworkArg


def info(network: NetworkArg, as_json: JsonOpt = False, fmt: FormatOpt = "table") -> None:
    """Show a saved network: layers, counts, and the certificate stored with it."""
    import memcap

    fmt = check_format(fmt)
    check_network_file(network)
    net = memcap.load(network)
    layers = [f"{type(layer).__name__} {layer.in_dim}→{layer.out_dim} {layer.activation.name}"
              for layer in net.layers]
    if as_json:
        emit_json({"layers": layers, "counts": net.counts(), "meta": net.meta})
        return
    cert = net.meta.get(mk.CERTIFICATE, {})
    ver = net.meta.get(mk.VERIFICATION, {})
    rows: list[tuple[str, Any]] = [("layers", "; ".join(layers)), *net.counts().items()]
    if cert:
        rows += [("method", cert.get("method")), ("theorem", cert.get("theorem")),
                 ("reference", cert.get("reference")), ("weights", cert.get("arithmetic"))]
        rows += [("condition", f"{c['statement']} {c['values']}") for c in cert.get("conditions", [])]
        rows += [("guarantee", g) for g in cert.get("guarantees", [])]
        rows += [("note", n) for n in cert.get("notes", [])]
    if ver:
        rows += [(f"at build: {k}", v) for k, v in ver.items()]
    if mk.DATA in net.meta:
        rows.append(("built on", net.meta[mk.DATA]))
    if net.meta.get(mk.LABEL_COLUMN) is not None:
        rows.append(("label column", net.meta[mk.LABEL_COLUMN]))
    if net.meta.get(mk.CLASS_NAMES):
        rows.append(("classes (output order)", ", ".join(
            f"{k}: {n}" for k, n in enumerate(net.meta[mk.CLASS_NAMES]))))
    print_rows(f"{network}", rows, fmt)
