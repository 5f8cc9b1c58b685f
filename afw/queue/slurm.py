"""SLURM: ``sbatch`` / ``squeue`` / ``sacct`` / ``scancel``."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from afw.queue.adapter import CommandResult, JobState
from afw.queue.base import BaseAdapter, check_job_ids, collect_states, command_failed

__all__ = ["SlurmAdapter"]

_SUBMITTED = re.compile(r"Submitted batch job (\d+)")
# ``sbatch --parsable`` (a user may add it through _q_commands_override) prints "id[;cluster]".
_PARSABLE = re.compile(r"^(\d+)(?:;\S+)?$", re.MULTILINE)
# squeue and sacct are asked for ``id|STATE`` rows; sacct may add detail ("CANCELLED by 1000").
_ROW_FORMAT = "%i|%T"
_INVALID_ID = "Invalid job id specified"

_STATES = {
    "PENDING": JobState.QUEUED,
    "CONFIGURING": JobState.QUEUED,
    "REQUEUED": JobState.QUEUED,
    "REQUEUE_HOLD": JobState.QUEUED,
    "REQUEUE_FED": JobState.QUEUED,
    "RESV_DEL_HOLD": JobState.QUEUED,
    "SPECIAL_EXIT": JobState.QUEUED,
    "RUNNING": JobState.RUNNING,
    "COMPLETING": JobState.RUNNING,
    "SUSPENDED": JobState.RUNNING,
    "STOPPED": JobState.RUNNING,
    "SIGNALING": JobState.RUNNING,
    "STAGE_OUT": JobState.RUNNING,
    "RESIZING": JobState.RUNNING,
    "COMPLETED": JobState.DONE,
    "FAILED": JobState.FAILED,
    "CANCELLED": JobState.FAILED,
    "TIMEOUT": JobState.FAILED,
    "NODE_FAIL": JobState.FAILED,
    "PREEMPTED": JobState.FAILED,
    "BOOT_FAIL": JobState.FAILED,
    "DEADLINE": JobState.FAILED,
    "OUT_OF_MEMORY": JobState.FAILED,
    "REVOKED": JobState.FAILED,
}


@dataclass(frozen=True)
class SlurmAdapter(BaseAdapter):
    """SLURM adapter (FireWorks ``_fw_q_type: SLURM``)."""

    q_type: ClassVar[str] = "SLURM"
    template_name: ClassVar[str] = "slurm"
    limit_patterns: ClassVar[tuple[re.Pattern[str], ...]] = (
        # QOSMaxSubmitJobPerUserLimit, AssocMaxSubmitJobLimit, QOSGrpSubmitJobsLimit, ...
        re.compile(r"(?:QOS|Assoc)\w*Submit\w*Limit"),
        re.compile(r"Job violates accounting/QOS policy"),
    )

    submit_cmd: tuple[str, ...] = ("sbatch",)
    status_cmd: tuple[str, ...] = ("squeue",)
    cancel_cmd: tuple[str, ...] = ("scancel",)
    history_cmd: tuple[str, ...] = ("sacct",)

    def job_id_from(self, stdout: str) -> str | None:
        """The id from "Submitted batch job N" (or a ``--parsable`` answer)."""
        match = _SUBMITTED.search(stdout) or _PARSABLE.search(stdout)
        return match.group(1) if match else None

    def count_command(self, user: str, queue: str | None = None) -> list[str]:
        """``squeue --noheader --user=U [--partition=Q] --format=%i|%T``."""
        argv = [*self.status_cmd, "--noheader", f"--user={user}", f"--format={_ROW_FORMAT}"]
        return argv if queue is None else [*argv, f"--partition={queue}"]

    def parse_count(self, result: CommandResult, queue: str | None = None) -> int:
        """Rows that are not finished (squeue keeps finished jobs for MinJobAge)."""
        if result.returncode != 0:
            raise command_failed(result, "SLURM job count")
        finished = {JobState.DONE, JobState.FAILED}
        return sum(1 for _, state in _rows(result.stdout) if state not in finished)

    def status_command(self, job_ids: Sequence[str]) -> list[str]:
        """``squeue --noheader --states=all --jobs=A,B --format=%i|%T``."""
        ids = ",".join(check_job_ids(job_ids))
        return [
            *self.status_cmd,
            "--noheader",
            "--states=all",
            f"--jobs={ids}",
            f"--format={_ROW_FORMAT}",
        ]

    def history_command(self, job_ids: Sequence[str]) -> list[str] | None:
        """``sacct``, for jobs squeue has already forgotten (older than MinJobAge)."""
        ids = ",".join(check_job_ids(job_ids))
        return [
            *self.history_cmd,
            "--noheader",
            "--allocations",
            "--parsable2",
            f"--jobs={ids}",
            "--format=JobID,State",
        ]

    def parse_status(self, result: CommandResult, job_ids: Sequence[str]) -> dict[str, JobState]:
        """States from squeue or sacct rows; squeue refuses a list made only of unknown ids."""
        if result.returncode != 0 and _INVALID_ID not in result.stderr:
            raise command_failed(result, "SLURM job status")
        return collect_states(_rows(result.stdout), job_ids)


def _rows(stdout: str) -> list[tuple[str, JobState]]:
    rows = []
    for line in stdout.splitlines():
        job_id, sep, state = line.strip().partition("|")
        if sep:
            # sacct: "CANCELLED by 1000"; squeue may append "+" to a state it abbreviates.
            word = state.split(" ", 1)[0].rstrip("+")
            rows.append((job_id, _STATES.get(word, JobState.UNKNOWN)))
    return rows
