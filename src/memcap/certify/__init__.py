"""Verification: certified memorization (and, later, robustness and Lipschitz bounds)."""

from memcap.certify.memorization import VerificationReport, default_tolerance, verify

__all__ = ["VerificationReport", "verify", "default_tolerance"]
