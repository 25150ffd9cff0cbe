"""memcap._util: the atomic writers refuse what is not a regular file, respect the umask, do not
overwrite silently when told not to, and write folders as a whole."""

import os
import stat

import pytest

import memcap
from memcap._util import atomic_write_bytes, atomic_write_dir, check_output_path
from memcap.errors import OptionError


def test_refuses_devices_directories_and_links(tmp_path):
    with pytest.raises(OptionError, match="not a regular file"):
        atomic_write_bytes("/dev/null", b"x")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)  # still the device
    d = tmp_path / "d"
    d.mkdir()
    with pytest.raises(OptionError, match="directory"):
        atomic_write_bytes(d, b"x")
    assert d.is_dir() and not list(d.iterdir())
    target = tmp_path / "t.bin"
    target.write_bytes(b"old")
    link = tmp_path / "l.bin"
    link.symlink_to(target)
    with pytest.raises(OptionError, match="symbolic link"):
        atomic_write_bytes(link, b"new")
    assert link.is_symlink() and target.read_bytes() == b"old"
    fifo = tmp_path / "f"
    os.mkfifo(fifo)
    with pytest.raises(OptionError):
        check_output_path(fifo)


def test_mode_follows_umask(tmp_path):
    old = os.umask(0o027)
    try:
        atomic_write_bytes(tmp_path / "a.bin", b"x")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "a.bin").st_mode) == 0o640
    atomic_write_bytes(tmp_path / "b.bin", b"x")
    assert stat.S_IMODE(os.stat(tmp_path / "b.bin").st_mode) == 0o666 & ~old


def test_overwrite_false_refuses_existing_file(tmp_path):
    p = tmp_path / "a.bin"
    atomic_write_bytes(p, b"one", overwrite=False)
    with pytest.raises(OptionError, match="exists"):
        atomic_write_bytes(p, b"two", overwrite=False)
    assert p.read_bytes() == b"one"
    atomic_write_bytes(p, b"two")
    assert p.read_bytes() == b"two"
    assert sorted(os.listdir(tmp_path)) == ["a.bin"]  # no temporary left behind


def test_save_refuses_before_work(tmp_path):
    ds = memcap.load_dataset("gen:gaussian?n=5&d=2&seed=1")
    net = memcap.construct(ds).network
    p = tmp_path / "n.npz"
    memcap.save(net, p, overwrite=False)
    with pytest.raises(OptionError, match="exists"):
        memcap.save(net, p, overwrite=False)
    with pytest.raises(OptionError):
        memcap.save(net, "/dev/null")


def test_folder_written_as_a_whole(tmp_path):
    f = tmp_path / "props"
    atomic_write_dir(f, {"a.txt": b"1", "b.txt": b"2", "index": b""}, marker="index")
    assert sorted(os.listdir(f)) == ["a.txt", "b.txt", "index"]
    atomic_write_dir(f, {"c.txt": b"3", "index": b""}, marker="index")
    assert sorted(os.listdir(f)) == ["c.txt", "index"]  # stale files do not survive
    with pytest.raises(OptionError, match="not empty"):
        atomic_write_dir(f, {"d.txt": b"4"}, overwrite=False)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_bytes(b"precious")
    with pytest.raises(OptionError, match="did not write"):
        atomic_write_dir(mine, {"index": b""}, marker="index")
    assert (mine / "thesis.tex").read_bytes() == b"precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine", "props"]  # no temporaries


def test_folder_write_interrupted_keeps_the_old_folder(tmp_path, monkeypatch):
    f = tmp_path / "props"
    atomic_write_dir(f, {"a.txt": b"1", "index": b""}, marker="index")
    real_open = open

    def interrupted(path, *a, **k):
        if str(path).endswith("z.txt"):
            raise KeyboardInterrupt
        return real_open(path, *a, **k)

    monkeypatch.setattr("builtins.open", interrupted)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_dir(f, {"y.txt": b"2", "z.txt": b"3", "index": b""}, marker="index")
    monkeypatch.undo()
    assert sorted(os.listdir(f)) == ["a.txt", "index"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["props"]
