"""The command line: a thin face over the Python API (``memcap --help``)."""

from memcap.cli.app import app, main

__all__ = ["app", "main"]
