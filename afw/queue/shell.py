"""``shell``: run the submission script as a detached local (or SSH-side) background process.

The job id is the process id. A job is RUNNING while its process is alive and DONE once it is
gone; whether the Firework inside succeeded is for the launch-dir files to say. Useful on
workstations and in tests, where no batch scheduler exists.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from afw.errors import QueueError
from afw.queue.adapter import CommandResult, JobState
from afw.queue.base import BaseAdapter, command_failed

__all__ = ["ShellAdapter"]

# setsid gives the job its own session, so it survives the caller and can be cancelled as a
# process group; nohup is the fallback where setsid is missing (macOS). Output is the script's
# business (the template redirects it), stdin is closed. $1 is the script, the rest the shell.
_DETACH = (
    "script=$1; shift; "
    "if command -v setsid >/dev/null 2>&1; then "
    'setsid "$@" "$script" </dev/null >/dev/null 2>&1 & '
    'else nohup "$@" "$script" </dev/null >/dev/null 2>&1 & fi; '
    'echo "$!"'
)
# Signal the job's process group (its children too); a job started without setsid has none.
# No "--" before the negative pid: dash's kill does not accept it.
_KILL = 'rc=0; for p; do kill -TERM "-$p" 2>/dev/null || kill -TERM "$p" || rc=1; done; exit $rc'
_PID_LINE = re.compile(r"^\s*(\d+)\s*$", re.MULTILINE)


@dataclass(frozen=True)
class ShellAdapter(BaseAdapter):
    """Local background-process adapter (``_fw_q_type: shell``).

    ``script_name`` identifies afw's jobs among a user's processes when counting them.
    """

    q_type: ClassVar[str] = "shell"
    template_name: ClassVar[str] = "shell"

    submit_cmd: tuple[str, ...] = ("bash",)
    status_cmd: tuple[str, ...] = ("ps",)
    cancel_cmd: tuple[str, ...] = ("sh",)
    script_name: str = "FW_submit.script"

    def submit_command(self, script_path: str) -> list[str]:
        """``sh -c '<detach> bash script; echo $!'``: returns as soon as the job started."""
        return ["sh", "-c", _DETACH, "sh", script_path, *self.submit_cmd]

    def job_id_from(self, stdout: str) -> str | None:
        """The pid echoed by the submit command."""
        match = _PID_LINE.search(stdout)
        return match.group(1) if match else None

    def count_command(self, user: str, queue: str | None = None) -> list[str]:
        """``ps -u <user> -o args=``; queues do not exist here."""
        return [*self.status_cmd, "-u", user, "-o", "args="]

    def parse_count(self, result: CommandResult, queue: str | None = None) -> int:
        """Processes running ``<submit_cmd> .../<script_name>``."""
        if result.returncode != 0 and result.stderr.strip():
            raise command_failed(result, "shell job count")
        program = posixpath.basename(self.submit_cmd[0])
        count = 0
        for line in result.stdout.splitlines():
            words = line.split()
            if (
                len(words) >= 2
                and posixpath.basename(words[0]) == program
                and posixpath.basename(words[-1]) == self.script_name
            ):
                count += 1
        return count

    def status_command(self, job_ids: Sequence[str]) -> list[str]:
        """``ps -o pid=,stat= -p <pid,...>``."""
        return [*self.status_cmd, "-o", "pid=,stat=", "-p", ",".join(_pids(job_ids))]

    def parse_status(self, result: CommandResult, job_ids: Sequence[str]) -> dict[str, JobState]:
        """RUNNING for live processes, DONE for the rest (zombies included)."""
        # ps exits 1 with no output when none of the pids exists: that is an answer, not a failure.
        if result.returncode != 0 and result.stderr.strip():
            raise command_failed(result, "shell job status")
        alive = set()
        for line in result.stdout.splitlines():
            fields = line.split()
            if len(fields) >= 2 and fields[0].isdigit() and not fields[1].startswith("Z"):
                alive.add(int(fields[0]))
        return {j: JobState.RUNNING if int(j) in alive else JobState.DONE for j in _pids(job_ids)}

    def cancel_command(self, job_ids: Sequence[str]) -> list[str]:
        """SIGTERM to each job's process group (or to the process itself)."""
        return [*self.cancel_cmd, "-c", _KILL, "sh", *_pids(job_ids)]


def _pids(job_ids: Sequence[str]) -> list[str]:
    # A pid of 0, 1 or a negative number would make kill signal far more than one job.
    ids = list(job_ids)
    for job_id in ids:
        if not (
            isinstance(job_id, str) and job_id.isascii() and job_id.isdigit() and int(job_id) > 1
        ):
            raise QueueError(f"invalid shell job id {job_id!r} (a process id is expected)")
    return ids
