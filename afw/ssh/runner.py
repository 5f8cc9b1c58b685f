"""``SSHCommandRunner``: the :class:`~afw.queue.client.CommandRunner` for a remote login node.

Commands run as SSH ``exec`` requests on the pool's shared connection, one channel each (within
the pool's channel budget). The remote login shell only ever sees single-quoted words
(:func:`shlex.join`), so no job name, path or option can inject shell, whatever the user's
shell. A working directory is entered by a fixed POSIX ``sh`` snippet that receives the
directory as an argument, not as code.

A dropped connection re-runs a command only when the caller says it is idempotent
(``run(..., idempotent=True)``: status, count and cancel queries). A submission is never re-run:
the drop may have happened after the scheduler accepted the job, so the runner raises
:class:`~afw.errors.RemoteError` saying the outcome is unknown.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

import anyio
import asyncssh

from afw.errors import QueueError, RemoteError
from afw.queue.adapter import CommandResult
from afw.ssh.pool import SSHPool
from afw.ssh.target import SSHTarget

__all__ = ["SSHCommandRunner", "remote_command"]

CD_FAILED: Final = 125
_CD_MARK = "afw: cannot enter the working directory"
_CD_SNIPPET = f'cd -- "$1" || {{ echo "{_CD_MARK}" >&2; exit {CD_FAILED}; }}; shift; exec "$@"'


def remote_command(argv: Sequence[str], cwd: str | None = None) -> str:
    """The command line sent to the remote shell: every word single-quoted."""
    words = list(argv)
    if cwd is not None:
        words = ["sh", "-c", _CD_SNIPPET, "afw-cd", cwd, *words]
    return shlex.join(words)


class SSHCommandRunner:
    """Runs scheduler commands on ``target`` over ``pool``'s shared connection."""

    def __init__(self, target: SSHTarget | str, pool: SSHPool) -> None:
        self.target = SSHTarget.parse(target) if isinstance(target, str) else target
        self.pool = pool

    async def run(
        self,
        argv: Sequence[str],
        *,
        stdin: bytes | None = None,
        cwd: str | None = None,
        timeout: float,  # noqa: ASYNC109  (the runner closes the channel and names the command)
        idempotent: bool = False,
    ) -> CommandResult:
        """Run ``argv`` remotely in ``cwd``; see :meth:`afw.queue.client.CommandRunner.run`.

        ``idempotent=True`` lets a command interrupted by a dropped connection run again after
        reconnecting; otherwise the drop raises :class:`RemoteError` (outcome unknown).
        A non-zero exit is returned, except when the program or directory does not exist
        (:class:`QueueError`, as for local commands).
        """
        command = list(argv)
        if not command:
            raise QueueError("empty command")
        line = remote_command(command, cwd)
        shown = shlex.join(command)

        async def execute(conn: asyncssh.SSHClientConnection) -> CommandResult:
            async with self.pool.channel(self.target):
                return await _execute(conn, line, stdin, timeout, shown)

        what = f"`{shown}`"
        if idempotent:
            result = await self.pool.run_with_retry(self.target, execute, what=what)
        else:
            try:
                result = await self.pool.run_with_retry(self.target, execute, what=what, retries=0)
            except RemoteError as exc:
                if exc.context.get("kind") != "lost":
                    raise
                raise _outcome_unknown(self.target, shown, exc) from exc
        return _check_started(result, command, cwd, self.target)


async def _execute(
    conn: asyncssh.SSHClientConnection,
    line: str,
    stdin: bytes | None,
    timeout: float,  # noqa: ASYNC109  (bounds the whole command, see SSHCommandRunner.run)
    shown: str,
) -> CommandResult:
    source = asyncssh.DEVNULL if stdin is None else asyncssh.PIPE
    deadline = anyio.current_time() + timeout
    try:
        with anyio.fail_after(timeout):
            process = await conn.create_process(line, input=stdin, stdin=source, encoding=None)
        async with process:
            try:
                done = await process.wait(timeout=max(0.0, deadline - anyio.current_time()))
            except asyncssh.TimeoutError:
                # Ask sshd to stop the command (servers may refuse); closing the channel follows.
                process.kill()
                raise
    except TimeoutError as exc:
        if conn.is_closed():
            raise asyncssh.ConnectionLost("connection closed") from exc
        message = f"command timed out after {timeout:g} s: {shown}"
        raise QueueError(message, command=shown, timeout=timeout) from exc
    if done.returncode is None:
        # The channel closed without an exit status: the connection went away under it.
        raise asyncssh.ConnectionLost("connection closed before the command finished")
    return CommandResult(done.returncode, _text(done.stdout), _text(done.stderr))


def _text(data: object) -> str:
    if isinstance(data, bytes):
        return data.decode("utf-8", errors="replace")
    return "" if data is None else str(data)


def _check_started(
    result: CommandResult, command: list[str], cwd: str | None, target: SSHTarget
) -> CommandResult:
    shown = shlex.join(command)
    if result.returncode == CD_FAILED and _CD_MARK in result.stderr:
        detail = result.stderr.replace(_CD_MARK, "").strip().splitlines()
        reason = detail[-1] if detail else "no such directory"
        message = f"cannot run {command[0]} in {cwd} on {target.host}: {reason}"
        raise QueueError(message, command=shown, cwd=cwd, stderr=result.stderr)
    if result.returncode == 127 and "not found" in result.stderr:
        message = f"command not found on {target.host}: {command[0]}"
        raise QueueError(message, command=shown, stderr=result.stderr)
    return result


def _outcome_unknown(target: SSHTarget, shown: str, exc: RemoteError) -> RemoteError:
    message = (
        f"connection to {target} lost while running `{shown}`: it may or may not have run "
        f"there; check (e.g. the queue) before running it again"
    )
    return RemoteError(message, host=str(target), kind="lost", command=shown, outcome="unknown")


if TYPE_CHECKING:
    from afw.queue.client import CommandRunner

    _conforms: type[CommandRunner] = SSHCommandRunner
