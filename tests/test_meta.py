"""memcap.meta: every Network.meta key is defined once, documented, and used through its constant."""

from __future__ import annotations

import re
from pathlib import Path

import memcap
import memcap.meta as mk

SRC = Path(memcap.__file__).parent


def test_keys_are_documented_once():
    assert set(mk.KEYS) == set(mk.NetworkMeta.__annotations__)
    assert len(set(mk.KEYS)) == len(mk.KEYS)
    table = mk.__doc__ or ""
    for key in mk.KEYS:
        assert f"``{key}``" in table, key


def test_no_meta_key_is_spelled_as_a_literal_at_a_use_site():
    keys = "|".join(mk.KEYS)
    pattern = re.compile(r"""meta(\[|\.get\(|=\{|\.update\(\{)\s*["'](""" + keys + r""")["']""")
    offenders = []
    for path in SRC.rglob("*.py"):
        if path.name == "meta.py":
            continue
        for i, line in enumerate(path.read_text().splitlines(), 1):
            if pattern.search(line):
                offenders.append(f"{path.relative_to(SRC)}:{i}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


def test_construct_writes_the_documented_keys():
    ds = memcap.load_dataset("builtin:iris")
    net = memcap.construct(ds, "yun-3layer").network
    assert net.meta[mk.METHOD] == "yun-3layer" and net.meta[mk.ACTIVATION] == "relu"
    assert set(net.meta[mk.VERIFICATION]) == set(mk.VerificationMeta.__annotations__)
    assert net.meta[mk.CERTIFICATE]["method"] == "yun-3layer"
    assert set(net.meta) <= set(mk.KEYS)
