"""``memcap experiment NAME``: run a named experiment (a paper's sweep) locally or on Ray."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from memcap.cli._common import (
    UsageFailure,
    check_format,
    check_output_dir,
    check_workers,
    console,
    emit_json,
    out,
    parse_key_values,
    print_table,
    progress,
)
from memcap.cli._options import RAY_LOCAL, FormatOpt, JsonOpt, OptionOpt, QuietOpt, RayOpt, WorkersOpt


def experiment(
    name: Annotated[str | None, typer.Argument(
        help="Experiment name (omit, or use --list, to list them).")] = None,
    address: Annotated[str | None, typer.Argument(
        metavar="[ADDRESS]", hidden=True, help="Ray cluster address (prefer --ray ADDRESS).")] = None,
    profile: Annotated[str, typer.Option(
        help="quick (minutes on a laptop CPU), full (the paper's scale) or test (tiny).")] = "quick",
    out_dir: Annotated[Path | None, typer.Option(
        "--out-dir", "--out", help="Output folder (default: results/NAME-PROFILE). Re-running resumes.")
    ] = None,
    ray: RayOpt = None,
    workers: WorkersOpt = None,
    option: OptionOpt = None,
    data: Annotated[str | None, typer.Option(
        "--data", "-d", help="Data for experiments that take it (same as -O data=...), e.g. "
                             "digits,mnist1d or cifar10:DIR.")] = None,
    list_: Annotated[bool, typer.Option("--list", help="List the experiments and exit.")] = False,
    as_json: JsonOpt = False,
    fmt: FormatOpt = "table",
    quiet: QuietOpt = False,
) -> None:
    """Run a named experiment; results (JSON/CSV/PNG) go to --out-dir and a re-run resumes."""
    from memcap.experiments import PROFILES, get_experiment, load_experiments
    from memcap.experiments.executor import make_executor

    fmt = check_format(fmt)
    if list_ or name is None:
        exps = list(load_experiments().values())
        if as_json:
            emit_json([{"name": e.name, "paper": e.paper, "description": e.description,
                        "profiles": list(e.profiles), "options": list(e.options)} for e in exps])
            return
        print_table("memcap experiments", ["name", "paper", "description", "profiles", "options"],
                    [(e.name, e.paper, e.description, ", ".join(e.profiles), ", ".join(e.options) or "—")
                     for e in exps], fmt)
        return
    exp = get_experiment(name)
    if profile not in PROFILES or profile not in exp.profiles:
        raise UsageFailure(f"--profile must be one of {', '.join(exp.profiles)}, got {profile!r}")
    check_workers(workers)
    if address is not None:
        if ray is None:
            raise UsageFailure(f"unexpected argument {address!r}: a cluster ADDRESS is only accepted "
                               "with --ray (memcap experiment NAME --ray ADDRESS)")
        if ray != RAY_LOCAL:
            raise UsageFailure(f"two Ray addresses: --ray {ray} and {address}")
        ray = address
    options = parse_key_values(option)
    if data is not None:
        if "data" in options:
            raise UsageFailure("give the data once: --data or -O data=..., not both")
        options["data"] = data
    unknown = sorted(set(options) - set(exp.options))
    if unknown:
        raise UsageFailure(f"experiment {name} has no option {unknown[0]!r} (its options: "
                           f"{', '.join(exp.options) or 'none'})")
    folder = out_dir if out_dir is not None else Path("results") / f"{name}-{profile}"
    check_output_dir(folder, "--out-dir")
    executor = make_executor(ray=ray is not None, address=None if ray in (None, RAY_LOCAL) else ray,
                             workers=workers)
    from memcap.experiments import ExperimentContext

    folder.mkdir(parents=True, exist_ok=True)
    if not quiet:
        console.print(f"experiment {name} (profile {profile}) on {executor.describe()}; output in {folder}",
                      markup=False, soft_wrap=True)
    try:
        with executor, progress() as say:
            res = exp.run(ExperimentContext(profile=profile, out_dir=folder, executor=executor,
                                            progress=say, options=options))
            files = [*res.files, *res.save(folder)]
    except KeyboardInterrupt:
        from memcap.cli.app import fail

        raise fail(f"interrupted; finished runs are stored in {folder}, re-run to resume", 130) from None
    if as_json:
        emit_json({"name": res.name, "profile": res.profile, "summary": res.summary,
                   "notes": res.notes, "files": [str(f) for f in files]})
        return
    for tab in res.tables:
        print_table(tab.title, tab.columns, tab.rows, fmt)
    if fmt == "table":
        for n in res.notes:
            out.print(f"• {n}", markup=False)
        for f in files:
            out.print(f"wrote {f}", markup=False)
