"""``LocalFileSystem``: the :class:`~afw.fs.base.FileSystem` for local and shared disks.

Every blocking call runs in a worker thread; ``read_launch_dirs`` reads a whole batch of dirs in a
single thread hop, because per-file hops cost more than the reads themselves on a warm cache.
"""

from __future__ import annotations

import contextlib
import fnmatch
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from anyio import CapacityLimiter, to_thread

from afw.fs.atomic import read_launch_dirs_sync, write_atomic_sync, write_files_atomic_sync
from afw.fs.base import DirSnapshot, FileStat, translate_os_error
from afw.lifecycle import GuardedCloseable

__all__ = ["LocalFileSystem", "write_atomic_sync"]

T = TypeVar("T")


def _stat(path: str) -> FileStat | None:
    try:
        st = Path(path).stat()
    except FileNotFoundError:
        return None
    return FileStat(st.st_size, st.st_mtime_ns)


def _rmtree(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        shutil.rmtree(path)


def _copytree(src: Path, dst: Path, ignore: Sequence[str]) -> None:
    """Like ``shutil.copytree(symlinks=True, dirs_exist_ok=True)``, but replaces existing links."""
    dst.mkdir(parents=True, exist_ok=True)
    for entry in src.iterdir():
        if any(fnmatch.fnmatch(entry.name, pattern) for pattern in ignore):
            continue
        target = dst / entry.name
        if target.is_symlink():
            target.unlink()
        if entry.is_symlink():
            target.symlink_to(entry.readlink())
        elif entry.is_dir():
            _copytree(entry, target, ignore)
        else:
            shutil.copy2(entry, target)
    shutil.copystat(src, dst)


def _listdir(path: str) -> list[str]:
    return sorted(entry.name for entry in Path(path).iterdir())


class LocalFileSystem(GuardedCloseable):
    """Launch-dir I/O on this machine's filesystems, off the event loop.

    ``limiter`` bounds the worker threads this instance may use at once (anyio's default limiter
    otherwise). Usable as an async context manager; calls after :meth:`aclose` raise
    :class:`~afw.errors.StateError`.
    """

    name = "local"

    def __init__(self, limiter: CapacityLimiter | None = None) -> None:
        self._limiter = limiter
        self._closed = False

    async def aclose(self) -> None:
        """Mark the filesystem closed (there is nothing to release locally)."""
        self._closed = True

    async def _run(self, op: str, path: str, func: Callable[[], T]) -> T:
        self._check_open()
        try:
            return await to_thread.run_sync(func, limiter=self._limiter)
        except OSError as exc:
            raise translate_os_error(op, path, exc) from exc

    async def read_bytes(self, path: str) -> bytes:
        """Return the content of ``path``; a missing file raises ``FileFormatError``."""
        return await self._run("read", path, Path(path).read_bytes)

    async def write_atomic(self, path: str, data: bytes) -> None:
        """Atomically replace ``path`` with ``data`` (temp file, fsync, rename, dir fsync)."""
        await self._run("write", path, lambda: write_atomic_sync(path, data))

    async def write_files_atomic(
        self, directory: str, files: Sequence[tuple[str, bytes]], *, remove: Sequence[str] = ()
    ) -> None:
        """Make ``directory``, drop ``remove``, replace ``files`` in order: one thread hop, one
        fsync per file and one for the directory (see :func:`write_files_atomic_sync`)."""
        batch, stale = tuple(files), tuple(remove)
        await self._run(
            "write", directory, lambda: write_files_atomic_sync(directory, batch, stale)
        )

    async def stat(self, path: str) -> FileStat | None:
        """Return size and mtime of ``path``, or ``None`` if it does not exist."""
        return await self._run("stat", path, lambda: _stat(path))

    async def exists(self, path: str) -> bool:
        """Return whether ``path`` exists."""
        return await self._run("stat", path, Path(path).exists)

    async def makedirs(self, path: str) -> None:
        """Create ``path`` and its parents if needed."""
        await self._run(
            "create directory", path, lambda: Path(path).mkdir(parents=True, exist_ok=True)
        )

    async def listdir(self, path: str) -> list[str]:
        """Return the sorted entry names of ``path``."""
        return await self._run("list", path, lambda: _listdir(path))

    async def remove(self, path: str) -> None:
        """Delete file ``path`` if it exists."""
        await self._run("remove", path, lambda: Path(path).unlink(missing_ok=True))

    async def rmtree(self, path: str) -> None:
        """Delete directory ``path`` recursively if it exists."""
        await self._run("remove directory", path, lambda: _rmtree(path))

    async def copytree(self, src: str, dst: str, *, ignore: Sequence[str] = ()) -> None:
        """Copy ``src`` into ``dst`` (symlinks kept as links), skipping glob ``ignore``s."""
        await self._run("copy", src, lambda: _copytree(Path(src), Path(dst), tuple(ignore)))

    async def read_launch_dirs(
        self, dirs: Sequence[str], names: Sequence[str]
    ) -> list[DirSnapshot]:
        """Read ``names`` in every dir of ``dirs`` in one worker-thread hop; never raises."""
        self._check_open()
        batch, wanted = tuple(dirs), tuple(names)
        return await to_thread.run_sync(read_launch_dirs_sync, batch, wanted, limiter=self._limiter)
