"""IBM Spectrum LSF: ``bsub`` / ``bjobs`` / ``bkill``."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from afw.queue.adapter import CommandResult, JobState
from afw.queue.base import BaseAdapter, check_job_ids, check_listing, collect_states

__all__ = ["LSFAdapter"]

_SUBMITTED = re.compile(r"Job <(\d+)> is submitted")
# bjobs reports "nothing to show" on stderr, with exit code 0 or 255 depending on the version.
_NO_JOBS = re.compile(r"No (?:unfinished |matching )?job found|Job <[^>]*> is not found")
# bsub reads #BSUB lines only from a script on its stdin; "sh -c" supplies the redirection so the
# command stays an argv list ($1 is the script, the rest is the bsub command).
_STDIN_WRAPPER = 'script=$1; shift; exec "$@" < "$script"'
_HMS = re.compile(r"^(\d+):(\d{1,2}):(\d{1,2})$")

_STATES = {
    "PEND": JobState.QUEUED,
    "PSUSP": JobState.QUEUED,
    "WAIT": JobState.QUEUED,
    "RUN": JobState.RUNNING,
    "USUSP": JobState.RUNNING,
    "SSUSP": JobState.RUNNING,
    "PROV": JobState.RUNNING,
    "DONE": JobState.DONE,
    "EXIT": JobState.FAILED,
    "ZOMBI": JobState.FAILED,
    "UNKWN": JobState.UNKNOWN,
}


@dataclass(frozen=True)
class LSFAdapter(BaseAdapter):
    """LSF adapter (FireWorks ``_fw_q_type: LoadSharingFacility``, also ``LSF``)."""

    q_type: ClassVar[str] = "LoadSharingFacility"
    template_name: ClassVar[str] = "lsf"
    limit_patterns: ClassVar[tuple[re.Pattern[str], ...]] = (
        re.compile(r"Pending job threshold reached", re.IGNORECASE),
        re.compile(r"reached the (?:\w+ )?job limit", re.IGNORECASE),
        re.compile(r"job limit (?:has been )?reached", re.IGNORECASE),
    )

    submit_cmd: tuple[str, ...] = ("bsub",)
    status_cmd: tuple[str, ...] = ("bjobs",)
    cancel_cmd: tuple[str, ...] = ("bkill",)

    def prepare_values(self, values: Mapping[str, Any]) -> Mapping[str, Any]:
        """``walltime`` HH:MM:SS becomes LSF's HH:MM (seconds rounded up)."""
        walltime = values.get("walltime")
        match = _HMS.match(str(walltime)) if walltime is not None else None
        if match is None:
            return values
        hours, minutes, seconds = (int(g) for g in match.groups())
        total = hours * 60 + minutes + (1 if seconds else 0)
        return {**values, "walltime": f"{total // 60:02d}:{total % 60:02d}"}

    def submit_command(self, script_path: str) -> list[str]:
        """``sh -c 'bsub < script'`` with the script path passed as an argument."""
        return ["sh", "-c", _STDIN_WRAPPER, "sh", script_path, *self.submit_cmd]

    def job_id_from(self, stdout: str) -> str | None:
        """The id from "Job <N> is submitted to queue <q>."."""
        match = _SUBMITTED.search(stdout)
        return match.group(1) if match else None

    def count_command(self, user: str, queue: str | None = None) -> list[str]:
        """``bjobs -u <user> -o "jobid stat queue" -noheader [-q <queue>]``."""
        argv = [*self.status_cmd, "-u", user, "-o", "jobid stat queue", "-noheader"]
        return argv if queue is None else [*argv, "-q", queue]

    def parse_count(self, result: CommandResult, queue: str | None = None) -> int:
        """Rows not yet finished."""
        check_listing(result, "LSF job count", _NO_JOBS.search)
        finished = {JobState.DONE, JobState.FAILED}
        return sum(1 for _, state in _rows(result.stdout) if state not in finished)

    def status_command(self, job_ids: Sequence[str]) -> list[str]:
        """``bjobs -a -o "jobid stat" -noheader <id>...`` (``-a``: finished jobs too)."""
        return [*self.status_cmd, "-a", "-o", "jobid stat", "-noheader", *check_job_ids(job_ids)]

    def parse_status(self, result: CommandResult, job_ids: Sequence[str]) -> dict[str, JobState]:
        """States of the requested ids; ids bjobs does not know are ``UNKNOWN``."""
        check_listing(result, "LSF job status", _NO_JOBS.search)
        return collect_states(_rows(result.stdout), job_ids)


def _rows(stdout: str) -> list[tuple[str, JobState]]:
    rows = []
    for line in stdout.splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[0][:1].isdigit():
            rows.append((fields[0], _STATES.get(fields[1], JobState.UNKNOWN)))
    return rows
