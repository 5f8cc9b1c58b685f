"""An in-process asyncssh server that really runs commands, for remote-qlaunch fault tests.

Like ``sshserver.py`` it serves SFTP on the real local filesystem and counts connections, but an
``exec`` request runs the command line with ``/bin/sh -c`` (as sshd hands it to the login
shell), so quoting and the submission wrapper are exercised for real. Faults are one-shot:

* ``drop_at_open = N``: abort the connection when the Nth SFTP ``open`` arrives;
* ``drop_on_exec = word`` with ``drop_when``: abort it the first time a command line containing
  ``word`` arrives: ``"before"`` running it (it never runs), ``"during"`` (just after starting it:
  it goes on running, as OpenSSH leaves a non-tty command running on a drop) or ``"after"`` it
  ran to the end (it ran, its answer is lost).
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncssh

from afw.ssh import SSHTarget


@dataclass
class ShellState:
    connections: int = 0
    sftp_opens: int = 0
    commands: list[str] = field(default_factory=list)
    drop_at_open: int | None = None
    drop_on_exec: str | None = None
    drop_when: str = "after"
    drops: int = 0


class _Server(asyncssh.SSHServer):
    def __init__(self, state: ShellState) -> None:
        self.state = state

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self.state.connections += 1


class _SFTP(asyncssh.SFTPServer):
    def __init__(self, chan: asyncssh.SSHServerChannel[Any], state: ShellState) -> None:
        super().__init__(chan)
        self.state = state

    def open(self, path: bytes, pflags: int, attrs: asyncssh.SFTPAttrs) -> object:
        self.state.sftp_opens += 1
        if self.state.drop_at_open is not None and self.state.sftp_opens >= self.state.drop_at_open:
            self.state.drop_at_open = None
            self.state.drops += 1
            self.connection.abort()
            raise asyncssh.SFTPFailure("dropped on purpose")
        return super().open(path, pflags, attrs)


async def _exec(state: ShellState, process: asyncssh.SSHServerProcess[bytes]) -> None:
    line = process.command or ""
    state.commands.append(line)
    drop = state.drop_on_exec is not None and state.drop_on_exec in line
    if drop:
        state.drop_on_exec = None
        state.drops += 1
        if state.drop_when == "before":
            process.channel.get_connection().abort()
            return
    proc = await asyncio.create_subprocess_shell(
        line, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    if drop and state.drop_when == "during":
        process.channel.get_connection().abort()
        await proc.communicate()
        return
    out, err = await proc.communicate()
    if drop:
        process.channel.get_connection().abort()
        return
    process.stdout.write(out)
    process.stderr.write(err)
    process.exit(proc.returncode or 0)


@dataclass
class ShellServer:
    state: ShellState
    target: SSHTarget
    port: int
    acceptor: asyncssh.SSHAcceptor

    def close_listener(self) -> None:
        """Refuse new connections from now on (open ones stay)."""
        self.acceptor.close()


@asynccontextmanager
async def shell_server(workdir: Path) -> AsyncIterator[ShellServer]:
    """Start the server on 127.0.0.1 (a free port); key files go into ``workdir``."""
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    client_key = asyncssh.generate_private_key("ssh-ed25519")
    key_path = workdir / "shell_client_key"
    client_key.write_private_key(str(key_path))
    state = ShellState()
    server = await asyncssh.create_server(
        lambda: _Server(state),
        "127.0.0.1",
        0,
        server_host_keys=[host_key],
        authorized_client_keys=asyncssh.import_authorized_keys(
            client_key.export_public_key().decode()
        ),
        sftp_factory=lambda chan: _SFTP(chan, state),
        process_factory=lambda process: _exec(state, process),
        encoding=None,
        keepalive_interval=0,
    )
    port = server.get_port()
    known_hosts = workdir / "shell_known_hosts"
    public = host_key.export_public_key().decode().split()
    known_hosts.write_text(f"[127.0.0.1]:{port} {public[0]} {public[1]}\n")
    target = SSHTarget(
        host="127.0.0.1",
        port=port,
        user="tester",
        key_files=(str(key_path),),
        known_hosts=str(known_hosts),
        use_agent=False,
        config_files=(),
    )
    try:
        yield ShellServer(state, target, port, server)
    finally:
        server.close()
        await server.wait_closed()
