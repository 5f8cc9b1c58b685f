"""``BaseAdapter``: what the concrete scheduler adapters share, and their parsing helpers."""

from __future__ import annotations

import abc
import dataclasses
import re
import shlex
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Self

from afw.errors import ConfigError, QueueError, QueueLimitError
from afw.queue.adapter import CommandResult, JobState
from afw.queue.template import builtin_template, render_template, sanitize_job_name

__all__ = [
    "BaseAdapter",
    "check_job_ids",
    "check_listing",
    "collect_states",
    "command_failed",
    "first_line",
]

# When several rows describe one job (array elements, PBS subjobs), the most "alive" one wins.
_STATE_RANK = {
    JobState.UNKNOWN: 0,
    JobState.DONE: 1,
    JobState.FAILED: 2,
    JobState.QUEUED: 3,
    JobState.RUNNING: 4,
}


# Job ids start with a digit everywhere (SLURM 12_3, PBS 12.server, 12[].server, LSF 12[3]);
# requiring that keeps an id from ever being read as an option by the scheduler command.
_JOB_ID = re.compile(r"[0-9][\w.\[\]+@:-]*")


@dataclass(frozen=True)
class BaseAdapter(abc.ABC):
    """Shared behaviour of the concrete adapters; each subclass sets the class variables.

    The fields are the programs run (split like a shell would, so an override may carry extra
    arguments); ``status_cmd`` also lists a user's jobs, as in FireWorks.
    """

    q_type: ClassVar[str]
    template_name: ClassVar[str]
    # Messages meaning "too many jobs right now": the caller should wait, not fail.
    limit_patterns: ClassVar[tuple[re.Pattern[str], ...]] = ()

    submit_cmd: tuple[str, ...] = ()
    status_cmd: tuple[str, ...] = ()
    cancel_cmd: tuple[str, ...] = ()

    def submit_command(self, script_path: str) -> list[str]:
        """argv submitting the script at ``script_path``: ``<submit_cmd> <script>`` by default."""
        return [*self.submit_cmd, script_path]

    @abc.abstractmethod
    def job_id_from(self, stdout: str) -> str | None:
        """Find the job id in the submit command's stdout."""

    @abc.abstractmethod
    def count_command(self, user: str, queue: str | None = None) -> list[str]:
        """argv listing the unfinished jobs of ``user`` (in ``queue`` if given)."""

    @abc.abstractmethod
    def parse_count(self, result: CommandResult, queue: str | None = None) -> int:
        """How many unfinished jobs the listing shows."""

    @abc.abstractmethod
    def status_command(self, job_ids: Sequence[str]) -> list[str]:
        """argv reporting the states of ``job_ids``."""

    @abc.abstractmethod
    def parse_status(self, result: CommandResult, job_ids: Sequence[str]) -> dict[str, JobState]:
        """The state of every id in ``job_ids``."""

    def template(self) -> str:
        """The built-in submission-script template of this scheduler."""
        return builtin_template(self.template_name)

    def render_script(
        self,
        values: Mapping[str, Any],
        *,
        template: str | None = None,
        job_name_maxlen: int = 20,
    ) -> str:
        """Render ``template`` (default: built-in) with ``values``; the job name is sanitised."""
        prepared = dict(self.prepare_values(values))
        prepared["job_name"] = sanitize_job_name(prepared.get("job_name"), job_name_maxlen)
        return render_template(self.template() if template is None else template, prepared)

    def prepare_values(self, values: Mapping[str, Any]) -> Mapping[str, Any]:
        """Hook for scheduler-specific value conversions (LSF walltime)."""
        return values

    def with_commands(self, overrides: Mapping[str, str]) -> Self:
        """A copy whose ``submit_cmd``/``status_cmd``/``cancel_cmd`` come from ``overrides``."""
        names = {f.name for f in dataclasses.fields(self) if f.name.endswith("_cmd")}
        changes: dict[str, Any] = {}
        for key, value in overrides.items():
            if key not in names:
                accepted = ", ".join(sorted(names))
                raise ConfigError(
                    f"unknown _q_commands_override key {key!r} (accepted: {accepted})"
                )
            argv = tuple(shlex.split(value)) if isinstance(value, str) else ()
            if not argv:
                raise ConfigError(f"_q_commands_override {key!r} must be a non-empty command")
            changes[key] = argv
        return dataclasses.replace(self, **changes)

    def parse_submit(self, result: CommandResult) -> str:
        """The job id of a successful submission, else QueueLimitError/QueueError."""
        job_id = self.job_id_from(result.stdout) if result.returncode == 0 else None
        if job_id is None:
            raise self.refusal(result, "submission")
        return job_id

    def history_command(self, job_ids: Sequence[str]) -> list[str] | None:
        """No accounting history by default."""
        return None

    def cancel_command(self, job_ids: Sequence[str]) -> list[str]:
        """argv cancelling ``job_ids``."""
        return [*self.cancel_cmd, *check_job_ids(job_ids)]

    def parse_cancel(self, result: CommandResult) -> None:
        """Raise QueueError if the cancel command failed."""
        if result.returncode != 0:
            raise command_failed(result, "cancel")

    def refusal(self, result: CommandResult, what: str) -> QueueError:
        """The error for a failed command: QueueLimitError if a job limit was the cause."""
        if any(p.search(result.output) for p in self.limit_patterns):
            return QueueLimitError(
                f"{self.q_type} {what} refused: job limit reached ({first_line(result)})",
                returncode=result.returncode,
                stdout=result.stdout,
                stderr=result.stderr,
            )
        return command_failed(result, f"{self.q_type} {what}")


def check_job_ids(job_ids: Iterable[str]) -> list[str]:
    """The ids as a list; QueueError if one does not look like a scheduler job id."""
    ids = list(job_ids)
    for job_id in ids:
        if not isinstance(job_id, str) or not _JOB_ID.fullmatch(job_id):
            raise QueueError(f"invalid job id {job_id!r}", job_id=job_id)
    return ids


def first_line(result: CommandResult) -> str:
    """The first non-empty line of stderr, else of stdout: the message worth showing."""
    for text in (result.stderr, result.stdout):
        for line in text.splitlines():
            if line.strip():
                return line.strip()
    return f"exit code {result.returncode}, no output"


def command_failed(result: CommandResult, what: str) -> QueueError:
    """A QueueError describing a failed command, its output attached as context."""
    return QueueError(
        f"{what} failed: {first_line(result)}",
        returncode=result.returncode,
        stdout=result.stdout,
        stderr=result.stderr,
    )


def check_listing(result: CommandResult, what: str, harmless: Callable[[str], object]) -> list[str]:
    """The non-empty lines of a listing command's stderr; QueueError if it failed for another
    reason than complaints, all ``harmless``, about ids it cannot show (LSF, PBS)."""
    complaints = [line for line in result.stderr.splitlines() if line.strip()]
    if result.returncode != 0 and not (complaints and all(harmless(c) for c in complaints)):
        raise command_failed(result, what)
    return complaints


def collect_states(
    rows: Iterable[tuple[str, JobState]], job_ids: Sequence[str]
) -> dict[str, JobState]:
    """Attribute listed rows to the requested ids; ids with no row are ``UNKNOWN``.

    A row belongs to a requested id when the ids are equal or share their leading number, which
    covers array elements (``12_3``), PBS server suffixes (``12.server``) and truncated columns.
    """
    states = dict.fromkeys(job_ids, JobState.UNKNOWN)
    by_number = {_number(j): j for j in job_ids}
    for row_id, state in rows:
        owner = row_id if row_id in states else by_number.get(_number(row_id))
        if owner is not None and _STATE_RANK[state] > _STATE_RANK[states[owner]]:
            states[owner] = state
    return states


def _number(job_id: str) -> str:
    match = re.match(r"\d+", job_id)
    return match.group() if match else job_id
