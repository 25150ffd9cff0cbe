"""The Step+Id gadgets of Park, Lee, Yun & Shin (2021), each following one lemma's proof.

All gadgets act on a :class:`~memcap.constructions.park2021.program.Program` and on the integer parts
(``floors``) of the hidden scalar at the data points, which is what every offset choice depends on.
Thresholds are integers, so a STEP reading the hidden scalar depends on its floor only and the
fractional part is carried through unchanged.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from memcap.constructions.base import ConstructionError
from memcap.constructions.park2021.program import Expr, Program, Q

__all__ = ["project", "greedy_offsets", "mod_gadget", "pack_labels", "lookup_single", "lookup_width3",
           "extract_rbit", "extract_width3"]


# ---- Lemma 5 / 14: projection to one dimension ---------------------------------------------------
def project(Xq: np.ndarray, K0: int, seed: int = 0, tries: int = 200
            ) -> tuple[list[Any], Any, Any, np.ndarray, int]:
    """Lemma 5 (App. E.2): ``z = (u·x − min u·x)/s`` with s the smallest gap, so distinct points have
    |z − z'| ≥ 1, z ≥ 0 and (accepted only then) ⌊max z⌋ < K0.

    u is a Gaussian direction rounded to an integer vector (the ratio is scale-free; Lemma 14's random
    unit vector succeeds with positive probability, the spec's algorithm 3.1). Sorting replaces the
    paper's O(N² d) pair test. Returns (u, s, min u·x, floors, tries used).
    """
    N, d = Xq.shape
    rng = np.random.default_rng(seed)
    for t in range(1, tries + 1):
        if d == 1:
            u = [1]
        else:
            g = rng.standard_normal(d)
            u = [int(round(v)) for v in g * 2**20]
            if not any(u):
                continue
        p = Xq @ np.array([Q(v) for v in u], dtype=object)
        ps = sorted(p)
        gaps = [b - a for a, b in zip(ps, ps[1:], strict=False)]
        s = min(gaps) if gaps else Q(1)
        if s == 0:
            if d == 1:
                break
            continue
        pmin = ps[0]
        zmax = (ps[-1] - pmin) / s
        if int(zmax.floor()) + 1 <= K0:
            # floors beyond int64 (huge Δ: K0 ≥ 2^62) are kept as Python integers
            floors = np.array([int(((v - pmin) / s).floor()) for v in p],
                              dtype=np.int64 if K0 < 2**62 else object)
            return u, s, pmin, floors, t
        if d == 1:
            break
    raise ConstructionError(
        f"no projection direction in {tries} tries gave ⌊max z⌋ < K0 = {K0}; the data may not be "
        "Δ-separated at the stated Δ (Lemma 14 guarantees success with positive probability)")


# ---- the mod gadget (Lemmas 15, 16;  errata PLYS-1, PLYS-2) ----------------------------------
def greedy_offsets(floors: np.ndarray, M: list[int], T: int) -> list[int]:
    """Smallest offsets b_j in [T] keeping images distinct (proofs of Lemmas 15/16, greedy)."""
    S = floors[floors < M[0]]
    bs = []
    for j in range(len(M) - 1):
        Z = floors[(floors >= M[j]) & (floors < M[j + 1])]
        if len(Z) == 0 or len(S) == 0:
            b = 0
        else:
            forb = np.unique(((S[:, None] - Z[None, :]) % T).ravel())
            miss = np.flatnonzero(forb != np.arange(len(forb)))
            b = int(miss[0]) if len(miss) else len(forb)
            if b >= T:
                raise ConstructionError(f"mod gadget: no free offset in [{T}] (|S|={len(S)}, "
                                        f"|Z|={len(Z)}); the lemma's condition on T is broken")
        bs.append(b)
        S = np.concatenate([S, (Z + b) % T])
    return bs


def mod_gadget(prog: Program, x: Expr, floors: np.ndarray, T: int, M: list[int],
               widths: list[int], tag: str) -> tuple[Expr, np.ndarray]:
    """f(x) = x for x < M_1 and (x + b_j) mod T on block [M_j, M_{j+1}), as Step+Id layers.

    Spec 3.2 (corrected): ``f(x) = x + Σ_j (a_j − a_{j−1}) 1[x ≥ M_j] − T Σ_j 1[x ≥ θ_j]`` with
    ``a_j = b_j − q_j T + (j−1) T`` and θ_j = clamp((q_j+1)T − b_j, M_j, M_{j+1}). The paper's
    eq. (5) coefficient b_i − Σ_{j<i} b_j is wrong (telescoping gives b_i − b_{i−1}, erratum PLYS-1) and
    eq. (8)'s threshold min{2T − b_j, M_{j+1}} must also be clamped below at M_j (erratum PLYS-2).
    The 2c indicators are laid out over ``widths``; unused indicator slots get
    zero coefficients. ``M`` may be empty (identity with the same neurons).
    """
    terms: list[tuple[int, Any]] = []
    new = floors.copy()
    if len(M) >= 2:
        bs = greedy_offsets(floors, M, T)
        a_prev = 0
        for j, b in enumerate(bs):
            q = M[j] // T
            if not (q * T <= M[j] and M[j + 1] <= (q + 1) * T):
                raise ConstructionError(f"block [{M[j]}, {M[j + 1]}) leaves the aligned interval of T={T}")
            a = b - q * T + j * T
            theta = min(max((q + 1) * T - b, M[j]), M[j + 1])
            terms += [(M[j], a - a_prev), (theta, -T)]
            a_prev = a
            sel = (floors >= M[j]) & (floors < M[j + 1])
            new[sel] = (floors[sel] + b) % T
        if len(np.unique(new)) != len(new) or new.max() >= T:
            raise ConstructionError("mod gadget produced colliding or out-of-range floors")  # guard
        if new.dtype == object and T < 2**62:
            new = new.astype(np.int64)
    L = len(widths)
    cap = widths[0] - 1 if L == 1 else 2 + sum(w - 2 for w in widths)
    if len(terms) > cap:
        raise ConstructionError(f"{len(terms)} indicators do not fit widths {widths}")
    terms += [(0, 0)] * (cap - len(terms))  # idle indicators (1[x >= 0] with coefficient 0)
    it = iter(terms)
    if L == 1:
        prog.open_layer(tag)
        xi = prog.ident(x)
        out = xi
        for _ in range(widths[0] - 1):
            th, c = next(it)
            out = out + prog.step(x - th) * c
        return out, new
    acc = None
    for li, w in enumerate(widths):
        prog.open_layer(tag)
        first, last = li == 0, li == L - 1
        xi = prog.ident(x) if not last else None
        acc_new = prog.ident(acc) if not first else None
        n_steps = w - 1 if (first or last) else w - 2
        steps = Expr.constant(0)
        for _ in range(n_steps):
            th, c = next(it)
            steps = steps + prog.step(x - th) * c
        acc = (xi if first else acc_new) + steps
        if xi is not None:
            x = xi
    return acc, new


# ---- Lemma 13: label packing; Lemma 20: lookup ------------------------------------------------------
def pack_labels(floors: np.ndarray, labels: np.ndarray, A: int, B: int, D: int) -> list[Any]:
    """w_a = Σ_{c∈[B]} y(aB+c) 2^{−(c+1)D} (eq. 11): label of chunk c MSB-first at bits cD+1..cD+D.
    y(k) = 0 for unused k (a free choice). Each w_a is a dyadic rational of B·D bits."""
    y = np.zeros(A * B, dtype=object)
    y[np.asarray(floors, dtype=np.int64)] = [int(v) for v in labels]
    ws = []
    for a in range(A):
        num = 0
        for c in range(B):
            num = (num << D) | int(y[a * B + c])
        ws.append(Q(num, 2 ** (B * D)))
    return ws


def lookup_single(prog: Program, x: Expr, ws: list[Any], B: int, tag: str = "lookup"
                  ) -> tuple[Expr, Expr]:
    """Lemma 20, one layer: [ID x | STEP(x − iB), i = 1..A−1] → (w_{⌊x/B⌋}, x mod B)."""
    prog.open_layer(tag)
    xi = prog.ident(x)
    w = Expr.constant(ws[0])
    xr = xi
    for i in range(1, len(ws)):
        s = prog.step(x - i * B)
        w = w + s * (ws[i] - ws[i - 1])
        xr = xr - s * B
    return w, xr


def lookup_width3(prog: Program, x: Expr, ws: list[Any], B: int, tag: str = "lookup"
                  ) -> tuple[Expr, Expr]:
    """Lemma 20 at width 3: A−1 layers [ID x_red, ID w, STEP(x_red − B)] with relative thresholds."""
    w = Expr.constant(ws[0])
    for i in range(1, len(ws)):
        prog.open_layer(tag)
        xi = prog.ident(x)
        wi = prog.ident(w)
        s = prog.step(x - B)
        x = xi - s * B
        w = wi + s * (ws[i] - ws[i - 1])
    return w, x


# ---- Lemmas 21/22: R-bit extraction (Theorem 1) ---------------------------------------------------
def extract_rbit(prog: Program, x: Expr, v: Expr, B: int, D: int, R: int, tag: str = "extract"
                 ) -> Expr:
    """Lemma 21/22: S = ⌈BD/R⌉ stages of two layers; returns the label of chunk ⌊x⌋.

    Stage l: layer a = [ID x, ID v | STEP(v − j 2^{−lR}), j < 2^R | STEP(x − t), t = m_min..m_max+1];
    the top-R bits are telescoping sums of the threshold STEPs (the paper's η table). Layer b =
    [ID x, ID v − Σ u_i 2^{−p_i} | AND_i = STEP(u_i + 1[x ≥ m_i] − 1[x ≥ m_i+1] − 2)]; AND_i goes to
    the label slot 2^{−r(p_i)} below all data bits. The paper's layer a has R interval neurons; a
    two-sided test needs two thresholds, so k_l = m_max − m_min + 2 (erratum PLYS-6).
    """
    S = -(-(B * D) // R)
    for st in range(1, S + 1):
        pos = [(st - 1) * R + i for i in range(1, R + 1)]
        ms = [(p - 1) // D for p in pos]
        prog.open_layer(tag)
        xa = prog.ident(x)
        va = prog.ident(v)
        unit = Q(1, 2 ** (st * R))
        thr = [prog.step(v - unit * j) for j in range(1, 2 ** R)]
        ind = {t: prog.step(x - t) for t in range(min(ms), max(ms) + 2)}
        us = []
        for i in range(1, R + 1):
            u = Expr.constant(0)
            for j in range(1, 2 ** R):
                d = ((j >> (R - i)) & 1) - (((j - 1) >> (R - i)) & 1)
                if d:
                    u = u + thr[j - 1] * d
            us.append(u)
        prog.open_layer(tag)
        last = st == S
        xb = None if last else prog.ident(xa)
        rest = va
        for u, p in zip(us, pos, strict=True):
            rest = rest - u * Q(1, 2 ** p)
        vb = prog.ident(rest)
        v = vb
        for u, p, m in zip(us, pos, ms, strict=True):
            a = prog.step(u + ind[m] - ind[m + 1] - 2, nonpos=True)  # ≤ 0: bits
            r = S * R + (p - 1) % D + 1
            v = v + a * Q(1, 2 ** r)
        if xb is not None:
            x = xb
    return v * (2 ** (S * R + D))


# ---- Lemma 23: width-3 extraction (Theorem 2), corrected ------------------------------------------
def extract_width3(prog: Program, x: Expr, w: Expr, B: int, D: int, tag: str = "extract") -> Expr:
    """Lemma 23 (erratum PLYS-4): (2D+1)B layers of width 3.

    Per chunk c: h = [ID x, ID w, STEP(x)], then x ← x − 1 + 3B(1 − STEP(x)) (the paper's two cases
    both read "l mod D = 1"; 3K should be 3B); per bit l = cD + j: g = [ID x, ID w, n = STEP(w − 2^{−l})],
    w ← w − 2^{−l} n; f = [ID x, ID w, t = STEP(x − n + 1)], w ← w + 2^{−(DB+j)}(1 − t) (the paper
    prints 2^{−DK−d(l)}). Output 2^{D(B+1)} w (the paper states Σ u 2^{−i}; it is Σ u 2^{D−i}).
    """
    for c in range(B):
        prog.open_layer(tag)
        xi, wi = prog.ident(x), prog.ident(w)
        s = prog.step(x)
        x = xi - 1 + (1 - s) * (3 * B)
        w = wi
        for j in range(1, D + 1):
            bit = c * D + j  # the paper's l
            prog.open_layer(tag)
            xg, wg = prog.ident(x), prog.ident(w)
            n = prog.step(w - Q(1, 2 ** bit))
            prog.open_layer(tag)
            xf, wf = prog.ident(xg), prog.ident(wg - n * Q(1, 2 ** bit))
            t = prog.step(xg - n + 1)
            x = xf
            w = wf + (1 - t) * Q(1, 2 ** (D * B + j))
    return w * (2 ** (D * (B + 1)))
