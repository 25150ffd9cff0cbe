"""memcap's typed errors. Control flow branches on these types, never on an error's text.

Every error memcap raises for bad input or an impossible request is one of these; the CLI turns
them into a one-line message and exit code 2 (input) or 1 (a network that could not be certified).
"""

from __future__ import annotations

__all__ = ["MemcapError", "DataError", "OptionError", "ConditionError", "NeedsExactArithmetic",
           "ConstructionError", "TooLargeError"]


class MemcapError(Exception):
    """Base class of memcap's errors."""


class DataError(MemcapError, ValueError):
    """The data are invalid (NaN, ragged, conflicting duplicates, ...); the message names the rows."""


class OptionError(MemcapError, ValueError):
    """An option or argument is unknown, of the wrong type or out of range; the message lists
    the valid ones."""


class ConditionError(MemcapError, ValueError):
    """The architecture or data breaks the theorem's condition; the message gives the numbers."""


class NeedsExactArithmetic(ConditionError):
    """The construction cannot be carried out in float64 (points or weights need more bits);
    ``memcap.construct`` escalates to exact rational arithmetic when it sees this type."""


class ConstructionError(MemcapError, RuntimeError):
    """The construction could not produce a verified network (e.g. precision ran out)."""


class TooLargeError(DataError):
    """The data (with this network) need more memory than is available; the message gives the
    estimate, what is available and what to do."""
