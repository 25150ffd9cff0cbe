"""Theorem 5.2 (App. C.2): ``yu-lipschitz``, memorization with the optimal Lip∞ = 2/λ_D."""

from __future__ import annotations

import math
import time
from fractions import Fraction
from typing import Any

import numpy as np

from memcap import meta as mk
from memcap.constructions.base import Certificate, Condition, Construction, Field, register
from memcap.constructions.options import SEED
from memcap.constructions.yu2024.common import (
    BUDGET,
    EPS52,
    RADIUS,
    REFERENCE,
    _dense_params,
    _num,
    _round_up,
    _setup,
    choose_radius,
    exact_separation,
)
from memcap.data.dataset import Dataset
from memcap.errors import NeedsExactArithmetic
from memcap.network import IDENTITY, RELU, Dense, Network
from memcap.theory.yu2024 import lipschitz_block_widths

__all__ = ["lipschitz", "lipschitz_sizes"]

# ---- Theorem 5.2 (Lipschitz) --------------------------------------------------------------------
def lipschitz_sizes(ds: Dataset, **_: Any) -> dict[str, Any]:
    """Sizes of :func:`lipschitz`. Binary data (the paper's case): 1 + N(2e+5) hidden layers with
    e = ⌈log2 n⌉, so depth N(2⌈log2 n⌉+5)+2, width max(3n+1, n+4); the paper's structural count is
    2n+1 + N(16n+13+2U+2e(n+1)) + 2 (U = rounds of the max tree with an odd count).
    The paper only states O(N log n) depth and O(Nn log n) parameters (E4)."""
    n, N, L = ds.d_x, ds.N, ds.n_classes
    block, rounds = lipschitz_block_widths(n, L)
    widths = [(1 if L == 2 else L) + n] + block * N
    e = len(rounds)
    U = sum(r % 2 for r in rounds)
    out = {"widths": widths, "depth": len(widths) + 1, "parameters": _dense_params(n, widths, L),
           "e": e}
    if L == 2:
        out["paper_parameters"] = 2 * n + 1 + N * (16 * n + 13 + 2 * U + 2 * e * (n + 1)) + 2
    return out


class _Stack:
    """Appends ReLU layers whose rows are written as {input column: weight} plus a bias."""

    def __init__(self, F: Field, width: int) -> None:
        self.F, self.width, self.layers = F, width, []

    def layer(self, rows: list[tuple[dict[int, Any], Any]], act: Any = RELU) -> None:
        F = self.F
        W, b = F.zeros((len(rows), self.width)), F.zeros(len(rows))
        for r, (ws, bias) in enumerate(rows):
            for col, w in ws.items():
                W[r, col] = w
            b[r] = bias
        self.layers.append(Dense(W, b, act))
        self.width = len(rows)


def _lip_layers(Xf: Any, labels: np.ndarray, L: int, w: Any, C: Any, F: Field) -> list[Dense]:
    """App. C.2's layers (binary, m = 1 channel A) or the multi-class generalisation (m = L channels
    s_c = running max over class c of h_i). Each layer: [channels; values; carries]."""
    N, n = Xf.shape
    one, zero, two = F.const(1), F.const(0), F.const(2)
    binary = L == 2
    m = 1 if binary else L
    st = _Stack(F, n)
    # Step 1: A = 2 (binary) or s_c = 0; carries r(x + C)
    rows = [({}, two if binary else zero) for _ in range(m)]
    rows += [({j: one}, C) for j in range(n)]
    st.layer(rows)

    def chan() -> list[tuple[dict[int, Any], Any]]:
        return [({c: one}, zero) for c in range(m)]

    def carries(start: int) -> list[tuple[dict[int, Any], Any]]:
        return [({start + j: one}, zero) for j in range(n)]

    for k in range(N):
        xk = Xf[k] + C
        # Step 2a: p_j = r(c_j - x_k^j - C), q_j = r(-c_j + x_k^j + C); then a_j = |x^j - x_k^j|
        st.layer(chan() + [({m + j: one}, -xk[j]) for j in range(n)]
                 + [({m + j: -one}, xk[j]) for j in range(n)] + carries(m))
        st.layer(chan() + [({m + j: one, m + n + j: one}, zero) for j in range(n)] + carries(m + 2 * n))
        # Step 2b: ν = ||x - x_k||_∞ by the max tree of Lemma C.1 (max(u, v) = r(u) + r(v - u));
        # with an odd count the last value is carried unpaired (the paper pads n to 2^e instead).
        # n = 1: e = ⌈log2 1⌉ = 0 rounds and ν = a_1, so a block has 5 hidden layers. Lemma C.1's
        # "4d parameters" for the |·| layers means 4n (erratum YGZ-5)
        cnt = n
        while cnt > 1:
            P, U = cnt // 2, cnt % 2
            rows = chan()
            for i in range(P):
                u, v = m + 2 * i, m + 2 * i + 1
                rows += [({u: one}, zero), ({v: one, u: -one}, zero)]
            if U:
                rows.append(({m + cnt - 1: one}, zero))
            st.layer(rows + carries(m + cnt))
            rows = chan() + [({m + 2 * i: one, m + 2 * i + 1: one}, zero) for i in range(P)]
            if U:
                rows.append(({m + 2 * P: one}, zero))
            st.layer(rows + carries(m + 2 * P + U))
            cnt = P + U
        nu = m  # column of ν
        if binary:  # Step 2c (paper): A' = A + y h - y·min(h, |A - 2|)
            y = one if int(labels[k]) == 1 else -one
            st.layer([({0: one}, zero), ({nu: -w}, one), ({0: one}, -two), ({0: -one}, two)]
                     + carries(m + 1))
            st.layer([({0: one, 1: y}, zero), ({1: one}, zero), ({1: one, 2: -one, 3: -one}, zero)]
                     + carries(4))
            st.layer([({0: one, 1: -y, 2: y}, zero)] + carries(3))
        else:  # multi-class: s_c <- max(s_c, h) = s_c + r(h - s_c) for c = class of x_k
            c = int(labels[k])
            st.layer(chan() + [({nu: -w}, one)] + carries(m + 1))
            st.layer(chan() + [({m: one, c: -one}, zero)] + carries(m + 1))
            rows = chan()
            rows[c] = ({c: one, m: one}, zero)
            st.layer(rows + carries(m + 1))
    # Step 3: output (paper: F = A - 2, "F^1" a typo for F^0, erratum YGZ-4); scores
    half = F.const(Fraction(1, 2))
    if binary:
        st.layer([({0: -half}, one), ({0: half}, -one)], IDENTITY)
    else:
        st.layer([({c: one}, zero) for c in range(L)], IDENTITY)
    return st.layers


@register(
    "yu-lipschitz",
    theorem="Yu, Gao & Zhang 2024, Theorem 5.2",
    condition="classification, ≥ 2 classes (binary in the paper; more classes: per-class channels)",
    sizes="binary: depth N(2⌈log2 n⌉+5)+2, width max(3n+1, n+4), O(Nn log n) params",
    tasks=("classification",),
    size_formula=lipschitz_sizes,
    options=(BUDGET, RADIUS, SEED),
)
def lipschitz(ds: Dataset, arithmetic: str = "float64", budget: float | None = None,
              radius: float | None = None, seed: int = 0) -> Construction:
    """Theorem 5.2 (Yu et al. 2024; proof App. C.2): for binary data (x_i, ±1) a network with
    F(x_i) = y_i and Lip∞(F) = 2/λ_D, the smallest any memorizer can have (|F(x_i) - F(x_j)| = 2 at
    distance λ_D), so sign F = y_i on every open ball B∞(x_i, λ_D/2). It computes
    F(x) = max_{y_i=+1} h_i(x) - max_{y_i=-1} h_i(x), h_i(x) = r(1 - (2/λ_D)||x - x_i||_∞).

    More than two classes (beyond the paper, whose conclusion leaves it open): L channels
    s_c = max_{y_i=c} h_i. Supports of h_i of different classes are disjoint open balls, so every
    margin s_y - s_c is exactly the binary F of "y vs c" and has Lip∞ = 2/λ_D as well.

    The network does not depend on a radius; ``budget``/``radius`` only set the radius reported in
    ``info["robust"]`` (default 0.9·λ_D/2). Parameters are O(max|x| + 1/λ_D).

    Long: the proof's steps (Thm 5.2) in order: separation, radius, the per-point blocks, Lipschitz
    claim, certificate.
    """
    t0 = time.perf_counter()
    lam, pair = exact_separation(ds, math.inf)
    mu = choose_radius(lam, budget, radius, "inf")
    L = ds.n_classes
    F, Xf, maxabs, C, Cq = _setup(ds, arithmetic, lam / 2)
    if F.exact:
        eta, w = Fraction(0), 2 / lam
    else:  # centres fl(x_k + C) move by <= η; the slope rounded up keeps the supports disjoint
        eta = EPS52 * (maxabs + Cq + 1)
        if lam <= 2 * eta:
            raise NeedsExactArithmetic("λ_D is within float64 rounding of the data: rebuild with "
                                 "arithmetic='exact'")
        w = Fraction(_round_up(2 / (lam - 2 * eta)))
    margin = 1 - w * (mu + eta)
    if margin <= 0:
        raise NeedsExactArithmetic(
                f"radius μ = {float(mu):.17g} is within float64 rounding of λ_D/2: rebuild "
                             "with arithmetic='exact'")
    layers = _lip_layers(Xf, ds.labels, L, _num(F, w), C, F)
    net = Network(layers, meta={mk.METHOD: "yu-lipschitz"})
    robust_info = {"radius": float(mu), "norm": "inf", "strict": False, "margin": float(margin),
                   "sup_radius": float(1 / w - eta), "open_ball": True}
    lip_info = {"norm": "inf", "value": float(w), "exact": str(w), "optimal": float(2 / lam),
                "is_optimal": w == 2 / lam,
                "of": ("the margin y·F = s_y - s_other (the paper's F)" if L == 2 else
                       "every margin s_y - s_c and every score s_c"),
                "source": "Theorem 5.2 (proof App. C.2), for the stored weights"}
    net.meta[mk.ROBUST] = robust_info
    net.meta[mk.LIPSCHITZ] = lip_info
    sizes = lipschitz_sizes(ds)
    notes = [
        f"λ_D = {float(lam):.17g} (L∞, exact; points {pair[0]} and {pair[1]}); C = {float(Cq):.17g}",
        "depth N(2⌈log2 n⌉+5)+2 (1 + N(2e+5) hidden layers); the paper states only O(N log n) and "
        "'N(2⌈log n⌉+5)+1 hidden layers' (log = log2), and writes the output F^1 - 2 for F^0 - 2 (E4)",
        "odd counts in the max tree carry the last value unpaired (the paper assumes n = 2^e)",
    ]
    if L == 2:
        notes.append("output: s_+ = F/2, s_- = -F/2 (class index 1 is y = +1), margin y·F; paper's "
                     f"structural parameter count {sizes['paper_parameters']} (+2 for two outputs)")
    else:
        notes.append(f"{L} classes: generalisation beyond Theorem 5.2 (binary): one running-max channel "
                     "per class instead of the signed channel A; same depth, width max(3n+L, 2n+L+...)")
    if not F.exact:
        notes.append(f"float64 weights: slope {float(w):.17g} = 2/(λ_D - 2η) rounded up, η = {float(eta):.3g}"
                     " bounds the rounding of the centres; Lip∞ = that slope (optimal within η/λ_D)")
    cert = Certificate(
        method="yu-lipschitz",
        theorem="Theorem 5.2",
        reference=REFERENCE + ", Theorem 5.2; proof App. C.2",
        conditions=[Condition("classification data with at least two classes", {"L": L}, True)],
        guarantees=[
            f"Lip∞ of every margin = {float(w):.17g} " + ("= 2/λ_D exactly (optimal)" if F.exact else
                                                         f"(2/λ_D = {float(2 / lam):.17g})"),
            f"every z with ||z - x_i||_∞ <= {float(mu):.17g} (radius μ, norm L∞) is classified as the "
            f"label of x_i, with margin >= {float(margin):.6g}; robust for every radius < "
            f"{float(1 / w - eta):.17g} (open ball)",
        ],
        arithmetic=F.name,
        notes=notes,
    )
    info: dict[str, Any] = {
        "robust": robust_info, "lipschitz": lip_info, "lambda_D": float(lam), "C": float(Cq),
        "eta": float(eta), "closest_pair": pair, "e": sizes["e"],
        "build_seconds": time.perf_counter() - t0,
    }
    if L == 2:
        info["paper_parameters"] = sizes["paper_parameters"]
    return Construction(net, cert, info)
