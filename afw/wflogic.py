"""Pure workflow logic with FireWorks 2.x semantics: refresh, actions, reruns, workflow state.

Every function works on an in-memory :class:`~afw.workflow.Workflow` (a loaded copy), records what
it changed on that object (``touched_fws``, ``touched_launches``, ``new_fw_ids``,
``links_changed``) and never performs I/O. The store turns those records into one write.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

from afw.dictmod import apply_mods
from afw.firework import Firework
from afw.launch import Launch
from afw.states import STATE_RANKS
from afw.workflow import Workflow

__all__ = [
    "append_wf",
    "apply_action",
    "refresh",
    "representative_launch",
    "rerun_fw",
    "set_fw_state",
    "topological",
    "workflow_state",
]

_DONE_FOR_CHILDREN = ("COMPLETED", "FIZZLED")


def representative_launch(fw: Firework) -> Launch | None:
    """The launch of highest rank; ties go to the first in list order (as FireWorks)."""
    best: Launch | None = None
    for launch in fw.launches:
        if best is None or STATE_RANKS[launch.state] > STATE_RANKS[best.state]:
            best = launch
    return best


def set_fw_state(wf: Workflow, fw: Firework, state: str) -> None:
    """Set a Firework's state and record the change."""
    fw.set_state(state)
    wf.mark(fw)


def _parents_done(wf: Workflow, fw: Firework) -> bool:
    allowed = _DONE_FOR_CHILDREN if fw.spec.get("_allow_fizzled_parents") else ("COMPLETED",)
    return all(wf.fw_states[p] in allowed for p in wf.parent_links.get(fw.fw_id, []))


def _note_fizzled_parents(wf: Workflow, fw: Firework) -> None:
    if not fw.spec.get("_allow_fizzled_parents") or "_fizzled_parents" in fw.spec:
        return
    fizzled = [p for p in wf.parent_links.get(fw.fw_id, []) if wf.fw_states[p] == "FIZZLED"]
    if fizzled:
        wf.need(fizzled)
        # A snapshot (FireWorks serializes it), not a live view of the parents' spec/launches.
        fw.spec["_fizzled_parents"] = [copy.deepcopy(wf.fws[p].to_dict()) for p in fizzled]
        wf.mark(fw)


def refresh(wf: Workflow, fw_id: int) -> None:
    """Recompute one Firework's state from its parents and launches (FireWorks ``refresh``).

    On a change to COMPLETED the representative launch's action is applied; on COMPLETED or
    FIZZLED the children are refreshed in turn.
    """
    fw = wf.fw(fw_id)
    if fw.state in ("DEFUSED", "ARCHIVED", "PAUSED"):
        wf.fw_states[fw_id] = fw.state
        return
    previous = fw.state
    action: dict[str, Any] | None = None
    if not _parents_done(wf, fw):
        new_state = "WAITING"
    else:
        launch = representative_launch(fw)
        new_state = launch.state if launch else "READY"
        action = launch.action if launch and launch.state == "COMPLETED" else None
        _note_fizzled_parents(wf, fw)
    wf.fw_states[fw_id] = new_state
    if new_state == previous:
        return
    set_fw_state(wf, fw, new_state)
    if new_state == "COMPLETED":
        apply_action(wf, fw_id, action or {})
    if new_state in _DONE_FOR_CHILDREN:
        for child in list(wf.links.get(fw_id, [])):
            refresh(wf, child)


def _targets(wf: Workflow, fw_id: int, propagate: bool) -> list[int]:
    return wf.descendants(fw_id) if propagate else list(wf.links.get(fw_id, []))


def apply_action(wf: Workflow, fw_id: int, action: Mapping[str, Any]) -> None:
    """Apply an FWAction dict in FireWorks' order: spec changes, defuses, detours, appends,
    additions (so Fireworks added by this action do not receive its spec changes)."""
    update_spec = action.get("update_spec") or {}
    mod_spec = action.get("mod_spec") or []
    if update_spec or mod_spec:
        targets = _targets(wf, fw_id, bool(action.get("propagate")))
        wf.need(targets)
        for child_id in targets:
            child = wf.fws[child_id]
            child.spec.update(copy.deepcopy(update_spec))  # no aliasing between children
            apply_mods(mod_spec, child.spec)
            wf.mark(child)
    if action.get("defuse_children"):
        children = list(wf.links.get(fw_id, []))
        wf.need(children)
        for child_id in children:
            set_fw_state(wf, wf.fws[child_id], "DEFUSED")
    if action.get("defuse_workflow"):
        live = [i for i, s in wf.fw_states.items() if s not in ("FIZZLED", "COMPLETED")]
        wf.need(live)
        for other in live:
            set_fw_state(wf, wf.fws[other], "DEFUSED")
    for detour in action.get("detours") or []:
        append_wf(wf, Workflow.from_dict(detour), [fw_id], detour=True, pull_spec_mods=False)
    for entry in action.get("append_wfs") or []:
        parents = [fw_id, *[int(p) for p in entry.get("parents") or [] if int(p) != fw_id]]
        new_wf = Workflow.from_dict(entry["workflow"])
        append_wf(wf, new_wf, parents, detour=bool(entry.get("detour")), pull_spec_mods=True)
    for addition in action.get("additions") or []:
        append_wf(wf, Workflow.from_dict(addition), [fw_id], detour=False, pull_spec_mods=False)


def _fresh_ids(wf: Workflow, new_wf: Workflow) -> dict[int, int]:
    """Temporary negative ids for added Fireworks; the store swaps in real ids on write."""
    lowest = min([0, *wf.links])
    return {old: lowest - n for n, old in enumerate(sorted(new_wf.links), start=1)}


def append_wf(
    wf: Workflow,
    new_wf: Workflow,
    parent_ids: Iterable[int],
    *,
    detour: bool,
    pull_spec_mods: bool,
) -> list[int]:
    """Append ``new_wf`` below ``parent_ids`` (FireWorks ``append_wf``); returns the new ids.

    With ``detour`` the parents' current children are also linked below the new workflow's
    leaves (the parents keep their links, as in FireWorks); that is refused when any of those
    children has already started. Fireworks added earlier in the same operation (FireWorks: still
    negative ids) are neither checked nor inherited, so one action can carry several detours.
    """
    parents = list(parent_ids)
    for parent in parents:
        if parent not in wf.links:
            raise ValueError(f"cannot append below Firework {parent}: not in the workflow")
    added = set(wf.new_fw_ids)
    old_children = (
        sorted({c for p in parents for c in wf.links[p] if c not in added}) if detour else []
    )
    for child in old_children:
        if STATE_RANKS[wf.fw_states[child]] > STATE_RANKS["WAITING"]:
            raise ValueError(f"cannot insert a detour: child Firework {child} has already started")
    ids = _fresh_ids(wf, new_wf)
    new_roots = [ids[r] for r in new_wf.root_fw_ids]
    new_leaves = [ids[leaf] for leaf in new_wf.leaf_fw_ids]
    for old_id, fw in new_wf.fws.items():
        fw.fw_id = ids[old_id]
        fw.launches, fw.archived_launch_ids = [], []
        fw.state = "WAITING"
        wf.fws[fw.fw_id] = fw
        wf.links[fw.fw_id] = [ids[c] for c in new_wf.links[old_id]]
        wf.new_fw_ids.append(fw.fw_id)
        wf.mark(fw)
    for parent in parents:
        wf.links[parent] = wf.links[parent] + new_roots
    for leaf in new_leaves:
        wf.links[leaf] = wf.links[leaf] + old_children
    wf.invalidate_graph()
    if pull_spec_mods:
        _pull_parent_actions(wf, parents, new_roots)
    for fw_id in topological(wf, [*ids.values(), *old_children]):
        refresh(wf, fw_id)
    return list(ids.values())


def _pull_parent_actions(wf: Workflow, parents: list[int], roots: list[int]) -> None:
    done = [p for p in parents if wf.fw_states[p] == "COMPLETED"]
    wf.need(done)
    for parent in done:
        launch = representative_launch(wf.fws[parent])
        action = (launch.action if launch else None) or {}
        for root in roots:
            spec = wf.fws[root].spec
            spec.update(copy.deepcopy(action.get("update_spec") or {}))
            apply_mods(action.get("mod_spec") or [], spec)


def topological(wf: Workflow, fw_ids: Iterable[int]) -> list[int]:
    """``fw_ids`` parents first, counting only links among them: in waves, each wave the ids
    whose parents in the set are all in earlier waves, in id order within a wave."""
    wanted = set(fw_ids)
    waiting = {i: sum(p in wanted for p in wf.parent_links.get(i, [])) for i in wanted}
    wave = sorted(i for i, n in waiting.items() if n == 0)
    order: list[int] = []
    while wave:
        order.extend(wave)
        following: list[int] = []
        for fw_id in wave:
            for child in wf.links.get(fw_id, []):
                if child in waiting:
                    waiting[child] -= 1
                    if waiting[child] == 0:
                        following.append(child)
        wave = sorted(following)
    return order


def rerun_fw(wf: Workflow, fw_id: int) -> list[int]:
    """Archive a Firework's launches, reset it (READY or WAITING) and rerun every descendant
    that is not WAITING. Dynamic actions of earlier runs are not undone. Returns the rerun ids."""
    fw = wf.fw(fw_id)
    fw.archive_launches()
    wf.mark(fw)
    rerun = [fw_id]
    refresh(wf, fw_id)
    for child in list(wf.links.get(fw_id, [])):
        if wf.fw_states[child] != "WAITING":
            rerun.extend(rerun_fw(wf, child))
    return rerun


def workflow_state(wf: Workflow) -> str:
    """The workflow state by FireWorks' precedence table (first match wins)."""
    states = wf.fw_states
    leaves = wf.leaf_fw_ids
    if leaves and all(states[leaf] == "COMPLETED" for leaf in leaves):
        return "COMPLETED"
    values = set(states.values())
    if values == {"ARCHIVED"}:
        return "ARCHIVED"
    for state in ("DEFUSED", "PAUSED"):
        if state in values:
            return state
    if "FIZZLED" in values:
        return "FIZZLED" if _fizzle_blocks(wf) else "RUNNING"
    if values & {"COMPLETED", "RUNNING"}:
        return "RUNNING"
    if "RESERVED" in values:
        return "RESERVED"
    return "READY"


def _fizzle_blocks(wf: Workflow) -> bool:
    fizzled = [i for i, s in wf.fw_states.items() if s == "FIZZLED"]
    children = {c for f in fizzled for c in wf.links.get(f, [])}
    if any(not wf.links.get(f) for f in fizzled):
        return True
    wf.need(children)
    return any(not wf.fws[c].spec.get("_allow_fizzled_parents") for c in children)
