"""SSH to remote login nodes: targets, a shared connection pool, a command runner.

Importing this package imports asyncssh; :mod:`afw.ssh.target` alone does not. Nothing in
``afw`` or ``afw.fs`` imports it until a remote host is used.

* :class:`SSHTarget` (:mod:`afw.ssh.target`): where to connect and how to authenticate;
* :class:`SSHPool` (:mod:`afw.ssh.pool`): one connection per host, channel budget, reconnects;
* :class:`SSHCommandRunner` (:mod:`afw.ssh.runner`): scheduler commands over SSH exec;
* :class:`afw.fs.sftp.SFTPFileSystem`: launch-dir files over SFTP on the same connection.
"""

from __future__ import annotations

from afw.ssh.pool import SSHPool, is_connection_drop
from afw.ssh.runner import SSHCommandRunner, remote_command
from afw.ssh.target import SSHTarget, split_host_spec

__all__ = [
    "SSHCommandRunner",
    "SSHPool",
    "SSHTarget",
    "is_connection_drop",
    "remote_command",
    "split_host_spec",
]
