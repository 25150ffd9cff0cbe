"""``memcap export``: ONNX model (checked with onnxruntime) and VNN-LIB robustness properties."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import typer

from memcap._util import atomic_write_bytes
from memcap.cli._common import (
    UsageFailure,
    check_float,
    check_int,
    check_network_file,
    check_output_dir,
    check_output_file,
    console,
    emit_json,
    out,
)
from memcap.cli._options import DataOptional, ForceOpt, JsonOpt, LabelOpt, NetworkArg, QuietOpt
from memcap.cli.app import get_data, report_table, user_errors


def export(
    network: NetworkArg,
    onnx_path: Annotated[Path | None, typer.Option(
        "--onnx", help="Write the network as ONNX to this file (must not exist unless --force).")] = None,
    vnnlib: Annotated[Path | None, typer.Option(
        "--vnnlib", help="Folder for one VNN-LIB robustness property per data point.")] = None,
    data: DataOptional = None,
    radius: Annotated[float | None, typer.Option(
        "--radius", "-r", help="L∞ radius of the properties (default: the radius the network's "
        "certificate promises).")] = None,
    dtype: Annotated[str, typer.Option(help="ONNX float type: float64 or float32.")] = "float64",
    batch: Annotated[int, typer.Option(help="ONNX batch dimension (0: dynamic).")] = 1,
    timeout: Annotated[float, typer.Option(help="Per-property timeout written to instances.csv.")] = 60.0,
    allow_unverified: Annotated[bool, typer.Option(
        help="Export even if memcap does not certify the network memorizes the data.")] = False,
    allow_uncertified: Annotated[bool, typer.Option(
        help="Export in a --dtype no certificate covers (e.g. float32 when only float64 evaluation "
        "is certified to memorize for any summation order).")] = False,
    label: LabelOpt = None,
    as_json: JsonOpt = False,
    force: ForceOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Write the network as ONNX (outputs checked with onnxruntime against the certified float bound)
    and a self-contained VNN-LIB folder (the ONNX model, one property per point: input box, "label is
    not the max" as the negated property; instances.csv with paths relative to the folder)."""
    import memcap
    from memcap.certify.robust import promised_robustness
    from memcap.io.onnx import build_onnx
    from memcap.io.vnnlib import vnnlib_folder, write_vnnlib_folder

    info: dict[str, Any] = {"network": str(network)}
    folder: dict[str, bytes] | None = None
    with user_errors():
        if onnx_path is None and vnnlib is None:
            raise UsageFailure("nothing to export: give --onnx FILE and/or --vnnlib FOLDER")
        check_int(batch, "--batch", lo=0, hi=2**31 - 1)
        if dtype not in ("float64", "float32"):
            raise UsageFailure(f"--dtype must be float64 or float32, got {dtype!r}")
        check_float(radius, "--radius", lo=0.0, lo_open=True)
        check_float(timeout, "--timeout", lo=0.0, lo_open=True)
        check_network_file(network)
        check_output_file(onnx_path, force, "--onnx")
        check_output_dir(vnnlib, "--vnnlib", force=force, clobbers=("instances.csv", "prop_*.vnnlib"))
        if vnnlib is not None and data is None:
            raise UsageFailure("--vnnlib needs --data (the points and labels the properties are about)")
        net = memcap.load(network)
        ds = get_data(data, label, None) if data else None
        if vnnlib is not None and ds is None:
            raise ValueError("--vnnlib needs --data (the points and labels the properties are about)")
        rep = None
        if ds is not None:
            if ds.task != "classification":
                raise ValueError(f"{data} is {ds.task} data; the properties are about class labels")
            rep = memcap.verify(net, ds)
            info["memorizes_certified"] = bool(rep.memorized and rep.certified)
            if not info["memorizes_certified"] and not allow_unverified:
                raise ValueError(f"memcap does not certify that {network} memorizes {data} "
                                 f"({rep.summary()}); refusing to export (--allow-unverified to force)")
        if vnnlib is not None:
            promised = promised_robustness(net)
            if radius is None:
                if promised is None or promised["norm"] != "inf":
                    raise ValueError("give --radius: the network's certificate promises no L∞ radius")
                radius = promised["radius"]
            if not (math.isfinite(radius) and radius > 0):
                raise ValueError(f"--radius must be a finite number > 0, got {radius}")
            info["radius"] = radius
        X = ds.X if ds is not None else None
        model, chk, cert = build_onnx(net, dtype, batch or None, X, ds.labels if ds is not None else None,
                                      report=rep, allow_uncertified=allow_uncertified or allow_unverified)
        info["onnx_check"] = chk.to_json()
        info["dtype_certificate"] = cert
        if vnnlib is not None:
            assert ds is not None and radius is not None
            folder = vnnlib_folder(ds.X, ds.labels, net.out_dim, radius, model,
                                   model_name=onnx_path.name if onnx_path else "net.onnx", timeout=timeout,
                                   comment=f"memcap: {network.name}, data {data}")
            info["properties"] = ds.N
        # everything was built and checked before the first write
        if onnx_path is not None:
            atomic_write_bytes(onnx_path, model)
        if folder is not None:
            write_vnnlib_folder(vnnlib, folder)
    chk_info = info.get("onnx_check")
    if chk_info and chk_info["memorizes_any_order"] is False:
        console.print(f"[yellow]warning:[/] in {dtype} the exported model is not certified to classify "
                      "every point correctly under every summation order (margin ≤ 2·rounding bound)")
    if as_json:
        emit_json(info)
        return
    rows: list[tuple[str, Any]] = [("network", network)]
    if "memorizes_certified" in info:
        rows.append(("memcap certifies memorization", info["memorizes_certified"]))
    if onnx_path is not None:
        c = info["onnx_check"]
        rows += [("ONNX", f"{onnx_path} ({dtype}, opset 17)"),
                 ("onnxruntime vs memcap: max |diff|", c["max_diff"]),
                 ("within 2·certified bound",
                  f"yes ({c['worst_ratio']:.3g} of allowed, {c['points']} inputs)"),
                 ("classifies every point, any summation order", c["memorizes_any_order"]),
                 ("certificate for this dtype", info["dtype_certificate"])]
    if vnnlib is not None:
        rows += [("VNN-LIB", f"{info['properties']} properties in {vnnlib} (+ the model, instances.csv)"),
                 ("L∞ radius", info["radius"])]
    out.print(report_table("export", rows))

