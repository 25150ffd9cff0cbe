"""The network of Vardi, Yehudai & Shamir (2022), layer by layer, in exact rationals.

Stages (the paper's proof of Theorem 3.1; sizes in :mod:`memcap.theory.vardi2022`):

1. projection z = σ(⟨v, x⟩ + b) with min z = 0 and projected points exactly 2 apart (Park et al.'s
   Lemma 5 projection, :func:`memcap.constructions.park2021.gadgets.project`, scaled by 2);
   integer codes a_i = ⌊z_i⌋ are then ≥ 2 apart and < 2^ρ;
2. groups of n consecutive points (z order) with integer bounds α_j = a(first), β_j = a(last) + 1;
3. the group's words u_j = Σ_k a_(j,k) 2^{ℓ(n−k)} (codes) and w_j = Σ_k y_(j,k) 2^{ℓ(n−k)} (labels)
   are selected: serially (3 layers per group, gate g = σ(1 − σ(α_j − x) − σ(x − β_j))) or with one
   staircase of unit ramps (depth-L variant);
4. bit extraction with Telgarsky's tent map φ(t) = σ(σ(2t) − σ(4t − 2)), run at t = U/2^M and at
   t' = t + 2^{−(M+1)}: bit_q = ½ − 2^{M−q}(φ^(q)(t') − φ^(q)(t)); Horner accumulation gives slot k's
   code A_u and label A_w; the slot decision y_k = σ(A_w − 2^c(σ(A_u − x) + σ(x − A_u − 1))) is the
   label on the point's own slot and 0 on every other slot;
5. linear output Σ_k y_k (and the classifier logits 2c·k − c²).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import flint
import numpy as np

from memcap.constructions.park2021.gadgets import project
from memcap.errors import ConstructionError
from memcap.network import IDENTITY, RELU, Dense, Network
from memcap.theory.vardi2022 import Plan

__all__ = ["Encoded", "encode", "build_network"]

Q = flint.fmpq
ZERO = Q(0)
ONE = Q(1)
HALF = Q(1, 2)

Neuron = tuple[str, dict[str, Any], Any]  # (name, {input name: coefficient}, bias)


@dataclass
class Encoded:
    """The data as the network sees them: projection, codes, groups and packed words."""

    v: list[Any]            # stage-1 weights (fmpq)
    b: Any                  # stage-1 bias
    z: np.ndarray           # z_i (fmpq), ≥ 0, pairwise ≥ 2 apart
    codes: np.ndarray       # a_i = ⌊z_i⌋ (Python ints)
    order: np.ndarray       # point indices sorted by z
    alpha: list[int]        # group lower bounds
    beta: list[int]         # group upper bounds (exclusive)
    u: list[int]            # code words
    w: list[int]            # label words
    tries: int


def encode(Xq: np.ndarray, labels: np.ndarray, p: Plan, seed: int = 0) -> Encoded:
    """Stages 1–3 offline: the projection, the codes and the words for ``labels`` (ints ≥ 0)."""
    K0 = max(1, int(p.R // 2))  # Park's project accepts ⌊max z'⌋ + 1 ≤ K0, so 2·max z' < R
    u_int, s, pmin, _floors, tries = project(Xq, K0, seed=seed)
    scale = Q(2) / s
    v = [Q(int(c)) * scale for c in u_int]
    b = -pmin * scale
    proj = Xq @ np.array([Q(int(c)) for c in u_int], dtype=object)
    z = np.array([(pv - pmin) * scale for pv in proj], dtype=object)
    codes = np.array([int(zz.floor()) for zz in z], dtype=object)
    if int(max(codes)) >= 2 ** p.rho:
        raise ConstructionError(f"internal: code {int(max(codes))} needs more than ρ = {p.rho} bits")
    order = np.argsort(np.array([float(c) for c in codes]), kind="stable")
    sc = [int(codes[i]) for i in order]
    if any(b2 - a2 < 2 for a2, b2 in zip(sc, sc[1:], strict=False)):
        raise ConstructionError("internal: projected codes are not 2 apart")  # guard (exact gap 2)
    ell, n = p.ell, p.n
    alpha, beta, uw, ww = [], [], [], []
    for j in range(p.N1):
        mem = order[j * n:(j + 1) * n]
        alpha.append(int(codes[mem[0]]))
        beta.append(int(codes[mem[-1]]) + 1)
        U = V = 0
        for k in range(n):  # slot k+1 holds bits kℓ+1 .. (k+1)ℓ from the top
            U <<= ell
            V <<= ell
            if k < len(mem):  # padded slots: code 0, label 0 (never fire; erratum VYS-6)
                U |= int(codes[mem[k]])
                V |= int(labels[mem[k]])
        uw.append(U)
        ww.append(V)
    return Encoded(v, b, z, codes, order, alpha, beta, uw, ww, tries)


class _Net:
    """Layers of named neurons: each reads the previous layer's names with rational coefficients."""

    def __init__(self, d_in: int) -> None:
        self.prev = [f"in{i}" for i in range(d_in)]
        self.layers: list[Dense] = []

    def add(self, neurons: list[Neuron], act: Any = RELU) -> None:
        index = {name: i for i, name in enumerate(self.prev)}
        W = np.full((len(neurons), len(self.prev)), ZERO, dtype=object)
        bias = np.full(len(neurons), ZERO, dtype=object)
        for r, (_name, terms, b0) in enumerate(neurons):
            for src, coef in terms.items():
                W[r, index[src]] = coef if isinstance(coef, Q) else Q(coef)
            bias[r] = b0 if isinstance(b0, Q) else Q(b0)
        self.layers.append(Dense(W, bias, act))
        self.prev = [name for name, _, _ in neurons]


def _carry(*names: str) -> list[Neuron]:
    return [(nm, {nm: ONE}, ZERO) for nm in names]


def build_network(enc: Encoded, p: Plan, d_in: int, out_rows: list[tuple[Any, Any]]) -> Network:
    """The ReLU network of the plan for the encoded data.

    ``out_rows`` lists the outputs as (a, b): output = a·F + b with F the extracted label code.

    Long: the layers are emitted in the order of the proof's bit-extraction loop.
    """
    net = _Net(d_in)
    net.add([("x", {f"in{i}": vi for i, vi in enumerate(enc.v) if vi != 0}, enc.b)])
    # stage 3: selection of (U, V) = (u_j, w_j) of the point's group
    if p.selection == "serial":
        for j in range(p.N1):
            first = j == 0
            keep = () if first else ("U", "V")
            net.add([("x", {"x": ONE}, ZERO), ("p", {"x": -ONE}, enc.alpha[j]),
                     ("q", {"x": ONE}, -enc.beta[j]), *_carry(*keep)])
            net.add([("x", {"x": ONE}, ZERO), ("g", {"p": -ONE, "q": -ONE}, ONE), *_carry(*keep)])
            net.add([("x", {"x": ONE}, ZERO),
                     ("U", {"g": enc.u[j], **({} if first else {"U": ONE})}, ZERO),
                     ("V", {"g": enc.w[j], **({} if first else {"V": ONE})}, ZERO)])
    else:  # staircase: ramps ρ_j(x) = σ(x − g_j) − σ(x − g_j − 1), g_j = β_{j−1}
        ramps: list[Neuron] = []
        for j in range(1, p.N1):
            g = enc.beta[j - 1]
            ramps += [(f"r{j}", {"x": ONE}, -g), (f"s{j}", {"x": ONE}, -g - 1)]
        net.add([("x", {"x": ONE}, ZERO), *ramps])
        Ut: dict[str, Any] = {}
        Vt: dict[str, Any] = {}
        for j in range(1, p.N1):
            du, dw = enc.u[j] - enc.u[j - 1], enc.w[j] - enc.w[j - 1]
            if du:
                Ut[f"r{j}"], Ut[f"s{j}"] = Q(du), Q(-du)
            if dw:
                Vt[f"r{j}"], Vt[f"s{j}"] = Q(dw), Q(-dw)
        net.add([("x", {"x": ONE}, ZERO), ("U", Ut, enc.u[0]), ("V", Vt, enc.w[0])])
    # H: τ = word / 2^M and τ' = τ + 2^{−(M+1)} for both words
    M = p.M
    inv = Q(1, 2 ** M)
    eps = Q(1, 2 ** (M + 1))
    net.add([("x", {"x": ONE}, ZERO),
             ("tu", {"U": inv}, ZERO), ("tu'", {"U": inv}, eps),
             ("tw", {"V": inv}, ZERO), ("tw'", {"V": inv}, eps)])
    taus = ("tu", "tu'", "tw", "tw'")
    two_c = Q(2 ** p.c)
    n, ell = p.n, p.ell
    for k in range(1, n + 1):
        has_y, more = k > 1, k < n
        for bit in range(1, ell + 1):
            q = (k - 1) * ell + bit
            has_a = bit > 1
            last_bit = (not more) and bit == ell
            yl: list[Neuron] = []
            if has_y:
                yl = [("Y", {"Y": ONE, "y": ONE} if (bit == 1 and k > 2) else
                       ({"y": ONE} if bit == 1 else {"Y": ONE}), ZERO)]
            l1: list[Neuron] = []
            for t in taus:
                l1 += [(t + "#a", {t: Q(2)}, ZERO), (t + "#b", {t: Q(4)}, Q(-2))]
            net.add([*l1, ("x", {"x": ONE}, ZERO), *(_carry("Au", "Aw") if has_a else []), *yl])
            net.add([*[(t, {t + "#a": ONE, t + "#b": -ONE}, ZERO) for t in taus],
                     ("x", {"x": ONE}, ZERO), *(_carry("Au", "Aw") if has_a else []),
                     *(_carry("Y") if has_y else [])])
            sh = Q(2 ** (M - q))
            acc = []
            for a_name, t, t2 in (("Au", "tu", "tu'"), ("Aw", "tw", "tw'")):
                terms = {t2: -sh, t: sh}
                if has_a:
                    terms[a_name] = Q(2)
                acc.append((a_name, terms, HALF))
            net.add([*([] if last_bit else _carry(*taus)), ("x", {"x": ONE}, ZERO), *acc,
                     *(_carry("Y") if has_y else [])])
        pass_on = ("x", *taus) if more else ()
        net.add([("pi1", {"Au": ONE, "x": -ONE}, ZERO), ("pi2", {"x": ONE, "Au": -ONE}, -ONE),
                 *_carry("Aw"), *(_carry("Y") if has_y else []), *_carry(*pass_on)])
        net.add([("y", {"Aw": ONE, "pi1": -two_c, "pi2": -two_c}, ZERO),
                 *(_carry("Y") if has_y else []), *_carry(*pass_on)])
    outs: list[Neuron] = []
    for i, (a, b0) in enumerate(out_rows):
        a = a if isinstance(a, Q) else Q(a)
        terms = {} if a == 0 else ({"y": a, "Y": a} if n > 1 else {"y": a})
        outs.append((f"out{i}", terms, b0))
    net.add(outs, IDENTITY)
    return Network(net.layers)
