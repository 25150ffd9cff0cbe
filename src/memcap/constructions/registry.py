"""Imports every construction module so that its ``@register`` entries exist.

Registry names are stable strings shared by the API and the CLI (``memcap methods`` lists them).
Add a module here when a new paper's constructions arrive.
"""

import memcap.adaptive  # noqa: F401  (trained + certified; the lead moves this to its layer)
import memcap.constructions.park2021  # noqa: F401
import memcap.constructions.park2021_thm3  # noqa: F401
import memcap.constructions.precision  # noqa: F401
import memcap.constructions.yu2024  # noqa: F401
import memcap.constructions.zhang2017  # noqa: F401
from memcap.constructions import yun2019  # noqa: F401
from memcap.constructions.base import all_methods, get_method

__all__ = ["all_methods", "get_method"]
