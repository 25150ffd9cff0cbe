"""``memcap benchmark``: write a VNN-COMP benchmark suite whose every instance has a known answer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from memcap.cli._options import ForceOpt, JsonOpt, SeedOpt
from memcap.cli.app import app, out, progress_status, report_table, user_errors


@app.command()
def benchmark(
    data: Annotated[list[str], typer.Option("--data", "-d", help="Classification data source (repeatable), "
                                            "e.g. builtin:iris.")],
    out_dir: Annotated[Path, typer.Option("--out-dir", "--out", help="The suite folder to write (must not "
                                          "exist unless --force).")],
    method: Annotated[list[str] | None, typer.Option(
        "--method", "-m", help="Construction (repeatable; default yu-robust). Its networks must be dense "
        "ReLU networks (Gemm/Relu ONNX).")] = None,
    fraction: Annotated[list[float] | None, typer.Option(
        "--fraction", help="Ball radius as a fraction of λ_D/2 (repeatable; default 0.5 and 1.2). "
        "Below 1 robust constructions give unsat instances; past 1 the balls of differently "
        "labelled points meet and sat instances appear.")] = None,
    points: Annotated[int, typer.Option(help="Points (instances) per model and radius.")] = 5,
    n: Annotated[int | None, typer.Option("--n", "-n", help="Use a seeded subset of N points of each dataset "
                                          "(yu-robust's depth is 2N+1).")] = None,
    budget: Annotated[float, typer.Option(help="Robust methods: the construction's radius as a fraction "
                                          "of λ_D/2.")] = 0.9,
    norm: Annotated[str, typer.Option(help="The ball's norm: inf (default), 1 or 2 (λ_D and robust "
                                      "constructions in that norm; the property's box is the largest "
                                      "inside the ball).")] = "inf",
    dtype: Annotated[str, typer.Option(help="ONNX tensor type: float32 (default) or float64.")] = "float32",
    vnnlib_version: Annotated[int, typer.Option("--vnnlib-version", help="VNN-LIB 1 (VNN-COMP's) or 2.")] = 1,
    timeout: Annotated[float, typer.Option(help="Per-instance timeout written to instances.csv, "
                                           "seconds.")] = 60.0,
    seed: SeedOpt = 0,
    exact_time_limit: Annotated[float, typer.Option(help="Seconds the exact tier may spend on one "
                                                    "instance's answer.")] = 60.0,
    force: ForceOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Write a VNN-COMP-style suite: instances.csv, ONNX models (opset 13, Gemm/Relu, batch 1),
    VNN-LIB robustness properties and answers.csv with every instance's certified answer (unsat:
    proven for the stored float model in any summation order; sat: a witness onnxruntime confirms).
    Undecided instances are not written (counted in suite.json)."""
    from memcap.vnnsuite import SuiteSpec, write_suite

    with user_errors():
        spec = SuiteSpec(data=list(data), methods=list(method or ["yu-robust"]),
                         fractions=list(fraction or [0.5, 1.2]), points=points, n=n, budget=budget,
                         norm=norm, dtype=dtype, vnnlib_version=vnnlib_version, timeout=timeout, seed=seed,
                         exact_time_limit=exact_time_limit)
        spec.check()
        with progress_status(not as_json) as say:
            summary = write_suite(spec, out_dir, force=force, progress=say)
    if as_json:
        out.print_json(json.dumps({"out": str(out_dir), **{k: summary[k] for k in (
            "instances", "sat", "unsat", "models", "seconds")},
            "omitted_unknown": len(summary["omitted_unknown"])}, default=str))
        return
    rows = [("suite", out_dir), ("instances", summary["instances"]), ("unsat (certified)", summary["unsat"]),
            ("sat (witness confirmed)", summary["sat"]),
            ("omitted (answer unknown)", len(summary["omitted_unknown"])),
            ("seconds", summary["seconds"])]
    for m in summary["models"]:
        rows.append((f"model {m['model']}", f"{m['method']} on {m['data']}: depth {m['depth']}, "
                     f"{m['parameters']} parameters, λ_D(L{m['norm']}) = {m['lambda']:.6g}"))
    out.print(report_table("memcap benchmark", rows))
