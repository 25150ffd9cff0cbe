"""Options shared by ``construct`` and ``verify`` for long certifications: time limit, workers, Ray."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from memcap.errors import OptionError

MaxSecondsOpt = Annotated[float | None, typer.Option(
    "--max-seconds", help="Stop certifying after S seconds: what is undecided is reported (verify exits 1; "
    "construct refuses and writes no file).")]
WorkersOpt = Annotated[int | None, typer.Option(
    "--workers", help="Local processes for the exact tiers (default: the cores, capped at 8, when the "
    "estimated work is long; 1 = in this process).")]
RayOpt = Annotated[bool, typer.Option(
    "--ray", help="Run the exact tiers on Ray (extra 'ray'); give a cluster ADDRESS after it, or none for "
    "the running / a new local instance.")]
AddressArg = Annotated[str | None, typer.Argument(
    metavar="[ADDRESS]", help="Ray cluster address, only after --ray.")]


def engine_kwargs(max_seconds: float | None, workers: int | None, ray: bool, address: str | None
                  ) -> dict[str, Any]:
    """Validated keyword arguments for memcap.verify / memcap.construct."""
    if max_seconds is not None and not max_seconds > 0:
        raise OptionError(f"--max-seconds must be a positive number of seconds, got {max_seconds}")
    if workers is not None and workers < 1:
        raise OptionError(f"--workers must be at least 1, got {workers}")
    if address is not None and not ray:
        raise OptionError(f"unexpected argument {address!r}: a cluster ADDRESS is only accepted after --ray")
    return {"max_seconds": max_seconds, "workers": workers, "ray": (address or True) if ray else None}
