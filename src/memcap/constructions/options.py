"""Declared options of the registered methods, validated once at the door.

Each method declares its options in :func:`memcap.constructions.base.register` (``options=``) as
:class:`Option` rows: name, type, default, range or choices, help. :func:`validate_options` — called
by :func:`memcap.construct` before any work, in the manner of scikit-learn's ``validate_params`` —
refuses an unknown option, a wrong type or a value out of range with an
:class:`~memcap.errors.OptionError` that lists every valid option of the method with its type and
range, and coerces text (``memcap construct --option KEY=VALUE``) to the declared type.

One name, one meaning: the options shared by several methods are the constants below (``WIDTHS``,
``ACTIVATION``, ``SEED``, ``MARGIN``, ``CANDIDATES``, ``GATE``), so ``gate`` is the gate *gadget*
(``"paper"`` or ``"3unit"``) wherever it appears. A value outside the declared range is a bad option
(OptionError); a value inside it that breaks the theorem's condition is the construction's to refuse
(ConditionError), with the numbers.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from memcap.errors import OptionError
from memcap.network import ACTIVATION_SPELLINGS, Activation, as_activation
from memcap.norms import parse_norm

__all__ = ["Option", "validate_options", "describe_options", "WIDTHS", "ACTIVATION", "SEED", "MARGIN",
           "CANDIDATES", "GATE"]

#: the declared types: python types, or names of the structured ones
_TYPES = (int, float, bool, str, "number", "widths", "ints", "activation", "norm")


@dataclass(frozen=True)
class Option:
    """One option of a method.

    ``type``: ``int``, ``float``, ``bool``, ``str``, ``"number"`` (a real kept as given: an exact
    ``Fraction`` stays exact; text is read as a fraction), ``"widths"`` or ``"ints"`` (a sequence of
    integers ≥ 0, or text ``"8,16"``), ``"activation"`` (an :class:`~memcap.network.Activation` or its text)
    or ``"norm"`` (:func:`memcap.norms.parse_norm`). ``low``/``high``: inclusive bounds of a
    number (``open_low``/``open_high`` make them strict). ``choices``: the allowed values of a
    ``str``. ``aliases``: old spellings mapped to their current value. ``None`` is accepted exactly
    when the default is ``None`` ("choose for me").
    """

    name: str
    type: Any
    default: Any = None
    help: str = ""
    low: float | None = None
    high: float | None = None
    open_low: bool = False
    open_high: bool = False
    choices: tuple[Any, ...] | None = None
    aliases: Mapping[Any, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.type not in _TYPES:
            raise TypeError(f"option {self.name}: unknown declared type {self.type!r}")

    def with_default(self, default: Any, help: str | None = None) -> Option:
        """The same option with another default (and help), for a method whose default differs."""
        return Option(self.name, self.type, default, self.help if help is None else help, self.low,
                      self.high, self.open_low, self.open_high, self.choices, self.aliases)

    # ---- description --------------------------------------------------------------------------
    def type_text(self) -> str:
        t = self.type if isinstance(self.type, str) else self.type.__name__
        if self.type in (int, float, "number") and (self.low is not None or self.high is not None):
            lo = "" if self.low is None else f"{_num(self.low)} {'<' if self.open_low else '≤'} "
            hi = "" if self.high is None else f" {'<' if self.open_high else '≤'} {_num(self.high)}"
            t = f"{t}, {lo}{self.name}{hi}"
        if self.choices is not None:
            t = " | ".join(repr(c) for c in self.choices)
        if self.default is None:
            t += " or None"
        return t

    def describe(self) -> str:
        """``name: type/range (default d): help`` on one line."""
        tail = f": {self.help}" if self.help else ""
        return f"{self.name}: {self.type_text()} (default {self.default!r}){tail}"

    # ---- validation ---------------------------------------------------------------------------
    def coerce(self, value: Any, method: str = "") -> Any:
        """``value`` checked against the declaration (text coerced to the type), or OptionError."""
        where = f"{method} option {self.name}" if method else f"option {self.name}"
        if _hashable(value) and value in self.aliases:
            value = self.aliases[value]
        if value is None:
            if self.default is None:
                return None
            raise OptionError(f"{where} must be {self.type_text()}, got None")
        v = self._typed(value, where)
        if self.type in (int, float, "number"):
            self._check_range(v, where)
        if self.choices is not None and v not in self.choices:
            raise OptionError(f"{where} must be one of {', '.join(repr(c) for c in self.choices)}, "
                              f"got {value!r}")
        return v

    def _typed(self, value: Any, where: str) -> Any:
        t = self.type
        text = isinstance(value, str)
        bad = OptionError(f"{where} must be {self.type_text()}, got {type(value).__name__} {value!r}")
        if t is bool:
            if isinstance(value, bool):
                return value
            if text and value.strip().lower() in ("1", "true", "yes", "on"):
                return True
            if text and value.strip().lower() in ("0", "false", "no", "off"):
                return False
            raise bad
        if t is int:
            if isinstance(value, bool):
                raise bad
            if isinstance(value, numbers.Integral):
                return int(value)
            if text:
                try:
                    return int(value.strip())
                except ValueError:
                    raise bad from None
            raise bad
        if t in (float, "number"):
            if isinstance(value, bool):
                raise bad
            if isinstance(value, numbers.Real):
                if not math.isfinite(float(value)):
                    raise OptionError(f"{where} must be a finite number, got {value!r}")
                return float(value) if t is float and isinstance(value, numbers.Integral) else value
            if text:
                try:
                    v = float(value) if t is float else Fraction(value.strip())
                except (ValueError, ZeroDivisionError):
                    raise bad from None
                if not math.isfinite(float(v)):
                    raise OptionError(f"{where} must be a finite number, got {value!r}")
                return v
            raise bad
        if t is str:
            if not text:
                raise bad
            return value.strip()
        if t in ("widths", "ints"):
            return _widths(value, where)
        if t == "activation":
            if not isinstance(value, str | Activation):
                raise OptionError(f"{where} must be an activation ({ACTIVATION_SPELLINGS}), got {value!r}")
            as_activation(value)  # raises OptionError naming the spellings
            return value.strip() if text else value
        if t == "norm":
            try:
                parse_norm(value)
            except OptionError as exc:
                raise OptionError(f"{where}: {exc}") from None
            return value
        raise bad  # pragma: no cover - __post_init__ admits no other type

    def _check_range(self, v: Any, where: str) -> None:
        x = float(v)
        lo_bad = self.low is not None and (x <= self.low if self.open_low else x < self.low)
        hi_bad = self.high is not None and (x >= self.high if self.open_high else x > self.high)
        if lo_bad or hi_bad:
            raise OptionError(f"{where} must be {self.type_text()}, got {v!r}")


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(x)


def _hashable(v: Any) -> bool:
    try:
        hash(v)
    except TypeError:
        return False
    return True


def _widths(value: Any, where: str) -> tuple[int, ...]:
    bad = OptionError(f"{where} must be integers ≥ 0 as a sequence or text '8,16', "
                      f"got {value!r}")
    if isinstance(value, str):
        try:
            ws = tuple(int(w) for w in value.replace(" ", "").split(",") if w)
        except ValueError:
            raise bad from None
    else:
        try:
            items = list(value)
        except TypeError:
            raise bad from None
        if any(isinstance(w, bool) or not isinstance(w, numbers.Integral) for w in items):
            raise bad
        ws = tuple(int(w) for w in items)
    if not ws or any(w < 0 for w in ws):
        raise bad
    return ws


# ---- the shared options: one meaning per name ---------------------------------------------------
WIDTHS = Option("widths", "widths", None, "hidden widths (default: the smallest the theorem allows)")
ACTIVATION = Option("activation", "activation", "relu", f"the activation: {ACTIVATION_SPELLINGS}")
SEED = Option("seed", int, 0, "seed of the construction's random choices", low=0)
MARGIN = Option("margin", float, 0.25, "the construction's separation margin", low=0, open_low=True)
CANDIDATES = Option("candidates", int, 20, "random projection directions tried (the best is kept)", low=1)
GATE = Option("gate", str, "paper", "the gate σ_G: 'paper' (4 ReLU-like units via Gadget H; hard-tanh 2) "
              "or '3unit' (3 ReLU-like units); the old spelling gate=3 means '3unit'",
              choices=("paper", "3unit"), aliases={3: "3unit", "3": "3unit", None: "paper"})


def describe_options(options: tuple[Option, ...]) -> str:
    return "; ".join(o.describe() for o in options) or "none"


def validate_options(method: str, declared: tuple[Option, ...], given: Mapping[str, Any],
                     exclude: tuple[str, ...] = (), note: str = "") -> dict[str, Any]:
    """``given`` checked against ``declared`` (unknown names refused, values coerced); returns the
    coerced options. ``exclude`` names declared options that the caller does not accept here;
    ``note`` is appended to the refusal (e.g. where the excluded ones go)."""
    by_name = {o.name: o for o in declared if o.name not in exclude}
    unknown = [k for k in given if k not in by_name]
    if unknown:
        raise OptionError(
            f"{method} has no option{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}. "
            f"Its options: {describe_options(tuple(by_name.values()))}" + (f" ({note})" if note else ""))
    return {k: by_name[k].coerce(v, method) for k, v in given.items()}


def option_table(declared: tuple[Option, ...]) -> list[dict[str, Any]]:
    """The declarations as plain rows (``memcap methods NAME --json``)."""
    return [{"name": o.name, "type": o.type_text(), "default": o.default if _jsonable(o.default)
             else repr(o.default), "help": o.help} for o in declared]


def _jsonable(v: Any) -> bool:
    return v is None or isinstance(v, bool | int | float | str)

