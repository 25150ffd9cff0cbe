"""Certified memorization *at a precision*: exact arithmetic, float64 or float32 evaluation.

``certify_precision(net, ds, "float32")`` says whether running the network in float32 — weights and
inputs rounded to nearest, any summation order (numpy, torch, any BLAS) — provably memorizes the
data: regression within the tolerance, classification with the right class. It rests on
:func:`memcap.verify`, which bounds the exact network's error and the float evaluation's distance
to it (:func:`memcap.numerics.forward_float_bounded`).

``choose_method(ds, "float32")`` builds registered methods from the smallest (predicted dense
parameters) up and returns the first one certified faithful at that precision, with the reasons the
smaller ones were passed over; it refuses (``ConstructionError``) with the bits needed and the
method that would work at a higher precision.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from memcap.constructions.base import ConditionError, Construction, ConstructionError, all_methods
from memcap.data.dataset import Dataset

__all__ = ["PRECISIONS", "MANTISSA_BITS", "PrecisionCertificate", "precision_tolerance",
           "certify_precision", "choose_method", "candidate_methods"]

PRECISIONS = ("float32", "float64", "exact")
#: significand bits (including the implicit bit) of each float format
MANTISSA_BITS = {"float32": 24, "float64": 53}
#: tolerance factor per precision when none is given (× max(1, max |y|)); "faithful" in float32
#: means error ≤ 1e-3 (numerics aid §0)
DEFAULT_TOL = {"float32": 1e-3, "float64": 1e-6, "exact": 1e-6}


def precision_tolerance(ds: Dataset, precision: str, tol: float | None = None) -> float | None:
    """The regression tolerance used at ``precision`` (None for classification)."""
    _check_precision(precision)
    if ds.task == "classification":
        return None
    if tol is not None:
        return float(tol)
    return DEFAULT_TOL[precision] * max(1.0, float(np.max(np.abs(ds.targets))))


def _check_precision(precision: str) -> None:
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")


@dataclass
class PrecisionCertificate:
    """Whether evaluating a network at ``precision`` provably memorizes the data, and by how much.

    ``worst_bound``: regression — a certified upper bound on max_i |f_P(x_i) - y_i| over every
    point and every evaluation order at that precision; classification — a certified lower bound
    on the smallest margin f_y - max_{c≠y} f_c of that evaluation (> 0 means every class is right).
    """

    precision: str
    certified: bool
    task: str
    N: int
    tolerance: float | None
    worst_bound: float | None
    rounding_bound: float          # certified max |f_P(x) - f(x)| (0 for exact)
    measured_error: float | None   # plain numpy evaluation at that precision, max |f_P - y|
    exact_memorized: bool
    bits_needed: int | None
    reason: str
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return _finite(asdict(self))

    def summary(self) -> str:
        what = "certified" if self.certified else "NOT certified"
        if self.task == "regression":
            return (f"{self.precision}: {what} (worst-case |f - y| ≤ {_g(self.worst_bound)}, "
                    f"tolerance {_g(self.tolerance)})")
        return f"{self.precision}: {what} (smallest margin ≥ {_g(self.worst_bound)})"


def _g(v: Any) -> str:
    return "—" if v is None else f"{v:.3g}"


def _finite(d: Any) -> Any:
    if isinstance(d, dict):
        return {k: _finite(v) for k, v in d.items()}
    if isinstance(d, float) and not math.isfinite(d):
        return str(d)
    return d


def certify_precision(net: Any, ds: Dataset, precision: str, tol: float | None = None,
                      report: Any = None, progress: Callable[[str], None] | None = None
                      ) -> PrecisionCertificate:
    """Certify ``net`` on ``ds`` at ``precision`` (``report``: a VerificationReport made with the
    same tolerance, to avoid verifying twice)."""
    from memcap.verify import verify

    _check_precision(precision)
    tolerance = precision_tolerance(ds, precision, tol)
    if report is None or (tolerance is not None and report.tolerance != tolerance):
        report = verify(net, ds, tol=tolerance, progress=progress)
    exact_ok = bool(report.memorized and report.certified)
    cls = ds.task == "classification"
    if precision == "exact":
        worst = report.min_margin if cls else report.worst_error
        return PrecisionCertificate(
            "exact", exact_ok, ds.task, ds.N, tolerance, worst, 0.0, None, exact_ok,
            report.bits_needed,
            "exact arithmetic of the stored weights " + ("memorizes (certified)" if exact_ok else
                                                          _why_not(report)))
    bound = report.float32_bound if precision == "float32" else report.float64_bound
    measured = report.float32_error if precision == "float32" else report.float64_error
    ok = bool(report.float32_memorizes if precision == "float32" else report.float64_memorizes)
    ok = ok and exact_ok and math.isfinite(bound)
    if cls:
        worst = (report.min_margin - 2 * bound) if exact_ok and report.min_margin is not None else None
        if ok and worst is not None:  # per-point check passed; the min/max combination is looser
            worst = max(worst, 0.0)
        reason = (f"every class right in {precision} for any summation order: smallest exact margin "
                  f"{_g(report.min_margin)} > 2 × rounding bound {_g(bound)}" if ok else
                  f"{precision} rounding bound {_g(bound)} is not below half the smallest margin "
                  f"{_g(report.min_margin)}" if exact_ok else _why_not(report))
    else:
        worst = (report.worst_error + bound) if exact_ok and report.worst_error is not None else None
        if ok and worst is not None and tolerance is not None:  # certified per point: ≤ tolerance
            worst = min(worst, tolerance)
        reason = (f"|f_{precision}(x_i) - y_i| ≤ {_g(worst)} ≤ tolerance {_g(tolerance)} for every point "
                  "and any summation order" if ok else
                  f"certified {precision} error bound {_g(worst)} exceeds the tolerance {_g(tolerance)} "
                  f"(rounding bound {_g(bound)}, measured error {_g(measured)})" if exact_ok
                  else _why_not(report))
    return PrecisionCertificate(precision, ok, ds.task, ds.N, tolerance, worst, float(bound),
                                float(measured), exact_ok, _bits(report, precision, bound), reason)


def _bits(report: Any, precision: str, bound: float) -> int | None:
    """Significand bits t for which this bound, scaled to u = 2^-t (it is ≈ K·u), would still
    certify: K·2^-t ≤ slack (tolerance − exact error, or half the smallest exact margin)."""
    if not (report.memorized and report.certified) or not math.isfinite(bound):
        return report.bits_needed
    if report.task == "classification":
        slack = (report.min_margin or 0.0) / 2
    else:
        slack = (report.tolerance or 0.0) - (report.worst_error or 0.0)
    if slack <= 0:
        return None
    K = bound / 2.0 ** -MANTISSA_BITS[precision]
    return max(1, math.ceil(math.log2(max(K, 1e-300) / slack)))


def _why_not(report: Any) -> str:
    if report.failing:
        return f"the exact network misses {len(report.failing)} point(s) (first {report.failing[:5]})"
    return f"{len(report.undecided)} point(s) undecided by the verifier"


# ---- choosing the smallest method certified at a precision ----------------------------------------
def candidate_methods(ds: Dataset, precision: str) -> list[tuple[str, dict[str, Any], int]]:
    """(method, options, predicted dense parameters) for every registered method that applies to
    the data and predicts its size, smallest first. ``twoproj-5layer`` also enters with smaller q
    (q = 24, 16, 8: more parameters, smaller float32 error) when aiming at float32."""
    out: list[tuple[str, dict[str, Any], int]] = []
    for m in all_methods():
        if ds.task not in m.tasks or m.size_formula is None:
            continue
        variants: list[dict[str, Any]] = [{}]
        if m.name == "twoproj-5layer" and precision == "float32":
            variants += [{"q": q} for q in (24, 16, 8) if q < ds.N]
        for opts in variants:
            try:
                size = m.size_formula(ds, **opts)
            except Exception:  # noqa: BLE001 - a method that cannot size this data is no candidate
                continue
            out.append((m.name, opts, int(size["parameters"])))
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


def choose_method(ds: Dataset, precision: str, tol: float | None = None,
                  methods: list[str] | None = None, max_parameters: int | None = None,
                  progress: Callable[[str], None] | None = None, **options: Any
                  ) -> tuple[Construction, PrecisionCertificate, list[Attempt]]:
    """Build candidates smallest first; return the first certified at ``precision`` with its
    certificate and the attempts before it. ``methods`` restricts the candidates (in that case
    ``options`` go to every candidate). Raises ``ConstructionError`` when none is certified,
    naming the mantissa bits needed and which method is certified at a higher precision."""
    import memcap

    _check_precision(precision)
    say = progress or (lambda _m: None)
    tolerance = precision_tolerance(ds, precision, tol)
    cands = candidate_methods(ds, precision)
    if methods is not None:
        unknown = set(methods) - {m.name for m in all_methods()}
        if unknown:
            raise KeyError(f"unknown method(s) {sorted(unknown)}; see `memcap methods`")
        cands = [c for c in cands if c[0] in methods and (not c[1] or not options)]
        if not cands and "adaptive" not in methods:
            raise ConditionError(f"method(s) {methods} do not apply to {ds.task} data or cannot "
                                 "predict their size")
    if max_parameters is not None:
        cands = [c for c in cands if c[2] <= max_parameters]
    attempts: list[Attempt] = []
    # adaptive (trained + certified) has no size before it is built: build it, rank it by its size
    from memcap.adaptive.select import ADAPTIVE_OPTIONS, adaptive_candidate

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
                built.network.meta["precision_certificate"] = cert.to_json()
                return built, cert, attempts
            continue
        say(f"{name} {opts or ''}: building ({params} parameters)")
        if precision != "exact":
            why = _prescreen(ds, name, {**options, **opts}, precision, tolerance)
            if why is not None:
                attempts.append(Attempt(name, opts, params, False, why))
                continue
        try:
            c = memcap.construct(ds, name, arithmetic="auto" if precision == "exact" else "float64",
                                 tol=tolerance, progress=progress, **{**options, **opts})
        except (ConditionError, ConstructionError, ValueError) as exc:
            attempts.append(Attempt(name, opts, params, False, f"not built/certified: {exc}"))
            continue
        except Exception as exc:  # noqa: BLE001 - one failing candidate must not stop the search
            attempts.append(Attempt(name, opts, params, False,
                                    f"failed: {type(exc).__name__}: {exc}"))
            continue
        cert = certify_precision(c.network, ds, precision, tol=tol, report=c.verification)
        attempts.append(Attempt(name, opts, params, cert.certified, cert.reason,
                                cert.bits_needed, cert,
                                bool(c.verification.float64_memorizes)))
        if cert.certified:
            c.network.meta["precision_certificate"] = cert.to_json()
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
    lines.append("no candidate memorizes even in exact arithmetic at this tolerance: check the data "
                 "(distinct points) or raise the tolerance")
    return "\n".join(lines)


def _holds_at(a: Attempt, precision: str) -> bool:
    return a.float64_ok if precision == "float64" else bool(a.certificate and a.certificate.exact_memorized)


def _prescreen(ds: Dataset, name: str, opts: dict[str, Any], precision: str,
               tolerance: float | None) -> str | None:
    """A cheap, sound rejection: if the plain evaluation at ``precision`` already misses (error
    above the tolerance, or a wrong class), no certificate at that precision is possible. Returns
    the reason, or None when the candidate must go to the verifier."""
    from memcap.constructions.base import get_method
    from memcap.numerics import forward_float

    try:
        c = get_method(name).build(ds, arithmetic="float64", **opts)
    except Exception as exc:  # noqa: BLE001 - any failure rejects this candidate, with its reason
        return f"not built: {type(exc).__name__}: {exc}"
    dtype = np.float32 if precision == "float32" else np.float64
    step = max(1, 4_000_000 // max([ds.d_x, *c.network.widths, ds.d_y]))  # bounded memory
    out = np.concatenate([forward_float(c.network, ds.X[s:s + step], dtype).astype(np.float64)
                          for s in range(0, ds.N, step)], axis=0)
    if not np.all(np.isfinite(out)):
        return f"{precision} evaluation overflows"
    if tolerance is not None:
        err = float(np.max(np.abs(out - ds.targets)))
        if err > tolerance:
            return (f"measured {precision} error {err:.3g} already exceeds the tolerance "
                    f"{tolerance:.3g} (rejected without verification)")
    elif ds.d_y > 1:
        wrong = int(np.sum(np.argmax(out, axis=1) != ds.labels))
        if wrong:
            return f"{precision} evaluation misclassifies {wrong} point(s) (rejected without verification)"
    return None
