"""Pure rerun logic behind ``LaunchPad.rerun_fws`` (FireWorks' ``rerun_fw``, task-level included).

Runs inside a store's atomic ``update_workflow`` on a loaded workflow and performs no I/O.
For the selected Fireworks, first (so that one selected Firework rerun as a descendant of
another keeps its own recovery):

* ``task_level``: ``spec._recovery`` is rebuilt from the last launch's checkpoint (``_task_n``,
  ``_all_stored_data``, ``_all_update_spec``, ``_all_mod_spec``, ``_cwd``) plus ``_prev_dir``,
  ``_launch_id`` and ``_mode`` (``None``, ``"cp"`` or ``"prev_dir"``; ``"prev_dir"`` also pins
  ``spec._launch_dir`` to the previous launch dir);
* ``clear_recovery``: ``spec._recovery`` is removed, with a ``_launch_dir`` that it pinned;
* otherwise ``spec._recovery`` is kept: later plain reruns keep restarting at task level (the
  user documentation's rule; FireWorks 2.1 removes it instead).

Then each selected Firework's launches are archived, it goes back to READY or WAITING, and every
non-WAITING descendant is rerun too (:func:`afw.wflogic.rerun_fw`); ``clear_recovery`` applies to
those descendants as well. Dynamic actions of the archived launches (added Fireworks, spec
changes pushed to children) are not undone; :class:`RerunReport` names the Fireworks that took
them, so the caller can say so.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from afw.errors import ConfigError, StateError
from afw.firework import Firework
from afw.launch import Launch
from afw.wflogic import rerun_fw
from afw.workflow import Workflow

__all__ = [
    "RECOVER_MODES",
    "RerunReport",
    "build_recovery",
    "check_recover_mode",
    "has_checkpoint",
    "rerun_closure",
    "rerun_many",
]

RECOVER_MODES = (None, "cp", "prev_dir")
"""``_mode`` of a task-level recovery: run in a new dir, in a copy of the old one, or in it."""

# Where a ``prev_dir`` recovery keeps the ``spec._launch_dir`` it replaced (absent: none was set).
_PIN_KEY = "_launch_dir_before"
_UNSET = "__unset__"
_ADDS_FIREWORKS = ("additions", "detours", "append_wfs")
_CHANGES_CHILDREN = ("update_spec", "mod_spec")


@dataclass
class RerunReport:
    """What a rerun did (or, for a dry run, would do).

    ``rerun``: every Firework reset, selected ones and descendants, in order. ``dynamic``: those
    whose archived launches had added Fireworks or changed their children's specs, which the
    rerun does not undo. ``skipped``: selected Fireworks left alone (WAITING, DEFUSED or
    ARCHIVED).
    """

    rerun: list[int] = field(default_factory=list)
    dynamic: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)

    def merge(self, other: RerunReport) -> None:
        for mine, theirs in (
            (self.rerun, other.rerun),
            (self.dynamic, other.dynamic),
            (self.skipped, other.skipped),
        ):
            _extend_unique(mine, theirs)


def _extend_unique(target: list[int], items: Iterable[int]) -> None:
    seen = set(target)
    for item in items:
        if item not in seen:
            seen.add(item)
            target.append(item)


def check_recover_mode(mode: str | None) -> None:
    if mode not in RECOVER_MODES:
        raise ConfigError(f"recover_mode must be None, 'cp' or 'prev_dir', not {mode!r}")


def _recovery_launch(fw: Firework, launch_id: int | None) -> Launch | None:
    if launch_id is None:
        return fw.launches[-1] if fw.launches else None
    return next((la for la in fw.launches if la.launch_id == launch_id), None)


def has_checkpoint(fw: Firework, launch_id: int | None = None) -> bool:
    """Whether a task-level rerun of ``fw`` can resume (its launch recorded a checkpoint)."""
    launch = _recovery_launch(fw, launch_id)
    return launch is not None and launch.checkpoint is not None


def build_recovery(fw: Firework, mode: str | None, launch_id: int | None = None) -> dict[str, Any]:
    """The ``_recovery`` spec entry from a current launch's last checkpoint (the last launch
    unless ``launch_id`` names another)."""
    check_recover_mode(mode)
    launch = _recovery_launch(fw, launch_id)
    if launch is None:
        which = "no launch" if launch_id is None else f"no current launch {launch_id}"
        raise StateError(f"Firework {fw.fw_id} has {which} to recover from", fw_id=fw.fw_id)
    checkpoint = launch.checkpoint
    if checkpoint is None:
        raise StateError(
            f"No recovery info found in launch {launch.launch_id} of Firework {fw.fw_id}",
            fw_id=fw.fw_id,
            launch_id=launch.launch_id,
        )
    recovery = dict(checkpoint)
    recovery.update(_prev_dir=launch.launch_dir, _launch_id=launch.launch_id, _mode=mode)
    return recovery


def _unpin_launch_dir(fw: Firework, old: Any) -> None:
    """Undo the ``_launch_dir`` a ``prev_dir`` recovery set (FireWorks never does)."""
    if not isinstance(old, dict) or _PIN_KEY not in old:
        return
    if fw.spec.get("_launch_dir") != old.get("_prev_dir"):
        return  # changed since: the user's value now
    before = old[_PIN_KEY]
    if before == _UNSET:
        fw.spec.pop("_launch_dir", None)
    else:
        fw.spec["_launch_dir"] = before


def _set_recovery(wf: Workflow, fw: Firework, recovery: dict[str, Any]) -> None:
    _unpin_launch_dir(fw, fw.spec.get("_recovery"))
    prev_dir = recovery["_prev_dir"]
    if recovery["_mode"] == "prev_dir" and fw.spec.get("_launch_dir") != prev_dir:
        recovery[_PIN_KEY] = fw.spec.get("_launch_dir", _UNSET)
        fw.spec["_launch_dir"] = prev_dir
    fw.spec["_recovery"] = recovery
    fw.touch()
    wf.mark(fw)


def _clear_recovery(wf: Workflow, fw: Firework) -> None:
    if "_recovery" not in fw.spec:
        return
    _unpin_launch_dir(fw, fw.spec.pop("_recovery"))
    fw.touch()
    wf.mark(fw)


def rerun_closure(wf: Workflow, fw_id: int) -> list[int]:
    """The Fireworks :func:`afw.wflogic.rerun_fw` resets for ``fw_id`` (itself and every
    descendant reached through non-WAITING children), from the workflow's states alone: no
    Firework needs loading."""
    out, seen, stack = [], {fw_id}, [fw_id]
    while stack:
        current = stack.pop()
        out.append(current)
        for child in reversed(wf.links.get(current, [])):
            if child not in seen and wf.fw_states[child] != "WAITING":
                seen.add(child)
                stack.append(child)
    return out


def _took_dynamic_actions(wf: Workflow, fw_id: int) -> bool:
    has_children = bool(wf.links.get(fw_id))
    for launch in wf.fws[fw_id].launches:
        action = launch.action or {}
        if launch.state != "COMPLETED":
            continue  # only a COMPLETED launch's action was applied
        if any(action.get(k) for k in _ADDS_FIREWORKS):
            return True
        if has_children and any(action.get(k) for k in _CHANGES_CHILDREN):
            return True
    return False


def _skip(fw: Firework, task_level: bool) -> bool:
    if fw.state in ("ARCHIVED", "DEFUSED"):
        return True
    return fw.state == "WAITING" and not task_level


def rerun_many(
    wf: Workflow,
    fw_ids: Sequence[int],
    *,
    task_level: bool = False,
    recover_mode: str | None = None,
    clear_recovery: bool = False,
    recover_launch: int | None = None,
) -> RerunReport:
    """Rerun several Fireworks of one workflow in one pass (see the module docstring)."""
    check_recover_mode(recover_mode)
    wf.need(fw_ids)
    for fw_id in fw_ids:
        fw = wf.fw(fw_id)
        if task_level:
            _set_recovery(wf, fw, build_recovery(fw, recover_mode, recover_launch))
        elif clear_recovery:
            _clear_recovery(wf, fw)
    report = RerunReport()
    done: set[int] = set()
    for fw_id in fw_ids:
        if fw_id in done:
            continue
        if _skip(wf.fw(fw_id), task_level):
            report.skipped.append(fw_id)
            continue
        closure = rerun_closure(wf, fw_id)
        wf.need(closure)
        _extend_unique(report.dynamic, (i for i in closure if _took_dynamic_actions(wf, i)))
        rerun = rerun_fw(wf, fw_id)
        if clear_recovery:
            for i in rerun:
                _clear_recovery(wf, wf.fws[i])
        _extend_unique(report.rerun, rerun)
        done.update(rerun)
    return report
