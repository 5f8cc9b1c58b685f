"""Launch dirs on remote login nodes during ``recover_offline``: routing, SFTP, stat-first skips.

A launch whose ``remote_host`` is set (``afw qlaunch --remote-host``) has its dir on that host.
:func:`read_routed` splits each batch by host: local dirs go to the local filesystem, each
remote host's dirs to its :class:`~afw.fs.sftp.SFTPFileSystem`. All remote hosts share one
:class:`~afw.ssh.pool.SSHPool`, hence one SSH connection per host for the whole sweep, with many
SFTP requests in flight on it.

Remote dirs are first *stat*\\ ed (three small requests, no data): a dir whose status files have
the size and mtime recorded by the last sweep is skipped without reading a byte. A host that
cannot be reached (or whose connection cannot be restored) is reported once; its runs count as
errors and are retried next sweep, never FIZZLED. asyncssh is imported only when a remote run
shows up.
"""

from __future__ import annotations

import logging
import posixpath
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

import anyio

from afw.errors import ConfigError, RemoteError
from afw.fs.base import FileSystem, Fingerprint
from afw.fs.launchdir import STATUS_FILES
from afw.fs.status import OfflineStatus
from afw.recovery_batch import Candidate, fingerprint_key
from afw.ssh.remotes import Remotes

if TYPE_CHECKING:
    from afw.fs.sftp import SFTPFileSystem
    from afw.ssh.pool import SSHPool

__all__ = ["RemoteDirs", "read_routed"]

log = logging.getLogger("afw.recovery")

Statuses = list[OfflineStatus | None]
ReadBatch = Callable[[FileSystem, list[Candidate]], Awaitable[Statuses]]


class RemoteDirs:
    """The SFTP filesystems of one sweep's remote hosts, on one shared pool.

    ``remotes`` supplies each host's settings (keys, known hosts, jump hosts) by
    ``[user@]host[:port]``; without an entry ``~/.ssh/config`` and OpenSSH's defaults apply.
    Without a ``pool`` one is created on first use and closed by :meth:`aclose`.
    """

    def __init__(self, remotes: Remotes | None = None, pool: SSHPool | None = None) -> None:
        self.remotes = remotes or Remotes()
        self._pool = pool
        self._owns_pool = pool is None
        self._fs: dict[str, SFTPFileSystem] = {}
        self._failed: dict[str, str] = {}

    def new_sweep(self) -> None:
        """Forget the hosts that failed in an earlier sweep: try them again."""
        self._failed.clear()

    def filesystem(self, spec: str) -> SFTPFileSystem:
        """The SFTP filesystem of host ``spec`` (created on first use)."""
        found = self._fs.get(spec)
        if found is None:
            from afw.fs.sftp import SFTPFileSystem
            from afw.ssh.pool import SSHPool

            if self._pool is None:
                self._pool = SSHPool()
            found = SFTPFileSystem(self.remotes.resolve(spec).target, self._pool)
            self._fs[spec] = found
        return found

    async def read(self, spec: str, batch: list[Candidate], read_batch: ReadBatch) -> Statuses:
        """Statuses of ``batch`` (all on host ``spec``), parallel to it; never raises for a
        host that cannot be reached: its runs get an error status instead."""
        if spec not in self._failed:
            try:
                fs = self.filesystem(spec)
                unchanged = await _unchanged(fs, batch)
                rest = [c for c, same in zip(batch, unchanged, strict=True) if same is None]
                found = iter(await read_batch(fs, rest) if rest else [])
                return [same or next(found) for same in unchanged]
            except (RemoteError, ConfigError) as exc:
                self._failed[spec] = str(exc)
                log.warning("cannot read launch dirs on %s (retried next sweep): %s", spec, exc)
        reason = f"launch dir on {spec} not readable: {self._failed[spec]}"
        return [_error(c, reason) for c in batch]

    async def aclose(self) -> None:
        """Close the filesystems and the pool (if owned)."""
        for fs in self._fs.values():
            await fs.aclose()
        self._fs.clear()
        if self._owns_pool and self._pool is not None:
            await self._pool.aclose()


def _error(cand: Candidate, reason: str) -> OfflineStatus | None:
    if cand.launch is None or not cand.launch.launch_dir:
        return None
    return OfflineStatus(cand.launch.launch_dir, error=reason)


async def _unchanged(fs: SFTPFileSystem, batch: Sequence[Candidate]) -> Statuses:
    """An "unchanged" status where a dir's status files still have the recorded stat data."""
    out: Statuses = [None] * len(batch)
    wanted = [
        (n, c.launch.launch_dir, c.run.fingerprint)
        for n, c in enumerate(batch)
        if c.run is not None and c.run.fingerprint and c.launch and c.launch.launch_dir
    ]

    async def one(n: int, path: str, recorded: str) -> None:
        found = await fs.pool.run_sftp(
            fs.target, lambda sftp: _fingerprint(sftp, path), what=f"stat {path}"
        )
        if found is not None and fingerprint_key(found) == recorded:
            out[n] = OfflineStatus(path, launch_id=batch[n].launch_id, fingerprint=found)

    async with anyio.create_task_group() as tg:
        for n, path, recorded in wanted:
            tg.start_soon(one, n, path, recorded)
    return out


async def _fingerprint(sftp: Any, path: str) -> Fingerprint | None:
    """What :attr:`~afw.fs.base.DirSnapshot.fingerprint` would be; ``None``: read it to see."""
    import asyncssh

    from afw.fs import sftp_ops

    found = []
    for name in sorted(STATUS_FILES):
        try:
            stat = await sftp_ops.stat(sftp, posixpath.join(path, name))
        except (asyncssh.SFTPConnectionLost, asyncssh.SFTPNoConnection):
            raise
        except asyncssh.SFTPError:
            return None
        if stat is not None:
            found.append((name, stat.size, stat.mtime_ns))
    return tuple(found)


async def read_routed(
    local: FileSystem, remote: RemoteDirs, batch: list[Candidate], read_batch: ReadBatch
) -> Statuses:
    """Statuses parallel to ``batch``, each group of dirs read where it lives, concurrently."""
    groups: dict[str, list[int]] = {}
    for n, cand in enumerate(batch):
        groups.setdefault(cand.launch.remote_host if cand.launch else "", []).append(n)
    if list(groups) == [""]:
        return await read_batch(local, batch)
    out: Statuses = [None] * len(batch)

    async def one(spec: str, index: list[int]) -> None:
        part = [batch[n] for n in index]
        found = await (remote.read(spec, part, read_batch) if spec else read_batch(local, part))
        for n, status in zip(index, found, strict=True):
            out[n] = status

    async with anyio.create_task_group() as tg:
        for spec, index in groups.items():
            tg.start_soon(one, spec, index)
    return out
