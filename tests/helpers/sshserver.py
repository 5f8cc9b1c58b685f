"""An in-process asyncssh server on loopback for counting connections and injecting faults.

It serves SFTP on the real local filesystem (so tests can look at the files directly) and a tiny
``exec``: every command line is recorded; ``echo`` prints its arguments, ``submit`` prints a
Slurm-like job id. Faults are one-shot: ``drop_at_open = N`` aborts the TCP connection when the
Nth SFTP ``open`` arrives; ``drop_on_exec = word`` aborts it the first time a command line
containing ``word`` runs (after the command was received, i.e. "it may have run").
"""

from __future__ import annotations

import shlex
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import asyncssh
from services import SshdService

from afw.ssh import SSHTarget


def sshd_target(sshd: SshdService, **settings: Any) -> SSHTarget:
    """An SSHTarget for the loopback OpenSSH sshd (no ~/.ssh/config, no agent)."""
    options: dict[str, Any] = {
        "host": sshd.host,
        "port": sshd.port,
        "user": sshd.user,
        "key_files": (str(sshd.key_path),),
        "known_hosts": str(sshd.known_hosts),
        "use_agent": False,
        "config_files": (),
    }
    return SSHTarget(**{**options, **settings})


@dataclass
class ServerState:
    """What the server saw, and the faults still to inject."""

    connections: int = 0
    sftp_opens: int = 0
    commands: list[str] = field(default_factory=list)
    drop_at_open: int | None = None
    drop_on_exec: str | None = None
    drops: int = 0


class _Server(asyncssh.SSHServer):
    def __init__(self, state: ServerState) -> None:
        self.state = state

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self.state.connections += 1


class _SFTP(asyncssh.SFTPServer):
    def __init__(self, chan: asyncssh.SSHServerChannel[Any], state: ServerState) -> None:
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


def _exec(state: ServerState, process: asyncssh.SSHServerProcess[str]) -> None:
    line = process.command or ""
    state.commands.append(line)
    if state.drop_on_exec is not None and state.drop_on_exec in line:
        state.drop_on_exec = None
        state.drops += 1
        process.channel.get_connection().abort()
        return
    words = shlex.split(line)
    if words and words[0] == "submit":
        process.stdout.write(f"Submitted batch job {len(state.commands)}\n")
    elif words and words[0] == "echo":
        process.stdout.write(" ".join(words[1:]) + "\n")
    process.exit(0)


S = TypeVar("S", bound=ServerState)


@dataclass
class FaultServer(Generic[S]):
    """A running server: its state and an :class:`SSHTarget` that trusts it."""

    state: S
    target: SSHTarget
    port: int
    acceptor: asyncssh.SSHAcceptor

    def close_listener(self) -> None:
        """Refuse new connections from now on (open ones stay)."""
        self.acceptor.close()


@asynccontextmanager
async def serve(
    workdir: Path,
    state: S,
    process_factory: Callable[[Any], object],
    *,
    encoding: str | None,
    sftp: bool = True,
    key_prefix: str = "",
) -> AsyncIterator[FaultServer[S]]:
    """Start a server on 127.0.0.1 (a free port) that records into ``state`` and runs exec
    requests with ``process_factory``; key files go into ``workdir``, named after ``key_prefix``."""
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    client_key = asyncssh.generate_private_key("ssh-ed25519")
    key_path = workdir / f"{key_prefix}client_key"
    client_key.write_private_key(str(key_path))
    server = await asyncssh.create_server(
        lambda: _Server(state),
        "127.0.0.1",
        0,
        server_host_keys=[host_key],
        authorized_client_keys=asyncssh.import_authorized_keys(
            client_key.export_public_key().decode()
        ),
        sftp_factory=(lambda chan: _SFTP(chan, state)) if sftp else None,
        process_factory=process_factory,
        encoding=encoding,
        keepalive_interval=0,
    )
    port = server.get_port()
    known_hosts = workdir / f"{key_prefix}known_hosts"
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
        yield FaultServer(state, target, port, server)
    finally:
        server.close()
        await server.wait_closed()


@asynccontextmanager
async def fault_server(
    workdir: Path, *, sftp: bool = True
) -> AsyncIterator[FaultServer[ServerState]]:
    """Start the fault server on 127.0.0.1 (a free port); key files go into ``workdir``."""
    state = ServerState()
    exec_ = lambda process: _exec(state, process)  # noqa: E731
    async with serve(workdir, state, exec_, encoding="utf-8", sftp=sftp) as server:
        yield server
