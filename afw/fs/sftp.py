"""``SFTPFileSystem``: the :class:`~afw.fs.base.FileSystem` for launch dirs on a remote host.

Everything goes over one SFTP session on the pool's one connection to the host. Atomic writes
follow the local contract: a temporary file in the same remote directory, fsync where the server
offers ``fsync@openssh.com``, then ``posix-rename@openssh.com`` over the target (remove + rename
on servers without it). ``read_launch_dirs`` reads a whole batch of directories concurrently on
that one session, and returns the same :class:`~afw.fs.base.DirSnapshot`\\ s as the local
filesystem, so the launch-dir decoders work unchanged.

An operation interrupted by a dropped connection is re-run after the pool reconnects (every
operation here is idempotent); a connection that cannot be restored raises
:class:`~afw.errors.RemoteError`. File errors follow the contract of :mod:`afw.fs.base`. Over
SFTP v3 (OpenSSH) modification times have whole-second resolution.
"""

from __future__ import annotations

import posixpath
import secrets
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import asyncssh

from afw.errors import AfwError
from afw.fs import sftp_ops
from afw.fs.base import DirSnapshot, FileStat, translate_os_error
from afw.lifecycle import GuardedCloseable
from afw.ssh.pool import SSHPool
from afw.ssh.target import SSHTarget

__all__ = ["SFTPFileSystem"]

T = TypeVar("T")


def _temp_path(path: str) -> str:
    head, name = posixpath.split(path)
    return posixpath.join(head, f".{name}.afw-{secrets.token_hex(6)}.tmp")


class SFTPFileSystem(GuardedCloseable):
    """Launch-dir I/O on ``target`` over SFTP; an async context manager.

    ``target`` is an :class:`SSHTarget` or a ``[user@]host[:port]`` string (then ``settings``
    are :class:`SSHTarget` fields, e.g. ``key_files=...``, ``accept_new_host_key=True``). Pass
    the ``pool`` shared with the command runner so that everything uses one connection; without
    one the filesystem owns a private pool and closes it in :meth:`aclose`.
    """

    name = "sftp"

    def __init__(
        self, target: SSHTarget | str, pool: SSHPool | None = None, **settings: Any
    ) -> None:
        if isinstance(target, str):
            target = SSHTarget.parse(target, **settings)
        elif settings:
            raise TypeError("settings are only accepted with a target given as a string")
        self.target = target
        self.pool = pool if pool is not None else SSHPool()
        self._owns_pool = pool is None
        self._closed = False

    async def aclose(self) -> None:
        """Close the private pool, if any; later calls raise :class:`StateError`."""
        if not self._closed:
            self._closed = True
            if self._owns_pool:
                await self.pool.aclose()

    async def _run(
        self, op: str, path: str, func: Callable[[asyncssh.SFTPClient], Awaitable[T]]
    ) -> T:
        self._check_open()
        try:
            return await self.pool.run_sftp(self.target, func, what=f"{op} {path}")
        except asyncssh.SFTPError as exc:
            error = sftp_ops.os_error(exc)
            error.__cause__ = exc
            raise translate_os_error(op, path, error) from error
        except OSError as exc:
            raise translate_os_error(op, path, exc) from exc

    async def read_bytes(self, path: str) -> bytes:
        """Return the content of ``path``; a missing file raises ``FileFormatError``."""
        _, data = await self._run("read", path, lambda sftp: sftp_ops.read_file(sftp, path))
        return data

    async def write_atomic(self, path: str, data: bytes) -> None:
        """Atomically replace ``path`` with ``data`` (temp file, fsync, POSIX rename)."""
        temp = _temp_path(path)
        await self._run("write", path, lambda sftp: sftp_ops.write_atomic(sftp, path, data, temp))

    async def write_files_atomic(
        self, directory: str, files: Sequence[tuple[str, bytes]], *, remove: Sequence[str] = ()
    ) -> None:
        """Make ``directory``, drop ``remove``, then replace ``files`` one by one, in order."""
        await self.makedirs(directory)
        for name in remove:
            await self.remove(posixpath.join(directory, name))
        for name, data in files:
            await self.write_atomic(posixpath.join(directory, name), data)

    async def stat(self, path: str) -> FileStat | None:
        """Return size and mtime of ``path``, or ``None`` if it does not exist."""
        return await self._run("stat", path, lambda sftp: sftp_ops.stat(sftp, path))

    async def exists(self, path: str) -> bool:
        """Return whether ``path`` exists."""
        return await self.stat(path) is not None

    async def makedirs(self, path: str) -> None:
        """Create ``path`` and its parents if needed."""
        await self._run("create directory", path, lambda sftp: sftp_ops.makedirs(sftp, path))

    async def listdir(self, path: str) -> list[str]:
        """Return the sorted entry names of ``path``."""
        return await self._run("list", path, lambda sftp: sftp_ops.listdir(sftp, path))

    async def remove(self, path: str) -> None:
        """Delete file ``path`` if it exists."""
        await self._run("remove", path, lambda sftp: sftp_ops.remove(sftp, path))

    async def rmtree(self, path: str) -> None:
        """Delete directory ``path`` recursively if it exists."""
        await self._run("remove directory", path, lambda sftp: sftp_ops.rmtree(sftp, path))

    async def copytree(self, src: str, dst: str, *, ignore: Sequence[str] = ()) -> None:
        """Copy ``src`` into ``dst`` on the remote host (links kept), skipping ``ignore`` globs."""
        patterns = tuple(ignore)
        await self._run("copy", src, lambda sftp: sftp_ops.copytree(sftp, src, dst, patterns))

    async def read_launch_dirs(
        self, dirs: Sequence[str], names: Sequence[str]
    ) -> list[DirSnapshot]:
        """Read ``names`` in every dir, many dirs at once on the one SFTP session.

        A failing directory never raises; a connection that cannot be restored raises
        :class:`~afw.errors.RemoteError`. Each directory is read (or re-read after a drop) as
        one unit, so every dir appears exactly once, in order.
        """
        self._check_open()
        wanted = tuple(names)
        results: list[DirSnapshot | None] = [None] * len(dirs)
        failures: list[AfwError] = []

        async def read_one(index: int, path: str) -> None:
            try:
                results[index] = await self.pool.run_sftp(
                    self.target,
                    lambda sftp: sftp_ops.read_dir_snapshot(sftp, path, wanted),
                    what=f"read {path}",
                )
            except AfwError as exc:
                failures.append(exc)
                group.cancel_scope.cancel()

        async with anyio.create_task_group() as group:
            for index, path in enumerate(dirs):
                group.start_soon(read_one, index, path)
        if failures:
            raise failures[0]
        return [snap for snap in results if snap is not None]


if TYPE_CHECKING:
    from afw.fs.base import FileSystem

    _conforms: type[FileSystem] = SFTPFileSystem
