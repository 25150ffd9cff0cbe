"""Which theorems guarantee memorization for an architecture (sufficient), which forbid it
(necessary), and the smallest architecture each allows.

Each paper adds a *provider* module (``bounds/yun2019.py`` ...) registered with
:func:`register_bounds`; :func:`evaluate` runs them all. ``memcap bounds`` prints the rows.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from memcap.network import RELU, Activation

__all__ = ["Architecture", "BoundRow", "register_bounds", "evaluate", "PROVIDER_MODULES"]

#: provider modules under memcap.bounds, imported by :func:`evaluate`
PROVIDER_MODULES: list[str] = ["yun2019", "zhang2021", "yu2024", "yun2019_deep", "park2021", "faithful",
                                 "lower_bounds"]


@dataclass(frozen=True)
class Architecture:
    """A network shape: input and output dimension, hidden widths, activation, residual or not."""

    d_x: int
    d_y: int
    widths: tuple[int, ...]
    activation: Activation = RELU
    residual: bool = False

    @property
    def depth(self) -> int:
        """The papers' L: number of affine layers (hidden layers + 1)."""
        return len(self.widths) + 1

    @property
    def parameters(self) -> int:
        dims = [self.d_x, *self.widths, self.d_y]
        return sum(dims[i + 1] * (dims[i] + 1) for i in range(len(dims) - 1))


@dataclass
class BoundRow:
    """One theorem's verdict on (architecture, N, data)."""

    source: str                                    # "Yun et al. 2019, Theorem 3.3"
    kind: Literal["sufficient", "necessary", "info"]
    holds: bool | None                              # sufficient: memorization guaranteed;
    #                                                 necessary: the condition for possibility holds
    statement: str
    values: dict[str, Any] = field(default_factory=dict)
    detail: str = ""


Provider = Callable[..., list[BoundRow]]
_PROVIDERS: dict[str, Provider] = {}


def register_bounds(name: str) -> Callable[[Provider], Provider]:
    """Register ``fn(arch: Architecture, N: int, ds: Dataset | None, **opts) -> list[BoundRow]``."""

    def deco(fn: Provider) -> Provider:
        _PROVIDERS[name] = fn
        return fn

    return deco


def evaluate(arch: Architecture, N: int, ds: Any = None, **opts: Any) -> list[BoundRow]:
    """Every provider's rows for this architecture and N (and the data, when given)."""
    for mod in PROVIDER_MODULES:
        importlib.import_module(f"memcap.bounds.{mod}")
    rows: list[BoundRow] = []
    for name in sorted(_PROVIDERS):
        rows.extend(_PROVIDERS[name](arch, N, ds, **opts))
    return rows
