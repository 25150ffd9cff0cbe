"""Leaf helpers shared by every layer: optional extras, atomic file and folder writes."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["require_extra", "atomic_write_bytes", "atomic_write_dir", "check_output_path", "check_output_dir"]


def require_extra(module: str, extra: str) -> Any:
    """Import an optional dependency or fail saying which extra to install."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(
            f"this feature needs '{module}', which is in memcap's '{extra}' extra: "
            f"pip install 'memcap[{extra}]'"
        ) from None


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_output_path(path: str | os.PathLike[str], overwrite: bool = True) -> Path:
    """Refuse an output path memcap must not write (:class:`memcap.errors.OptionError`): anything
    that exists and is not a regular file (a directory, a device such as ``/dev/full``, a symlink,
    a FIFO), or an existing file when ``overwrite`` is False. Returns the path."""
    from memcap.errors import OptionError

    path = Path(path)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return path
    except OSError as exc:
        raise OptionError(f"cannot write {str(path)!r}: {exc.strerror}") from None
    if stat.S_ISLNK(st.st_mode):
        raise OptionError(f"{str(path)!r} is a symbolic link; memcap writes regular files only and does "
                          "not replace links: give the link's target or another name")
    if not stat.S_ISREG(st.st_mode):
        kind = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file"
        raise OptionError(f"{str(path)!r} is {kind}; memcap writes a regular file and will not replace "
                          "it: give a file name")
    if not overwrite:
        raise OptionError(f"{str(path)!r} exists; refusing to overwrite it (use --force, or "
                          "overwrite=True, to replace it)")
    return path


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, overwrite: bool = True) -> None:
    """Write ``data`` to ``path`` atomically: a temporary file in the same folder, then rename.

    Refuses (``OptionError``, nothing written) a path that exists and is not a regular file, and an
    existing file when ``overwrite`` is False (checked again atomically at the rename). The file
    gets mode ``0o666 & ~umask``, like any file a program creates."""
    path = check_output_path(path, overwrite)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fchmod(fh.fileno(), 0o666 & ~_umask())
            os.fsync(fh.fileno())
        _commit(tmp, path, overwrite)
    except BaseException:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise


def _commit(tmp: str, path: Path, overwrite: bool) -> None:
    from memcap.errors import OptionError

    if overwrite:
        check_output_path(path, True)  # something may have appeared since the first check
        os.replace(tmp, path)
        return
    try:
        os.link(tmp, path)  # fails if the name exists: no silent overwrite even under a race
    except FileExistsError:
        raise OptionError(f"{str(path)!r} appeared while writing; refusing to overwrite it") from None
    os.unlink(tmp)


def check_output_dir(folder: str | os.PathLike[str], overwrite: bool = True, marker: str | None = None
                     ) -> bool:
    """Refuse (``OptionError``) a folder :func:`atomic_write_dir` must not replace; True when a
    non-empty folder exists that it may replace."""
    from memcap.errors import OptionError

    folder = Path(folder)
    if not os.path.lexists(folder):
        return False
    if folder.is_symlink() or not folder.is_dir():
        raise OptionError(f"{str(folder)!r} exists and is not a folder; give a new folder name")
    entries = list(folder.iterdir())
    if not entries:
        return True
    if not overwrite:
        raise OptionError(f"folder {str(folder)!r} exists and is not empty; refusing to "
                          "replace it (use --force, or overwrite=True)")
    alien = [e.name for e in entries if e.is_symlink() or not e.is_file()]
    if alien or (marker is not None and not (folder / marker).is_file()):
        why = (f"it holds {alien[:3]}, which are not regular files" if alien
               else f"it has no {marker}, so memcap did not write it")
        raise OptionError(f"refusing to replace folder {str(folder)!r}: {why}; give a new or "
                          "empty folder")
    return True


def atomic_write_dir(folder: str | os.PathLike[str], files: dict[str, bytes], overwrite: bool = True,
                     marker: str | None = None) -> None:
    """Write a folder of ``files`` (names relative to ``folder``, no subfolders) as a whole.

    The folder is built in a temporary folder beside it and renamed into place, so an interrupted
    run leaves either the old folder or the new one, never a mix; files from an earlier run do not
    survive. An existing ``folder`` is replaced only if ``overwrite`` and it holds nothing but
    regular files and — when ``marker`` is given — contains the file ``marker`` (so a folder memcap
    did not write is never deleted); otherwise ``OptionError``."""
    import shutil

    folder = Path(folder)
    for name in files:
        if Path(name).name != name or name in ("", ".", ".."):
            raise ValueError(f"file names in a folder write must be plain names, got {name!r}")
    old = folder if check_output_dir(folder, overwrite, marker) else None
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp", dir=folder.parent))
    trash: Path | None = None
    try:
        os.chmod(tmp, 0o777 & ~_umask())
        for name, blob in files.items():
            with open(tmp / name, "wb") as fh:
                fh.write(blob)
                fh.flush()
                os.fsync(fh.fileno())
        if old is not None:
            trash = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".old", dir=folder.parent))
            os.rmdir(trash)
            os.rename(folder, trash)
        os.rename(tmp, folder)
    except BaseException:
        if trash is not None and trash.exists() and not folder.exists():
            os.rename(trash, folder)  # put the old folder back
            trash = None
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if trash is not None:
        shutil.rmtree(trash, ignore_errors=True)
