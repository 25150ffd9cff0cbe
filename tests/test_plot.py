"""memcap._plot: figures are drawn without switching the process's matplotlib backend."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import memcap

matplotlib = pytest.importorskip("matplotlib")


def test_plotting_leaves_the_users_backend_alone(tmp_path):
    from memcap.advise import plot_sizes

    before = matplotlib.get_backend()
    matplotlib.use("svg")  # stands in for a notebook's inline backend
    try:
        out = tmp_path / "sizes.png"
        plot_sizes(str(out), 2, 1, "regression", Ns=[10, 30])
        assert matplotlib.get_backend() == "svg"
        assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    finally:
        matplotlib.use(before)


def test_no_module_switches_the_backend_or_uses_pyplot():
    root = Path(memcap.__file__).parent
    pattern = re.compile(r"\.use\(\s*[\"']Agg|import matplotlib\.pyplot|from matplotlib import pyplot")
    hits = [f"{p.relative_to(root)}:{i}" for p in root.rglob("*.py") if p.name != "_plot.py"
            for i, line in enumerate(p.read_text().splitlines(), 1) if pattern.search(line)]
    assert not hits, hits
