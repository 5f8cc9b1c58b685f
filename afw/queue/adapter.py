"""The scheduler adapter interface: build command lines, parse their output, render scripts.

Adapters are sans-I/O (DESIGN.md §6): they never run anything. :class:`afw.queue.QueueClient` runs
the argv lists they build through a :class:`afw.queue.CommandRunner` and hands the results back to
the ``parse_*`` methods. Every command is an argv list, never a shell string, so a job name, path or
job id is passed to the scheduler literally.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["CommandResult", "JobState", "SchedulerAdapter"]


class JobState(enum.Enum):
    """A job's state as the scheduler reports it, reduced to what afw acts on.

    ``DONE`` means the scheduler considers the job finished normally; ``FAILED`` covers failed,
    cancelled, timed-out and node-failure ends. Whether the Firework inside succeeded is decided
    by the launch-dir files, not here. ``UNKNOWN`` means the scheduler no longer (or never) knew
    the job, or reported a state afw does not recognise.
    """

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class CommandResult:
    """What a scheduler command returned: exit code and decoded output."""

    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        """stdout and stderr together, for searching messages that either may carry."""
        return f"{self.stdout}\n{self.stderr}"


class SchedulerAdapter(Protocol):
    """What :class:`afw.queue.QueueClient` needs from a scheduler: commands and parsers.

    Every ``*_command`` returns an argv list; every ``parse_*`` raises :class:`QueueError` (or
    :class:`QueueLimitError` for a refused submission the caller should retry later) when the
    result says the command failed.
    """

    @property
    def q_type(self) -> str:
        """The canonical FireWorks ``_fw_q_type`` of this scheduler."""
        ...

    def template(self) -> str:
        """The built-in submission-script template."""
        ...

    def render_script(
        self,
        values: Mapping[str, Any],
        *,
        template: str | None = None,
        job_name_maxlen: int = 20,
    ) -> str:
        """Render ``template`` (default: the built-in one) with the template ``values``."""
        ...

    def submit_command(self, script_path: str) -> list[str]:
        """argv submitting the script at ``script_path``."""
        ...

    def parse_submit(self, result: CommandResult) -> str:
        """The job id of a successful submission."""
        ...

    def count_command(self, user: str, queue: str | None = None) -> list[str]:
        """argv listing the unfinished jobs of ``user`` (in ``queue`` if given)."""
        ...

    def parse_count(self, result: CommandResult, queue: str | None = None) -> int:
        """How many unfinished jobs the listing shows."""
        ...

    def status_command(self, job_ids: Sequence[str]) -> list[str]:
        """argv reporting the states of ``job_ids``."""
        ...

    def history_command(self, job_ids: Sequence[str]) -> list[str] | None:
        """argv asking the accounting history about jobs the queue forgot, if there is one."""
        ...

    def parse_status(self, result: CommandResult, job_ids: Sequence[str]) -> dict[str, JobState]:
        """The state of every id in ``job_ids`` (``UNKNOWN`` for ids the output does not show)."""
        ...

    def cancel_command(self, job_ids: Sequence[str]) -> list[str]:
        """argv cancelling ``job_ids``."""
        ...

    def parse_cancel(self, result: CommandResult) -> None:
        """Raise if the cancellation failed."""
        ...

    def with_commands(self, overrides: Mapping[str, str]) -> SchedulerAdapter:
        """A copy using other programs (FireWorks ``_q_commands_override``)."""
        ...
