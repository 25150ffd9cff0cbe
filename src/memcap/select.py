"""Choosing the smallest registered method certified to memorize at a precision.

``choose_method(ds, "float32")`` builds registered methods from the smallest (predicted *stored*
parameters: a size formula's ``"stored"`` when it gives one — sparse layers — else its dense
``"parameters"``) up and returns the first one certified faithful at that precision, with the
reasons the smaller ones were passed over; it refuses (``ConstructionError``) with the bits needed
and the method that would work at a higher precision. It is what ``memcap.construct(ds)`` and
``memcap construct`` do when no method is named (precision float32 by default).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from memcap import meta as mk
from memcap.build import certify_built, construct_one
from memcap.certify.precision import (
    MANTISSA_BITS,
    PRECISIONS,
    PrecisionCertificate,
    _check_precision,
    certify_precision,
    precision_tolerance,
)
from memcap.constructions.base import ConditionError, Construction, ConstructionError
from memcap.constructions.registry import all_methods, get_method
from memcap.data.dataset import Dataset
from memcap.errors import MemcapError, OptionError

__all__ = ["adaptive_candidate", "candidate_methods", "choose_method", "Attempt"]


# ---- choosing the smallest method certified at a precision ----------------------------------------
#: methods whose float64 build refuses beyond small N (label lookup weights of B·D > 45 bits raise
#: NeedsExactArithmetic), so no float certificate exists there, and whose size formulas cost
#: O(N²·d) (the pairwise separation δ): skipped as float32 / float64 candidates from SKIP_FROM_N points
FLOAT_IMPOSSIBLE = {
    "park-sublinear": "its lookup weights need more bits than float64 carries (exact-only)",
    "park-width3": "its lookup weights need more bits than float64 carries (exact-only)",
    "park-thm3": "packs labels into weights of B·D bits (exact-only)",
}
SKIP_FROM_N = 5000


def candidate_methods(ds: Dataset, precision: str, skipped: list[tuple[str, str]] | None = None
                      ) -> list[tuple[str, dict[str, Any], int]]:
    """(method, options, predicted stored parameters) for every registered method that applies to
    the data and predicts its size, smallest first (``size["stored"]`` when the formula gives it,
    else the dense ``size["parameters"]``). ``twoproj-5layer`` also enters with smaller q
    (q = 24, 16, 8: more parameters, smaller float32 error) when aiming at float32. At a float
    precision from ``SKIP_FROM_N`` points, when a ``skipped`` list is given, the exact-only methods
    of ``FLOAT_IMPOSSIBLE`` are left out and their reasons appended to it."""
    out: list[tuple[str, dict[str, Any], int]] = []
    for m in all_methods():
        if ds.task not in m.tasks or m.size_formula is None:
            continue
        if (skipped is not None and precision != "exact" and m.name in FLOAT_IMPOSSIBLE
                and ds.N >= SKIP_FROM_N):
            skipped.append((m.name, f"skipped: {FLOAT_IMPOSSIBLE[m.name]}"))
            continue
        variants: list[dict[str, Any]] = [{}]
        if m.name == "twoproj-5layer" and precision == "float32":
            variants += [{"q": q} for q in (24, 16, 8) if q < ds.N]
        for opts in variants:
            try:
                size = m.size_formula(ds, **opts)
            except MemcapError:  # a method that cannot size this data is no candidate
                continue
            out.append((m.name, opts, int(size.get("stored", size["parameters"]))))
    out.sort(key=lambda t: (t[2], t[0]))
    return out


@dataclass
class Attempt:
    method: str
    options: dict[str, Any]
    parameters: int
    certified: bool
    reason: str
    bits_needed: int | None = None
    certificate: PrecisionCertificate | None = None
    float64_ok: bool = False
    not_built: bool = False   # rejected by an error while building: says nothing about exact arithmetic


def choose_method(ds: Dataset, precision: str, tol: float | None = None,
                  methods: list[str] | None = None, max_parameters: int | None = None,
                  progress: Callable[[str], None] | None = None, **options: Any
                  ) -> tuple[Construction, PrecisionCertificate, list[Attempt]]:
    """Build candidates smallest first; return the first certified at ``precision`` with its
    certificate and the attempts before it. ``methods`` restricts the candidates (in that case
    ``options`` go to every candidate). Raises ``ConstructionError`` when none is certified,
    naming the mantissa bits needed and which method is certified at a higher precision.

    Long: the candidate loop (adaptive first, cheap rejection, one build, certification) shares the
    attempts list and the escalation to a higher precision.
    """
    _check_precision(precision)
    say = progress or (lambda _m: None)
    tolerance = precision_tolerance(ds, precision, tol)
    skipped: list[tuple[str, str]] = []
    cands = candidate_methods(ds, precision, skipped if methods is None else None)
    if methods is not None:
        unknown = set(methods) - {m.name for m in all_methods()}
        if unknown:
            raise OptionError(f"unknown method(s) {sorted(unknown)}; see `memcap methods`")
        cands = [c for c in cands if c[0] in methods and (not c[1] or not options)]
        if not cands and "adaptive" not in methods:
            raise ConditionError(f"method(s) {methods} do not apply to {ds.task} data or cannot "
                                 "predict their size")
    if max_parameters is not None:
        cands = [c for c in cands if c[2] <= max_parameters]
    attempts: list[Attempt] = [Attempt(n, {}, 0, False, why) for n, why in skipped]
    # adaptive (trained + certified) has no size before it is built: build it, rank it by its size
    from memcap.adaptive.select import ADAPTIVE_OPTIONS

    own = {k: options.pop(k) for k in ADAPTIVE_OPTIONS if k in options}
    built = adaptive_candidate(ds, precision, tolerance, methods, max_parameters, progress,
                               {**options, **own}, attempts)
    if built is not None:
        cands = sorted([*cands, ("adaptive", {}, built.network.parameters)], key=lambda t: (t[2], t[0]))
    for name, opts, params in cands:
        if name == "adaptive" and built is not None:
            cert = certify_precision(built.network, ds, precision, tol=tol, report=built.verification)
            attempts.append(Attempt(name, opts, params, cert.certified, cert.reason, cert.bits_needed,
                                    cert, bool(built.verification.float64_memorizes)))
            if cert.certified:
                built.network.meta[mk.PRECISION_CERTIFICATE] = cert.to_json()
                return built, cert, attempts
            continue
        say(f"{name} {opts or ''}: building ({params} parameters)")
        try:
            if precision == "exact":
                c = construct_one(ds, name, arithmetic="auto", tol=tolerance, progress=progress,
                                     **{**options, **opts})
            else:  # build once: the cheap rejection and the verifier use the same network
                try:
                    c = get_method(name).build(ds, arithmetic="float64", **{**options, **opts})
                except MemcapError as exc:  # a refusal rejects this candidate; a bug propagates
                    attempts.append(Attempt(name, opts, params, False,
                                            f"not built: {type(exc).__name__}: {exc}", not_built=True))
                    continue
                why = _prescreen(ds, c.network, precision, tolerance)
                if why is not None:
                    attempts.append(Attempt(name, opts, params, False, why))
                    continue
                say(f"{name}: certifying ({c.network.stored_parameters} stored parameters)")
                if not certify_built(c, ds, tol=tolerance, progress=progress):
                    rep = c.verification
                    raise ConstructionError(
                        f"{len(rep.failing)} point(s) not memorized (first {rep.failing[:5]}), "
                        f"{len(rep.undecided)} undecided")
        except MemcapError as exc:  # refused or not certified: the next candidate; a bug propagates
            attempts.append(Attempt(name, opts, params, False, f"not built/certified: {exc}",
                                    not_built=not isinstance(exc, ConstructionError)))
            continue
        cert = certify_precision(c.network, ds, precision, tol=tol, report=c.verification)
        attempts.append(Attempt(name, opts, params, cert.certified, cert.reason,
                                cert.bits_needed, cert,
                                bool(c.verification.float64_memorizes)))
        if cert.certified:
            c.network.meta[mk.PRECISION_CERTIFICATE] = cert.to_json()
            return c, cert, attempts
    higher = None
    if not any(a.certificate is not None and a.certificate.exact_memorized for a in attempts):
        # every candidate was rejected cheaply: find the method that works at a higher precision
        for p in PRECISIONS[PRECISIONS.index(precision) + 1:]:
            try:
                c, _, tried = choose_method(ds, p, tol=tolerance, methods=methods,
                                            max_parameters=max_parameters, progress=progress, **options)
            except ConstructionError:
                continue
            low = certify_precision(c.network, ds, precision, tol=tolerance, report=c.verification)
            higher = (p, tried[-1].method, low.bits_needed)
            break
    raise ConstructionError(_refusal(ds, precision, tolerance, attempts, higher))


def _refusal(ds: Dataset, precision: str, tolerance: float | None, attempts: list[Attempt],
             higher: tuple[str, str, int | None] | None = None) -> str:
    if not attempts:
        return f"no registered method applies to this {ds.task} data"
    lines = [f"no registered method is certified faithful in {precision} for {ds.name} (N={ds.N}"
             + (f", tolerance {tolerance:.3g})" if tolerance is not None else ")") + ":"]
    for a in attempts:
        lines.append(f"  {a.method}{' ' + str(a.options) if a.options else ''} ({a.parameters} "
                     f"parameters): {a.reason}")
    bits = [a.bits_needed for a in attempts if a.bits_needed is not None]
    if bits and precision in MANTISSA_BITS:
        best = min(bits)
        who = [a for a in attempts if a.bits_needed == best][0]
        lines.append(f"the best candidate ({who.method}) needs about {best} significand bits for a "
                     "certified evaluation; "
                     f"{precision} has {MANTISSA_BITS[precision]}")
    if higher is not None:
        p, name, hb = higher
        if hb is not None and precision in MANTISSA_BITS:
            lines.append(f"{name} needs about {hb} significand bits for a certified evaluation at "
                         f"this tolerance; {precision} has {MANTISSA_BITS[precision]}")
        lines.append(f"{name} is certified at {p}: use --precision {p}"
                     + (f" with --method {name}" if p == "float64" else ""))
        return "\n".join(lines)
    for p in PRECISIONS[PRECISIONS.index(precision) + 1:]:
        for a in attempts:
            if a.certificate is None or not a.certificate.exact_memorized:
                continue
            if p == "exact" or _holds_at(a, p):
                lines.append(f"{a.method} is certified at {p}: use --precision {p}"
                             + (f" with --method {a.method}" if p == "float64" else ""))
                return "\n".join(lines)
    failed = [a.method for a in attempts if a.not_built]
    checked = [a for a in attempts if a.certificate is not None]
    if failed:  # an error says nothing about exact arithmetic: do not claim more than was checked
        lines.append(f"{len(failed)} candidate(s) could not be built ({', '.join(dict.fromkeys(failed))}: "
                     "errors above), so they were never checked in exact arithmetic; "
                     + (f"{len(checked)} built candidate(s) do not memorize in exact arithmetic"
                        if checked else "the others were rejected at this precision only")
                     + ": try --precision exact or another --method")
    elif checked and len(checked) == len(attempts):
        lines.append("no candidate memorizes even in exact arithmetic at this tolerance: check the data "
                     "(distinct points) or raise the tolerance")
    else:
        lines.append(f"no candidate is certified at {precision}; those rejected at {precision} without "
                     "verification were not checked in exact arithmetic: try a higher precision")
    return "\n".join(lines)


def _holds_at(a: Attempt, precision: str) -> bool:
    return a.float64_ok if precision == "float64" else bool(a.certificate and a.certificate.exact_memorized)


PRESCREEN_POINTS = 4096


def _prescreen(ds: Dataset, net: Any, precision: str, tolerance: float | None) -> str | None:
    """A cheap, sound rejection: if the plain evaluation at ``precision`` already misses (error
    above the tolerance, or a wrong class) on some point, no certificate at that precision is
    possible. Evaluates at most ``PRESCREEN_POINTS`` points (a seeded random subset: the plain
    evaluation of every point costs N × parameters, the verifier's job). Returns the reason, or None
    when the candidate must go to the verifier."""
    from memcap.numerics import forward_float

    dtype = np.float32 if precision == "float32" else np.float64
    rows = np.arange(ds.N) if ds.N <= PRESCREEN_POINTS else np.sort(
        np.random.default_rng(0).choice(ds.N, PRESCREEN_POINTS, replace=False))
    step = max(1, 4_000_000 // max([ds.d_x, *net.widths, ds.d_y]))  # bounded memory
    out = np.concatenate([forward_float(net, ds.X[rows[s:s + step]], dtype).astype(np.float64)
                          for s in range(0, len(rows), step)], axis=0)
    if not np.all(np.isfinite(out)):
        return f"{precision} evaluation overflows"
    targets, labels = ds.targets[rows], (ds.labels[rows] if ds.task == "classification" else None)
    where = "" if len(rows) == ds.N else f"; {len(rows)} of the {ds.N} points evaluated"
    if tolerance is not None:
        err = float(np.max(np.abs(out - targets)))
        if err > tolerance:
            return (f"measured {precision} error {err:.3g} already exceeds the tolerance "
                    f"{tolerance:.3g} (rejected without verification{where})")
        from memcap.numerics import _prune_axis, forward_float_bounded

        if _prune_axis(net) is None:
            # the certified any-order rounding bound of a point does not depend on the other points
            # evaluated with it (no pruning), and a float certificate needs it ≤ the tolerance at
            # every point: a subset point above it refutes the certificate
            _, bnd = forward_float_bounded(net, ds.X[rows], dtype)
            worst = float(np.max(bnd))
            if worst > tolerance:
                return (f"certified {precision} rounding bound {worst:.3g} already exceeds the "
                        f"tolerance {tolerance:.3g} at some point (rejected before full "
                        f"verification{where})")
    elif ds.d_y > 1:
        wrong = int(np.sum(np.argmax(out, axis=1) != labels))
        if wrong:
            return (f"{precision} evaluation misclassifies {wrong} point(s) (rejected without "
                    f"verification{where})")
    return None

def adaptive_candidate(ds: Dataset, precision: str, tolerance: float | None, methods: list[str] | None,
                       max_parameters: int | None, progress: Callable[[str], None] | None,
                       options: dict[str, Any], attempts: list[Any]) -> Construction | None:
    """The built and verified adaptive network, or None (not applicable, not asked for, or refused:
    the refusal is recorded in ``attempts``)."""
    from memcap.adaptive.select import ADAPTIVE_OPTIONS, PRECISIONS

    if precision not in PRECISIONS or (methods is not None and "adaptive" not in methods):
        return None
    opts = {k: v for k, v in options.items() if k in ADAPTIVE_OPTIONS or k == "seed"}
    try:
        c = construct_one(ds, "adaptive", tol=tolerance, progress=progress, **opts)
    except MemcapError as exc:
        attempts.append(Attempt("adaptive", {}, 0, False, f"not built/certified: {exc}"))
        return None
    if max_parameters is not None and c.network.parameters > max_parameters:
        attempts.append(Attempt("adaptive", {}, c.network.parameters, False,
                                f"{c.network.parameters} parameters > max_parameters={max_parameters}"))
        return None
    return c
