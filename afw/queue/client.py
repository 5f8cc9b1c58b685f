"""Running scheduler commands: the :class:`CommandRunner` seam and :class:`QueueClient`.

The client is the only I/O in ``afw.queue``: it asks an adapter for argv, runs it through a
runner (a local subprocess here; an SSH runner implements the same protocol), and hands the
result back to the adapter's parser. Errors leave with the command line and its output attached.
"""

from __future__ import annotations

import logging
import posixpath
import shlex
import subprocess
from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

import anyio

from afw.errors import QueueError, RemoteError
from afw.queue.adapter import CommandResult, JobState, SchedulerAdapter
from afw.queue.config import QueueConfig
from afw.queue.once import (
    ONCE_PREFIX,
    new_once_key,
    once_command,
    once_result,
    outcome_unknown,
)

__all__ = ["CommandResult", "CommandRunner", "LocalCommandRunner", "QueueClient"]

log = logging.getLogger(__name__)
_T = TypeVar("_T")

# Ids per status command: keeps argv well below ARG_MAX and each scheduler query cheap.
STATUS_BATCH = 200


class CommandRunner(Protocol):
    """Runs one command (an argv list, never a shell string) and returns what it printed."""

    async def run(
        self,
        argv: Sequence[str],
        *,
        stdin: bytes | None = None,
        cwd: str | None = None,
        timeout: float,  # noqa: ASYNC109  (the runner kills the command and names it)
        idempotent: bool = False,
    ) -> CommandResult:
        """Run ``argv`` in ``cwd``; QueueError if it cannot be started or exceeds ``timeout``.

        A non-zero exit code is not an error here: the adapter decides what it means.
        ``idempotent`` allows a runner whose connection can drop to run the command again
        after reconnecting (queries, cancels, guarded submissions); local runners ignore it.
        """
        ...


class LocalCommandRunner:
    """Runs commands as local subprocesses (anyio), stdin closed unless data is given."""

    async def run(
        self,
        argv: Sequence[str],
        *,
        stdin: bytes | None = None,
        cwd: str | None = None,
        timeout: float,  # noqa: ASYNC109  (see CommandRunner.run)
        idempotent: bool = False,
    ) -> CommandResult:
        """Run ``argv``; see :meth:`CommandRunner.run` (a local command never drops)."""
        command = list(argv)
        if not command:
            raise QueueError("empty command")
        try:
            with anyio.fail_after(timeout):
                done = await anyio.run_process(
                    command,
                    input=stdin,
                    stdin=subprocess.DEVNULL if stdin is None else None,
                    cwd=cwd,
                    check=False,
                )
        except TimeoutError as exc:
            raise QueueError(
                f"command timed out after {timeout:g} s: {shlex.join(command)}",
                command=shlex.join(command),
                timeout=timeout,
            ) from exc
        except OSError as exc:
            raise _start_error(command, cwd, exc) from exc
        return CommandResult(
            done.returncode,
            done.stdout.decode("utf-8", errors="replace"),
            done.stderr.decode("utf-8", errors="replace"),
        )


def _start_error(command: list[str], cwd: str | None, exc: OSError) -> QueueError:
    if isinstance(exc, FileNotFoundError) and exc.filename == command[0]:
        message = f"command not found: {command[0]}"
    else:
        where = f" in {cwd}" if cwd else ""
        message = f"cannot run {command[0]}{where}: {exc.strerror or exc}"
    return QueueError(message, command=shlex.join(command), cwd=cwd)


class QueueClient:
    """Submits, counts, inspects and cancels jobs of one scheduler.

    ``timeout`` bounds the query commands (FireWorks' ``_fw_timeout``); submissions get
    ``submit_timeout`` because a busy scheduler can take long to accept a job. Queries and
    cancels are marked idempotent (a runner may re-run them after a reconnect).

    ``submit_once`` (for runners whose connection can drop, e.g. SSH) wraps each submission in
    :mod:`afw.queue.once`, so that it can be re-run safely: a dropped connection then neither
    loses the job id nor submits the job twice.
    """

    def __init__(
        self,
        adapter: SchedulerAdapter,
        runner: CommandRunner,
        *,
        timeout: float = 5.0,
        submit_timeout: float = 60.0,
        submit_once: bool = False,
    ) -> None:
        self.adapter = adapter
        self.runner = runner
        self.timeout = timeout
        self.submit_timeout = submit_timeout
        self.submit_once = submit_once

    @classmethod
    def from_config(
        cls, config: QueueConfig, runner: CommandRunner, *, submit_once: bool = False
    ) -> QueueClient:
        """A client for ``config``'s scheduler, its commands and ``_fw_timeout``."""
        return cls(config.adapter, runner, timeout=config.timeout, submit_once=submit_once)

    async def submit(
        self, script_path: str, cwd: str | None = None, *, once_key: str | None = None
    ) -> str:
        """Submit the script; its directory is the working directory unless ``cwd`` is given.

        Raises QueueLimitError when the scheduler refused because of a job limit (wait and
        retry), QueueError for any other failure. With ``submit_once``, ``once_key`` names the
        submission's record (default: a random key); a submission whose outcome cannot be
        known raises :class:`~afw.errors.RemoteError` with ``outcome="unknown"``.
        """
        if cwd is None:
            # Run where the script is, naming it relative to there (a relative path given by the
            # caller would otherwise be resolved twice).
            workdir, name = posixpath.split(script_path)
            cwd, script_path = (workdir, name) if workdir else (None, script_path)
        argv = self.adapter.submit_command(script_path)
        if self.submit_once:
            result = await self._submit_once(argv, cwd, once_key or new_once_key())
        else:
            result = await self._run(argv, cwd=cwd, limit=self.submit_timeout)
        return _parse(argv, result, self.adapter.parse_submit)

    async def _submit_once(self, argv: list[str], cwd: str | None, key: str) -> CommandResult:
        # A repeated attempt waits for a first one still running, within this call's timeout.
        wrapped = once_command(argv, key, wait=max(int(self.submit_timeout) - 5, 1))
        record = posixpath.join(cwd or ".", ONCE_PREFIX + key)
        try:
            result = await self.runner.run(
                wrapped, cwd=cwd, timeout=self.submit_timeout, idempotent=True
            )
        except RemoteError as exc:
            host = exc.context.get("host")
            lost = exc.context.get("kind") == "lost"
            reason = f"the connection to {host} was lost and not restored" if lost else str(exc)
            raise outcome_unknown(argv, reason, host=host, record=record) from exc
        except QueueError as exc:
            if "timeout" not in exc.context:
                raise
            reason = f"no answer within {self.submit_timeout:g} s"
            raise outcome_unknown(argv, reason, record=record) from exc
        return once_result(result, argv, record)

    async def count_jobs(self, user: str, queue: str | None = None) -> int:
        """How many unfinished jobs ``user`` has (in ``queue`` if given)."""
        argv = self.adapter.count_command(user, queue)
        result = await self._run(argv, idempotent=True)
        return _parse(argv, result, lambda r: self.adapter.parse_count(r, queue))

    async def status(self, job_ids: Sequence[str]) -> dict[str, JobState]:
        """The state of each job; ids the scheduler does not know are ``UNKNOWN``."""
        ids = list(dict.fromkeys(job_ids))
        states: dict[str, JobState] = {}
        for start in range(0, len(ids), STATUS_BATCH):
            states.update(await self._status_batch(ids[start : start + STATUS_BATCH]))
        return states

    async def cancel(self, job_ids: Sequence[str]) -> None:
        """Cancel the jobs (nothing to do for an empty list)."""
        ids = list(dict.fromkeys(job_ids))
        for start in range(0, len(ids), STATUS_BATCH):
            argv = self.adapter.cancel_command(ids[start : start + STATUS_BATCH])
            result = await self._run(argv, idempotent=True)
            _parse(argv, result, self.adapter.parse_cancel)

    async def _status_batch(self, ids: list[str]) -> dict[str, JobState]:
        argv = self.adapter.status_command(ids)
        result = await self._run(argv, idempotent=True)
        states = _parse(argv, result, lambda r: self.adapter.parse_status(r, ids))
        missing = [j for j, state in states.items() if state is JobState.UNKNOWN]
        history = self.adapter.history_command(missing) if missing else None
        if history is not None:
            states.update(await self._history(history, missing))
        return states

    async def _history(self, argv: list[str], ids: list[str]) -> dict[str, JobState]:
        # Accounting is optional on many clusters (sacct: "accounting storage is disabled"):
        # its failure leaves the jobs UNKNOWN rather than failing the whole status query.
        try:
            result = await self._run(argv, idempotent=True)
            return self.adapter.parse_status(result, ids)
        except QueueError as exc:
            log.debug("history query failed, states stay unknown: %s", exc)
            return {}

    async def _run(
        self,
        argv: list[str],
        *,
        cwd: str | None = None,
        limit: float | None = None,
        idempotent: bool = False,
    ) -> CommandResult:
        timeout = self.timeout if limit is None else limit
        return await self.runner.run(argv, cwd=cwd, timeout=timeout, idempotent=idempotent)


def _parse(argv: list[str], result: CommandResult, parser: Callable[[CommandResult], _T]) -> _T:
    try:
        return parser(result)
    except QueueError as exc:
        exc.context.setdefault("command", shlex.join(argv))
        exc.context.setdefault("returncode", result.returncode)
        exc.context.setdefault("stdout", result.stdout)
        exc.context.setdefault("stderr", result.stderr)
        raise
