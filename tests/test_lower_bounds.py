"""Lower bounds (memcap.theory.lower_bounds) and their bounds rows."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import memcap
from memcap.bounds import Architecture, evaluate
from memcap.certify.pieces import count_pieces
from memcap.theory.lower_bounds import bit_floor, floors_for, piece_bound, vc_floor, vc_upper


@given(N=st.integers(2, 10**9), L=st.integers(1, 10**4))
def test_vc_floor_is_the_least_w(N, L):
    W = vc_floor(N, L)
    assert W >= L
    assert vc_upper(W, L) >= N or W == L
    if W > L:
        assert vc_upper(W - 1, L) < N
    assert vc_floor(N) <= W  # the depth-free floor takes the worst depth L = W


@given(N=st.integers(1, 10**7), C=st.integers(2, 1000), B=st.integers(1, 10**4))
def test_bit_floor_is_the_least_w(N, C, B):
    W = bit_floor(N, C, B)
    assert W * B >= N * math.log2(C) - 1e-6 * N
    assert (W - 1) * B < N * math.log2(C)


def test_depth_free_floor_is_order_sqrt_n():
    for N in (10**3, 10**6, 10**9):
        W = vc_floor(N)
        assert 0.05 * math.sqrt(N) < W < math.sqrt(N)  # W² log W ≈ N


def test_piece_bound_dominates_real_networks():
    ds = memcap.load_dataset("gen:hard?n=12")
    c = memcap.construct(ds, "yun-3layer")
    pc = count_pieces(c.network, np.zeros(ds.d_x), np.ones(ds.d_x))
    assert pc.pieces <= piece_bound(c.network.widths, 2)


def test_floors_for_and_bounds_rows():
    ds = memcap.load_dataset("builtin:iris")
    c = memcap.construct(ds, "vardi-optimal")
    fl = floors_for(c.network.counts(), ds, weight_bits=c.info["weight_bits"])
    assert fl["best_floor"] == max(fl["vc_floor_any_depth"], fl["vc_floor_at_depth"], fl["bit_floor"])
    assert c.network.parameters >= fl["best_floor"] and fl["pieces_enough"]
    assert fl["ratio_parameters"] == c.network.parameters / fl["best_floor"]
    rows = evaluate(Architecture(4, 3, (12, 12)), 10**6, None, classes=10)
    lb = [r for r in rows if "Theorem 7" in r.source or r.source.startswith("counting")]
    assert len(lb) == 2 and all(r.holds is False for r in lb)  # 275 parameters cannot memorize 10^6
