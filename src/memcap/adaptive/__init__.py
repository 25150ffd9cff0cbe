"""Instance-adaptive certified memorizers: train small, certify in float32, repair what fails.

Sits above certification (it certifies while it builds): :mod:`memcap.adaptive.train` trains a small
PyTorch MLP, :mod:`memcap.adaptive.repair` certifies it point by point and builds exact-zero gates for
the points that fail, :mod:`memcap.adaptive.method` searches the width and registers ``adaptive``.
"""

from memcap.adaptive.method import adaptive, tolerances

__all__ = ["adaptive", "tolerances"]
