"""Shared command-line options: one definition per flag (same name, short form and help everywhere).

Every command takes its common flags from here, so ``-o`` always means an output *file*, ``-d`` the
data, ``-O`` a ``KEY=VALUE`` option, ``-q`` quiet, ``-f`` force, and so on. Short forms in use:

====  ==================  ====  ==================
-d    --data              -o    --output (a file)
-m    --method            -O    --option KEY=VALUE
-n    --n (points)        -q    --quiet
-f    --force             -r    --radius
-h    --help              -s    --seed
====  ==================  ====  ==================

Folders are ``--out-dir`` (experiment), ``--vnnlib`` (export), ``--counterexamples`` (robust): never
``-o``. ``--json`` prints exactly one JSON object (non-finite numbers as ``null``) on stdout, also for
errors (``{"error": {...}}``, non-zero exit).

Options meant for commands other helpers add (``--max-seconds``, ``--ray [ADDRESS]``, ``--workers``,
``--precision``, ``--method``) are defined here too; a command opts in by declaring a parameter with
the type alias, e.g. ``workers: WorkersOpt = None``, and validates the value with the matching
``check_*`` function of :mod:`memcap.cli._common`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from memcap.data import SOURCES_HELP

__all__ = [
    "DataOpt", "DataOptional", "LabelOpt", "TaskOpt", "JsonOpt", "QuietOpt", "ForceOpt", "FormatOpt",
    "OutputOpt", "OutputOptional", "NetworkArg", "MethodOpt", "MethodOptional", "OptionOpt", "SeedOpt",
    "TolOpt", "WidthsOpt", "WidthsRequired", "ActivationOpt", "PrecisionOpt", "MaxSecondsOpt", "RayOpt",
    "WorkersOpt", "RadiusOpt", "NormOpt", "JSON_HELP", "RAY_LOCAL",
]

JSON_HELP = ("Print one JSON object on stdout instead of tables (strict JSON: inf/NaN become null; "
             "errors too, as {\"error\": {...}}).")

#: the value ``--ray`` takes when given without an address: a local Ray instance
RAY_LOCAL = "local"

# ---- data ---------------------------------------------------------------------------------------
DataOpt = Annotated[str, typer.Option("--data", "-d", help=f"Dataset source: {SOURCES_HELP}.",
                                      show_default=False)]
DataOptional = Annotated[str | None, typer.Option("--data", "-d", help=f"Dataset source: {SOURCES_HELP}.")]
LabelOpt = Annotated[str | None, typer.Option(
    "--label", help="CSV label column (header name or 0-based index; default the last column).")]
TaskOpt = Annotated[str | None, typer.Option(
    "--task", help="Override the inferred task: regression or classification.")]

# ---- output -------------------------------------------------------------------------------------
JsonOpt = Annotated[bool, typer.Option("--json", help=JSON_HELP)]
QuietOpt = Annotated[bool, typer.Option(
    "--quiet", "-q", help="No progress messages and no warnings on stderr (errors are still printed).")]
ForceOpt = Annotated[bool, typer.Option(
    "--force", "-f", help="Overwrite existing output files (default: refuse).")]
FormatOpt = Annotated[str, typer.Option(
    "--format", help="Table format: table (fits the terminal, 80 columns when piped), csv or markdown.")]
OutputOpt = Annotated[Path, typer.Option(
    "--output", "-o", help="Output file (.npz); must not exist unless --force.", show_default=False)]
OutputOptional = Annotated[Path | None, typer.Option(
    "--output", "-o", help="Output file (.npz); must not exist unless --force.")]
NetworkArg = Annotated[Path, typer.Argument(help="Network file (.npz) written by memcap.",
                                            show_default=False)]

# ---- construction -------------------------------------------------------------------------------
MethodOpt = Annotated[str, typer.Option("--method", "-m", help="Registry name (see `memcap methods`).")]
MethodOptional = Annotated[str | None, typer.Option(
    "--method", "-m", help="Registry name (see `memcap methods`; default: chosen for you).")]
OptionOpt = Annotated[list[str] | None, typer.Option(
    "--option", "-O", help="A method/experiment option KEY=VALUE (repeatable); unknown keys and bad "
    "values are refused.")]
SeedOpt = Annotated[int, typer.Option("--seed", "-s", help="Seed for the random choices.")]
TolOpt = Annotated[float | None, typer.Option(
    "--tol", help="Regression tolerance, a finite number ≥ 0 (default 1e-6·max(1, max|y|)).")]
WIDTHS_HELP = ("Hidden widths, comma-separated positive integers, e.g. 16,24 (where optional, the default "
               "is the smallest the theorem allows).")
WidthsOpt = Annotated[str | None, typer.Option("--widths", help=WIDTHS_HELP)]
WidthsRequired = Annotated[str, typer.Option("--widths", help=WIDTHS_HELP, show_default=False)]
ActivationOpt = Annotated[str | None, typer.Option(
    "--activation", help="relu, hardtanh, leaky:SLOPE or relu_like:S+,S- (default: the method's).")]
PrecisionOpt = Annotated[str | None, typer.Option(
    "--precision", help="float32, float64 or exact: certify memorization when the network is "
    "evaluated in float32 / float64 (any summation order; default tolerance 1e-3·max(1,|y|) for "
    "float32) or in exact arithmetic.")]

# ---- robustness ---------------------------------------------------------------------------------
RadiusOpt = Annotated[float, typer.Option("--radius", "-r", help="Ball radius r > 0 (finite).",
                                          show_default=False)]
NormOpt = Annotated[str, typer.Option("--norm", help="Ball norm: inf, 2 or 1.")]

# ---- compute resources (engine / suite helpers) -------------------------------------------------
MaxSecondsOpt = Annotated[float | None, typer.Option(
    "--max-seconds", help="Stop after about S seconds of work (a finite number > 0); what finished is "
    "reported and nothing unverified is written.")]
RayOpt = Annotated[str | None, typer.Option(
    "--ray", help="Run on Ray (extra 'ray'): --ray for a local instance, --ray ADDRESS for a cluster.",
    metavar="[ADDRESS]")]
WorkersOpt = Annotated[int | None, typer.Option(
    "--workers", help="Local worker processes, an integer ≥ 1 (default: all cores; 1 = in this process).")]
