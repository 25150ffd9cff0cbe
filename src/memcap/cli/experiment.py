"""``memcap experiment NAME``: run a named experiment (a paper's sweep) locally or on Ray."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from memcap.cli.app import _fmt, app, console, fail, out, progress_status, user_errors


@app.command()
def experiment(
    name: Annotated[str | None, typer.Argument(
        help="Experiment name (omit, or use --list, to list them).")] = None,
    address: Annotated[str | None, typer.Argument(
        metavar="[ADDRESS]", help="Ray cluster address, only after --ray (default: a local Ray instance).")
    ] = None,
    profile: Annotated[str, typer.Option(
        help="quick (minutes on a laptop CPU), full (the paper's scale) or test (tiny).")] = "quick",
    out_dir: Annotated[Path | None, typer.Option(
        "--out", "-o", help="Output folder (default: results/NAME-PROFILE). Re-running resumes.")] = None,
    ray: Annotated[bool, typer.Option(
        "--ray", help="Run the grid on Ray (extra 'ray'); give a cluster ADDRESS after it, or none "
                      "for a local instance.")] = False,
    workers: Annotated[int | None, typer.Option(
        help="Local worker processes (default: all cores; 1 = in this process).")] = None,
    option: Annotated[list[str] | None, typer.Option(
        "--option", "-O", help="Experiment option KEY=VALUE (repeatable), e.g. -O data=builtin:mnist1d.")
    ] = None,
    data: Annotated[str | None, typer.Option(
        "--data", "-d", help="Data for experiments that take it (same as -O data=...), e.g. "
                             "digits,mnist1d or cifar10:DIR.")] = None,
    list_: Annotated[bool, typer.Option("--list", help="List the experiments and exit.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Run a named experiment; results (JSON/CSV/PNG) go to --out and a re-run resumes."""
    from memcap.experiments import PROFILES, get_experiment, load_experiments
    from memcap.experiments.executor import make_executor

    if list_ or name is None:
        t = Table(title="memcap experiments")
        for col in ("name", "paper", "description", "profiles"):
            t.add_column(col, overflow="fold")
        for e in load_experiments().values():
            t.add_row(e.name, e.paper, e.description, ", ".join(e.profiles))
        out.print(t)
        return
    with user_errors():
        exp = get_experiment(name)
        if profile not in PROFILES or profile not in exp.profiles:
            raise ValueError(f"--profile must be one of {', '.join(exp.profiles)}, got {profile!r}")
        if workers is not None and workers < 1:
            raise ValueError(f"--workers must be >= 1, got {workers}")
        if address is not None and not ray:
            raise ValueError(f"unexpected argument {address!r}: a cluster ADDRESS is only accepted "
                             "after --ray (memcap experiment NAME --ray ADDRESS)")
        options: dict[str, str] = {}
        for item in option or []:
            k, sep, v = item.partition("=")
            if not sep or not k.strip():
                raise ValueError(f"--option must be KEY=VALUE, got {item!r}")
            options[k.strip()] = v.strip()
        if data is not None:
            options["data"] = data
        folder = out_dir if out_dir is not None else Path("results") / f"{name}-{profile}"
        folder.mkdir(parents=True, exist_ok=True)
        executor = make_executor(ray=ray, address=address, workers=workers)
    from memcap.experiments import ExperimentContext

    console.print(f"experiment {name} (profile {profile}) on {executor.describe()}; output in {folder}")
    try:
        with executor, progress_status(not as_json) as say, user_errors():
            res = exp.run(ExperimentContext(profile=profile, out_dir=folder, executor=executor,
                                            progress=say, options=options))
            files = [*res.files, *res.save(folder)]
    except KeyboardInterrupt:
        raise fail(f"interrupted; finished runs are stored in {folder}, re-run to resume", 130) from None
    if as_json:
        out.print_json(json.dumps({"name": res.name, "profile": res.profile, "summary": res.summary,
                                   "notes": res.notes, "files": [str(f) for f in files]}, default=str))
        return
    for tab in res.tables:
        t = Table(title=tab.title, title_justify="left")
        for c in tab.columns:
            t.add_column(c, overflow="fold")
        for row in tab.rows:
            t.add_row(*[_fmt(v) for v in row])
        out.print(t)
    for n in res.notes:
        out.print(f"• {n}")
    for f in files:
        out.print(f"[green]wrote[/] {f}")
