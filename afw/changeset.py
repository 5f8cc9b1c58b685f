"""Turning a workflow touched by the pure logic into a change set a store can write."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from afw.firework import Firework
from afw.launch import Launch
from afw.timeutil import now_iso
from afw.wflogic import workflow_state
from afw.workflow import Workflow

__all__ = ["ChangeSet", "assign_ids", "id_order", "make_change_set"]


@dataclass
class ChangeSet:
    """Everything one logical operation changed in one workflow."""

    workflow: Workflow
    fws: list[Firework] = field(default_factory=list)
    new_fw_ids: set[int] = field(default_factory=set)
    launches: list[Launch] = field(default_factory=list)
    links_changed: bool = False
    state_changed: bool = False
    fw_states: dict[int, str] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.fws or self.launches or self.links_changed or self.state_changed)

    def workflow_fields(self) -> dict[str, Any]:
        """The workflow document fields this change set rewrites."""
        wf = self.workflow
        out: dict[str, Any] = {"state": wf.state, "updated_on": wf.updated_on}
        if self.links_changed:
            out["links"] = {str(k): v for k, v in wf.links.items()}
            out["parent_links"] = {str(k): v for k, v in wf.parent_links.items()}
            out["nodes"] = list(wf.links)
        return out


def id_order(old_id: int) -> tuple[bool, int]:
    """Order in which new ids are handed out: positive ids ascending, then -1, -2, ..."""
    return (old_id < 0, abs(old_id))


def assign_ids(wf: Workflow, fw_ids: list[int], first_id: int) -> dict[int, int]:
    """Give ``fw_ids`` real ids ``first_id, first_id + 1, ...`` everywhere in ``wf``."""
    mapping = {old: first_id + n for n, old in enumerate(sorted(fw_ids, key=id_order))}
    if not mapping:
        return mapping
    wf.fws = {mapping.get(k, k): fw for k, fw in wf.fws.items()}
    for fw in wf.fws.values():
        fw.fw_id = mapping.get(fw.fw_id, fw.fw_id)
        for launch in fw.launches:
            launch.fw_id = fw.fw_id
    wf.links = {mapping.get(k, k): [mapping.get(c, c) for c in v] for k, v in wf.links.items()}
    wf.fw_states = {mapping.get(k, k): v for k, v in wf.fw_states.items()}
    wf.touched_fws = {mapping.get(k, k) for k in wf.touched_fws}
    wf.new_fw_ids = [mapping.get(k, k) for k in wf.new_fw_ids]
    wf.invalidate_graph()
    return mapping


def make_change_set(wf: Workflow, previous_state: str) -> ChangeSet:
    """Collect the changes recorded on ``wf`` (after ids were assigned) and its new state."""
    wf.state = workflow_state(wf)
    touched = sorted(wf.touched_fws)
    changes = ChangeSet(
        workflow=wf,
        fws=[wf.fws[i] for i in touched],
        new_fw_ids=set(wf.new_fw_ids),
        launches=list(wf.touched_launches.values()),
        links_changed=wf.links_changed,
        state_changed=wf.state != previous_state,
        fw_states={i: wf.fw_states[i] for i in touched},
    )
    if not changes.empty:
        wf.updated_on = now_iso()
    return changes
