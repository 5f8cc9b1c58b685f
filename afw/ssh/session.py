"""``RemoteSession``: qlaunch's view of one remote login node, over one SSH connection.

::

    remote = load_remotes().resolve("cluster")
    async with RemoteSession(remote) as session:            # connects: fails before reserving
        root = await session.launch_root("/scratch/me/afw")  # absolute, created
        report = await rapidfire(lp, fworker, config, session.client(config), session.fs,
                                 launch_dir=root, reserve=True, user=session.user,
                                 remote_host=session.spec)

The filesystem (SFTP) and the command runner (SSH exec) share the session's pool, hence one
connection. The queue client wraps submissions in :mod:`afw.queue.once`, so that a dropped
connection neither loses a job id nor submits a job twice.
"""

from __future__ import annotations

import posixpath
from typing import Self

import asyncssh

from afw.errors import StateError
from afw.fs.sftp import SFTPFileSystem
from afw.lifecycle import AsyncCloseable
from afw.queue.client import QueueClient
from afw.queue.config import QueueConfig
from afw.ssh.pool import SSHPool
from afw.ssh.remotes import DEFAULT_REMOTE_DIR, RemoteHost
from afw.ssh.runner import SSHCommandRunner

__all__ = ["RemoteSession"]


class RemoteSession(AsyncCloseable):
    """SFTP filesystem, command runner and queue clients for ``remote``; an async context manager.

    Entering it opens the connection, so that an unknown host key, a refused login or an
    unreachable host fail at once, with one line and before anything is reserved. Without a
    ``pool`` the session owns one and closes it on exit.
    """

    def __init__(self, remote: RemoteHost, pool: SSHPool | None = None) -> None:
        self.remote = remote
        self.pool = pool if pool is not None else SSHPool()
        self._owns_pool = pool is None
        self.fs = SFTPFileSystem(remote.target, self.pool)
        self.runner = SSHCommandRunner(remote.target, self.pool)
        self._user: str | None = None
        self._home: str | None = None

    async def __aenter__(self) -> Self:
        try:
            await self.open()
        except BaseException:
            await self.aclose()
            raise
        return self

    async def open(self) -> None:
        """Connect (or fail with one :class:`~afw.errors.RemoteError` line) and learn the user."""
        conn = await self.pool.connection(self.remote.target)
        self._user = str(conn.get_extra_info("username") or self.remote.target.user or "")

    async def aclose(self) -> None:
        """Close the SFTP filesystem and the pool if the session owns it."""
        await self.fs.aclose()
        if self._owns_pool:
            await self.pool.aclose()

    @property
    def spec(self) -> str:
        """``[user@]host[:port]``: what launches record as their ``remote_host``."""
        return self.remote.spec

    @property
    def user(self) -> str:
        """The remote user name (whose jobs ``maxjobs_queue`` counts)."""
        if self._user is None:
            raise StateError("the remote session is not open yet")
        return self._user

    def client(self, config: QueueConfig) -> QueueClient:
        """A queue client running ``config``'s scheduler commands on the remote host."""
        return QueueClient.from_config(config, self.runner, submit_once=True)

    async def home(self) -> str:
        """The remote user's home directory (where SFTP starts)."""
        if self._home is None:

            async def realpath(sftp: asyncssh.SFTPClient) -> str:
                return str(await sftp.realpath("."))

            self._home = await self.pool.run_sftp(
                self.remote.target, realpath, what="find the home directory"
            )
        return self._home

    async def launch_root(self, remote_dir: str | None = None) -> str:
        """The absolute launch root, created if needed.

        ``remote_dir`` (else the remote's ``remote_dir``, else ``afw-launches``) is taken from
        the remote home when relative; a leading ``~/`` means the home too.
        """
        wanted = remote_dir or self.remote.remote_dir or DEFAULT_REMOTE_DIR
        if wanted == "~" or wanted.startswith("~/"):
            wanted = wanted[2:]
        path = wanted if posixpath.isabs(wanted) else posixpath.join(await self.home(), wanted)
        root = posixpath.normpath(path)
        await self.fs.makedirs(root)
        return root
