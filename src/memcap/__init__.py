"""memcap: networks with computed weights that provably memorize a finite dataset.

The public surface is small: ``Dataset``, ``load_dataset``, ``Network``, ``construct``, ``verify``,
``methods``, ``save``, ``load`` and the typed errors of :mod:`memcap.errors` (``DataError``,
``OptionError``, ``ConditionError``, ``NeedsExactArithmetic``, ``ConstructionError``). Everything else
is reachable by module.
"""

from memcap.api import construct, methods
from memcap.certify import verify
from memcap.data import Dataset, load_dataset
from memcap.errors import ConditionError, ConstructionError, DataError, NeedsExactArithmetic, OptionError
from memcap.io.npz import load, save
from memcap.network import Network

__version__ = "0.1.0"

__all__ = ["Dataset", "DataError", "load_dataset", "Network", "construct", "verify", "methods",
           "save", "load", "OptionError", "ConditionError", "NeedsExactArithmetic", "ConstructionError",
           "__version__"]
