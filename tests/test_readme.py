"""The README's Python example runs as written (keeps the README true)."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_example_runs(tmp_path, monkeypatch):
    pytest.importorskip("torch")
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "README has no python example"
    monkeypatch.chdir(tmp_path)
    ns: dict = {}
    exec(compile(blocks[0], "README.md", "exec"), ns)  # noqa: S102 - our own README
    assert ns["report"].memorized and ns["report"].certified
    assert (ns["pred"].numpy() == ns["ds"].labels).all()


def test_readme_names_the_ci_test_command():
    ci = (README.parent / ".ci" / "run").read_text()
    cmd = ".venv/bin/ruff check src tests benchmarks && .venv/bin/python -m pytest"
    assert cmd in README.read_text() and cmd in ci
