"""What every construction returns (`Construction`, `Certificate`), its errors, and the registry."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from typing import Any

import flint
import numpy as np

from memcap.constructions.options import Option, validate_options
from memcap.errors import ConditionError, ConstructionError, NeedsExactArithmetic, OptionError
from memcap.network import Network
from memcap.theory.conditions import Condition

__all__ = [
    "Condition", "Certificate", "Construction", "ConditionError", "ConstructionError",
    "Method", "register", "Field", "NeedsExactArithmetic", "Option",
]


@dataclass
class Certificate:
    """What the theorem promises for this network, and on which numbers that rests."""

    method: str
    theorem: str
    reference: str
    conditions: list[Condition]
    guarantees: list[str]
    arithmetic: str = "float64"
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["conditions"] = [
            {"statement": c.statement, "values": _jsonable(c.values), "holds": c.holds}
            for c in self.conditions
        ]
        return d


@dataclass
class Construction:
    """A built network with its certificate and facts about the build (timings, choices)."""

    network: Network
    certificate: Certificate
    info: dict[str, Any] = field(default_factory=dict)
    verification: Any = None  # filled by memcap.construct (a VerificationReport)


def _jsonable(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    if isinstance(v, Fraction | flint.fmpq):
        return str(v)
    return v


# ---- registry ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Method:
    """A registry entry: a stable name shared by the API and the CLI."""

    name: str
    theorem: str
    condition: str
    sizes: str
    build: Callable[..., Construction]
    tasks: tuple[str, ...] = ("regression", "classification")
    #: (dataset, options) -> {"widths": [...], "parameters": int, ...} predicted without building;
    #: the contract suite checks every built network against it
    size_formula: Callable[..., dict[str, Any]] | None = None
    #: dataset -> options that break the theorem's condition by one unit (must raise ConditionError)
    break_condition: Callable[..., dict[str, Any]] | None = None
    #: dataset -> None when the theorem's data assumption (beyond distinct points of an allowed task)
    #: holds, else the reason; such data must be refused with a ConditionError (e.g. general position)
    assumption: Callable[..., str | None] | None = None
    #: the options ``build`` takes besides ``ds`` and ``arithmetic`` (name, type, range, default, help)
    options: tuple[Option, ...] = ()

    def option(self, name: str) -> Option:
        for o in self.options:
            if o.name == name:
                return o
        raise OptionError(f"{self.name} has no option {name!r}")

    def validate(self, options: dict[str, Any]) -> dict[str, Any]:
        """``options`` checked against the declaration and coerced to the declared types
        (OptionError listing the valid options otherwise); see :mod:`memcap.constructions.options`."""
        return validate_options(self.name, self.options, options)


_REGISTRY: dict[str, Method] = {}


def register(name: str, theorem: str, condition: str, sizes: str,
             tasks: tuple[str, ...] = ("regression", "classification"),
             size_formula: Callable[..., dict[str, Any]] | None = None,
             break_condition: Callable[..., dict[str, Any]] | None = None,
             assumption: Callable[..., str | None] | None = None,
             options: tuple[Option, ...] = (),
             ) -> Callable[[Callable[..., Construction]], Callable[..., Construction]]:
    """Decorator registering a construction function under ``name``.

    The function takes ``(ds, arithmetic="float64"|"exact", **options)`` and returns a
    :class:`Construction`; it never verifies (``memcap.construct`` does). ``options`` declares every
    keyword besides ``ds`` and ``arithmetic`` (the registry test checks the declaration against the
    signature); ``memcap.construct`` validates against it before any work.
    """

    def deco(fn: Callable[..., Construction]) -> Callable[..., Construction]:
        if name in _REGISTRY:
            raise ValueError(f"method {name!r} registered twice")
        _REGISTRY[name] = Method(name, theorem, condition, sizes, fn, tasks, size_formula,
                                 break_condition, assumption, tuple(options))
        return fn

    return deco




# ---- arithmetic used while building -----------------------------------------------------------
class Field:
    """Numbers a construction computes with: ``float64`` arrays, or exact ``fmpq`` object arrays.

    Constructions write their formulas once with numpy operations; ``Field("exact")`` makes the same
    code exact (numpy dispatches +, -, *, /, cumsum, cumprod, max and min to the rationals).
    """

    def __init__(self, arithmetic: str = "float64") -> None:
        if arithmetic not in ("float64", "exact"):
            raise ValueError(f"arithmetic must be 'float64' or 'exact', got {arithmetic!r}")
        self.exact = arithmetic == "exact"
        self.name = arithmetic

    def array(self, a: Any) -> np.ndarray:
        if self.exact:
            from memcap.numerics import to_exact_array

            return to_exact_array(a)
        return np.asarray(a, dtype=np.float64)

    def const(self, v: Any) -> Any:
        if self.exact:
            f = Fraction(v) if not isinstance(v, flint.fmpq) else v
            return f if isinstance(f, flint.fmpq) else flint.fmpq(f.numerator, f.denominator)
        return float(v)

    def zeros(self, shape: Any) -> np.ndarray:
        if self.exact:
            out = np.empty(shape, dtype=object)
            out[...] = flint.fmpq(0)
            return out
        return np.zeros(shape)
