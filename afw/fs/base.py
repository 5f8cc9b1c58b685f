"""The async ``FileSystem`` interface shared by the local and remote (SFTP) implementations.

qlaunch and recover_offline only talk to this protocol, so the same code runs whether launch dirs
are on a local (or shared) disk or on a cluster reached over SSH.

Paths are POSIX strings. Error contract for every implementation:

* reading a file that does not exist raises :class:`~afw.errors.FileFormatError`;
* ``stat`` returns ``None`` and ``exists`` returns ``False`` for a missing path;
* ``makedirs``, ``remove`` and ``rmtree`` are idempotent (existing / missing targets are fine);
* any other OS or transport failure raises :class:`~afw.errors.AfwError` carrying ``op``, ``path``
  and ``errno`` in its context (see :func:`translate_os_error`);
* ``read_launch_dirs`` never raises for a single directory: problems land in
  :attr:`DirSnapshot.error`, so one bad dir cannot stop a sweep.
"""

from __future__ import annotations

import errno as errno_codes
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Protocol, runtime_checkable

from afw.errors import AfwError, FileFormatError

__all__ = [
    "DirSnapshot",
    "FileStat",
    "FileSystem",
    "Fingerprint",
    "translate_os_error",
]

Fingerprint = tuple[tuple[str, int, int], ...]
"""``(name, size, mtime_ns)`` of every file present in a snapshot, sorted by name."""


@dataclass(frozen=True, slots=True)
class FileStat:
    """The two attributes afw uses to tell whether a file changed."""

    size: int
    mtime_ns: int


@dataclass(frozen=True, slots=True)
class DirSnapshot:
    """What one directory held at read time: per requested name, its stat and bytes (or ``None``).

    ``exists`` is ``False`` when the directory itself is missing; ``error`` describes any other
    failure (permission denied, stale NFS handle, a name that is a directory, ...).
    """

    path: str
    files: Mapping[str, bytes | None] = field(default_factory=dict)
    stats: Mapping[str, FileStat | None] = field(default_factory=dict)
    exists: bool = True
    error: str | None = None

    def data(self, name: str) -> bytes | None:
        """Return the bytes of ``name``, or ``None`` if it was missing or not requested."""
        return self.files.get(name)

    def stat(self, name: str) -> FileStat | None:
        """Return the stat of ``name``, or ``None`` if it was missing or not requested."""
        return self.stats.get(name)

    @property
    def fingerprint(self) -> Fingerprint:
        """A hashable summary that changes when a file appears, disappears, resizes or is rewritten.

        A same-size rewrite within the filesystem's timestamp granularity (a few ms locally, one
        second over SFTP v3) goes unnoticed until the next change; every afw run ends by creating
        ``FW_action.json``, which always changes it.
        """
        return tuple((name, st.size, st.mtime_ns) for name, st in sorted(self.stats.items()) if st)

    def merged(self, other: DirSnapshot) -> DirSnapshot:
        """Combine two reads of the same directory (``other``'s entries win on a clash)."""
        return DirSnapshot(
            path=self.path,
            files={**self.files, **other.files},
            stats={**self.stats, **other.stats},
            exists=self.exists and other.exists,
            error=self.error or other.error,
        )


def translate_os_error(op: str, path: str, exc: OSError) -> AfwError:
    """Turn an ``OSError`` into afw's error tree; a missing file becomes ``FileFormatError``."""
    code = exc.errno
    reason = exc.strerror or str(exc)
    message = f"cannot {op} {path}: {reason}"
    if isinstance(exc, FileNotFoundError) or code == errno_codes.ENOENT:
        return FileFormatError(message, op=op, path=path, errno=code)
    return AfwError(message, op=op, path=path, errno=code)


@runtime_checkable
class FileSystem(Protocol):
    """Async file operations on launch dirs; see the module docstring for the error contract.

    Implementations are async context managers that refuse use after :meth:`aclose`.
    """

    name: str
    """The registry name of the implementation (``"local"``, ``"sftp"``)."""

    async def read_bytes(self, path: str) -> bytes:
        """Return the whole content of ``path``."""
        ...

    async def write_atomic(self, path: str, data: bytes) -> None:
        """Replace ``path`` with ``data``; readers see the old or the new file, never a mix."""
        ...

    async def write_files_atomic(
        self, directory: str, files: Sequence[tuple[str, bytes]], *, remove: Sequence[str] = ()
    ) -> None:
        """Create ``directory`` if needed, delete the names in ``remove`` from it, then replace
        each ``(name, data)`` of ``files`` atomically, in order. Every file (and a created
        directory) is durable when this returns; implementations do it in one batch (one
        worker-thread hop and one directory fsync locally)."""
        ...

    async def stat(self, path: str) -> FileStat | None:
        """Return size and mtime of ``path`` (following symlinks), ``None`` if it does not exist."""
        ...

    async def exists(self, path: str) -> bool:
        """Return whether ``path`` exists."""
        ...

    async def makedirs(self, path: str) -> None:
        """Create ``path`` and its parents; an existing directory is fine."""
        ...

    async def listdir(self, path: str) -> list[str]:
        """Return the sorted entry names of directory ``path``."""
        ...

    async def remove(self, path: str) -> None:
        """Delete file ``path``; a missing file is fine."""
        ...

    async def rmtree(self, path: str) -> None:
        """Delete directory ``path`` recursively; a missing directory is fine."""
        ...

    async def copytree(self, src: str, dst: str, *, ignore: Sequence[str] = ()) -> None:
        """Copy directory ``src`` into ``dst`` (created if needed), skipping glob ``ignore``s.

        Symlinks are copied as symlinks; existing files in ``dst`` are overwritten.
        """
        ...

    async def read_launch_dirs(
        self, dirs: Sequence[str], names: Sequence[str]
    ) -> list[DirSnapshot]:
        """Stat and read ``names`` in every dir of ``dirs``, in order, as one batch.

        Missing files map to ``None``. Implementations batch the I/O (one worker-thread hop per
        call locally, pipelined requests remotely); a failing directory never raises.
        """
        ...

    async def aclose(self) -> None:
        """Release connections or threads held by the implementation; later calls fail."""
        ...

    async def __aenter__(self) -> FileSystem:
        """Return the filesystem, ready for use."""
        ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the filesystem (:meth:`aclose`)."""
        ...
