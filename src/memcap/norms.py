"""The one parser of Lp norm names (a leaf: imports only :mod:`memcap.errors`).

Every place that takes a norm (``yu-robust``'s ``norm=``, ``memcap robust --norm``, the Lipschitz
bounds) reads it with :func:`parse_norm`, so they accept the same spellings and refuse with the same
:class:`~memcap.errors.OptionError`. A norm is ``math.inf`` or an integer ``p >= 1``;
:func:`norm_name` gives its canonical text (``"inf"``, ``"1"``, ``"2"``, ``"3"`` ...), the form
stored in ``Network.meta`` and reports.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any

from memcap.errors import OptionError

__all__ = ["parse_norm", "norm_name", "NORM_SPELLINGS", "BALL_NORMS"]

#: what :func:`parse_norm` accepts, for messages and help texts
NORM_SPELLINGS = ("inf (also linf, l_inf, infinity, max, ∞, math.inf) or an integer p >= 1 "
                  "(2, '2', 'l2', 2.0)")
#: the norms the robustness verifiers and the Lipschitz bounds implement
BALL_NORMS: tuple[float | int, ...] = (math.inf, 1, 2)

_INF = ("inf", "linf", "l_inf", "l∞", "infinity", "∞", "max")


def parse_norm(norm: Any, allowed: Iterable[float | int] | None = None) -> float | int:
    """``norm`` as ``math.inf`` or an integer ``p >= 1``; with ``allowed``, only those.

    Raises :class:`~memcap.errors.OptionError` naming the accepted spellings (and ``allowed``)."""
    p: float | int
    if isinstance(norm, bool):
        raise OptionError(f"norm must be {NORM_SPELLINGS}, got {norm!r}")
    if isinstance(norm, numbers.Real):
        v = float(norm)
        if math.isinf(v) and v > 0:
            p = math.inf
        elif math.isfinite(v) and v == int(v) and v >= 1:
            p = int(v)
        else:
            raise OptionError(f"norm must be {NORM_SPELLINGS}, got {norm!r}")
    elif isinstance(norm, str):
        t = norm.strip().lower()
        if t in _INF:
            p = math.inf
        else:
            t = t[1:] if t.startswith("l") else t
            try:
                v = float(t)
            except ValueError:
                raise OptionError(f"norm must be {NORM_SPELLINGS}, got {norm!r}") from None
            if math.isinf(v) and v > 0:
                p = math.inf
            elif math.isfinite(v) and v == int(v) and v >= 1:
                p = int(v)
            else:
                raise OptionError(f"norm must be {NORM_SPELLINGS}, got {norm!r}")
    else:
        raise OptionError(f"norm must be {NORM_SPELLINGS}, got {type(norm).__name__} {norm!r}")
    if allowed is not None:
        ok = tuple(allowed)
        if p not in ok:
            raise OptionError(f"norm {norm!r} is not supported here: use one of "
                              f"{', '.join(norm_name(a) for a in ok)}")
    return p


def norm_name(p: float | int) -> str:
    """The canonical text of a parsed norm: ``"inf"`` or the integer p."""
    return "inf" if p == math.inf else str(int(p))
