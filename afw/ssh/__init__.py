"""SSH to remote login nodes: targets, a shared connection pool, a command runner.

Names are imported on first use: ``import afw.ssh`` and :mod:`afw.ssh.target` do not import
asyncssh, so configuration and the CLI can parse targets cheaply; the pool and the runner do.

* :class:`SSHTarget` (:mod:`afw.ssh.target`): where to connect and how to authenticate;
* :class:`SSHPool` (:mod:`afw.ssh.pool`): one connection per host, channel budget, reconnects;
* :class:`SSHCommandRunner` (:mod:`afw.ssh.runner`): scheduler commands over SSH exec;
* :class:`afw.fs.sftp.SFTPFileSystem`: launch-dir files over SFTP on the same connection;
* :class:`Remotes` / :class:`RemoteHost` (:mod:`afw.ssh.remotes`): named hosts from
  ``remotes.yaml`` (no asyncssh import);
* :class:`RemoteSession` (:mod:`afw.ssh.session`): qlaunch's filesystem, runner and queue
  clients for one remote login node.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "SSHTarget": "afw.ssh.target",
    "split_host_spec": "afw.ssh.target",
    "SSHPool": "afw.ssh.pool",
    "is_connection_drop": "afw.ssh.pool",
    "SSHCommandRunner": "afw.ssh.runner",
    "remote_command": "afw.ssh.runner",
    "RemoteHost": "afw.ssh.remotes",
    "Remotes": "afw.ssh.remotes",
    "host_spec": "afw.ssh.remotes",
    "load_remotes": "afw.ssh.remotes",
    "RemoteSession": "afw.ssh.session",
}

__all__ = [
    "RemoteHost",
    "RemoteSession",
    "Remotes",
    "SSHCommandRunner",
    "SSHPool",
    "SSHTarget",
    "host_spec",
    "is_connection_drop",
    "load_remotes",
    "remote_command",
    "split_host_spec",
]

if TYPE_CHECKING:
    from afw.ssh.pool import SSHPool, is_connection_drop
    from afw.ssh.remotes import RemoteHost, Remotes, host_spec, load_remotes
    from afw.ssh.runner import SSHCommandRunner, remote_command
    from afw.ssh.session import RemoteSession
    from afw.ssh.target import SSHTarget, split_host_spec


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'afw.ssh' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
