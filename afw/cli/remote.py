"""Where ``afw qlaunch`` submits: here, or a remote login node (``--remote-host``).

Both give the same three things to the one qlaunch code path: a queue client, a filesystem and
the launch root. A remote site is connected to *before* anything is reserved, so an unknown host
key, a refused login or an unreachable host end the command with one line and change nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated

from cyclopts import Parameter

from afw.errors import ConfigError
from afw.fs.base import FileSystem
from afw.fs.local import LocalFileSystem
from afw.queue.client import LocalCommandRunner, QueueClient
from afw.queue.config import QueueConfig, load_queue_config
from afw.ssh.remotes import RemoteHost, load_remotes

__all__ = [
    "AcceptNewHostKey",
    "RemoteDir",
    "RemoteHostOpt",
    "RemotesFile",
    "Site",
    "SiteOptions",
    "remote_queue_config",
    "site",
]

RemoteHostOpt = Annotated[
    str | None,
    Parameter(
        name=["--remote-host", "--remote_host", "-rh"],
        help="submit on this login node over SSH: a name from remotes.yaml or [user@]host[:port]",
    ),
]
RemoteDir = Annotated[
    str | None,
    Parameter(
        name=["--remote-dir", "--remote_dir"],
        help="launch root on the remote host (default: ~/afw-launches; relative = from home)",
    ),
]
RemotesFile = Annotated[
    str | None,
    Parameter(
        name=["--remotes"], help="remote hosts YAML (default: $AFW_REMOTES, ~/.afw/remotes.yaml)"
    ),
]
AcceptNewHostKey = Annotated[
    bool,
    Parameter(
        name=["--accept-new-host-key"],
        negative="",
        help="trust a remote host seen for the first time (its key is recorded)",
    ),
]


@dataclass
class SiteOptions:
    """The qlaunch-wide options saying where jobs go."""

    launch_dir: str | None = None
    remote_host: str | None = None
    remote_dir: str | None = None
    remotes_file: str | None = None
    accept_new_host_key: bool = False

    def remote(self) -> RemoteHost | None:
        """The remote host asked for, resolved through the remotes file; ``None``: local."""
        if self.remote_host is None:
            if self.remote_dir is not None:
                raise ConfigError("--remote-dir needs --remote-host")
            return None
        if self.launch_dir is not None:
            raise ConfigError("--launch-dir is for local launches: use --remote-dir")
        settings = {"accept_new_host_key": True} if self.accept_new_host_key else {}
        return load_remotes(self.remotes_file).resolve(self.remote_host, **settings)


@dataclass
class Site:
    """A queue client, the filesystem of the launch dirs, and the launch root on it."""

    client: QueueClient
    fs: FileSystem
    launch_dir: str
    user: str | None = None
    remote_host: str | None = None


def remote_queue_config(remote: RemoteHost | None) -> QueueConfig | None:
    """The queue adapter named by the remote's ``qadapter`` setting, if any."""
    if remote is None or remote.qadapter is None:
        return None
    if isinstance(remote.qadapter, Mapping):
        try:
            return QueueConfig.from_dict(remote.qadapter)
        except ConfigError as exc:
            raise ConfigError(f"qadapter of remote {remote.name!r}: {exc}") from exc
    return load_queue_config(remote.qadapter)


@asynccontextmanager
async def site(
    config: QueueConfig, remote: RemoteHost | None, opts: SiteOptions
) -> AsyncIterator[Site]:
    """Open where the jobs go (connecting first when remote); closed on exit."""
    if remote is None:
        async with LocalFileSystem() as fs:
            client = QueueClient.from_config(config, LocalCommandRunner())
            yield Site(client, fs, opts.launch_dir or ".")
        return
    from afw.ssh.session import RemoteSession

    async with RemoteSession(remote) as session:
        root = await session.launch_root(opts.remote_dir)
        yield Site(session.client(config), session.fs, root, session.user, session.spec)
