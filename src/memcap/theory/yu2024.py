"""Yu, Gao & Zhang (2024): block widths of Theorem 5.2's network — pure formulas."""

from __future__ import annotations

__all__ = ["lipschitz_block_widths"]


def lipschitz_block_widths(n: int, L: int) -> tuple[list[int], list[int]]:
    """Hidden widths of one point's block in :func:`lipschitz`, and the max-tree round sizes
    (m_0 = n, m_{r+1} = ⌈m_r/2⌉; e = number of rounds = ⌈log2 n⌉)."""
    m = 1 if L == 2 else L
    block = [m + 3 * n, m + 2 * n]
    cnt, rounds = n, []
    while cnt > 1:
        P, U = cnt // 2, cnt % 2
        block += [m + 2 * P + U + n, m + P + U + n]
        rounds.append(cnt)
        cnt = P + U
    block += [n + 4, n + 3, n + 1] if L == 2 else [L + 1 + n, L + 1 + n, L + n]
    return block, rounds
