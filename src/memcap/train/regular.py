"""The regular training regime of Zhang et al. (2021), Sec. 5 item (2): the baseline.

The unconstrained problem (2) with the *full* output layer ``v in R^m`` (no pairing), regular LeCun
initialization (``w ~ N(0, I_d/d)``, ``v ~ N(0, 1/m)``, no mirroring, so ``f(w^0) != 0``) and the
same optimizer, step sizes and budget as the regime. With a finite ``eps`` it is the
"constraint-only" ablation of Fig. 4(b): the regular net plus projection of w onto ``B_eps(w^0)``.
"""

from __future__ import annotations

from typing import Any

from memcap.train.zhang21 import _draw

__all__ = ["lecun_init"]


def lecun_init(torch: Any, G: int, m: int, d: int, C: int, generator: Any, init: str = "lecun_normal",
               dtype: Any = None) -> tuple[Any, Any]:
    """``W0 (G, m, d)`` with entries N(0, 1/d) and ``v0 (G, m, C)`` with entries N(0, 1/m) (or nn.Linear's
    default uniform init with ``init="torch_default"``)."""
    return (_draw(torch, (G, m, d), d, init, generator, dtype),
            _draw(torch, (G, m, C), m, init, generator, dtype))
