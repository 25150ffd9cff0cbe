"""`Condition`: one condition of a theorem with the numbers it was checked on (plain data)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Condition"]


@dataclass
class Condition:
    """One condition of a theorem, with the numbers it was checked on."""

    statement: str
    values: dict[str, Any]
    holds: bool

    def __str__(self) -> str:
        vals = ", ".join(f"{k}={v}" for k, v in self.values.items())
        return f"{self.statement}  [{vals}]  {'holds' if self.holds else 'FAILS'}"
