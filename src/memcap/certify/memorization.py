"""Certified memorization check: does the network, with exactly its stored weights, fit every point?

Tiers, cheapest first; each point is decided by the first tier that can:

1. float64 evaluation with a rigorous rounding bound (:func:`memcap.numerics.forward_float_bounded`);
2. a structure-aware exact engine on the points still undecided (:mod:`memcap.certify.tiers`):
   the activation-pattern sweep for shallow, wide piecewise-linear networks
   (:mod:`memcap.certify.structured`, ball arithmetic on the pattern's affine map), or exact integer
   evaluation for deep, narrow ones (:mod:`memcap.certify.scaled`);
3. ball arithmetic (arb) at 128, 256, ... 4096 bits on the points still undecided (every precision
   from the start precision on is tried: the report's ``tiers`` lists each, with 0 when it decided
   nothing);
4. exact rational arithmetic on whatever is left.

Tiers 2-4 run in chunks of points, in this process or on ``workers`` local processes or a Ray
cluster (``ray``); chunk boundaries do not depend on the number of workers, so neither does the
report. A pilot chunk gives an estimate of time and memory, reported through ``progress`` when it
passes a minute, then progress carries an ETA. ``max_seconds`` stops cleanly: the points not
decided by then are listed in ``undecided`` (the report is then not ``certified``).

Regression: ``|f(x_i) - y_i| <= tol`` for every output. Classification: margin
``f_y(x_i) - max_{c != y} f_c(x_i) > 0``. The report also gives what plain float64 and float32
evaluation do (measured, and certified for any summation order) and the mantissa bits a float
evaluation needs, estimated from the certified bound.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import flint
import numpy as np

from memcap.certify.tiers import BALL_BATCH, PRECISIONS, decide_chunk, tier_rank
from memcap.certify.tiers import _lower as _lower  # noqa: F401  (kept importable from here)
from memcap.certify.tiers import _upper as _upper  # noqa: F401
from memcap.certify.tiers import decide_values as _decide_balls  # noqa: F401
from memcap.data.dataset import Dataset
from memcap.errors import TooLargeError
from memcap.network import Dense, Network
from memcap.numerics import (
    HAS_EXTENDED,
    forward_float_bounded,
    unit_roundoff,
)

__all__ = ["VerificationReport", "verify", "default_tolerance", "estimate_memory", "choose_engine"]

#: points per chunk of the structure-aware / ball tiers after the pilot chunk (fixed, so that the
#: report does not depend on the number of workers)
CHUNK = {"sweep": 4096, "scaled": 1024, "balls": BALL_BATCH}
#: points in the first (pilot) chunk, run in this process to estimate the cost of the rest
PILOT = {"sweep": 256, "scaled": 64, "balls": 8}
#: a tier whose estimated cost passes this many seconds is announced (time, memory) first
ANNOUNCE_SECONDS = 60.0
#: with ``workers=None``, local processes are started only when the rest is estimated above this
PARALLEL_MIN_SECONDS = 15.0
#: start-up of a worker process (interpreter, imports, network transfer), on top of its plan set-up
WORKER_START_SECONDS = 5.0


def default_tolerance(ds: Dataset) -> float:
    """Regression tolerance when none is given: 1e-6 · max(1, max |y|)."""
    return 1e-6 * max(1.0, float(np.max(np.abs(ds.targets))))


@dataclass
class VerificationReport:
    """Outcome of :func:`verify`. ``memorized`` is certified when ``certified`` is True."""

    memorized: bool
    certified: bool
    task: str
    N: int
    tolerance: float | None
    worst_error: float | None          # certified upper bound on max |f(x_i) - y_i| (regression)
    min_margin: float | None           # certified lower bound on the smallest margin (classification)
    failing: list[int]
    undecided: list[int]
    tiers: dict[str, int]
    # measured plain float64 / float32 evaluation: regression max |f(x_i) - y_i|; classification the
    # smallest margin f_y(x_i) - max_{c != y} f_c(x_i) (> 0: every point classified right; inf: 1 class)
    float64_error: float
    float32_error: float
    float64_bound: float               # certified max |fl64(f)(x_i) - f(x_i)|, any summation order
    float32_bound: float
    float64_memorizes: bool            # certified for any summation order
    float32_memorizes: bool
    float32_measured_memorizes: bool
    bits_needed: int | None            # mantissa bits for a float evaluation to stay certified
    seconds: float
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["failing"] = self.failing[:50]
        d["undecided"] = self.undecided[:50]
        return d

    def summary(self) -> str:
        verdict = ("memorized" if self.memorized else "NOT memorized") + (
            " (certified)" if self.certified else " (NOT certified)")
        how = ", ".join(f"{k}: {v}" for k, v in self.tiers.items() if v)
        measured = "max error" if self.task == "regression" else "smallest margin"
        return (f"{verdict}; {self.N} points decided by {how}; measured {measured} float64 "
                f"{self.float64_error:.3g}, float32 {self.float32_error:.3g}")


def _regression_errs(out: np.ndarray, bnd: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-point (upper, lower) bounds on max_t |f_t - y_t|."""
    d = np.abs(out - Y)
    up = (d + bnd).max(axis=1) * (1 + 4 * unit_roundoff(np.float64))
    lo = (d - bnd).max(axis=1) * (1 - 4 * unit_roundoff(np.float64))
    return up, lo


def _margins(out: np.ndarray, bnd: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-point (lower, upper) bounds on f_y - max_{c != y} f_c."""
    n = len(labels)
    rows = np.arange(n)
    own_lo = out[rows, labels] - bnd[rows, labels]
    own_hi = out[rows, labels] + bnd[rows, labels]
    hi = out + bnd
    lo = out - bnd
    hi[rows, labels] = -np.inf
    lo[rows, labels] = -np.inf
    if out.shape[1] == 1:
        return np.full(n, np.inf), np.full(n, np.inf)
    slack = 4 * unit_roundoff(np.float64) * (np.abs(out).max(axis=1) + bnd.max(axis=1))
    return own_lo - hi.max(axis=1) - slack, own_hi - lo.max(axis=1) + slack


def _measured_margin(out: np.ndarray, labels: np.ndarray) -> float:
    """Smallest f_y - max_{c != y} f_c of a plain float evaluation (inf with a single output)."""
    if out.shape[1] < 2:
        return math.inf
    own = out[np.arange(len(labels)), labels]
    others = np.where(np.eye(out.shape[1], dtype=bool)[labels], -np.inf, out).max(axis=1)
    m = own - others
    return float(np.min(np.where(np.isnan(m), -np.inf, m)))


def _start_precision(net: Network) -> int:
    """First ball precision worth trying for exact-weight nets.

    A dyadic weight (integer or p/2^k) with a b-bit numerator is represented exactly only from b bits
    of working precision on, so lookup-style weights of hundreds of bits (park-*) make smaller
    passes pure waste. Non-dyadic rationals (yun-* in exact arithmetic: huge denominators) are never
    exact in a ball; their values need only the float error budget, so they start at the bottom.
    """
    if not net.exact:
        return PRECISIONS[0]
    bits = 0
    for layer in net.layers:
        for a in layer.arrays():
            if a.dtype != object:
                continue
            for v in a.ravel():
                if isinstance(v, flint.fmpq):
                    q = int(v.q)
                    if q & (q - 1) == 0:
                        bits = max(bits, int(v.p).bit_length())
    want = bits + 64
    return next((p for p in PRECISIONS if p >= want), PRECISIONS[-1])


def _embed(a: np.ndarray, rows: np.ndarray, n: int) -> np.ndarray:
    full = np.full((n, a.shape[1]), np.nan)
    full[rows] = a
    return full


def choose_engine(net: Network) -> str:
    """The tier engine for the points the float bound leaves: ``sweep``, ``scaled`` or ``balls``.

    Shallow networks (≤ 4 layers) of Dense piecewise-linear layers with many weights per point
    (≥ 4096) and a rank-1 first layer (or ≤ 4 inputs) get the pattern sweep; other piecewise-linear
    networks whose weights share short common denominators per layer get exact integer evaluation;
    the rest (tanh / softplus, huge denominators) the generic ball ladder.
    """
    from memcap.certify import scaled, structured

    per_point = sum(int(np.prod(L.weight.shape)) if isinstance(L, Dense) else int(L.U.size + L.V.size)
                    for L in net.layers)
    shallow = structured.applicable(net) and len(net.layers) <= 4
    # the sweep's affine maps have r + 1 columns: r = 1 for a rank-1 first layer (checked exactly),
    # else r = d_x, which pays only for few inputs
    narrow_theta = shallow and (net.in_dim <= 4
                                or structured.rank_one_factor(net.layers[0].weight) is not None)
    if narrow_theta and per_point >= 4096:
        return "sweep"
    if scaled.applicable(net):
        try:
            scaled.ScaledPlan(net)
        except ValueError:
            pass
        else:
            return "scaled"
    if narrow_theta:
        return "sweep"
    return "balls"


def _mem_available() -> int:
    """Bytes of memory available to a new allocation (MemAvailable; a generous guess elsewhere)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return 1 << 40


def _weight_bits(net: Network) -> int:
    bits = 64
    for layer in net.layers:
        for a in layer.arrays():
            if a.dtype == object and a.size:
                step = max(1, a.size // 256)  # a sample is enough for an estimate
                bits = max(bits, max(int(v.p).bit_length() + int(v.q).bit_length()
                                     for v in a.ravel()[::step]))
    return bits


def estimate_memory(net: Network, N: int, d_x: int, d_y: int, engine: str = "balls", prec: int = 128,
                    workers: int = 1) -> int:
    """Rough upper estimate (bytes) of what verify allocates beyond the data: the float pass
    (bounded chunks plus O(N·d_y) results), and per worker the prepared weights and one chunk."""
    widths = [d_x] + [L.out_dim for L in net.layers]
    widest = max(widths)
    weights = sum(int(np.prod(a.shape)) for L in net.layers for a in L.arrays())
    float_pass = 8 * (12 * N * d_y + 8 * min(N, 4_000_000 // max(1, widest) + 1) * widest) + 64 * N
    wbits = _weight_bits(net) if net.exact else 64
    ball = prec // 8 + 48
    if engine == "sweep":
        per_worker = weights * (ball + wbits // 8 + 64) + CHUNK["sweep"] * widest * 8 * 10
    elif engine == "scaled":
        per_worker = weights * (wbits // 8 + 40) + CHUNK["scaled"] * widest * (wbits // 8 + 40) * 4
    else:
        per_worker = weights * (ball + wbits // 8 + 64) * 2 + BALL_BATCH * widest * ball * 4
    return int(float_pass + workers * (per_worker + 150_000_000))  # + an interpreter per worker


#: the extended-precision float tier is skipped above this many multiply-adds when an exact engine
#: follows (numpy has no BLAS for long double: at N = 10^5 on a 632x632 layer it takes hours)
EXTENDED_MAX_FLOPS = 5e8


def _skip_extended(net: Network, n: int, engine_follows: bool) -> bool:
    if not engine_follows:
        return False
    per_point = sum(int(np.prod(L.weight.shape)) if isinstance(L, Dense) else int(L.U.size + L.V.size)
                    for L in net.layers)
    return n * per_point > EXTENDED_MAX_FLOPS and choose_engine(net) != "balls"


def _fmt_seconds(s: float) -> str:
    if not math.isfinite(s):
        return "unknown"
    if s < 120:
        return f"{s:.0f} s"
    if s < 7200:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.1f} h"


def _exact_tiers(net: Network, ds: Dataset, todo: np.ndarray, Y: np.ndarray, labels: Any,
                 tolerance: float | None, verdict: np.ndarray, score: np.ndarray, tiers: dict[str, int],
                 notes: list[str], say: Callable[[str], None], workers: int | None, ray: bool | str | None,
                 deadline: float | None, structure: bool, fail_fast: bool = False) -> None:
    """Tiers 2-4 on the points ``todo`` (fills verdict, score, tiers, notes in place).

    Long: the engine's chunk plan, pilot estimate, pool dispatch and the ladder's bookkeeping share the
    chunk list and the deadline.
    """
    engine = choose_engine(net) if structure else "balls"
    start = _start_precision(net)
    if engine == "sweep":
        from memcap.certify.structured import sweep_order

        rows = todo[sweep_order(net, ds.X[todo])]
    else:
        rows = todo
    pilot, size = PILOT[engine], CHUNK[engine]
    bounds = [0, min(pilot, len(rows))]
    while bounds[-1] < len(rows):
        bounds.append(min(bounds[-1] + size, len(rows)))
    chunks = [rows[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]

    def task(c: np.ndarray) -> dict[str, Any]:
        return {"engine": engine, "X": ds.X[c], "Y": Y[c], "labels": None if labels is None else labels[c],
                "tol": tolerance, "deadline": deadline, "start_prec": start}

    tried: list[str] = []
    decided = 0

    def merge(c: np.ndarray, res: dict[str, Any]) -> None:
        nonlocal decided
        for j, i in enumerate(c):
            if res["verdict"][j] >= 0:
                verdict[i], score[i] = int(res["verdict"][j]), float(res["score"][j])
                tiers[res["tier"][j]] = tiers.get(res["tier"][j], 0) + 1
                decided += 1
        tried.extend(t for t in res["tried"] if t not in tried)

    what = {"sweep": "activation-pattern sweep (ball arithmetic on each pattern's affine map)",
            "scaled": "exact integer evaluation", "balls": "ball arithmetic"}[engine]
    say(f"{what} on {len(rows)} undecided points: pilot of {len(chunks[0])} points")
    cache: dict[str, Any] = {}
    res0 = decide_chunk(net, cache, task(chunks[0]))
    merge(chunks[0], res0)
    if fail_fast and np.any(verdict == 0):
        chunks = chunks[:1]
    rate = max(0.0, res0["seconds"] - res0["setup"]) / max(1, len(chunks[0]))
    # what each new worker pays before its first chunk: interpreter and imports, receiving and
    # decoding the network (~50 MB/s for thousand-bit rationals), preparing its plan
    payload = sum(int(a.size) for L in net.layers for a in L.arrays()) * (_weight_bits(net) // 8 + 16)
    startup = res0["setup"] + WORKER_START_SECONDS + payload / 50e6
    rest = chunks[1:]
    n_rest = int(sum(len(c) for c in rest))
    if rest and not (deadline is not None and time.time() > deadline):
        n_workers = int(workers) if workers is not None else _default_workers()
        if ray:
            n_workers = max(n_workers, 1)
        serial_estimate = rate * n_rest
        use_pool = bool(ray) or (n_workers > 1 and len(rest) > 1 and (
            workers is not None or serial_estimate > max(PARALLEL_MIN_SECONDS, 2 * startup)))
        par = min(n_workers, len(rest)) if use_pool else 1
        mem = estimate_memory(net, ds.N, ds.d_x, ds.d_y, engine, start, par)
        avail = _mem_available()
        while par > 1 and mem > avail:
            par -= 1
            mem = estimate_memory(net, ds.N, ds.d_x, ds.d_y, engine, start, par)
        if mem > avail:
            raise TooLargeError(
                f"the {engine} tier on {n_rest} points needs about {mem / 2**30:.1f} GiB, "
                f"{avail / 2**30:.1f} GiB are available: certify the data in parts or use a larger machine")
        eta = serial_estimate / max(1, par) + (startup if use_pool else 0.0)
        if eta > ANNOUNCE_SECONDS:
            say(f"estimate: {what} on {n_rest} more points takes about {_fmt_seconds(eta)} on {par} "
                f"worker(s) and about {mem / 2**20:.0f} MiB of memory"
                + ("" if deadline is None
                   else f" (stopping at max_seconds, in {_fmt_seconds(deadline - time.time())})"))
        t_rest = time.perf_counter()
        done_pts = 0

        def tick(c: np.ndarray) -> None:
            nonlocal done_pts
            done_pts += len(c)
            el = time.perf_counter() - t_rest
            left = el / done_pts * (n_rest - done_pts)
            say(f"{what}: {done_pts + len(chunks[0])} of {len(rows)} points, ETA {_fmt_seconds(left)}")

        if not use_pool:
            for c in rest:
                if deadline is not None and time.time() > deadline:
                    break
                if fail_fast and np.any(verdict == 0):
                    break
                merge(c, decide_chunk(net, cache, task(c)))
                tick(c)
        else:
            from memcap.certify.parallel import ProcessPool, RayPool

            address = ray if isinstance(ray, str) else None
            merged: set[int] = set()
            pool_errors: tuple[type[BaseException], ...] = (OSError, RuntimeError, ImportError,
                                                            ConnectionError)
            if ray:
                try:
                    from ray.exceptions import RayError

                    pool_errors = (*pool_errors, RayError)
                except ImportError:
                    pass
            try:
                pool = RayPool(net, address=address, workers=workers) if ray else ProcessPool(net, par)
                with pool:
                    say(f"{what}: {len(rest)} chunks on {pool.describe()}")
                    for k, res in pool.map_unordered([task(c) for c in rest]):
                        merge(rest[k], res)
                        merged.add(k)
                        tick(rest[k])
                        if deadline is not None and time.time() > deadline + 1.0:
                            break  # chunks stop themselves at the deadline; do not wait for stragglers
                        if fail_fast and np.any(verdict == 0):
                            break
            except pool_errors as exc:
                # a pool that cannot start or breaks (e.g. a script without an
                # ``if __name__ == "__main__":`` guard under the spawn start method, or an unreachable
                # cluster): the chunks not yet merged run here, with the same boundaries
                say(f"workers unavailable ({type(exc).__name__}: {exc}); continuing in this process")
                for k, c in enumerate(rest):
                    if k in merged:
                        continue
                    if deadline is not None and time.time() > deadline:
                        break
                    if fail_fast and np.any(verdict == 0):
                        break
                    merge(c, decide_chunk(net, cache, task(c)))
                    tick(c)
    for t in tried:
        tiers.setdefault(t, 0)
    precs = [t[3:] for t in sorted(tried, key=tier_rank) if t.startswith("arb")]
    sweeps = [t[5:] for t in sorted(tried, key=tier_rank) if t.startswith("sweep")]
    notes.append(f"after the float bound: {what} on {len(rows)} point(s)"
                 + (f"; sweep precisions tried: {', '.join(sweeps)} bits" if sweeps else "")
                 + (f"; ball precisions tried: {', '.join(precs)} bits" if precs else ""))


def _default_workers() -> int:
    from memcap.certify.parallel import default_workers

    return default_workers()


def verify(net: Network, ds: Dataset, tol: float | None = None,
           progress: Callable[[str], None] | None = None, exact_tiers: bool = True, *,
           workers: int | None = None, ray: bool | str | None = None, max_seconds: float | None = None,
           structure: bool = True, fail_fast: bool = False) -> VerificationReport:
    """Certify that ``net`` memorizes ``ds`` (see module docstring for the tiers).

    ``exact_tiers=False`` stops after the float tiers: points they cannot decide are reported as
    undecided. ``workers``: local processes for the tiers after the float bound (default
    ``os.cpu_count()`` capped at 8, used only when the pilot estimates more than
    ``PARALLEL_MIN_SECONDS`` of work; ``workers=1`` stays in this process). ``ray``: True (the running
    Ray instance, or a new local one) or a cluster address. ``max_seconds``: wall-clock limit; what
    is undecided then is listed in ``undecided``. ``structure=False`` skips the structure-aware
    engines (generic ball ladder only). ``fail_fast=True`` stops at the first certified failure (the
    rest stay undecided): what ``memcap.construct`` uses before it escalates to exact weights.
    Raises :class:`memcap.errors.TooLargeError` when the estimated memory exceeds what is available.
    """
    t0 = time.perf_counter()
    deadline = None if max_seconds is None else time.time() + float(max_seconds)
    say = progress or (lambda _msg: None)
    if net.in_dim != ds.d_x:
        raise ValueError(f"network expects {net.in_dim} inputs but the data have d_x = {ds.d_x}")
    if net.out_dim != ds.d_y:
        raise ValueError(f"network has {net.out_dim} outputs but the data have d_y = {ds.d_y}")
    classification = ds.task == "classification"
    if classification and tol is not None:
        raise ValueError("tol applies to regression; classification is certified by margin > 0")
    if max_seconds is not None and not max_seconds > 0:
        from memcap.errors import OptionError

        raise OptionError(f"max_seconds must be a positive number of seconds, got {max_seconds!r}")
    if workers is not None and int(workers) < 1:
        from memcap.errors import OptionError

        raise OptionError(f"workers must be at least 1, got {workers!r}")
    need = estimate_memory(net, ds.N, ds.d_x, ds.d_y, "balls", 128, 1)
    avail = _mem_available()
    if need > avail:
        raise TooLargeError(
            f"certifying {ds.N} points with this network needs about {need / 2**30:.1f} GiB of memory "
            f"beyond the data, but {avail / 2**30:.1f} GiB are available: certify the data in parts "
            "(verify each subset; memorization of the union is the conjunction) or use a larger machine")
    tolerance = None if classification else (default_tolerance(ds) if tol is None else float(tol))
    Y = ds.targets.astype(np.float64)
    labels = ds.labels if classification else None
    say("float64 evaluation with certified rounding bound")
    out64, b64 = forward_float_bounded(net, ds.X, np.float64)
    verdict = np.full(ds.N, -1)
    certified_score = np.full(ds.N, np.nan)
    tiers: dict[str, int] = {}
    notes: list[str] = []
    todo = np.arange(ds.N)
    float_tiers = [("float64+bound", np.float64)]
    if HAS_EXTENDED and not _skip_extended(net, ds.N, exact_tiers and structure):
        float_tiers.append(("float80+bound", np.longdouble))
    for name, dtype in float_tiers:
        if not len(todo):
            break
        if dtype is np.float64:
            out, bnd = out64, b64
        else:
            say(f"extended-precision evaluation with certified rounding bound on {len(todo)} points")
            out, bnd = forward_float_bounded(net, ds.X[todo], dtype)
            out, bnd = _embed(out, todo, ds.N), _embed(bnd, todo, ds.N)
        if classification:
            lo, hi = _margins(out[todo], bnd[todo], labels[todo])
            ok, bad, score = lo > 0, hi <= 0, lo
        else:
            hi, lo = _regression_errs(out[todo], bnd[todo], Y[todo])
            ok, bad, score = hi <= tolerance, lo > tolerance, hi
        done = ok | bad
        verdict[todo[done]] = ok[done].astype(int)
        certified_score[todo[done]] = score[done]
        tiers[name] = int(done.sum())
        todo = todo[~done]
    if fail_fast and np.any(verdict == 0) and len(todo):
        notes.append(f"stopped at the first certified failure (fail_fast): {len(todo)} point(s) "
                     "not examined")
    elif len(todo) and exact_tiers:
        _exact_tiers(net, ds, todo, Y, labels, tolerance, verdict, certified_score, tiers, notes, say,
                     workers, ray, deadline, structure, fail_fast)
        tiers = dict(sorted(tiers.items(), key=lambda kv: tier_rank(kv[0])))
    if deadline is not None and np.any(verdict < 0) and time.time() > deadline:
        notes.append(f"stopped after max_seconds = {max_seconds:g}: {int(np.sum(verdict < 0))} point(s) "
                     "left undecided (listed in undecided)")
    failing = np.flatnonzero(verdict == 0).tolist()
    undecided = np.flatnonzero(verdict < 0).tolist()
    memorized = not failing and not undecided

    # what users run: plain float64 / float32, measured and certified for any summation order
    say("float32 evaluation")
    out32, b32 = forward_float_bounded(net, ds.X, np.float32)
    if classification:
        f64_err, f32_err = _measured_margin(out64, labels), _measured_margin(out32, labels)
        f32_ok = f32_err > 0
        margin_lo = np.nan_to_num(certified_score, nan=-np.inf)
        f64_cert = memorized and bool(np.all(margin_lo - 2 * b64.max(axis=1) > 0))
        f32_cert = memorized and bool(np.all(margin_lo - 2 * b32.max(axis=1) > 0))
        slack = margin_lo / 2
        worst_error, min_margin = None, float(np.min(certified_score)) if memorized else None
    else:
        f64_err = float(np.max(np.abs(out64 - Y)))
        f32_err = float(np.max(np.abs(out32 - Y)))
        f32_ok = f32_err <= tolerance
        err_hi = np.nan_to_num(certified_score, nan=np.inf)
        f64_cert = memorized and bool(np.all(err_hi + b64.max(axis=1) <= tolerance))
        f32_cert = memorized and bool(np.all(err_hi + b32.max(axis=1) <= tolerance))
        slack = tolerance - err_hi
        worst_error, min_margin = (float(np.max(certified_score)) if memorized else None), None
    bits = None
    if memorized:
        # the bound is ≈ K·u: need K·2^-b ≤ slack, i.e. b ≥ log2(K/slack)
        K = b64.max(axis=1) / unit_roundoff(np.float64)
        with np.errstate(divide="ignore"):
            need = np.log2(np.maximum(K, 1e-300) / np.maximum(slack, 1e-300))
        worst = float(np.max(need))
        # an overflowing float evaluation (huge weights) gives an infinite bound: bits unknown
        bits = max(1, int(math.ceil(worst))) + 1 if math.isfinite(worst) else None
    return VerificationReport(
        memorized=memorized,
        certified=not undecided,
        task=ds.task,
        N=ds.N,
        tolerance=tolerance,
        worst_error=worst_error,
        min_margin=min_margin,
        failing=failing,
        undecided=undecided,
        tiers=tiers,
        float64_error=f64_err,
        float32_error=f32_err,
        float64_bound=float(np.max(b64)),
        float32_bound=float(np.max(b32)),
        float64_memorizes=f64_cert,
        float32_memorizes=f32_cert,
        float32_measured_memorizes=bool(f32_ok),
        bits_needed=bits,
        seconds=time.perf_counter() - t0,
        notes=notes,
    )
