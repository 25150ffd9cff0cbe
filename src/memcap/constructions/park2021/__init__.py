"""Park, Lee, Yun & Shin (2021): sub-linear memorization (Theorems 1, 2 and 3)."""

from memcap.constructions.park2021 import sublinear, thm3  # noqa: F401  (registers the methods)
