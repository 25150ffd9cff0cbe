"""The documentation's examples run as written (README.md and docs/*.md).

* every ```python block runs (in a temporary folder, blocks of one file in order, sharing names);
* every ```console block is marked: ```console run — each ``$ memcap ...`` line runs with the exit code
  its comment states (``# exit N``; default 0; "nothing written" in the comment: no file appears) —
  or ```console skip=REASON — shown, not run (too slow for a test, or placeholders), with the reason;
* every inline ``memcap.x.y`` path in the prose resolves (module or attribute).
"""

from __future__ import annotations

import importlib
import re
import shlex
import warnings
from pathlib import Path

import pytest
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```([^\n]*)\n(.*?)^```", re.S | re.M)


def _blocks(kind: str) -> list[tuple[Path, str, str]]:
    return [(f, m.group(1).strip(), m.group(2)) for f in DOCS for m in FENCE.finditer(f.read_text())
            if m.group(1).strip().split(" ")[0] == kind]


def _id(item: tuple[Path, str, str]) -> str:
    return f"{item[0].name}:{item[2].strip().splitlines()[0][:40]}"


def _run_python(name: str, blocks: list[str]) -> dict:
    ns: dict = {"__name__": "__docs__"}
    for code in blocks:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            exec(compile(code, name, "exec"), ns)  # noqa: S102 - our own documentation
    return ns


@pytest.mark.parametrize("doc", [d for d in DOCS if "```python" in d.read_text()], ids=lambda d: d.name)
def test_python_blocks_run(doc, tmp_path, monkeypatch):
    pytest.importorskip("torch")
    monkeypatch.chdir(tmp_path)
    blocks = [code for f, _, code in _blocks("python") if f == doc]
    ns = _run_python(doc.name, blocks)
    if doc.name == "README.md":  # what the README's comments promise
        assert ns["report"].memorized and ns["report"].certified
        assert (ns["pred"].numpy() == ns["ds"].labels).all()


def test_every_console_block_is_marked():
    unmarked = [_id(b) for b in _blocks("console")
                if not (b[1] == "console run" or re.fullmatch(r"console skip=\S.*", b[1]))]
    assert not unmarked, f"mark these ```console blocks 'run' or 'skip=REASON': {unmarked}"


def _commands(code: str) -> list[tuple[list[str], int, bool]]:
    out = []
    for line in code.splitlines():
        if not line.startswith("$ memcap "):
            continue
        cmd, _, comment = line[len("$ memcap "):].partition(" #")
        m = re.search(r"\bexit (\d+)", comment)
        out.append((shlex.split(cmd), int(m.group(1)) if m else 0, "nothing written" in comment))
    return out


@pytest.mark.parametrize("block", [b for b in _blocks("console") if b[1] == "console run"], ids=_id)
def test_console_blocks_run_with_their_exit_codes(block, tmp_path, monkeypatch):
    from memcap.cli import app

    monkeypatch.chdir(tmp_path)
    cmds = _commands(block[2])
    assert cmds, "a ```console run block needs '$ memcap ...' lines"
    for args, code, nothing in cmds:
        before = set(tmp_path.rglob("*"))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = CliRunner().invoke(app, args)
        assert r.exit_code == code, (args, r.output[-2000:])
        assert r.exception is None or isinstance(r.exception, SystemExit), (args, r.exception)
        if nothing:
            assert set(tmp_path.rglob("*")) == before, args


def _resolve(path: str) -> object:
    parts = path.split(".")
    for k in range(len(parts), 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:k]))
        except ImportError:
            continue
        for a in parts[k:]:
            obj = getattr(obj, a)
        return obj
    raise ImportError(path)


def test_python_paths_in_the_prose_resolve():
    bad = []
    for f in DOCS:
        for m in re.finditer(r"`(memcap(?:\.[A-Za-z_][A-Za-z0-9_]*)+)", f.read_text()):
            try:
                _resolve(m.group(1))
            except (ImportError, AttributeError) as exc:
                bad.append(f"{f.name}: {m.group(1)} ({exc})")
    assert not bad, bad
