"""Grid Engine (SGE, Son of Grid Engine, Univa/Altair GE): ``qsub`` / ``qstat`` / ``qdel``."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from afw.queue.adapter import CommandResult, JobState
from afw.queue.base import BaseAdapter, check_job_ids, collect_states, command_failed

__all__ = ["SGEAdapter"]

# 'Your job 123 ("name") has been submitted' / 'Your job-array 123.1-10:1 ("name") has ...'
_SUBMITTED = re.compile(r"Your job(?:-array)? (\d+)")
_ROW = re.compile(r"^\s*(\d+)\s+\S+\s+\S+\s+\S+\s+(\S+)")


@dataclass(frozen=True)
class SGEAdapter(BaseAdapter):
    """Grid Engine adapter (FireWorks ``_fw_q_type: SGE``)."""

    q_type: ClassVar[str] = "SGE"
    template_name: ClassVar[str] = "sge"
    limit_patterns: ClassVar[tuple[re.Pattern[str], ...]] = (
        # "job rejected: Only 100 jobs are allowed per user (current job count: 100)"
        re.compile(r"jobs are allowed per (?:user|cluster)"),
    )

    submit_cmd: tuple[str, ...] = ("qsub",)
    status_cmd: tuple[str, ...] = ("qstat",)
    cancel_cmd: tuple[str, ...] = ("qdel",)

    def job_id_from(self, stdout: str) -> str | None:
        """The id from "Your job N ... has been submitted"."""
        match = _SUBMITTED.search(stdout)
        return match.group(1) if match else None

    def count_command(self, user: str, queue: str | None = None) -> list[str]:
        """``qstat -u <user> [-q <queue>]``."""
        argv = [*self.status_cmd, "-u", user]
        return argv if queue is None else [*argv, "-q", queue]

    def parse_count(self, result: CommandResult, queue: str | None = None) -> int:
        """Job rows of the listing (qstat prints nothing at all when there are none)."""
        if result.returncode != 0:
            raise command_failed(result, "SGE job count")
        return len(_rows(result.stdout))

    def status_command(self, job_ids: Sequence[str]) -> list[str]:
        """``qstat -u *``: qstat cannot list chosen ids, so list everyone's and pick."""
        check_job_ids(job_ids)
        return [*self.status_cmd, "-u", "*"]

    def parse_status(self, result: CommandResult, job_ids: Sequence[str]) -> dict[str, JobState]:
        """States of the requested ids; ids not listed (finished or unknown) are ``UNKNOWN``."""
        if result.returncode != 0:
            raise command_failed(result, "SGE job status")
        return collect_states(_rows(result.stdout), job_ids)


def _rows(stdout: str) -> list[tuple[str, JobState]]:
    return [(m.group(1), _state(m.group(2))) for m in map(_ROW.match, stdout.splitlines()) if m]


def _state(code: str) -> JobState:
    """Map an SGE state string such as ``qw``, ``hqw``, ``r``, ``Rr``, ``dr``, ``Eqw``."""
    if "E" in code or "d" in code:
        # E: the job hit an error and waits for an admin; d: it is being deleted.
        return JobState.FAILED
    if any(c in code for c in "rtsST"):
        return JobState.RUNNING
    if any(c in code for c in "qwh"):
        return JobState.QUEUED
    return JobState.UNKNOWN
