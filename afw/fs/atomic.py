"""Blocking, atomic file replacement and batched launch-dir reads for worker threads.

These are the synchronous primitives behind :class:`afw.fs.local.LocalFileSystem`; code that
already runs in a thread (the compute-node Rocket and its heartbeat) calls them directly.
"""

from __future__ import annotations

import contextlib
import errno
import os
import posixpath
import secrets
import stat
from collections.abc import Sequence
from pathlib import Path

from afw.fs.base import DirSnapshot, FileStat
from afw.fs.dirsync import SharedDirSync

__all__ = [
    "fsync_dir",
    "read_dir_snapshot",
    "read_launch_dirs_sync",
    "write_atomic_sync",
    "write_files_atomic_sync",
]

_DIR_FSYNC_UNSUPPORTED = {errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EBADF}
_MISSING = {errno.ENOENT, errno.ENOTDIR}


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """Make a rename inside ``path`` durable; filesystems that cannot fsync a dir are skipped."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in _DIR_FSYNC_UNSUPPORTED:
            raise
    finally:
        os.close(fd)


def _temp_path(target: Path) -> Path:
    return target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(6)}.tmp")


def _write_temp(temp: Path, data: bytes) -> None:
    """Create ``temp`` (never an existing file), write ``data`` and fsync it; the mode honours
    the umask like a plain ``open(path, "w")``."""
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
    with os.fdopen(fd, "wb", closefd=True) as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def write_atomic_sync(path: str | os.PathLike[str], data: bytes) -> None:
    """Replace ``path`` with ``data``: temp file in the same dir, fsync, rename, fsync the dir.

    Readers see the old or the new content, never a torn file. The temp file honours the umask
    like a plain ``open(path, "w")`` would, and is removed if anything fails.
    """
    target = Path(path).absolute()
    temp = _temp_path(target)
    try:
        _write_temp(temp, data)
        temp.replace(target)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    fsync_dir(target.parent)


_PARENTS = SharedDirSync(fsync_dir)


def _make_dirs(path: Path) -> list[Path]:
    """Create ``path`` and its missing parents; the directories created, outermost first."""
    try:
        path.mkdir()
    except FileExistsError:
        if not path.is_dir():
            raise
        return []
    except FileNotFoundError:
        made = _make_dirs(path.parent)
        try:
            path.mkdir()
        except FileExistsError:
            if not path.is_dir():
                raise
            return made
        return [*made, path]
    return [path]


def write_files_atomic_sync(
    directory: str | os.PathLike[str],
    files: Sequence[tuple[str, bytes]],
    remove: Sequence[str] = (),
) -> None:
    """Replace several files of one directory atomically, in order; all durable on return.

    Creates ``directory`` if needed and deletes the names in ``remove`` first (nothing to delete
    in a new directory). Each file goes through its own temp file as in
    :func:`write_atomic_sync`: every temp file is written and fsynced, then all are renamed
    in ``files`` order, then the directory is fsynced once for all renames (and the parents of
    directories created here, so the new entries are durable too). A reader sees each file old
    or new, never torn.
    """
    base = Path(directory).absolute()
    created = _make_dirs(base)
    if base not in created:
        for name in remove:
            (base / name).unlink(missing_ok=True)
    temps: list[tuple[Path, Path]] = []
    try:
        for name, data in files:
            target = base / name
            temp = _temp_path(target)
            temps.append((temp, target))
            _write_temp(temp, data)
        for temp, target in temps:
            temp.replace(target)
    except BaseException:
        for temp, _ in temps:
            with contextlib.suppress(OSError):
                temp.unlink()
        raise
    # The directory first: on journalling filesystems its commit usually covers the parents'.
    fsync_dir(base)
    for made in reversed(created):
        _PARENTS.sync(made.parent)  # many launch dirs made at once in one block dir share it


_O_READ = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)


def _read_one(path: str) -> tuple[FileStat, bytes] | None:
    """Open once, then fstat and read the same inode, so stat and bytes always match.

    Plain ``os`` calls (no file object): a sweep reads tens of thousands of small files, and
    ``open()`` adds several system calls and objects per file."""
    try:
        fd = os.open(path, _O_READ)
    except OSError as exc:
        if exc.errno in _MISSING:
            return None
        raise
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
        chunks = [os.read(fd, st.st_size + 1)]
        while chunks[-1]:  # to the end, as ``read()`` does, even if the file grows meanwhile
            chunks.append(os.read(fd, max(st.st_size, 65536)))
        return FileStat(st.st_size, st.st_mtime_ns), b"".join(chunks)
    finally:
        os.close(fd)


def _dir_state(path: str) -> tuple[bool, str | None]:
    try:
        st = Path(path).stat()
    except OSError as exc:
        if exc.errno in _MISSING:
            return False, f"launch dir {path} does not exist"
        return True, f"cannot stat {path}: {exc.strerror}"
    if not stat.S_ISDIR(st.st_mode):
        return False, f"launch dir {path} is not a directory"
    return True, None


def read_dir_snapshot(path: str, names: Sequence[str]) -> DirSnapshot:
    """Read ``names`` in ``path``; never raises (failures go to ``DirSnapshot.error``)."""
    files: dict[str, bytes | None] = {}
    stats: dict[str, FileStat | None] = {}
    errors: list[str] = []
    for name in names:
        try:
            entry = _read_one(posixpath.join(path, name))
        except OSError as exc:
            errors.append(f"cannot read {name}: {exc.strerror or exc}")
            entry = None
        stats[name], files[name] = entry if entry else (None, None)
    exists = True
    if not any(stats.values()) and not errors:
        exists, problem = _dir_state(path)
        if problem:
            errors.append(problem)
    error = "; ".join(errors) if errors else None
    return DirSnapshot(path=path, files=files, stats=stats, exists=exists, error=error)


def read_launch_dirs_sync(dirs: Sequence[str], names: Sequence[str]) -> list[DirSnapshot]:
    """Read a whole batch of launch dirs in the calling thread."""
    return [read_dir_snapshot(path, names) for path in dirs]
