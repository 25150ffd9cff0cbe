"""Building and certifying one method's network (:func:`construct_one`, :func:`certify_built`), what a
network keeps about its data, and the lower bounds beside it. :func:`memcap.construct` (in
:mod:`memcap.api`) and :func:`memcap.select.choose_method` both build on these."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from memcap import meta as mk
from memcap.certify import verify
from memcap.constructions.base import ConditionError, Construction, ConstructionError, Method
from memcap.constructions.registry import get_method
from memcap.data.dataset import Dataset
from memcap.errors import NeedsExactArithmetic, OptionError

__all__ = ["construct_one", "certify_built", "dataset_meta", "lower_bounds"]


def _estimate(m: Method, ds: Dataset, options: dict[str, Any]) -> dict[str, Any] | None:
    """Parameters, depth and estimated seconds from the method's size formula (None if it has none
    or cannot size these options); see :func:`memcap.theory.costs.estimate_seconds`."""
    from memcap.theory.costs import estimate_seconds

    if m.size_formula is None:
        return None
    try:
        s = m.size_formula(ds, **options)
        params, depth = int(s["parameters"]), int(s.get("depth", len(s["widths"]) + 1))
    except Exception:  # noqa: BLE001 - an estimate is optional; the build reports real errors
        return None
    return {"parameters": params, "depth": depth, "seconds": estimate_seconds(params, depth, ds.N)}


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.2g} s"
    if seconds < 3600:
        return f"{seconds / 60:.2g} min"
    return f"{seconds / 3600:.2g} h"


def dataset_meta(ds: Dataset) -> dict[str, Any]:
    """What a network keeps about its data (``Network.meta``): the class names (one per output, in
    output order) and the CSV label column, so later commands can name classes and columns."""
    meta: dict[str, Any] = {mk.TASK: ds.task}
    if ds.class_names is not None:
        meta[mk.CLASS_NAMES] = list(ds.class_names)
    if ds.label_column is not None:
        meta[mk.LABEL_COLUMN] = ds.label_column
    return meta


def construct_one(ds: Dataset, method: str, *, arithmetic: str = "auto",
              tol: float | None = None, progress: Callable[[str], None] | None = None,
              max_seconds: float | None = None, workers: int | None = None, ray: bool | str | None = None,
              **options: Any) -> Construction:
    """Build ``method``'s network for ``ds`` and certify it with :func:`memcap.verify`.

    Long: validation at the door, the float64-then-exact escalation and the shared deadline are one
    loop over the arithmetics tried.

    ``arithmetic="auto"`` builds in float64 first and, if the certified check fails (or float64
    cannot separate the data along the projection), rebuilds in exact rational arithmetic. A network
    that is not certified to memorize is never returned: :class:`ConstructionError` is raised with
    the numbers. ``options`` go to the construction (``widths``, ``activation``, ``seed`` ...); they
    are validated against the method's declaration (``memcap methods NAME``) before any work: an
    unknown option, a wrong type or a value out of range raises :class:`OptionError` listing the
    valid options, and text values (from the CLI) are coerced to the declared types.
    ``max_seconds`` bounds the whole call (build and certification; a method with its own
    ``max_seconds`` option, adaptive, gets it as its search budget too); when certification is cut
    short the points left undecided make it a :class:`ConstructionError`. ``workers`` / ``ray`` go
    to :func:`memcap.verify`.
    """
    import time

    m = get_method(method)
    if arithmetic not in ("auto", "float64", "exact"):
        raise OptionError(f"arithmetic must be 'auto', 'float64' or 'exact', got {arithmetic!r}")
    declared = {o.name for o in m.options}
    # a method's own option of the same name wins: twoproj's LP workers, adaptive's search budget
    if workers is not None and "workers" in declared and "workers" not in options:
        options["workers"], workers = workers, None
    if max_seconds is not None and "max_seconds" in declared:
        options.setdefault("max_seconds", max_seconds)
    options = m.validate(options)
    if max_seconds is not None and not (isinstance(max_seconds, int | float) and max_seconds > 0):
        raise OptionError(f"max_seconds must be a number of seconds > 0, got {max_seconds!r}")
    if workers is not None and not (isinstance(workers, int) and workers >= 1):
        raise OptionError(f"workers must be an integer ≥ 1, got {workers!r}")
    t_end = None if max_seconds is None else time.monotonic() + float(max_seconds)
    if ds.task not in m.tasks:
        raise ConditionError(f"{method} ({m.theorem}) applies to {' or '.join(m.tasks)} data, "
                             f"not {ds.task}")
    say = progress or (lambda _msg: None)
    estimate = _estimate(m, ds, options)
    if estimate is not None:
        say(f"{method}: {estimate['parameters']:,} parameters, depth {estimate['depth']:,}; estimated "
            f"{_duration(estimate['seconds'])} to build and certify on N = {ds.N} (from its size formula)")
    # a method that certifies while it builds (adaptive) takes the tolerance and progress callback too
    params = inspect.signature(m.build).parameters
    options = {**{k: v for k, v in (("tol", tol), ("progress", progress)) if k in params and v is not None},
               **options}
    tries = ["float64", "exact"] if arithmetic == "auto" else [arithmetic]
    failures: list[str] = []
    for arith in tries:
        say(f"building {method} in {arith} arithmetic")
        try:
            c = m.build(ds, arithmetic=arith, **options)
        except NeedsExactArithmetic as exc:
            if arith == "float64" and len(tries) > 1:
                failures.append(f"float64: {exc}")
                continue
            raise
        if estimate is not None:
            c.info.setdefault("estimated_seconds", estimate["seconds"])
        left = None if t_end is None else t_end - time.monotonic()
        if left is not None and left <= 0:
            failures.append(f"{arith}: max_seconds = {max_seconds:g} passed before certification started")
            break
        # an attempt that is followed by exact arithmetic stops at its first certified failure
        later = arith != tries[-1]
        if certify_built(c, ds, tol=tol, progress=progress, failures=failures, max_seconds=left,
                         workers=workers, ray=ray, fail_fast=later):
            return c
        report = c.verification
        failures.append(
            f"{arith}: {len(report.failing)} point(s) not memorized "
            f"(first {report.failing[:5]}), {len(report.undecided)} undecided"
            + (f" (certification stopped at max_seconds = {max_seconds:g}; the network is not returned "
               "uncertified)" if report.undecided and t_end is not None and time.monotonic() >= t_end
               else "")
        )
        if t_end is not None and time.monotonic() >= t_end:
            break
    raise ConstructionError(
        f"{method} did not produce a certified memorizer: " + "; ".join(failures)
        + (". Try arithmetic='auto' (exact escalation)" if arithmetic != "auto" else "")
    )


def lower_bounds(net: Any, ds: Dataset, info: dict[str, Any] | None = None) -> dict[str, Any]:
    """The lower bounds beside a built network (:func:`memcap.theory.lower_bounds.floors_for`): the
    parameters any memorizer of ``ds`` needs at the network's depth and weight bits, and the ratio of
    the network to the best floor; ``"lines"`` holds them as text."""
    from memcap.theory.lower_bounds import floors_for

    info = info or {}
    bits = info.get("weight_bits") or net.meta.get(mk.WEIGHT_BITS)
    if bits is None:
        bits = 64 if not net.exact else max(
            int(v.p).bit_length() + int(v.q).bit_length() for layer in net.layers for a in layer.arrays()
            for v in a.ravel())
    return floors_for(net.counts(), ds, weight_bits=int(bits),
                      total_weight_bits=info.get("total_weight_bits"))


def certify_built(c: Construction, ds: Dataset, tol: float | None = None,
                  progress: Callable[[str], None] | None = None, failures: list[str] | None = None,
                  max_seconds: float | None = None, workers: int | None = None,
                  ray: bool | str | None = None, fail_fast: bool = False) -> bool:
    """Verify a built construction (``c.verification``); when it is certified to memorize, record
    the certificate, the data's class names and what float64 / float32 evaluation does in its notes
    and ``network.meta``. Returns whether it is certified."""
    report = verify(c.network, ds, tol=tol, progress=progress, max_seconds=max_seconds, workers=workers,
                    ray=ray, fail_fast=fail_fast)
    c.verification = report
    if not (report.memorized and report.certified):
        return False
    if failures:
        c.certificate.notes.append("escalated to exact arithmetic: " + "; ".join(failures))
    c.certificate.notes.append(
        "float evaluation of these weights (any summation order): float64 "
        + ("certified to memorize" if report.float64_memorizes else "NOT certified to memorize")
        + ", float32 " + ("certified" if report.float32_memorizes else "NOT certified")
        + ("" if report.bits_needed is None
           else f"; about {report.bits_needed} mantissa bits needed"))
    c.network.meta[mk.CERTIFICATE] = c.certificate.to_json()
    c.network.meta.update(dataset_meta(ds))
    c.network.meta[mk.VERIFICATION] = {
        "memorized": True, "certified": True, "tolerance": report.tolerance,
        "worst_error": report.worst_error, "min_margin": report.min_margin,
        "bits_needed": report.bits_needed,
        "float64_memorizes": report.float64_memorizes,
        "float32_memorizes": report.float32_memorizes,
    }
    return True
