"""The house's layers, kept by a test: no upward import, no import cycle (function-level imports too).

Every module of ``src/memcap`` is parsed with ``ast``; each ``import memcap...`` / ``from memcap... import``
(at module level or inside a function) is an edge. A module may import its own layer group or any lower
layer, never a higher one; ``constructions`` and ``bounds`` are peers that must not import each other
(both read ``theory``). Cycles between modules are refused except the few listed in ``ALLOWED`` with
their reason.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

#: lowest first; a module belongs to the longest prefix that names it
LAYERS: list[tuple[str,...]] = [
    ("memcap.errors", "memcap._util", "memcap._plot"),
    ("memcap.network",),
    ("memcap.numerics", "memcap.meta", "memcap.norms"),
    ("memcap.data",),
    ("memcap.theory",),
    ("memcap.constructions", "memcap.bounds"),
    ("memcap.certify",),
    ("memcap.io",),
    # orchestration; certify.robust.vnn is the VNN-COMP runner (it reads suites from memcap.io.suite)
    ("memcap.build", "memcap.select", "memcap.api", "memcap.advise", "memcap.adaptive", "memcap.train",
     "memcap.experiments",
     "memcap.report", "memcap.vnnsuite", "memcap.certify.robust.vnn"),
    # the package and the wrappers over its public API
    ("memcap", "memcap.sklearn", "memcap.testing"),
    ("memcap.cli",),
]
#: peers of one layer that must not import each other
SEPARATE = {frozenset({"memcap.constructions", "memcap.bounds"})}
#: (importer, imported): why this upward edge is fine
ALLOWED = {
    ("memcap.network", "memcap.numerics"):
        "Network.__call__ / to_float are conveniences delegating to numerics inside the method; numerics "
        "imports network at module level, network never imports numerics at import time",
    ("memcap.network", "memcap.io.torch"):
        "Network.to_torch is a convenience delegating to io.torch inside the method",
}


def _modules() -> dict[str, Path]:
    out = {}
    for p in (SRC / "memcap").rglob("*.py"):
        parts = list(p.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = p
    return out


MODULES = _modules()


def _edges() -> list[tuple[str, str, int]]:
    edges = []
    for mod, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                sub = [f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in MODULES]
                targets = sub or [node.module]
            edges += [(mod, t, node.lineno) for t in targets if t == "memcap" or t.startswith("memcap.")]
    return edges


def _layer(mod: str) -> tuple[int, str]:
    best: tuple[int, str] | None = None
    for i, group in enumerate(LAYERS):
        for prefix in group:
            longer = best is None or len(prefix) > len(best[1])
            if (mod == prefix or mod.startswith(prefix + ".")) and longer:
                best = (i, prefix)
    assert best is not None, f"{mod} is in no layer: add it to LAYERS in {__file__}"
    return best


def _allowed(a: str, b: str) -> bool:
    return any(a == x and (b == y or b.startswith(y + ".")) for x, y in ALLOWED)


def test_every_module_has_a_layer() -> None:
    for mod in MODULES:
        _layer(mod)


def test_no_upward_import() -> None:
    bad = []
    for a, b, line in _edges():
        (la, ga), (lb, gb) = _layer(a), _layer(b)
        upward = lb > la
        peers = la == lb and frozenset({ga, gb}) in SEPARATE
        if (upward or peers) and not _allowed(a, b):
            bad.append(f"{MODULES[a].relative_to(SRC)}:{line}: {a} ({ga}) imports {b} ({gb})")
    assert not bad, "imports against the layers:\n" + "\n".join(bad)


def test_no_import_cycle() -> None:
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for a, b, _ in _edges():
        if b in MODULES and a != b and not _allowed(a, b) and not a.startswith(b + "."):
            graph[a].add(b)
    # Tarjan's strongly connected components
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


@pytest.mark.parametrize("mod", ["memcap.theory", "memcap.errors", "memcap._util"])
def test_pure_layers_import_no_heavy_extras(mod: str) -> None:
    """theory/, errors and _util import neither torch, onnx, matplotlib nor ray."""
    heavy = ("torch", "onnx", "onnxruntime", "matplotlib", "ray")
    for m, path in MODULES.items():
        if m != mod and not m.startswith(mod + "."):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not [n for n in names if n.split(".")[0] in heavy], f"{m} imports {names}"
