"""Which registered construction to use for a dataset, ranked, with sizes and bounds side by side.

:func:`advise` checks the data conditions the theorems need (task, general position, separation λ_D,
d_x ≥ d_y), asks every registry method for its size through its ``size_formula`` (so methods added
later are covered), optionally builds and certifies each one to measure the precision it needs, and
ranks them: applicable and within the parameter budget first, then by parameters, hidden neurons,
depth. Next to each method: its theorem's condition and Theorem 3.3's floor for the same depth
(the fewest hidden neurons that can memorize *arbitrary* N-point data; methods assuming general
position legitimately go below it).

:func:`plot_sizes` draws parameters vs N for every method against Theorem 3.3's lower bounds
(extra ``plots``), written atomically.
"""

from __future__ import annotations

import io
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from memcap.api import construct
from memcap.bounds.yun2019 import thm33_min_three_layer, thm33_min_two_layer_width
from memcap.constructions.base import ConditionError, ConstructionError, Method
from memcap.constructions.registry import all_methods
from memcap.data.dataset import Dataset
from memcap.errors import MemcapError
from memcap.network import RELU, Activation
from memcap.theory.costs import LAYER_POINT_SECONDS, PARAM_POINT_SECONDS, estimate_seconds  # noqa: F401

__all__ = ["Advice", "AdviceReport", "advise", "data_conditions", "estimate_seconds", "plot_sizes",
           "theorem33_floor"]


@dataclass
class Advice:
    """One method's row."""

    method: str
    theorem: str
    applicable: bool
    reason: str = ""
    depth: int | None = None
    widths: list[int] | None = None
    hidden_neurons: int | None = None
    parameters: int | None = None
    within_budget: bool | None = None
    condition: str = ""
    floor: str = ""
    certified: bool | None = None
    bits_needed: int | None = None
    build_seconds: float | None = None
    verify_seconds: float | None = None
    estimated_seconds: float | None = None   # build + verify, from the size formula (estimate_seconds)


@dataclass
class AdviceReport:
    data: dict[str, Any]
    conditions: dict[str, Any]
    rows: list[Advice] = field(default_factory=list)
    budget_params: int | None = None
    time_budget: float | None = None      # seconds for building and certifying (None: no limit)
    seconds_spent: float = 0.0            # on building and certifying

    def best(self) -> Advice | None:
        ok = [r for r in self.rows if r.applicable and r.within_budget is not False
              and r.certified is not False]
        return ok[0] if ok else None

    def to_json(self) -> dict[str, Any]:
        return {"data": self.data, "conditions": self.conditions, "budget_params": self.budget_params,
                "time_budget": self.time_budget, "seconds_spent": self.seconds_spent,
                "rows": [asdict(r) for r in self.rows],
                "best": self.best().method if self.best() else None}


def data_conditions(ds: Dataset, gp_budget: int = 20_000) -> dict[str, Any]:
    """The facts the theorems' conditions are about, computed once (general position exactly)."""
    from memcap.theory.general_position import general_position

    gp = general_position(ds.X, budget=gp_budget)
    return {
        "task": ds.task,
        "classification": ds.task == "classification",
        "general_position": gp.holds,
        "general_position_detail": gp.message(),
        "degenerate_subset": gp.subset[:20],
        "lambda_D_l2": ds.separation_l2,
        "lambda_D_linf": ds.separation_linf,
        "min_distance_l2": ds.min_distance,
        "d_x>=d_y": ds.d_x >= ds.d_y,
    }


def theorem33_floor(N: int, depth: int | None, activation: Activation = RELU,
                    widths: list[int] | None = None) -> str:
    """Theorem 3.3's floor for arbitrary data at the given depth (2 or 3 layers), as text; deeper:
    the largest N the piece count of these widths does not rule out."""
    p = activation.pieces
    if depth == 2:
        return f"≥ {thm33_min_two_layer_width(N, p)} hidden (2-layer, any data)"
    if depth == 3:
        a, b = thm33_min_three_layer(N, p)
        return f"≥ {a + b} hidden, e.g. {a}-{b} (3-layer, any data)"
    if widths:
        B, cap = 0, 10**12  # the piece recursion of memcap.certify.pieces.piece_bound, stopped at cap
        for d in widths:
            B = B + d * (p - 1) * (B + 1)
            if B >= cap:
                return "pieces allow N > 10^12 (ok)"
        return f"pieces allow N ≤ {B + 2} ({'ok' if B + 2 >= N else 'RULED OUT'})"
    return ""


def _sizes(m: Method, ds: Dataset) -> dict[str, Any]:
    if m.size_formula is None:
        raise ConstructionError(f"{m.name} has no size formula")
    return m.size_formula(ds)


def _build_row(ds: Dataset, method: str) -> dict[str, Any]:
    """Build and certify one method; a small picklable summary (the network stays behind)."""
    t0 = time.perf_counter()
    try:
        c = construct(ds, method)
    except ConditionError as exc:
        return {"outcome": "condition", "reason": str(exc)}
    except ConstructionError as exc:
        return {"outcome": "construction", "reason": str(exc)}
    rep = c.verification
    return {"outcome": "built", "certified": bool(rep.memorized and rep.certified),
            "bits_needed": rep.bits_needed, "verify_seconds": rep.seconds,
            "build_seconds": time.perf_counter() - t0 - rep.seconds,
            "widths": [int(w) for w in c.network.widths], "parameters": int(c.network.parameters)}


def _child(conn: Any, ds: Dataset, method: str) -> None:
    import warnings

    warnings.simplefilter("ignore")  # the parent's warning printer may hold a lock copied by fork
    try:
        conn.send(_build_row(ds, method))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which re-raises it
        conn.send({"outcome": "error", "error": exc})
    finally:
        conn.close()


def _build_within(ds: Dataset, method: str, seconds: float | None) -> dict[str, Any]:
    """:func:`_build_row`, stopped after ``seconds`` (None: no limit). With a limit and the 'fork' start
    method, the build runs in a child process that is killed at the limit (its memory goes with
    it); elsewhere it runs in this process and only the estimate protects the budget."""
    import multiprocessing as mp

    t0 = time.perf_counter()
    if seconds is None or "fork" not in mp.get_all_start_methods():
        return _build_row(ds, method)
    ctx = mp.get_context("fork")
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(send, ds, method), daemon=True)
    proc.start()
    send.close()
    try:
        ready = recv.poll(max(seconds, 0.0))
        res = recv.recv() if ready else None
    except EOFError:  # the child died without a word (e.g. killed for memory)
        res = {"outcome": "construction", "reason": f"the build of {method} died (exit code "
               f"{proc.exitcode}); out of memory?"}
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join()
        recv.close()
    if res is None:
        return {"outcome": "timeout", "seconds": time.perf_counter() - t0}
    if res["outcome"] == "error":
        raise res["error"]
    return res


def advise(ds: Dataset, budget_params: int | None = None, build: bool = True, max_build_n: int = 2000,
           methods: list[str] | None = None, gp_budget: int = 20_000, time_budget: float | None = 60.0,
           progress: Callable[[str], None] | None = None) -> AdviceReport:
    """Rank the registry methods for ``ds`` (see the module docstring).

    ``build`` constructs and certifies the applicable methods (only when N ≤ ``max_build_n``) to
    report the mantissa bits they need; without it, bits stay unknown. Building stays within
    ``time_budget`` seconds (None: no limit): methods are built cheapest first by
    :func:`estimate_seconds` from their size formulas, a method whose estimate exceeds the time
    left is not built, and a build still running when the time is up is stopped (a child process,
    where the platform forks); its row says so and its sizes still come from the formula. ``methods``
    restricts the names; ``progress`` receives one line per step (with each build's estimate).

    Long: one pass over the registry rows under a shared time budget (condition, size, estimate, build).
    """
    if time_budget is not None and not time_budget >= 0:
        from memcap.errors import OptionError

        raise OptionError(f"time_budget must be a number of seconds >= 0 (or None), got {time_budget!r}")
    say = progress or (lambda _m: None)
    say("checking the data conditions (general position, λ_D)")
    cond = data_conditions(ds, gp_budget)
    report = AdviceReport(
        data={"name": ds.name, "N": ds.N, "d_x": ds.d_x, "d_y": ds.d_y, "task": ds.task},
        conditions=cond, budget_params=budget_params, time_budget=time_budget if build else None)
    for m in all_methods():
        if methods is not None and m.name not in methods:
            continue
        row = Advice(m.name, m.theorem, True, condition=m.condition)
        report.rows.append(row)
        if ds.task not in m.tasks:
            row.applicable, row.reason = False, f"{' / '.join(m.tasks)} data only"
            continue
        if m.assumption is not None:
            why = m.assumption(ds)
            if why is not None:
                row.applicable, row.reason = False, why
                continue
        try:
            s = _sizes(m, ds)
        except (ConditionError, ConstructionError, ValueError) as exc:
            row.applicable, row.reason = False, str(exc)
            continue
        row.widths = [int(w) for w in s["widths"]]
        row.hidden_neurons = sum(row.widths)
        row.parameters = int(s["parameters"])
        row.depth = int(s.get("depth", len(row.widths) + 1))
        row.floor = theorem33_floor(ds.N, row.depth, widths=row.widths)
        row.estimated_seconds = estimate_seconds(row.parameters, row.depth, ds.N)
        if budget_params is not None:
            row.within_budget = row.parameters <= budget_params
    todo = [r for r in report.rows if r.applicable and r.within_budget is not False]
    if build and ds.N > max_build_n:
        for row in todo:
            row.reason = f"not built (N > {max_build_n}); sizes from the formula"
        todo = []
    t_start = time.perf_counter()
    for row in sorted(todo, key=lambda r: r.estimated_seconds or 0.0) if build else ():
        left = None if time_budget is None else time_budget - (time.perf_counter() - t_start)
        est = row.estimated_seconds or 0.0
        if left is not None and est > left:
            row.reason = (f"not built: estimated {est:.3g} s to build and certify exceeds the "
                          f"{max(left, 0.0):.3g} s left of the {time_budget:g} s time budget; "
                          "sizes from the formula")
            say(f"skipping {row.method} (estimated {est:.3g} s > {max(left, 0.0):.3g} s left)")
            continue
        say(f"building and certifying {row.method} (estimated {est:.3g} s)")
        res = _build_within(ds, row.method, left)
        if res["outcome"] == "timeout":
            row.reason = (f"not finished: stopped after {res['seconds']:.3g} s, the "
                          f"{max(left or 0.0, 0.0):.3g} s left of the {time_budget:g} s time budget "
                          f"(estimated {est:.3g} s); sizes from the formula")
            say(f"stopped {row.method} at the time budget")
            continue
        if res["outcome"] == "condition":
            row.applicable, row.reason = False, res["reason"]
            continue
        if res["outcome"] == "construction":
            row.certified, row.reason = False, res["reason"]
            continue
        row.certified, row.bits_needed = res["certified"], res["bits_needed"]
        row.verify_seconds, row.build_seconds = res["verify_seconds"], res["build_seconds"]
        if res["widths"] != row.widths or res["parameters"] != row.parameters:
            row.reason = (f"built network differs from the size formula: widths {res['widths']}, "
                          f"{res['parameters']} parameters")
    report.seconds_spent = time.perf_counter() - t_start

    def key(r: Advice) -> tuple[Any, ...]:
        return (not r.applicable, r.within_budget is False, r.certified is False,
                r.parameters if r.parameters is not None else math.inf,
                r.hidden_neurons if r.hidden_neurons is not None else math.inf, r.depth or 0, r.method)

    report.rows.sort(key=key)
    return report


# ---- plot --------------------------------------------------------------------------------------------
def _synthetic(N: int, d_x: int, d_y: int, task: str, seed: int = 0) -> Dataset:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, d_x))
    if task == "classification":
        y = np.arange(N) % max(d_y, 1)
        return Dataset(X, y, task="classification", name=f"synthetic(N={N})")
    return Dataset(X, rng.uniform(-1, 1, (N, d_y)), name=f"synthetic(N={N})")


def size_curves(d_x: int, d_y: int, task: str, Ns: list[int], methods: list[str] | None = None
                ) -> dict[str, list[tuple[int, int]]]:
    """Parameters vs N per method (size formulas on general-position synthetic data of the same shape)
    and Theorem 3.3's lower bounds (fewest parameters of a 2-layer / fewest neurons of a 3-layer ReLU
    net not ruled out for arbitrary data)."""
    curves: dict[str, list[tuple[int, int]]] = {}
    data = {N: _synthetic(N, d_x, d_y, task) for N in Ns}
    for m in all_methods():
        if (methods is not None and m.name not in methods) or task not in m.tasks or m.size_formula is None:
            continue
        pts = []
        for N in Ns:
            try:
                pts.append((N, int(m.size_formula(data[N])["parameters"])))
            except MemcapError:  # a formula outside its domain simply has no point here
                continue
        if pts:
            curves[m.name] = pts
    two, three = [], []
    for N in Ns:
        w = thm33_min_two_layer_width(N, 2)
        two.append((N, w * (d_x + 1) + d_y * (w + 1)))
        a, b = thm33_min_three_layer(N, 2, d_x, d_y)
        three.append((N, a * (d_x + 1) + b * (a + 1) + d_y * (b + 1)))
    curves["Thm 3.3 floor, 2-layer"] = two
    curves["Thm 3.3 floor, 3-layer"] = three
    return curves


def plot_sizes(path: str, d_x: int, d_y: int, task: str, N_data: int | None = None,
               Ns: list[int] | None = None, methods: list[str] | None = None) -> dict[str, Any]:
    """Write a log-log plot of parameters vs N for every method against Theorem 3.3 (PNG, atomic)."""
    from memcap._plot import colormap, subplots
    from memcap._util import atomic_write_bytes

    if Ns is None:
        top = min(20000, max(1000, 4 * (N_data or 0)))
        Ns = sorted({int(round(v)) for v in np.geomspace(10, top, 10)})
    curves = size_curves(d_x, d_y, task, Ns, methods)
    fig, ax = subplots(figsize=(8, 5.5), dpi=120)
    colors = colormap("tab20").colors
    markers = "os^vD<>ph*"
    for i, (name, pts) in enumerate(curves.items()):
        xs, ys = zip(*pts, strict=True)
        if name.startswith("Thm 3.3"):
            ax.plot(xs, ys, "k--" if "2-layer" in name else "k:", label=name, lw=2)
        else:
            ax.plot(xs, ys, color=colors[i % len(colors)], marker=markers[i % len(markers)], label=name,
                    lw=1.2, ms=3)
    if N_data:
        ax.axvline(N_data, color="grey", lw=0.8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("N (points)")
    ax.set_ylabel("parameters (weights + biases)")
    ax.set_title(f"memorizer sizes, d_x={d_x}, d_y={d_y}, {task}")
    ax.grid(True, which="both", lw=0.3)
    ax.legend(fontsize=7, loc="upper left", ncol=2)
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    atomic_write_bytes(path, buf.getvalue())
    return {"path": str(path), "Ns": Ns, "curves": {k: v for k, v in curves.items()}}
