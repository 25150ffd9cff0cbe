"""Robust memorization check: is every point classified correctly on its whole ball?

``verify_robust(net, ds, radius, norm)`` asks, for every point ``x_i`` with label ``y_i``, whether
``f_{y_i}(z) > f_c(z)`` for every ``c != y_i`` and every ``z`` with ``||z - x_i||_p <= radius``
(closed ball; a tie counts as wrong, as in :func:`memcap.verify`). Robust memorization (Yu, Gao &
Zhang 2024, Def. 3.2) asks this of all points; it is impossible once ``radius >= λ_D/2`` in the same
norm (two opposite-label balls meet).

Three tiers, reported separately and never mixed:

1. ``attack`` (:mod:`.robust_attack`): corners/vertices and PGD; finds confirmed counterexamples,
   proves nothing.
2. ``bounds`` (:mod:`.robust_bounds`): IBP and CROWN, sound in floating point; proves, never
   refutes.
3. ``milp`` (:mod:`.milp`): MILP (HiGHS) per point with a time limit; proves only when the exact
   tier (:mod:`.exact`, exactly checked LP bounds in a branch and bound) re-derives HiGHS's answer,
   refutes (replayed exactly) or says unknown.

With ``cascade=True`` (default) a tier only sees the points the earlier tiers left open; with
``cascade=False`` every tier examines every point (so a broken network is caught by each tier on
its own). A point proven by one tier and refuted by another is flagged as a verifier bug.
*Robust accuracy* is the fraction proven (a certified lower bound); ``1 - refuted/N`` is an upper
bound; they coincide when nothing is unknown.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from memcap import meta as mk
from memcap.certify.robust.attack import Counterexample, attack
from memcap.certify.robust.bounds import bound_margins
from memcap.certify.robust.milp import milp_point
from memcap.data.dataset import Dataset
from memcap.errors import OptionError
from memcap.network import Network
from memcap.norms import BALL_NORMS, norm_name, parse_norm

__all__ = ["RobustReport", "TierReport", "verify_robust", "ball_norm", "promised_robustness", "TIERS"]

TIERS = ("attack", "bounds", "milp")


def ball_norm(norm: Any) -> str:
    """The ball norm as ``"inf"``, ``"2"`` or ``"1"`` (the norms the tiers implement), read by
    :func:`memcap.norms.parse_norm`; another norm raises :class:`~memcap.errors.OptionError`."""
    return norm_name(parse_norm(norm, allowed=BALL_NORMS))


def promised_robustness(net: Network) -> dict[str, Any] | None:
    """The robustness a construction promised (``{"radius": r, "norm": "inf"}``), if recorded in
    ``net.meta`` under :data:`memcap.meta.ROBUST`, at the top level or (files of older versions) inside
    the certificate or info entries)."""
    meta = net.meta or {}
    for src in (meta, meta.get(mk.CERTIFICATE) or {}, meta.get(mk.INFO) or {}):
        rob = src.get(mk.ROBUST) if isinstance(src, dict) else None
        if isinstance(rob, dict) and "radius" in rob:
            try:  # yu-robust's general Lp (p = 3) reads as "3", never equal to inf/2/1
                norm = norm_name(parse_norm(rob.get("norm", "inf")))
            except OptionError:  # not a norm memcap knows: kept as written
                norm = str(rob.get("norm"))
            return {"radius": float(rob["radius"]), "norm": norm}
    return None


@dataclass
class TierReport:
    """What one tier decided on the points it examined."""

    name: str
    examined: int = 0
    proven: int = 0
    refuted: int = 0
    undecided: int = 0
    seconds: float = 0.0
    by_method: dict[str, int] = field(default_factory=dict)   # e.g. {"ibp": 3, "crown": 5}
    notes: list[str] = field(default_factory=list)

    @property
    def seconds_per_point(self) -> float | None:
        return self.seconds / self.examined if self.examined else None

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "examined": self.examined, "proven": self.proven,
                "refuted": self.refuted, "undecided": self.undecided, "seconds": self.seconds,
                "seconds_per_point": self.seconds_per_point, "by_method": self.by_method,
                "notes": self.notes}


@dataclass
class RobustReport:
    radius: float
    norm: str
    N: int
    status: list[str]                        # per point: proven | refuted | unknown | inconsistent
    decided_by: list[str | None]             # per point: the first tier that decided it
    tiers: dict[str, TierReport]
    counterexamples: dict[int, Counterexample]
    separation: float                        # λ_D in this norm
    promised: dict[str, Any] | None
    bounds_margin: list[float] | None        # per point: certified lower bound on the worst margin
    seconds: float
    notes: list[str] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(s == status for s in self.status)

    @property
    def proven(self) -> int:
        return self.count("proven")

    @property
    def refuted(self) -> int:
        return self.count("refuted")

    @property
    def unknown(self) -> int:
        return self.count("unknown")

    @property
    def inconsistent(self) -> list[int]:
        return [i for i, s in enumerate(self.status) if s == "inconsistent"]

    @property
    def robust_accuracy(self) -> float:
        """Fraction of points proven robust (certified lower bound on the robust accuracy)."""
        return self.proven / self.N

    @property
    def robust_accuracy_upper(self) -> float:
        """1 - fraction with a confirmed counterexample (upper bound)."""
        return 1 - self.refuted / self.N

    @property
    def covered_by_promise(self) -> bool:
        p = self.promised
        return bool(p and p["norm"] == self.norm and self.radius <= p["radius"])

    @property
    def promise_broken(self) -> bool:
        """A construction promised robustness here and a point is not proven robust: a bug."""
        return self.covered_by_promise and self.proven < self.N

    @property
    def all_proven(self) -> bool:
        return self.proven == self.N

    def to_json(self) -> dict[str, Any]:
        return {
            "radius": self.radius, "norm": self.norm, "N": self.N, "separation": self.separation,
            "radius_over_half_separation": self.radius / (self.separation / 2),
            "robust_accuracy": self.robust_accuracy, "robust_accuracy_upper": self.robust_accuracy_upper,
            "proven": self.proven, "refuted": self.refuted, "unknown": self.unknown,
            "inconsistent": self.inconsistent, "tiers": {k: v.to_json() for k, v in self.tiers.items()},
            "refuted_points": sorted(self.counterexamples)[:50],
            "unknown_points": [i for i, s in enumerate(self.status) if s == "unknown"][:50],
            "points": [{"index": i, "status": s, "decided_by": self.decided_by[i],
                        "bounds_margin": _finite(self.bounds_margin[i]) if self.bounds_margin else None}
                       for i, s in enumerate(self.status)],
            "promised": self.promised, "covered_by_promise": self.covered_by_promise,
            "promise_broken": self.promise_broken, "seconds": self.seconds, "notes": self.notes,
        }


def _finite(v: float) -> float | None:
    return v if math.isfinite(v) else None


def _check_inputs(net: Network, ds: Dataset, radius: float, tiers: tuple[str, ...]) -> None:
    if ds.task != "classification":
        raise ValueError("robust memorization is defined for classification data (a label per ball); "
                         f"{ds.name} is {ds.task} data. Load it with task='classification' if its "
                         "targets are class labels")
    if not (isinstance(radius, int | float) and math.isfinite(radius) and radius > 0):
        raise ValueError(f"the radius must be a finite number > 0, got {radius!r}")
    if net.in_dim != ds.d_x or net.out_dim != ds.d_y:
        raise ValueError(f"network maps R^{net.in_dim} -> R^{net.out_dim} but the data have d_x = "
                         f"{ds.d_x} and {ds.d_y} classes (one output per class expected)")
    bad = [t for t in tiers if t not in TIERS]
    if bad or not tiers:
        raise ValueError(f"unknown tier(s) {bad or tiers}: choose from {', '.join(TIERS)}")


def verify_robust(net: Network, ds: Dataset, radius: float, norm: Any = "inf",
                  tiers: tuple[str, ...] | list[str] = TIERS, time_limit: float = 10.0,
                  cascade: bool = True, crown: bool = True, attack_steps: int = 40,
                  attack_restarts: int = 5, seed: int = 0, milp_max_points: int | None = None,
                  progress: Callable[[str], None] | None = None) -> RobustReport:
    """Decide robustness of every point at ``radius`` in the ``norm`` ball (see the module doc).

    ``time_limit`` is the MILP time limit per point in seconds; ``milp_max_points`` caps how many
    points the MILP tier examines (the rest stay unknown, with a note).
    """
    t_start = time.perf_counter()
    say = progress or (lambda _m: None)
    norm = ball_norm(norm)
    tiers = tuple(tiers)
    _check_inputs(net, ds, radius, tiers)
    radius = float(radius)
    cas = _Cascade(net, ds.X.astype(np.float64), ds.labels.astype(int), radius, norm, cascade, say)
    sep = ds.separation({"inf": np.inf, "2": 2, "1": 1}[norm])
    notes: list[str] = []
    if radius >= sep / 2:
        notes.append(f"radius {radius:.6g} >= λ_D/2 = {sep / 2:.6g} (L{norm}): two opposite-label closed "
                     "balls meet, so no network memorizes this data robustly at this radius")
    reports: dict[str, TierReport] = {}
    for tier in TIERS:
        if tier not in tiers:
            continue
        idx = cas.open_points()
        rep = TierReport(tier, examined=len(idx))
        reports[tier] = rep
        t0 = time.perf_counter()
        if tier == "attack" and len(idx):
            cas.attack_tier(idx, rep, attack_steps, attack_restarts, seed)
        elif tier in ("bounds", "milp") and (len(idx) or tier == "bounds"):
            cas.sound_bounds(crown)
            if tier == "bounds":
                cas.bounds_tier(idx, rep)
            else:
                cas.milp_tier(idx, rep, milp_max_points, time_limit)
        if tier != "bounds":
            rep.seconds = time.perf_counter() - t0
        rep.undecided = rep.examined - rep.proven - rep.refuted
    status = ["inconsistent" if p and r else "proven" if p else "refuted" if r else "unknown"
              for p, r in zip(cas.proven, cas.refuted, strict=True)]
    if any(s == "inconsistent" for s in status):
        notes.append("VERIFIER BUG: points proven robust by one tier and refuted by another: "
                     f"{[i for i, s in enumerate(status) if s == 'inconsistent'][:10]}")
    return RobustReport(radius, norm, cas.N, status, cas.first, reports, cas.ces, float(sep),
                        promised_robustness(net), cas.bounds_margin, time.perf_counter() - t_start, notes)


class _Cascade:
    """The state the tiers share: which points are proven or refuted (and by which tier first),
    the counterexamples, and the sound bounds (computed once, reused by the MILP tier)."""

    def __init__(self, net: Network, X: np.ndarray, labels: np.ndarray, radius: float, norm: str,
                 cascade: bool, say: Callable[[str], None]) -> None:
        self.net, self.X, self.labels, self.radius, self.norm = net, X, labels, radius, norm
        self.cascade, self.say, self.N = cascade, say, len(X)
        self.proven = np.zeros(self.N, dtype=bool)
        self.refuted = np.zeros(self.N, dtype=bool)
        self.first: list[str | None] = [None] * self.N
        self.ces: dict[int, Counterexample] = {}
        self.bounds_margin: list[float] | None = None
        self.zb: list[Any] | None = None
        self.per_class: np.ndarray | None = None

    def open_points(self) -> np.ndarray:
        return np.flatnonzero(~(self.proven | self.refuted)) if self.cascade else np.arange(self.N)

    def mark(self, i: int, what: str, tier: str) -> None:
        (self.proven if what == "proven" else self.refuted)[i] = True
        if self.first[i] is None:
            self.first[i] = tier

    def attack_tier(self, idx: np.ndarray, rep: TierReport, steps: int, restarts: int, seed: int) -> None:
        self.say(f"attack (corners + PGD) on {len(idx)} points")
        found = attack(self.net, self.X[idx], self.labels[idx], self.radius, self.norm, steps=steps,
                       restarts=restarts, seed=seed)
        for k, i in enumerate(idx):
            if found[k] is not None:
                found[k].index = int(i)
                self.ces.setdefault(int(i), found[k])
                self.mark(int(i), "refuted", "attack")
                rep.refuted += 1
        rep.by_method = {m: sum(1 for f in found if f is not None and f.found_by == m)
                         for m in ("corners", "pgd")}

    def sound_bounds(self, crown: bool) -> None:
        """IBP and CROWN margins of every point (once)."""
        if self.zb is not None:
            return
        self.say("sound bounds (IBP, CROWN) on all points")
        tb = time.perf_counter()
        res = bound_margins(self.net, self.X, self.labels, self.radius, self.norm,
                            crown="auto" if crown else False)
        self.zb, self.per_class = res.z_bounds, res.per_class
        crown_lo = res.crown if res.crown is not None else np.full(self.N, -np.inf)
        self.bounds_margin = [float(v) for v in np.maximum(res.ibp, crown_lo)]
        self.bounds_seconds = time.perf_counter() - tb
        self.by_ibp, self.by_crown = res.ibp > 0, (crown_lo > 0) & ~(res.ibp > 0)

    def bounds_tier(self, idx: np.ndarray, rep: TierReport) -> None:
        for i in idx:
            if self.by_ibp[i] or self.by_crown[i]:
                self.mark(int(i), "proven", "bounds")
                rep.proven += 1
        rep.by_method = {"ibp": int(self.by_ibp[idx].sum()), "crown": int(self.by_crown[idx].sum())}
        rep.seconds = self.bounds_seconds * len(idx) / max(self.N, 1)

    def milp_tier(self, idx: np.ndarray, rep: TierReport, max_points: int | None, time_limit: float) -> None:
        if max_points is not None and len(idx) > max_points:
            rep.notes.append(f"MILP capped at {max_points} of {len(idx)} open points")
            idx = idx[:max_points]
            rep.examined = len(idx)
        self.say(f"exact MILP (HiGHS) on {len(idx)} points, {time_limit:g} s each")
        if self.norm == "2":
            rep.notes.append("L2 ball: MILP over outer polytopes refined by cutting planes; "
                             "unknown when the cuts or the time run out")
        assert self.zb is not None
        for i in idx:
            cls = None
            if self.cascade and self.per_class is not None:
                cls = [c for c in range(self.net.out_dim)
                       if c != self.labels[i] and not self.per_class[i, c] > 0]
            outc = milp_point(self.net, self.X[i], int(self.labels[i]), self.radius, self.norm, self.zb[i],
                              classes=cls, time_limit=time_limit)
            rep.by_method["binaries_max"] = max(rep.by_method.get("binaries_max", 0), outc.binaries)
            if outc.status == "proven":
                self.mark(int(i), "proven", "milp")
                rep.proven += 1
            elif outc.status == "refuted" and outc.counterexample is not None:
                outc.counterexample.index = int(i)
                self.ces.setdefault(int(i), outc.counterexample)
                self.mark(int(i), "refuted", "milp")
                rep.refuted += 1
            elif outc.detail and len(rep.notes) < 5:
                rep.notes.append(f"point {i}: unknown ({outc.detail})")
