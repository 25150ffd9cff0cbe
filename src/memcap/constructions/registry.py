"""Imports every construction module so that its ``@register`` entries exist.

Registry names are stable strings shared by the API and the CLI (``memcap methods`` lists them).
Add a module here when a new paper's constructions arrive.
"""

import memcap.constructions.faithful.three_layer  # noqa: F401
import memcap.constructions.park2021.sublinear  # noqa: F401
import memcap.constructions.park2021.thm3  # noqa: F401
import memcap.constructions.vardi2022  # noqa: F401
import memcap.constructions.yu2024  # noqa: F401
import memcap.constructions.zhang2017  # noqa: F401
from memcap.constructions import yun2019  # noqa: F401
from memcap.constructions.base import _REGISTRY, Method
from memcap.errors import OptionError

__all__ = ["all_methods", "get_method"]


def get_method(name: str) -> Method:
    """The registry entry called ``name`` (OptionError listing the available names otherwise)."""
    if name not in _REGISTRY:
        raise OptionError(f"unknown method {name!r}; available: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


def all_methods() -> list[Method]:
    """Every registered method, sorted by name."""
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]
