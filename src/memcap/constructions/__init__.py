"""Constructions: one module per paper, one function per theorem (see ``registry``)."""

from memcap.constructions.base import (
    Certificate,
    Condition,
    ConditionError,
    Construction,
    ConstructionError,
    Method,
)

__all__ = ["Certificate", "Condition", "ConditionError", "Construction", "ConstructionError", "Method"]
