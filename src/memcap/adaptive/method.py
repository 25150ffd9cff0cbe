"""``adaptive``: the smallest network found for *this* data, certified to memorize it in float32.

Not a theorem. The network is trained (PyTorch, :mod:`memcap.adaptive.train`), then certified point
by point in float32 for any summation order and in exact arithmetic (:func:`memcap.numerics.
forward_float_bounded`), and the points that fail are repaired — first by more training weighted on
them, then by exact-zero gates (:mod:`memcap.adaptive.repair`) that change the output at those
points only. The returned network is certified by :func:`memcap.verify` (exact) and
:func:`memcap.certify.precision.certify_precision` (float32); otherwise the method refuses with
:class:`~memcap.errors.ConstructionError`. Training randomness never enters the guarantee: it only
decides which network is certified.

Search: widths ``min_width, 2·min_width, 4·min_width, ...`` until a trained network is certified on
every point (each wider network warm-started from the narrower one), then bisection between the last
two. Doubling stops early when two doublings did not reduce the failing points by 3 % (random
regression targets: no trained width helps) or when even a perfect wider network would be larger
than the best repaired candidate. Every width tried is a candidate with its repair cost
(:func:`~memcap.adaptive.repair.repaired_parameters`); candidates are built smallest first. With
``N ≤ max_repair`` the pure lookup network (gates only, no training) is a candidate too: on small
data, or with a regression tolerance no training reaches, it is what certifies.

The time budget ``max_seconds`` (CPU seconds of this process) is checked between trainings and
every 50 steps inside one; the result is deterministic given ``seed`` unless the budget stops the
search (the certificate says so).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from memcap import meta as mk
from memcap.adaptive.repair import (
    Gate,
    assemble,
    design_gate,
    point_status,
    repaired_parameters,
    trained_net,
)
from memcap.adaptive.train import Trained, fold_float32, train_width
from memcap.constructions.base import Certificate, Condition, Construction, register
from memcap.constructions.options import ACTIVATION, SEED, WIDTHS, Option
from memcap.data.dataset import Dataset
from memcap.errors import ConditionError, ConstructionError, OptionError
from memcap.network import RELU, Activation, Network

__all__ = ["adaptive", "Candidate", "tolerances"]

THEOREM = ("not a theorem: a trained network certified in float32 (any summation order) and in exact "
           "arithmetic, with failing points repaired by further training and exact-zero gates")

def _clock() -> float:
    """The budget's clock: CPU seconds of this process. Training is single-threaded, so load from
    other processes on the machine neither shortens the search nor changes its result."""
    return time.process_time()


REF = "memcap adaptive (PyTorch training + memcap float-bound certification + gated repair)"


@dataclass
class Candidate:
    width: int
    trained: Trained | None
    folded: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None
    residual: np.ndarray  # indices failing certification after training (and repair training)
    failed_before_repair: int
    parameters: int


def tolerances(ds: Dataset, tol: float | None) -> tuple[float | None, float | None]:
    """(exact tolerance, float32 tolerance) for regression: exact within ``tol`` (default
    :func:`memcap.verify.default_tolerance`, what ``memcap.construct`` verifies), float32 within
    max(tol, 1e-3·max(1, max|y|)) (memcap's float32 default); (None, None) for classification."""
    if ds.task == "classification":
        return None, None
    from memcap.certify.memorization import default_tolerance
    from memcap.certify.precision import precision_tolerance

    t_exact = float(tol) if tol is not None else default_tolerance(ds)
    return t_exact, max(t_exact, float(precision_tolerance(ds, "float32")))


def _widths(min_width: int, max_width: int, widths: Any) -> tuple[int, int, list[int] | None]:
    if widths is not None:
        ws = [int(w) for w in (widths if isinstance(widths, list | tuple) else [widths])]
        if not ws or any(w < 1 for w in ws):
            raise OptionError(f"adaptive widths must be positive hidden widths to try, got {widths!r}")
        return min(ws), max(ws), sorted(set(ws))
    if min_width < 1 or max_width < min_width:
        raise OptionError(f"adaptive needs 1 ≤ min_width ≤ max_width, got {min_width}, {max_width}")
    return min_width, max_width, None


@register(
    "adaptive",
    theorem=THEOREM,
    condition="none beyond distinct points; refuses (ConstructionError) when no candidate is "
              "certified in float32 within the time budget (e.g. points float32 cannot tell apart)",
    sizes="data-dependent: trained width w found by search, plus per repaired point 2 first-layer "
          "units and 1 gate unit (and d_y carry units once); predicted after training, not before",
    options=(SEED,
             Option("max_seconds", float, 60.0, "CPU-seconds budget of the width search", low=0,
                    open_low=True),
             Option("min_width", int, 1, "smallest trained width searched", low=1),
             Option("max_width", int, None, "largest trained width searched (default 4·N)", low=1),
             WIDTHS.with_default(None, "train exactly these widths (one hidden layer: one number)"),
             Option("steps", int, None, "training steps per width (default 3000 classification, "
                    "1500 regression)", low=1),
             Option("repair_steps", int, None, "weighted re-training steps of failing points "
                    "(default steps/3)", low=0),
             Option("max_repair", int, 256, "most points repaired by exact gates", low=0),
             Option("lr", float, None, "Adam learning rate (default 0.01)", low=0, open_low=True),
             ACTIVATION),
)
def adaptive(ds: Dataset, arithmetic: str = "float64", tol: float | None = None, seed: int = 0,
             max_seconds: float = 60.0, min_width: int = 1, max_width: int | None = None,
             widths: Any = None, steps: int | None = None, repair_steps: int | None = None,
             max_repair: int = 256, lr: float | None = None, activation: Any = "relu",
             progress: Callable[[str], None] | None = None) -> Construction:
    """Train, certify in float32, repair; see the module docstring.

    Options: ``tol`` (regression; see :func:`tolerances`), ``seed``, ``max_seconds`` (search budget),
    ``min_width``/``max_width`` (trained widths searched; default 1 to 4·N) or ``widths`` (exactly
    those), ``steps`` (training steps per width; default 3000 classification, 1500 regression),
    ``repair_steps`` (weighted re-training of failing points; default steps/3), ``max_repair``
    (most gated points), ``lr`` (Adam, default 0.01). ``arithmetic`` is accepted and ignored: the
    weights are float32 values, certified exactly as stored.

    Long: the width search (doubling, bisection), repair and certification share one time budget and its
    state; the steps are helper functions, the loop stays here.
    """
    t0 = _clock()
    say = progress or (lambda _m: None)
    act = Activation.parse(activation) if isinstance(activation, str) else activation
    if act != RELU:
        raise ConditionError(f"adaptive trains and gates plain ReLU networks, not {act.name}: use "
                             "activation='relu'")
    lo_w, hi_w, fixed = _widths(int(min_width), int(max_width or max(4 * ds.N, 2)), widths)
    if max_seconds <= 0:
        raise OptionError(f"max_seconds must be positive, got {max_seconds}")
    cls = ds.task == "classification"
    steps = int(steps or (3000 if cls else 1500))
    repair_steps = int(repair_steps if repair_steps is not None else steps // 3)
    tol_exact, tol32 = tolerances(ds, tol)
    deadline = t0 + float(max_seconds)
    cands: dict[int, Candidate] = {}
    budget_hit = False

    def evaluate(width: int, warm: Trained | None) -> Candidate:
        say(f"adaptive: training width {width} ({_clock() - t0:.1f} s)")
        t = train_width(ds, width, seed=seed, steps=steps, lr=lr, warm=warm, tol=tol32,
                        deadline=deadline)
        folded = fold_float32(t, ds)
        ok = point_status(trained_net(*folded), ds, tol_exact, tol32)
        before = int((~ok).sum())
        if 0 < before <= 0.05 * ds.N + 10 and repair_steps and _clock() < deadline:
            weights = np.where(ok, 1.0, 10.0)
            t2 = train_width(ds, width, seed=seed + 1, steps=repair_steps, lr=lr, warm=t,
                             weights=weights, tol=tol32, deadline=deadline)
            f2 = fold_float32(t2, ds)
            ok2 = point_status(trained_net(*f2), ds, tol_exact, tol32)
            if (~ok2).sum() < (~ok).sum():
                t, folded, ok = t2, f2, ok2
        res = np.flatnonzero(~ok)
        c = Candidate(width, t, folded, res, before,
                      repaired_parameters(width, len(res), ds.d_x, ds.d_y))
        say(f"adaptive: width {width}: {before} point(s) failed after training, {len(res)} after "
            f"repair training; {c.parameters} parameters with gates")
        cands[width] = c
        return c

    # ---- width search ---------------------------------------------------------------------------
    if fixed is not None:
        prev = None
        for w in fixed:
            if _clock() > deadline:
                budget_hit = True
                break
            prev = evaluate(w, prev.trained if prev is not None and prev.width < w else None)
    else:
        w, prev = lo_w, None
        while True:
            if _clock() > deadline:
                budget_hit = True
                break
            prev = evaluate(w, prev.trained if prev is not None else None)
            if not len(prev.residual) or w >= hi_w:
                break
            w = min(2 * w, hi_w)
            best = min((c.parameters for c in cands.values() if len(c.residual) <= max_repair),
                       default=None)
            if best is not None and repaired_parameters(w, 0, ds.d_x, ds.d_y) >= best:
                break  # even a perfectly fitted wider network would be larger than a repaired one
            quarter = cands.get(prev.width // 4)
            if quarter is not None and len(prev.residual) > 0.97 * len(quarter.residual):
                break  # two doublings without progress (e.g. random regression targets): stop
        good = [c.width for c in cands.values() if not len(c.residual)]
        if good:
            hi = min(good)
            below = [c.width for c in cands.values() if c.width < hi]
            lo = max(below) if below else hi
            while hi - lo > 1:
                if _clock() > deadline:
                    budget_hit = True
                    break
                mid = (lo + hi) // 2
                c = evaluate(mid, cands[lo].trained)
                if len(c.residual):
                    lo = mid
                else:
                    hi = mid
    # ---- candidates, smallest first ---------------------------------------------------------------
    options = [c for c in cands.values() if len(c.residual) <= max_repair]
    if ds.N <= max_repair:
        options.append(Candidate(0, None, None, np.arange(ds.N), ds.N,
                                 repaired_parameters(0, ds.N, ds.d_x, ds.d_y)))
    options.sort(key=lambda c: (c.parameters, c.width))
    reasons: list[str] = []
    for cand in options:
        say(f"adaptive: building width {cand.width} with {len(cand.residual)} gate(s) "
            f"({cand.parameters} parameters)")
        try:
            net, gates = _build(ds, cand, seed, tol_exact, tol32, max_repair)
        except ConstructionError as exc:
            reasons.append(f"width {cand.width}: {exc}")
            continue
        cert, rep, prec = _certify(net, ds, tol_exact, tol32, say)
        if cert:
            return _construction(ds, net, cand, gates, rep, prec, cands, budget_hit, seed, t0,
                                 tol_exact, tol32)
        reasons.append(f"width {cand.width} with {len(gates)} gate(s): {prec.reason}")
    tried = ", ".join(f"{c.width}: {len(c.residual)} failing" for c in sorted(cands.values(),
                                                                               key=lambda c: c.width))
    raise ConstructionError(
        f"adaptive found no network certified in float32 for {ds.name} (N={ds.N}) within "
        f"{max_seconds:g} s: widths tried {{{tried}}} (at most {max_repair} points are repaired by "
        "gates)" + ("; " + "; ".join(reasons[:5]) if reasons else "")
        + ("; the time budget stopped the search: raise max_seconds" if budget_hit else
           "; raise max_width or max_repair, or use a worst-case method"))


def _build(ds: Dataset, cand: Candidate, seed: int, tol_exact: float | None, tol32: float | None,
           max_repair: int) -> tuple[Network, list[Gate]]:
    """Assemble the candidate; points that still fail (the carry path adds rounding) get gates too,
    at most twice more."""
    if not len(cand.residual):
        return trained_net(*cand.folded), []  # type: ignore[misc]
    gates: dict[int, Gate] = {}
    todo = list(cand.residual)
    for _round in range(3):
        for r in todo:
            g = design_gate(ds.X, int(r), np.random.default_rng([seed, int(r)]))
            if g is None:
                raise ConstructionError(f"no float32 gate isolates point {int(r)} (its nearest "
                                        "neighbours are closer than float32 resolves)")
            gates[int(r)] = g
        if len(gates) > max_repair:
            raise ConstructionError(f"{len(gates)} points need gates (max_repair={max_repair})")
        net = assemble(ds, cand.folded, [gates[k] for k in sorted(gates)])
        ok = point_status(net, ds, tol_exact, tol32)
        todo = [int(i) for i in np.flatnonzero(~ok) if int(i) not in gates]
        if not todo:
            return net, [gates[k] for k in sorted(gates)]
        if np.any(~ok[sorted(gates)]):
            bad = [k for k in sorted(gates) if not ok[k]]
            raise ConstructionError(f"gated point(s) {bad[:5]} still fail in float32 (gate rounding "
                                    "too large for the margin)")
    raise ConstructionError("repair did not converge in 3 rounds")


def _certify(net: Network, ds: Dataset, tol_exact: float | None, tol32: float | None,
             say: Callable[[str], None]) -> tuple[bool, Any, Any]:
    from memcap.certify import verify
    from memcap.certify.precision import certify_precision

    rep = verify(net, ds, tol=tol_exact)
    prec = certify_precision(net, ds, "float32", tol=tol32,
                             report=rep if tol32 == tol_exact else None)
    ok = bool(rep.memorized and rep.certified and prec.certified)
    say(f"adaptive: certification {'passed' if ok else 'failed'}: {prec.reason}")
    return ok, rep, prec


def _construction(ds: Dataset, net: Network, cand: Candidate, gates: list[Gate], rep: Any, prec: Any,
                  cands: dict[int, Candidate], budget_hit: bool, seed: int, t0: float,
                  tol_exact: float | None, tol32: float | None) -> Construction:
    net.meta.update({mk.METHOD: "adaptive", mk.ACTIVATION: "relu", mk.FLOAT32_WEIGHTS: True})
    search = {c.width: {"failing_after_training": c.failed_before_repair,
                        "failing_after_repair_training": int(len(c.residual)),
                        "parameters_with_gates": c.parameters}
              for c in sorted(cands.values(), key=lambda c: c.width)}
    notes = []
    if cand.trained is not None:
        notes.append(f"trained width {cand.width} (PyTorch float32, Adam, seed {seed}, "
                     f"{cand.trained.steps} steps, {cand.trained.seconds:.2f} s)")
        if cand.failed_before_repair:
            notes.append(f"{cand.failed_before_repair} point(s) failed float32 certification after "
                         f"training; re-training weighted on them left {len(cand.residual)}")
    else:
        notes.append("no trained part: every point is stored by its own gate (lookup network)")
    if gates:
        ids = [g.r for g in gates]
        notes.append(f"{len(gates)} point(s) repaired by exact-zero gates (relu(1 - |t_r|), zero at "
                     f"every other training point): {ids[:50]}" + (" ..." if len(ids) > 50 else ""))
        kinds: dict[str, int] = {}
        for g in gates:
            k = g.direction.split(" to ")[0].split(" ")[0]
            kinds[k] = kinds.get(k, 0) + 1
        notes.append("gate directions: " + ", ".join(f"{v} {k}" for k, v in sorted(kinds.items())))
    notes.append("widths tried: " + ", ".join(f"{w} ({v['failing_after_repair_training']} failing)"
                                              for w, v in search.items()))
    if budget_hit:
        notes.append("the time budget stopped the width search early (a larger budget may find a "
                     "smaller network; the result then depends on the machine's speed)")
    notes.append("weights are float32 values: the certificate holds for the network as run in "
                 "float32 (e.g. torch float32), any summation order")
    task_g = ("every class right (margin > 0)" if ds.task == "classification" else
              f"|f(x_i) - y_i| ≤ {tol_exact:.3g} in exact arithmetic")
    cert = Certificate(
        "adaptive", THEOREM, REF,
        [Condition("every point certified in float32, any summation order",
                   {"N": ds.N, "repaired": len(gates), "tolerance": tol32}, True)],
        [f"{task_g}, certified by memcap.verify",
         "float32 evaluation, any summation order: " + prec.reason,
         "a gate is an exact zero at every training point but its own (pre-activation ≤ -1 with "
         "margin for float32 rounding); off the data, gates fire only near their point"],
        "float32", notes)
    info = {"build_seconds": _clock() - t0, "width": cand.width, "gates": len(gates), "search": search,
            "seed": seed, "budget_hit": budget_hit,
            "float32_tolerance": tol32, "exact_tolerance": tol_exact,
            "precision_certificate": prec.to_json()}
    return Construction(net, cert, info)
