"""The certification tiers after the float bound, run on one chunk of points.

:func:`decide_chunk` is what a worker (this process, a local process or a Ray actor) runs: given the
network (prepared once per worker in a cache) and a chunk of points, it escalates each point through
the engine's tiers until the point is decided or the deadline passes. Every tier decides a point only
from enclosures of the exact output (balls) or the exact output itself, so the verdict does not
depend on which worker ran the chunk; chunk boundaries are fixed by the caller (the sweep's ball
radii depend on the points before in its chunk), so reports do not depend on the number of workers.

Engines:

* ``"sweep"`` — :mod:`memcap.certify.structured` at 128, 256, ... bits; points it cannot place or
  decide fall through to the generic ball ladder, then exact rationals;
* ``"scaled"`` — :mod:`memcap.certify.scaled`: exact integer evaluation (final);
* ``"balls"`` — the generic ladder: :func:`memcap.numerics.forward_balls` at each precision from
  the start precision on, then :func:`memcap.numerics.forward_exact`.
"""

from __future__ import annotations

import math
import time
from typing import Any

import flint
import numpy as np

from memcap.network import Network
from memcap.numerics import _fmpq, forward_balls, forward_exact

__all__ = ["PRECISIONS", "BALL_BATCH", "decide_chunk", "decide_values", "tier_rank"]

PRECISIONS = (128, 256, 512, 1024, 2048, 4096)
BALL_BATCH = 512  # points per ball-arithmetic call (deadline / progress granularity)


def tier_rank(name: str) -> tuple[int, int]:
    """Canonical order of tier names in a report."""
    order = ["float64+bound", "float80+bound", "exact-int", "sweep", "arb", "exact"]
    for k, base in enumerate(order):
        tail = name[len(base):]
        if name == base or (base in ("sweep", "arb") and name.startswith(base) and tail.isdigit()):
            return k, int(tail) if tail.isdigit() else 0
    return len(order), 0


def _upper(v: Any) -> float:
    if isinstance(v, flint.arb):
        return float(v.upper().mid()) * (1 + 2**-50) + 2.0**-1074
    return float(v)


def _lower(v: Any) -> float:
    if isinstance(v, flint.arb):
        return float(v.lower().mid()) - abs(float(v.lower().mid())) * 2**-50 - 2.0**-1074
    return float(v)


def decide_values(vals: list[Any], y: np.ndarray, label: int | None, tol: Any) -> tuple[bool | None, float]:
    """Decide one point from exact/ball outputs. Returns (verdict or None, error/margin estimate)."""
    if label is None:
        errs = [abs(v - _fmpq(float(t))) for v, t in zip(vals, y, strict=True)]
        if all(e <= tol for e in errs):
            return True, max(_upper(e) for e in errs)
        if any(e > tol for e in errs):
            return False, max(_upper(e) for e in errs)
        return None, math.nan
    own = vals[label]
    others = [v for c, v in enumerate(vals) if c != label]
    if not others:
        return True, math.inf
    diffs = [own - o for o in others]
    if all(d > 0 for d in diffs):
        return True, min(_lower(d) for d in diffs)
    if any(d <= 0 for d in diffs):
        return False, min(_lower(d) for d in diffs)
    return None, math.nan


class _Chunk:
    def __init__(self, task: dict[str, Any]) -> None:
        self.X = np.asarray(task["X"], dtype=np.float64)
        self.Y = np.asarray(task["Y"], dtype=np.float64)
        self.labels = task.get("labels")
        self.tol = task.get("tol")
        self.deadline = task.get("deadline")
        n = len(self.X)
        self.verdict = np.full(n, -1, dtype=np.int8)
        self.score = np.full(n, np.nan)
        self.tier: list[str | None] = [None] * n
        self.tried: list[str] = []

    def late(self) -> bool:
        return self.deadline is not None and time.time() > self.deadline

    def todo(self) -> np.ndarray:
        return np.flatnonzero(self.verdict < 0)

    def record(self, rows: np.ndarray, outs: list[Any], name: str, tol: Any, final: bool = False) -> None:
        if name not in self.tried:
            self.tried.append(name)
        for i, vals in zip(rows, outs, strict=True):
            if vals is None:
                continue
            lab = None if self.labels is None else int(self.labels[i])
            v, sc = decide_values(vals, self.Y[i], lab, tol)
            if v is None and final:
                v = False  # exact values always decide; kept for symmetry with the old exact tier
            if v is not None:
                self.verdict[i], self.score[i], self.tier[i] = int(v), sc, name

    def result(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "score": self.score, "tier": self.tier, "tried": self.tried}


def _ball_ladder(net: Network, ch: _Chunk, start: int, tol_q: Any) -> None:
    for prec in PRECISIONS:
        if prec < start:
            continue
        todo = ch.todo()
        if not len(todo) or ch.late():
            return
        name = f"arb{prec}"
        if name not in ch.tried:
            ch.tried.append(name)
        for s in range(0, len(todo), BALL_BATCH):  # `s` is the batch offset, never the precision
            if ch.late():
                return
            rows = todo[s:s + BALL_BATCH]
            outs = forward_balls(net, ch.X[rows], prec)
            # the verdict's own arithmetic (|f - y|, margins) runs at the same precision: at the
            # default 53 bits it would round the balls back to float width
            old = flint.ctx.prec
            flint.ctx.prec = prec
            try:
                ch.record(rows, outs, name, None if tol_q is None else flint.arb(tol_q))
            finally:
                flint.ctx.prec = old
    todo = ch.todo()
    if len(todo) and not ch.late():
        for s in range(0, len(todo), 16):
            if ch.late():
                return
            rows = todo[s:s + 16]
            ch.record(rows, forward_exact(net, ch.X[rows]), "exact", tol_q, final=True)


def decide_chunk(net: Network, cache: dict[str, Any], task: dict[str, Any]) -> dict[str, Any]:
    """Run ``task["engine"]`` on the chunk ``task["X"]`` (see the module docstring). The result
    also says how many seconds went into preparing plans (``setup``; cached for later chunks)."""
    t0 = time.perf_counter()
    before = cache.get("_setup", 0.0)
    ch = _Chunk(task)
    res = _decide(net, cache, task, ch)
    res["setup"] = cache.get("_setup", 0.0) - before
    res["seconds"] = time.perf_counter() - t0
    return res


def _timed_plan(cache: dict[str, Any], key: str, make: Any) -> Any:
    if key not in cache:
        t = time.perf_counter()
        cache[key] = make()
        cache["_setup"] = cache.get("_setup", 0.0) + time.perf_counter() - t
    return cache[key]


def _decide(net: Network, cache: dict[str, Any], task: dict[str, Any], ch: _Chunk) -> dict[str, Any]:
    tol_q = None if ch.tol is None else _fmpq(float(ch.tol))
    engine = task["engine"]
    start = int(task.get("start_prec", PRECISIONS[0]))
    if engine == "scaled":
        from memcap.certify.scaled import ScaledPlan

        plan = _timed_plan(cache, "scaled", lambda: ScaledPlan(net))
        todo = ch.todo()
        for s in range(0, len(todo), 256):
            if ch.late():
                break
            rows = todo[s:s + 256]
            ch.record(rows, plan.evaluate(ch.X[rows]), "exact-int", tol_q, final=True)
    elif engine == "sweep":
        from memcap.certify.structured import SweepPlan, rank_one_factor

        factor = _timed_plan(cache, "factor", lambda: rank_one_factor(net.layers[0].weight))
        for prec in PRECISIONS:
            if prec < start:
                continue
            todo = ch.todo()
            if not len(todo) or ch.late():
                break
            key = f"sweep{prec}"
            plan = _timed_plan(cache, key, lambda p=prec: SweepPlan(net, p, factor=factor,
                                                                    factored=factor is not None))
            outs, placed = plan.run(ch.X[todo], deadline=ch.deadline)
            old = flint.ctx.prec
            flint.ctx.prec = prec
            try:
                ch.record(todo, outs, key, None if tol_q is None else flint.arb(tol_q))
            finally:
                flint.ctx.prec = old
            unplaced = todo[~placed]
            if len(unplaced) == len(todo):
                break
            if len(unplaced):
                # points the sweep cannot place go to the generic tiers (at this precision on)
                sub = _Chunk({**task, "X": ch.X[unplaced], "Y": ch.Y[unplaced],
                              "labels": None if ch.labels is None else np.asarray(ch.labels)[unplaced]})
                _ball_ladder(net, sub, prec, tol_q)
                for j, i in enumerate(unplaced):
                    if sub.verdict[j] >= 0:
                        ch.verdict[i], ch.score[i], ch.tier[i] = sub.verdict[j], sub.score[j], sub.tier[j]
                ch.tried.extend(t for t in sub.tried if t not in ch.tried)
        if not ch.late():
            _ball_ladder(net, ch, start, tol_q)
    else:
        _ball_ladder(net, ch, start, tol_q)
    return ch.result()
