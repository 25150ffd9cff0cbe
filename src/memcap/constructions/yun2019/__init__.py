"""Yun, Sra & Jadbabaie (2019), "Small ReLU networks are powerful memorizers" (NeurIPS 2019).

One module of this package per part of the paper, one function per theorem:

* :mod:`.three_layer` — Theorem 3.1 (``yun-3layer``).

Where the paper is wrong or silent the code says so, citing docs/errata.md.
"""

from memcap.constructions.yun2019.three_layer import (
           choose_projection,
           rescale_targets,
           three_layer,
           three_layer_sizes,
)
from memcap.theory.yun2019 import three_layer_free_integers, three_layer_minimal_widths

__all__ = ["three_layer", "three_layer_free_integers", "three_layer_minimal_widths",
           "three_layer_sizes", "choose_projection", "rescale_targets"]
from memcap.constructions.yun2019.classifier import four_layer_classifier  # noqa: E402,F401
from memcap.constructions.yun2019.deep import deep_network  # noqa: E402,F401
from memcap.constructions.yun2019.resnet import resnet, resnet_sizes  # noqa: E402,F401
from memcap.constructions.yun2019.two_layer import two_layer_gp, two_layer_gp_sizes  # noqa: E402,F401
