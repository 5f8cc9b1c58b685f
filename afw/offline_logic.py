"""Pure logic of offline recovery: what a launch dir's status does to a launch and its workflow.

``recover_offline`` (:mod:`afw.recovery`) reads launch dirs into
:class:`~afw.fs.status.OfflineStatus` objects; the functions here apply one status to a loaded
launch or workflow, inside the store's atomic update. Unlike FireWorks (behaviour file §5.6) they
keep the true start and end times from the files, never move a heartbeat backwards nor replace a
checkpoint with an older one, and carry the last checkpoint into a FIZZLED entry.

Every step is idempotent: a launch that is already COMPLETED or FIZZLED is never touched again,
so a sweep killed half-way and run again, or two sweeps racing, apply each action exactly once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from afw.action import FWAction
from afw.fs.status import OfflineStatus
from afw.launch import Launch
from afw.timeutil import parse_iso, to_iso
from afw.wflogic import refresh
from afw.workflow import Workflow

__all__ = [
    "DONE_STATES",
    "Kind",
    "Outcome",
    "apply_offline_status",
    "apply_to_launch",
    "check_status",
]

DONE_STATES: Final = ("COMPLETED", "FIZZLED")

Kind = Literal["completed", "fizzled", "running", "queued", "already_done", "not_current"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What applying a status did.

    ``kind`` is ``completed``/``fizzled`` (finished now), ``running`` (started; maybe a new
    heartbeat or checkpoint), ``queued`` (not started yet), ``already_done`` (the store had the
    final state already; ``state`` says which) or ``not_current`` (no Firework lists the launch
    any more: it was rerun or its reservation cancelled). ``changed`` is whether the launch changed.
    """

    kind: Kind
    changed: bool
    state: str | None = None

    @property
    def final(self) -> bool:
        """Whether the run is over for recovery's purposes (its offline record is closed)."""
        return self.kind in ("completed", "fizzled", "already_done")


def _iso(value: str) -> str:
    return to_iso(parse_iso(value))


def check_status(status: OfflineStatus) -> str | None:
    """Why a (readable) status cannot be applied, or ``None``: bad state or unparsable times."""
    if status.finished and status.state not in DONE_STATES:
        return f"{status.path}: final state {status.state!r} is not COMPLETED or FIZZLED"
    for name in ("started_on", "ping_time", "completed_on"):
        value = getattr(status, name)
        if value is None:
            continue
        try:
            parse_iso(value)
        except ValueError:
            return f"{status.path}: {name} {value!r} is not an ISO-8601 time"
    if status.finished:
        try:
            FWAction.from_dict(status.action)
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            return f"{status.path}: the final action is malformed ({exc})"
    return None


def _newer_checkpoint(new: dict[str, Any], old: Any) -> bool:
    """A checkpoint replaces the stored one unless it is the same or for an earlier task."""
    if new == old:
        return False
    if not isinstance(old, dict):
        return True
    new_n, old_n = new.get("_task_n"), old.get("_task_n")
    if isinstance(new_n, int) and isinstance(old_n, int):
        return new_n >= old_n
    return True


def _heartbeat(launch: Launch, ping_time: str | None, checkpoint: dict[str, Any] | None) -> bool:
    """Record a ping and checkpoint on the last history entry; never backwards."""
    last = launch.state_history[-1]
    stamp = last.get("updated_on") or last.get("created_on")
    when = None
    if ping_time is not None and (stamp is None or parse_iso(ping_time) > parse_iso(str(stamp))):
        when = _iso(ping_time)
    new_checkpoint = (
        checkpoint if checkpoint and _newer_checkpoint(checkpoint, last.get("checkpoint")) else None
    )
    if when is None and new_checkpoint is None:
        return False
    launch.touch(when or str(stamp), new_checkpoint)
    return True


def apply_to_launch(launch: Launch, status: OfflineStatus, now: str) -> Outcome:
    """Apply ``status`` to one launch object (no workflow). ``now`` stands in for missing times.

    The status must have passed :func:`check_status`.
    """
    if launch.state in DONE_STATES:
        return Outcome("already_done", False, launch.state)
    if not status.started and not status.finished:
        return Outcome("queued", False)
    changed = False
    if launch.state != "RUNNING":
        start = status.started_on or status.completed_on or now
        launch.set_state("RUNNING", when=_iso(start))
        changed = True
    changed = _heartbeat(launch, status.ping_time, status.checkpoint) or changed
    if not status.finished:
        return Outcome("running", changed)
    state = str(status.state)
    launch.action = FWAction.from_dict(status.action).to_dict()
    launch.set_state(state, when=_iso(status.completed_on or now))
    return Outcome("completed" if state == "COMPLETED" else "fizzled", True, state)


def apply_offline_status(
    wf: Workflow, fw_ids: Sequence[int], launch_id: int, status: OfflineStatus, now: str
) -> Outcome:
    """Apply ``status`` to launch ``launch_id`` of the Fireworks ``fw_ids`` and refresh them.

    Each holder has its own copy of the launch (duplicate Fireworks share launches), so each is
    updated the same way. A finished run's action is applied by :func:`afw.wflogic.refresh`,
    which also makes the children READY.
    """
    wf.need(fw_ids)
    holders = [
        (fw_id, launch)
        for fw_id in fw_ids
        for launch in wf.fws[fw_id].launches
        if launch.launch_id == launch_id
    ]
    if not holders:
        return Outcome("not_current", False)
    outcome = Outcome("not_current", False)
    for _, launch in holders:
        outcome = apply_to_launch(launch, status, now)
        if outcome.changed:
            wf.mark_launch(launch)
    if outcome.changed:
        for fw_id, _ in holders:
            refresh(wf, fw_id)
    return outcome
