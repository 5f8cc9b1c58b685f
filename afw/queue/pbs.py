"""PBS Pro, OpenPBS and Torque: ``qsub`` / ``qstat`` / ``qdel``."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from afw.queue.adapter import CommandResult, JobState
from afw.queue.base import BaseAdapter, check_job_ids, check_listing, collect_states, command_failed

__all__ = ["PBSAdapter"]

# qsub prints the full id ("123.server", PBS Pro arrays "123[].server"); keep it whole so that
# qstat/qdel address the right server.
_JOB_ID_LINE = re.compile(r"^\s*(\d+(?:\[\d*\])?(?:\.[\w.-]+)?)\s*$", re.MULTILINE)
_DIGITS = re.compile(r"\d+")
# qstat's complaints about single ids it cannot show (Torque and PBS Pro wordings).
_UNKNOWN_JOB = re.compile(r"Unknown Job Id")
_FINISHED_JOB = re.compile(r"qstat: (\S+) Job has finished")
_UNKNOWN_OR_FINISHED = re.compile(f"{_UNKNOWN_JOB.pattern}|{_FINISHED_JOB.pattern}")

_STATES = {
    "Q": JobState.QUEUED,
    "H": JobState.QUEUED,
    "W": JobState.QUEUED,
    "T": JobState.QUEUED,
    "M": JobState.QUEUED,
    "R": JobState.RUNNING,
    "E": JobState.RUNNING,
    "B": JobState.RUNNING,
    "S": JobState.RUNNING,
    "U": JobState.RUNNING,
    "C": JobState.DONE,
    "F": JobState.DONE,
    "X": JobState.DONE,
}
_FINISHED = frozenset({"C", "F", "X"})


@dataclass(frozen=True)
class PBSAdapter(BaseAdapter):
    """PBS/Torque adapter (FireWorks ``_fw_q_type: PBS``)."""

    q_type: ClassVar[str] = "PBS"
    template_name: ClassVar[str] = "pbs"
    limit_patterns: ClassVar[tuple[re.Pattern[str], ...]] = (
        re.compile(r"would exceed .*limit", re.IGNORECASE),
        re.compile(r"Maximum number of jobs already in queue", re.IGNORECASE),
        re.compile(r"exceeds? the queue limit", re.IGNORECASE),
    )

    submit_cmd: tuple[str, ...] = ("qsub",)
    status_cmd: tuple[str, ...] = ("qstat",)
    cancel_cmd: tuple[str, ...] = ("qdel",)

    def job_id_from(self, stdout: str) -> str | None:
        """The id line qsub prints; FireWorks' "first number" as a fallback."""
        match = _JOB_ID_LINE.search(stdout)
        if match:
            return match.group(1)
        digits = _DIGITS.search(stdout)
        return digits.group() if digits else None

    def count_command(self, user: str, queue: str | None = None) -> list[str]:
        """``qstat -a -u <user>``; the queue is filtered on the parsed rows."""
        return [*self.status_cmd, "-a", "-u", user]

    def parse_count(self, result: CommandResult, queue: str | None = None) -> int:
        """Rows not yet finished, in ``queue`` when given (a truncated column is a prefix)."""
        if result.returncode != 0:
            raise command_failed(result, "PBS job count")
        count = 0
        for row in parse_table(result.stdout):
            if row.get("S", "") in _FINISHED:
                continue
            shown = row.get("Queue", "").rstrip("*")
            if queue is None or (shown and queue.startswith(shown)):
                count += 1
        return count

    def status_command(self, job_ids: Sequence[str]) -> list[str]:
        """``qstat <id>...``."""
        return [*self.status_cmd, *check_job_ids(job_ids)]

    def parse_status(self, result: CommandResult, job_ids: Sequence[str]) -> dict[str, JobState]:
        """States from the table; ids qstat calls unknown stay ``UNKNOWN``, finished ones DONE."""
        complaints = check_listing(result, "PBS job status", _UNKNOWN_OR_FINISHED.search)
        finished = [m.group(1) for m in map(_FINISHED_JOB.search, complaints) if m]
        table = parse_table(result.stdout)
        rows = [(r.get("Job id") or r.get("Job ID", ""), _state(r.get("S", ""))) for r in table]
        rows += [(job_id, JobState.DONE) for job_id in finished]
        return collect_states(rows, job_ids)


def _state(code: str) -> JobState:
    return _STATES.get(code, JobState.UNKNOWN)


def parse_table(stdout: str) -> list[dict[str, str]]:
    """Rows of a qstat table as dicts keyed by the header names.

    Column bounds come from the ``----- --- -`` ruler under the header, which both Torque and PBS
    Pro print; each column runs to the start of the next one so a slightly overflowing value is
    still read whole.
    """
    lines = stdout.splitlines()
    for index, line in enumerate(lines):
        if index and line.strip() and set(line.strip()) <= {"-", " "}:
            starts = [m.start() for m in re.finditer(r"-+", line)]
            bounds = list(zip(starts, [*starts[1:], None], strict=True))
            header = [lines[index - 1][a:b].strip() for a, b in bounds]
            return [
                dict(zip(header, (row[a:b].strip() for a, b in bounds), strict=True))
                for row in lines[index + 1 :]
                if row.strip()
            ]
    return []
