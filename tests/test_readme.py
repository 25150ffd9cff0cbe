"""The README names the CI command (its Python example is run by tests/test_docs.py)."""

from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_names_the_ci_test_command():
    ci = (README.parent / ".ci" / "run").read_text()
    cmd = ".venv/bin/ruff check src tests benchmarks && .venv/bin/python -m pytest"
    assert cmd in README.read_text() and cmd in ci
