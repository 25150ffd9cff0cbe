"""Assumption 4.1 of Yun et al. (2019), checked in exact integer arithmetic.

Assumption 4.1: no d_x + 1 data points lie on one affine hyperplane. Read literally it is vacuous
when N <= d_x, yet Theorem 4.1's proof needs every chosen group (<= d_x points) to span a hyperplane
free of other points, which fails e.g. for three collinear points in R^5. We therefore check the
form the proof uses: **every set of min(N, d_x + 1) points is affinely independent** (identical to
Assumption 4.1 when N > d_x).

Exactness: float64 coordinates are dyadic rationals; each column is mapped by an affine bijection
``x -> (x - min) * 2^k / g`` to non-negative integers (affine dependence is invariant under such
per-column maps), and all tests run on Python/FLINT integers.

Strategy (sound; cheapest first), ``general_position(X)``:

1. **rank**: rank [X 1] < min(N, d_x + 1) means all points lie on one hyperplane (or, for N <= d_x,
   are dependent): a degenerate subset and the hyperplane are named. Cost: one rank modulo a 61-bit
   prime (full rank there proves full rank), an exact integer rank only when that one is deficient.
2. **repeated coordinates**: a value shared by d_x + 1 points in one column puts them on the
   axis-parallel hyperplane ``x_j = v``. Cost: O(N d_x log N).
3. **exhaustive**: every d_x-subset S spans a hyperplane H_S (exact integer normal, made primitive
   and sign-normalized); a degenerate (d_x + 1)-set exists iff some S is dependent or two subsets
   span the same H_S (hashing). Cost: C(N, d_x) exact nullspaces, run only when C(N, d_x) <=
   ``budget`` (default 20 000; d_x = 1 is just distinctness, always decided).

Outcome: ``holds`` True (proved), False (with ``subset`` and ``hyperplane``), or None (steps 1-2 found
nothing and step 3 is over budget). With None the constructions still certify their own, weaker,
per-gate condition exactly: each gate's hyperplane contains exactly its chosen points (what the
proof of Theorem 4.1 uses), costing O(N d_x) exact operations per gate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from itertools import combinations

import flint
import numpy as np

__all__ = ["GeneralPosition", "general_position", "integer_coords", "hyperplane_through",
           "describe_hyperplane"]


_P = 2**61 - 1  # a prime


@dataclass
class GeneralPosition:
    """Result of :func:`general_position`."""

    holds: bool | None
    method: str                       # "rank", "coordinate", "exhaustive", "trivial", "undecided"
    cost: str                         # what was computed
    subset: list[int] = field(default_factory=list)        # degenerate points (row indices)
    hyperplane: tuple[list[int], int] | None = None        # integer (w, c) in integer coordinates
    description: str = ""

    def message(self) -> str:
        if self.holds is False:
            shown = (str(self.subset) if len(self.subset) <= 12 else
                     f"[{', '.join(map(str, self.subset[:12]))}, ...]")
            return (f"Assumption 4.1 (general position) fails: points {shown} "
                    f"({len(self.subset)} points) lie on one affine hyperplane"
                    + (f" ({self.description})" if self.description else ""))
        if self.holds:
            return f"Assumption 4.1 holds (proved by {self.method}: {self.cost})"
        return f"Assumption 4.1 not decided ({self.cost})"


def integer_coords(X: np.ndarray) -> tuple[list[list[int]], list[tuple[float, int, int]]]:
    """Exact per-column affine images of float64 data as Python integers.

    Returns rows of ints and, per column, ``(min, shift, gcd)`` with
    ``int = (x - min) * 2^shift / gcd``.
    """
    X = np.asarray(X, dtype=np.float64)
    N, d = X.shape
    cols: list[list[int]] = []
    maps: list[tuple[float, int, int]] = []
    for j in range(d):
        col = X[:, j]
        m, e = np.frexp(col)
        M = (m * 2.0**53).astype(np.int64)
        E = e.astype(np.int64) - 53
        nz = M != 0
        emin = int(E[nz].min()) if nz.any() else 0
        ints = [int(Mi) << int(Ei - emin) if Mi else 0 for Mi, Ei in zip(M, E, strict=True)]
        lo = min(ints)
        ints = [v - lo for v in ints]
        g = 0
        for v in ints:
            g = math.gcd(g, v)
        g = g or 1
        cols.append([v // g for v in ints])
        maps.append((float(col.min()), -emin, g))
    rows = [[cols[j][i] for j in range(d)] for i in range(N)]
    return rows, maps


def _primitive(v: list[int]) -> tuple[int, ...]:
    g = 0
    for a in v:
        g = math.gcd(g, a)
    if g == 0:
        return tuple(v)
    v = [a // g for a in v]
    for a in v:  # first non-zero entry positive
        if a:
            if a < 0:
                v = [-b for b in v]
            break
    return tuple(v)


def hyperplane_through(points: list[list[int]]) -> tuple[list[list[int]], int]:
    """Integer basis of all (w, c) with w^T x + c = 0 for the given integer points, and its size."""
    k = len(points)
    d = len(points[0])
    A = flint.fmpz_mat(k, d + 1, [v for p in points for v in (*p, 1)])
    ns, nullity = A.nullspace()
    basis = [[int(ns[r, c]) for r in range(d + 1)] for c in range(nullity)]
    return basis, nullity


def describe_hyperplane(w: list[int], c: int, maps: list[tuple[float, int, int]] | None = None) -> str:
    """Text of the hyperplane w^T x' + c = 0 in original coordinates (coefficients rounded for display;
    the test itself was exact)."""
    nz = [j for j, a in enumerate(w) if a]
    if maps is None:
        return " + ".join(f"{a}·x'_{j}" for j, a in enumerate(w) if a) + f" + {c} = 0"
    # x'_j = (x_j - lo_j) 2^s_j / g_j  =>  Σ a_j x_j + b = 0 with a_j = w_j 2^s_j / g_j
    a = {j: Fraction(w[j]) * Fraction(2) ** maps[j][1] / maps[j][2] for j in nz}
    b = Fraction(c) - sum((a[j] * Fraction(maps[j][0]) for j in nz), Fraction(0))
    if len(nz) == 1:
        j = nz[0]
        return f"x_{j} = {float(-b / a[j]):.17g}"
    top = max(abs(v) for v in a.values())
    terms = " ".join(f"{float(a[j] / top):+.6g}·x_{j}" for j in nz)
    return f"{terms} {float(b / top):+.6g} = 0".lstrip("+")


def _subset_rank(rows: list[list[int]], idx: list[int]) -> int:
    d = len(rows[0])
    return flint.fmpz_mat(len(idx), d + 1, [v for i in idx for v in (*rows[i], 1)]).rank()


def general_position(X: np.ndarray, budget: int = 20_000) -> GeneralPosition:
    """Check (the proof's form of) Assumption 4.1 exactly; see the module docstring."""
    X = np.asarray(X, dtype=np.float64)
    N, d = X.shape
    k = min(N, d + 1)
    if N <= 1:
        return GeneralPosition(True, "trivial", "one point")
    rows, maps = integer_coords(X)
    # 1. rank of [X 1]; full rank modulo a prime proves full rank over Q (a k-minor non-zero mod P is
    # non-zero), so the exact rank is computed only when the modular one is deficient
    flat = [v for r in rows for v in (*r, 1)]
    rank = flint.nmod_mat(N, d + 1, [v % _P for v in flat], _P).rank()
    if rank < k:
        rank = flint.fmpz_mat(N, d + 1, flat).rank()
    if rank < k:
        # greedy: grow an independent prefix until a point falls into its affine hull
        basis: list[int] = []
        for i in range(N):
            if _subset_rank(rows, [*basis, i]) == len(basis) + 1:
                basis.append(i)
            else:
                subset = [*basis, i]
                break
        else:  # pragma: no cover - rank < k guarantees a dependent point
            subset = list(range(k))
        # a d+1 subset (pad with further points when the dependent set is smaller)
        if N > d and len(subset) < d + 1:
            subset += [i for i in range(N) if i not in subset][: d + 1 - len(subset)]
        hp, nullity = hyperplane_through([rows[i] for i in subset]) if len(subset) <= d + 1 else ([], 0)
        desc = ""
        if nullity:
            w, c = hp[0][:d], hp[0][d]
            desc = describe_hyperplane(w, c, maps)
            if rank < d + 1:
                desc += f"; all {N} points lie in an affine subspace of dimension {rank - 1} < d_x = {d}"
        return GeneralPosition(False, "rank", f"exact rank of [X 1] = {rank} < {k}", sorted(subset),
                               (hp[0][:d], hp[0][d]) if nullity else None, desc)
    if N <= d:
        return GeneralPosition(True, "rank", f"all {N} <= d_x points affinely independent (exact rank)")
    # 2. repeated coordinate values: d+1 points on x_j = v
    for j in range(d):
        col = np.array([r[j] for r in rows], dtype=object)
        vals, counts = np.unique(X[:, j], return_counts=True)
        if counts.max() >= d + 1:
            v = vals[int(np.argmax(counts))]
            subset = np.flatnonzero(X[:, j] == v)[: d + 1].tolist()
            w = [0] * d
            w[j] = 1
            c = -int(col[subset[0]])
            return GeneralPosition(False, "coordinate", f"column {j} has a value shared by "
                                   f"{int(counts.max())} points", subset, (w, c), f"x_{j} = {v:.17g}")
    if d == 1:
        return GeneralPosition(True, "exhaustive", "d_x = 1: distinct points are in general position")
    n_sub = math.comb(N, d)
    if n_sub > budget:
        return GeneralPosition(None, "undecided",
                               f"rank and repeated-coordinate tests found no degenerate subset; the "
                               f"exhaustive test needs C({N},{d}) = {n_sub:.3g} exact hyperplanes "
                               f"(budget {budget})")
    # 3. exhaustive: hash the hyperplane of every d-subset
    seen: dict[tuple[int, ...], tuple[int, ...]] = {}
    for S in combinations(range(N), d):
        basis, nullity = hyperplane_through([rows[i] for i in S])
        if nullity != 1:  # S itself is affinely dependent: add any other point
            extra = next(i for i in range(N) if i not in S)
            subset = sorted([*S, extra])
            w, c = basis[0][:d], basis[0][d]
            return GeneralPosition(False, "exhaustive", f"{d} points affinely dependent", subset,
                                   (w, c), describe_hyperplane(w, c, maps))
        key = _primitive(basis[0])
        if key in seen:
            subset = sorted(set(seen[key]) | set(S))[: d + 1]
            w, c = list(key[:d]), key[d]
            return GeneralPosition(False, "exhaustive", f"two {d}-subsets span one hyperplane", subset,
                                   (w, c), describe_hyperplane(w, c, maps))
        seen[key] = S
    return GeneralPosition(True, "exhaustive", f"all C({N},{d}) = {n_sub} hyperplanes distinct (exact)")
