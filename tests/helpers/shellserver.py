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
from dataclasses import dataclass
from pathlib import Path

import asyncssh

from helpers.sshserver import FaultServer, ServerState, serve


@dataclass
class ShellState(ServerState):
    """:class:`ServerState`, and when ``drop_on_exec`` aborts: ``before``, ``during``, ``after``."""

    drop_when: str = "after"


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


ShellServer = FaultServer[ShellState]


@asynccontextmanager
async def shell_server(workdir: Path) -> AsyncIterator[ShellServer]:
    """Start the server on 127.0.0.1 (a free port); key files go into ``workdir``."""
    state = ShellState()
    exec_ = lambda process: _exec(state, process)  # noqa: E731
    async with serve(workdir, state, exec_, encoding=None, key_prefix="shell_") as server:
        yield server
