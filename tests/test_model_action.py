"""Table tests pinning the pure workflow model (reference §1, §4.1-4.2).

FWAction application order, reruns, workflow state precedence, Launch state history, the
representative launch, Workflow construction/validation, lazy loading (NeedFireworks) and id
assignment. Everything here is synchronous: the model does no I/O.
"""

from __future__ import annotations

import copy
import itertools
import json
from collections.abc import Iterable, Mapping
from typing import Any

import pytest

from afw.action import FWAction
from afw.changeset import assign_ids, id_order, make_change_set
from afw.errors import WorkflowError
from afw.firework import Firework
from afw.launch import Launch
from afw.wflogic import (
    append_wf,
    apply_action,
    refresh,
    representative_launch,
    rerun_fw,
    set_fw_state,
    workflow_state,
)
from afw.workflow import NeedFireworks, Workflow

_LAUNCH_IDS = itertools.count(1000)

# -- helpers ---------------------------------------------------------------------------------------


def make_fw(fw_id: int, name: str | None = None, **spec: Any) -> Firework:
    return Firework(spec=dict(spec), fw_id=fw_id, name=name or f"fw{fw_id}")


def build(
    links: Mapping[int, list[int]],
    specs: Mapping[int, Mapping[str, Any]] | None = None,
    extra_ids: Iterable[int] = (),
) -> Workflow:
    """A workflow whose edges go from lower to higher ids, refreshed like ``add_wf`` does."""
    ids = sorted(set(links) | {c for cs in links.values() for c in cs} | set(extra_ids))
    specs = specs or {}
    wf = Workflow.create([make_fw(i, **specs.get(i, {})) for i in ids], dict(links))
    for fw_id in ids:  # ascending ids are a topological order here
        refresh(wf, fw_id)
    return wf


def start(wf: Workflow, fw_id: int, state: str = "RUNNING") -> Launch:
    launch = Launch(launch_id=next(_LAUNCH_IDS), fw_id=fw_id, state=state)
    wf.fws[fw_id].launches.append(launch)
    refresh(wf, fw_id)
    return launch


def finish(
    wf: Workflow,
    fw_id: int,
    action: FWAction | Mapping[str, Any] | None = None,
    state: str = "COMPLETED",
) -> Launch:
    launch = wf.fws[fw_id].launches[-1]
    if action is not None:
        launch.action = action.to_dict() if isinstance(action, FWAction) else dict(action)
    launch.set_state(state)
    refresh(wf, fw_id)
    return launch


def run(
    wf: Workflow,
    fw_id: int,
    action: FWAction | Mapping[str, Any] | None = None,
    state: str = "COMPLETED",
) -> Launch:
    assert wf.fw_states[fw_id] == "READY", (fw_id, wf.fw_states)
    start(wf, fw_id)
    return finish(wf, fw_id, action, state)


def named(wf: Workflow, name: str) -> int:
    (fw_id,) = [i for i, fw in wf.fws.items() if fw.name == name]
    return fw_id


def new_fw_dict(name: str, **spec: Any) -> dict[str, Any]:
    return Firework(spec=dict(spec), name=name).to_dict()


def chain_dict(*names: str) -> dict[str, Any]:
    fws = [Firework(spec={}, name=n) for n in names]
    links = {a.fw_id: [b.fw_id] for a, b in itertools.pairwise(fws)}
    return Workflow.create(fws, links).to_dict()


def states(wf: Workflow) -> dict[int, str]:
    assert wf.fw_states == {i: fw.state for i, fw in wf.fws.items()}
    return dict(wf.fw_states)


# -- FWAction: update_spec / mod_spec --------------------------------------------------------------


def test_update_spec_is_applied_before_mod_spec() -> None:
    wf = build({1: [2]})
    run(
        wf,
        1,
        FWAction(
            update_spec={"n": 1, "xs": [0], "gone": 1},
            mod_spec=[{"_inc": {"n": 10}}, {"_push": {"xs": 1}}, {"_unset": {"gone": 1}}],
        ),
    )
    spec = wf.fws[2].spec
    assert spec["n"] == 11
    assert spec["xs"] == [0, 1]
    assert "gone" not in spec
    assert states(wf) == {1: "COMPLETED", 2: "READY"}


def test_update_spec_overwrites_existing_child_keys() -> None:
    wf = build({1: [2]}, specs={2: {"a": "old", "keep": 1}})
    run(wf, 1, FWAction(update_spec={"a": "new"}))
    assert wf.fws[2].spec["a"] == "new"
    assert wf.fws[2].spec["keep"] == 1


def test_spec_changes_are_independent_per_child_and_leave_the_action_intact() -> None:
    # Each child gets its own copy: a mod applied to one child must not leak into the other
    # child or into the stored action (reference: dict.update into each child, then the mods).
    wf = build({1: [2, 3]})
    action = FWAction(
        update_spec={"xs": [0], "d": {"k": []}},
        mod_spec=[{"_push": {"xs": 1}}, {"_push": {"d->k": "v"}}, {"_set": {"ys": []}}],
    )
    launch = run(wf, 1, action)
    for child in (2, 3):
        assert wf.fws[child].spec["xs"] == [0, 1]
        assert wf.fws[child].spec["d"] == {"k": ["v"]}
        assert wf.fws[child].spec["ys"] == []
    wf.fws[2].spec["ys"].append("only-2")
    assert wf.fws[3].spec["ys"] == []
    assert launch.action is not None
    assert launch.action["update_spec"] == {"xs": [0], "d": {"k": []}}
    assert launch.action["mod_spec"][2] == {"_set": {"ys": []}}


def test_spec_changes_reach_direct_children_only_without_propagate() -> None:
    wf = build({1: [2], 2: [3]})
    run(wf, 1, FWAction(update_spec={"u": 1}, mod_spec=[{"_push": {"log": "m"}}]))
    assert wf.fws[2].spec["u"] == 1
    assert wf.fws[2].spec["log"] == ["m"]
    assert "u" not in wf.fws[3].spec
    assert "log" not in wf.fws[3].spec
    assert "u" not in wf.fws[1].spec


def test_propagate_reaches_every_descendant_exactly_once() -> None:
    # diamond 1 -> (2, 3) -> 4 -> 5, plus an unrelated root 6 -> 7
    wf = build({1: [2, 3], 2: [4], 3: [4], 4: [5], 6: [7]})
    run(
        wf,
        1,
        FWAction(
            update_spec={"u": 1},
            mod_spec=[{"_push": {"log": "m"}}, {"_inc": {"count": 1}}],
            propagate=True,
        ),
    )
    for fw_id in (2, 3, 4, 5):
        spec = wf.fws[fw_id].spec
        assert spec["u"] == 1
        assert spec["log"] == ["m"], fw_id
        assert spec["count"] == 1, fw_id
    for fw_id in (1, 6, 7):
        assert "u" not in wf.fws[fw_id].spec
        assert "log" not in wf.fws[fw_id].spec


def test_propagate_without_spec_changes_does_nothing() -> None:
    wf = build({1: [2], 2: [3]})
    before = {i: copy.deepcopy(fw.spec) for i, fw in wf.fws.items()}
    run(wf, 1, FWAction(propagate=True))
    assert {i: fw.spec for i, fw in wf.fws.items() if i != 1} == {
        i: s for i, s in before.items() if i != 1
    }


# -- FWAction: defuses -----------------------------------------------------------------------------


def test_defuse_children_defuses_direct_children_after_the_spec_changes() -> None:
    wf = build({1: [2, 3], 2: [4]})
    run(wf, 1, FWAction(update_spec={"u": 1}, defuse_children=True))
    assert states(wf) == {1: "COMPLETED", 2: "DEFUSED", 3: "DEFUSED", 4: "WAITING"}
    assert wf.fws[2].spec["u"] == 1
    assert wf.fws[3].spec["u"] == 1
    assert workflow_state(wf) == "DEFUSED"


def test_defuse_workflow_spares_only_completed_and_fizzled() -> None:
    # roots 1 (acts), 5 (FIZZLED), 6 (COMPLETED), 7 (READY), 8 (RUNNING), 9 (PAUSED); 1 -> 2 -> 3
    wf = build({1: [2], 2: [3]}, extra_ids=[5, 6, 7, 8, 9])
    run(wf, 5, state="FIZZLED")
    run(wf, 6)
    start(wf, 8)
    set_fw_state(wf, wf.fws[9], "PAUSED")
    run(wf, 1, FWAction(defuse_workflow=True))
    assert states(wf) == {
        1: "COMPLETED",
        2: "DEFUSED",
        3: "DEFUSED",
        5: "FIZZLED",
        6: "COMPLETED",
        7: "DEFUSED",
        8: "DEFUSED",
        9: "DEFUSED",
    }


def test_defuses_come_before_detours_appends_and_additions() -> None:
    # Fireworks created by the same action are not defused (they are added afterwards).
    wf = build({1: [2]})
    run(
        wf,
        1,
        FWAction(
            defuse_workflow=True,
            defuse_children=True,
            detours=[new_fw_dict("detour")],
            append_wfs=[{"workflow": new_fw_dict("appended")}],
            additions=[new_fw_dict("added")],
        ),
    )
    assert wf.fw_states[2] == "DEFUSED"
    for name in ("detour", "appended", "added"):
        assert wf.fw_states[named(wf, name)] == "READY", name
    assert wf.links[named(wf, "detour")] == [2]


# -- FWAction: detours, append_wfs, additions ------------------------------------------------------


def test_detour_is_inserted_between_the_firework_and_its_children() -> None:
    wf = build({1: [2, 3], 2: [4]})
    run(wf, 1, FWAction(detours=[chain_dict("d1", "d2")]))
    d1, d2 = named(wf, "d1"), named(wf, "d2")
    assert d1 < 0
    assert d2 < 0
    # FireWorks keeps the parent's links and links the detour's leaves to the old children too
    assert wf.links[1] == [2, 3, d1]
    assert wf.links[d1] == [d2]
    assert sorted(wf.links[d2]) == [2, 3]
    assert sorted(wf.parent_links[2]) == sorted([1, d2])
    assert wf.links[2] == [4]
    assert states(wf)[d1] == "READY"
    assert wf.fw_states[d2] == "WAITING"
    assert wf.fw_states[2] == "WAITING"
    assert set(wf.new_fw_ids) == {d1, d2}
    # the detour finishes -> the original children become runnable
    run(wf, d1)
    run(wf, d2)
    assert wf.fw_states[2] == "READY"
    assert wf.fw_states[3] == "READY"
    assert wf.fw_states[4] == "WAITING"


def test_detour_of_a_leaf_has_no_children() -> None:
    wf = build({1: []})
    run(wf, 1, FWAction(detours=[new_fw_dict("d")]))
    d = named(wf, "d")
    assert wf.links == {1: [d], d: []}
    assert wf.fw_states[d] == "READY"
    assert workflow_state(wf) == "RUNNING"


@pytest.mark.parametrize("child_state", ["READY", "RESERVED", "RUNNING", "COMPLETED"])
def test_detour_refused_when_a_child_already_started(child_state: str) -> None:
    wf = build({1: [2, 3]})
    run(wf, 1)
    set_fw_state(wf, wf.fws[2], "WAITING")
    set_fw_state(wf, wf.fws[3], child_state)
    links_before = copy.deepcopy(wf.links)
    fws_before = set(wf.fws)
    with pytest.raises(ValueError, match="detour"):
        apply_action(wf, 1, {"detours": [new_fw_dict("d")]})
    assert wf.links == links_before
    assert set(wf.fws) == fws_before


@pytest.mark.parametrize("child_state", ["WAITING", "PAUSED", "DEFUSED", "FIZZLED", "ARCHIVED"])
def test_detour_allowed_when_children_have_not_started(child_state: str) -> None:
    wf = build({1: [2]})
    run(wf, 1)
    set_fw_state(wf, wf.fws[2], child_state)
    apply_action(wf, 1, {"detours": [new_fw_dict("d")]})
    d = named(wf, "d")
    assert wf.links[1] == [2, d]
    assert wf.links[d] == [2]


def test_detour_refusal_surfaces_from_refresh_on_completion() -> None:
    wf = build({1: [2, 3]})
    start(wf, 1)
    set_fw_state(wf, wf.fws[3], "READY")  # a child that (somehow) already started
    with pytest.raises(ValueError, match="detour"):
        finish(wf, 1, FWAction(update_spec={"u": 1}, detours=[new_fw_dict("d")]))


def test_additions_and_detours_do_not_receive_the_same_actions_spec_changes() -> None:
    wf = build({1: [2]})
    run(
        wf,
        1,
        FWAction(
            update_spec={"u": 1},
            mod_spec=[{"_push": {"log": "m"}}],
            propagate=True,
            detours=[new_fw_dict("detour", own=1)],
            additions=[chain_dict("add1", "add2")],
        ),
    )
    assert wf.fws[2].spec["u"] == 1
    assert wf.fws[2].spec["log"] == ["m"]
    for name in ("detour", "add1", "add2"):
        spec = wf.fws[named(wf, name)].spec
        assert "u" not in spec, name
        assert "log" not in spec, name
    assert wf.fws[named(wf, "detour")].spec["own"] == 1
    a1, a2 = named(wf, "add1"), named(wf, "add2")
    assert wf.links[a1] == [a2]
    assert wf.links[a2] == []
    assert wf.fw_states[a1] == "READY"
    assert wf.fw_states[a2] == "WAITING"


def test_action_order_detours_then_append_wfs_then_additions() -> None:
    wf = build({1: [2]})
    run(
        wf,
        1,
        FWAction(
            additions=[new_fw_dict("added")],
            append_wfs=[{"workflow": new_fw_dict("appended")}],
            detours=[new_fw_dict("detour")],
        ),
    )
    order = [wf.fws[i].name for i in wf.new_fw_ids]
    assert order == ["detour", "appended", "added"]
    assert [wf.fws[i].name for i in wf.links[1]] == ["fw2", "detour", "appended", "added"]
    # new ids are handed out in creation order, below every existing id
    assert wf.new_fw_ids == [-1, -2, -3]
    # the detour inherited the original child; appended/added are plain children
    assert wf.links[named(wf, "detour")] == [2]
    assert wf.links[named(wf, "appended")] == []
    assert wf.links[named(wf, "added")] == []


def test_several_detours_in_one_action_run_in_parallel() -> None:
    # FireWorks skips Fireworks added by the same action (negative ids) in the detour check and
    # when inheriting children: both detours sit between 1 and 2, side by side.
    wf = build({1: [2]})
    run(wf, 1, FWAction(detours=[new_fw_dict("d1"), chain_dict("d2", "d3")]))
    d1, d2, d3 = named(wf, "d1"), named(wf, "d2"), named(wf, "d3")
    assert wf.links[1] == [2, d1, d2]
    assert wf.links[d1] == [2]
    assert wf.links[d2] == [d3]
    assert wf.links[d3] == [2]
    assert (wf.fw_states[d1], wf.fw_states[d2], wf.fw_states[d3]) == ("READY", "READY", "WAITING")
    run(wf, d1)
    assert wf.fw_states[2] == "WAITING"
    run(wf, d2)
    run(wf, d3)
    assert wf.fw_states[2] == "READY"


def test_detour_in_a_later_operation_sees_earlier_detours_as_started_children() -> None:
    wf = build({1: [2]})
    run(wf, 1, FWAction(detours=[new_fw_dict("d1")]))
    assign_ids(wf, list(wf.new_fw_ids), 10)  # the store gives real ids on write
    wf.new_fw_ids.clear()
    with pytest.raises(ValueError, match="detour"):
        append_wf(wf, Workflow.create([Firework(spec={})]), [1], detour=True, pull_spec_mods=False)


def test_append_wfs_pulls_completed_parents_spec_changes_into_new_roots() -> None:
    # 1 acts; 5 is an extra COMPLETED parent; 6 an extra parent that is not done yet
    wf = build({1: [2]}, extra_ids=[5, 6])
    run(wf, 5, FWAction(update_spec={"from5": True}, mod_spec=[{"_push": {"log": "five"}}]))
    run(
        wf,
        1,
        FWAction(
            update_spec={"u": 1},
            mod_spec=[{"_push": {"log": "one"}}],
            append_wfs=[{"workflow": chain_dict("r", "s"), "parents": [5, 6, 1]}],
            additions=[new_fw_dict("added")],
        ),
    )
    r, s = named(wf, "r"), named(wf, "s")
    assert sorted(wf.parent_links[r]) == [1, 5, 6]
    root = wf.fws[r].spec
    assert root["u"] == 1
    assert root["from5"] is True
    assert root["log"] == ["one", "five"]  # parents in order: the acting FW first, then extras
    for name in ("s", "added"):
        spec = wf.fws[named(wf, name)].spec
        assert "u" not in spec
        assert "from5" not in spec
        assert "log" not in spec
    assert wf.fw_states[r] == "WAITING"  # 6 is not done
    assert wf.fw_states[s] == "WAITING"
    run(wf, 6)
    assert wf.fw_states[r] == "READY"
    assert wf.links[1].count(r) == 1  # the acting FW listed in parents is not linked twice


def test_append_wfs_with_detour_flag_moves_children_below() -> None:
    wf = build({1: [2]})
    run(wf, 1, FWAction(append_wfs=[{"workflow": new_fw_dict("d"), "detour": True}]))
    d = named(wf, "d")
    assert wf.links[1] == [2, d]
    assert wf.links[d] == [2]
    assert wf.fw_states[2] == "WAITING"


def test_append_wf_directly_below_a_completed_parent_pulls_its_action() -> None:
    wf = build({1: []})
    run(wf, 1, FWAction(update_spec={"u": 1}))
    new = Workflow.create([Firework(spec={}, name="late")])
    (late,) = append_wf(wf, new, [1], detour=False, pull_spec_mods=True)
    assert wf.fws[late].spec["u"] == 1
    assert wf.fw_states[late] == "READY"
    new2 = Workflow.create([Firework(spec={}, name="late2")])
    (late2,) = append_wf(wf, new2, [1], detour=False, pull_spec_mods=False)
    assert "u" not in wf.fws[late2].spec


def test_append_wf_below_unknown_parent_is_refused() -> None:
    wf = build({1: []})
    with pytest.raises(ValueError):
        append_wf(
            wf, Workflow.create([Firework(spec={})]), [99], detour=False, pull_spec_mods=False
        )


def test_appended_fireworks_are_reset_to_waiting_without_launches() -> None:
    wf = build({1: []})
    doc = new_fw_dict("x")
    doc["state"] = "COMPLETED"
    doc["launches"] = [Launch(launch_id=5, fw_id=-1, state="COMPLETED").to_dict()]
    doc["archived_launches"] = [4]
    run(wf, 1, FWAction(additions=[doc]))
    fw = wf.fws[named(wf, "x")]
    assert fw.launches == []
    assert fw.archived_launch_ids == []
    assert fw.state == "READY"


def test_completed_action_runs_once_per_transition() -> None:
    wf = build({1: [2]})
    launch = run(wf, 1, FWAction(mod_spec=[{"_push": {"log": 1}}]))
    refresh(wf, 1)
    refresh(wf, 1)
    assert wf.fws[2].spec["log"] == [1]
    assert launch.state == "COMPLETED"


# -- refresh ---------------------------------------------------------------------------------------


def test_refresh_waits_for_all_parents() -> None:
    wf = build({1: [3], 2: [3]})
    assert states(wf) == {1: "READY", 2: "READY", 3: "WAITING"}
    run(wf, 1)
    assert wf.fw_states[3] == "WAITING"
    run(wf, 2)
    assert wf.fw_states[3] == "READY"


def test_fizzled_parent_blocks_unless_allowed_and_records_fizzled_parents() -> None:
    wf = build({1: [2, 3]}, specs={3: {"_allow_fizzled_parents": True}})
    run(wf, 1, state="FIZZLED")
    assert states(wf) == {1: "FIZZLED", 2: "WAITING", 3: "READY"}
    assert "_fizzled_parents" not in wf.fws[2].spec
    (parent_doc,) = wf.fws[3].spec["_fizzled_parents"]
    assert parent_doc["fw_id"] == 1
    assert parent_doc["state"] == "FIZZLED"


@pytest.mark.parametrize("state", ["DEFUSED", "PAUSED", "ARCHIVED"])
def test_refresh_leaves_defused_paused_archived_alone(state: str) -> None:
    wf = build({1: [2]})
    run(wf, 1)
    wf.fws[2].state = state  # fw_states is stale on purpose
    refresh(wf, 2)
    assert wf.fw_states[2] == state
    assert wf.fws[2].state == state


def test_refresh_follows_the_representative_launch() -> None:
    wf = build({1: []})
    start(wf, 1)
    wf.fws[1].launches.append(Launch(launch_id=next(_LAUNCH_IDS), fw_id=1, state="FIZZLED"))
    refresh(wf, 1)
    assert wf.fw_states[1] == "RUNNING"


# -- rerun ----------------------------------------------------------------------------------------


def test_rerun_resets_target_and_non_waiting_descendants() -> None:
    wf = build({1: [2], 2: [3, 4], 4: [5]})
    run(wf, 1)
    l2 = run(wf, 2)
    l3 = run(wf, 3)
    start(wf, 4)
    assert states(wf) == {
        1: "COMPLETED",
        2: "COMPLETED",
        3: "COMPLETED",
        4: "RUNNING",
        5: "WAITING",
    }
    l4 = wf.fws[4].launches[0]
    fw1_before = copy.deepcopy(wf.fws[1].to_db_dict())
    rerun = rerun_fw(wf, 2)
    assert sorted(rerun) == [2, 3, 4]
    assert rerun[0] == 2
    assert states(wf) == {1: "COMPLETED", 2: "READY", 3: "WAITING", 4: "WAITING", 5: "WAITING"}
    assert wf.fws[2].archived_launch_ids == [l2.launch_id]
    assert wf.fws[3].archived_launch_ids == [l3.launch_id]
    assert wf.fws[4].archived_launch_ids == [l4.launch_id]
    for fw_id in (2, 3, 4):
        assert wf.fws[fw_id].launches == []
    assert wf.fws[1].to_db_dict() == fw1_before
    # the launch objects themselves keep their state
    assert (l2.state, l3.state, l4.state) == ("COMPLETED", "COMPLETED", "RUNNING")


def test_rerun_does_not_cross_waiting_children() -> None:
    # 1 -> 2 -> 3: 2 is WAITING (other parent 4 not done), so 3 is not visited even if DEFUSED
    wf = build({1: [2], 4: [2], 2: [3]})
    run(wf, 1)
    set_fw_state(wf, wf.fws[3], "DEFUSED")
    assert rerun_fw(wf, 1) == [1]
    assert wf.fw_states[3] == "DEFUSED"


def test_rerun_resets_defused_and_paused_children_too() -> None:
    wf = build({1: [2, 3]})
    run(wf, 1)
    set_fw_state(wf, wf.fws[2], "DEFUSED")
    set_fw_state(wf, wf.fws[3], "PAUSED")
    assert sorted(rerun_fw(wf, 1)) == [1, 2, 3]
    assert states(wf) == {1: "READY", 2: "WAITING", 3: "WAITING"}


def test_rerun_diamond_reruns_shared_descendant_once() -> None:
    wf = build({1: [2, 3], 2: [4], 3: [4]})
    for fw_id in (1, 2, 3, 4):
        run(wf, fw_id)
    rerun = rerun_fw(wf, 1)
    assert sorted(rerun) == [1, 2, 3, 4]
    assert len(rerun) == 4


def test_rerun_keeps_dynamic_fireworks_and_spec_edits_which_then_accumulate() -> None:
    wf = build({1: [2]})
    action = FWAction(mod_spec=[{"_push": {"log": "x"}}], additions=[new_fw_dict("added")])
    run(wf, 1, action)
    added = named(wf, "added")
    assert wf.fws[2].spec["log"] == ["x"]
    rerun_fw(wf, 1)
    assert added in wf.links
    assert wf.fw_states[added] == "WAITING"
    assert wf.fws[2].spec["log"] == ["x"]  # not undone
    run(wf, 1, action)
    assert wf.fws[2].spec["log"] == ["x", "x"]
    assert len([fw for fw in wf.fws.values() if fw.name == "added"]) == 2


def test_rerun_of_fizzled_clears_exception_details() -> None:
    wf = build({1: []}, specs={1: {"_exception_details": {"x": 1}}})
    run(wf, 1, state="FIZZLED")
    rerun_fw(wf, 1)
    assert "_exception_details" not in wf.fws[1].spec
    assert wf.fw_states[1] == "READY"


def test_rerun_archived_launch_ids_are_not_duplicated() -> None:
    wf = build({1: []})
    launch = run(wf, 1)
    wf.fws[1].archived_launch_ids.append(launch.launch_id)
    rerun_fw(wf, 1)
    assert wf.fws[1].archived_launch_ids == [launch.launch_id]


# -- FWAction object ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "skip"),
    [
        ({}, False),
        ({"exit": True}, True),
        ({"detours": [{"spec": {}, "fw_id": -1}]}, True),
        ({"additions": [{"spec": {}, "fw_id": -1}]}, True),
        ({"append_wfs": [{"workflow": {"spec": {}, "fw_id": -1}}]}, True),
        ({"defuse_children": True}, True),
        ({"defuse_workflow": True}, True),
        ({"update_spec": {"a": 1}}, False),
        ({"mod_spec": [{"_set": {"a": 1}}]}, False),
        ({"stored_data": {"a": 1}}, False),
        ({"propagate": True}, False),
        ({"update_spec": {"a": 1}, "mod_spec": [{"_set": {"a": 1}}], "propagate": True}, False),
    ],
)
def test_skip_remaining_tasks(kwargs: dict[str, Any], skip: bool) -> None:
    assert FWAction(**kwargs).skip_remaining_tasks is skip


def test_fwaction_round_trip() -> None:
    fw = Firework(spec={"k": 1}, name="obj")
    sub = Workflow.create([Firework(spec={}, name="w")], name="sub")
    action = FWAction(
        stored_data={"x": [1, {"y": 2}]},
        exit=True,
        update_spec={"u": 1},
        mod_spec=[{"_push": {"log": 1}}],
        additions=[fw, sub],
        detours=fw,
        append_wfs=[{"workflow": sub, "parents": [3], "detour": True}],
        defuse_children=True,
        defuse_workflow=True,
        propagate=True,
    )
    doc = action.to_dict()
    assert set(doc) == {
        "stored_data",
        "exit",
        "update_spec",
        "mod_spec",
        "additions",
        "detours",
        "append_wfs",
        "defuse_children",
        "defuse_workflow",
        "propagate",
    }
    assert doc["additions"][0]["name"] == "obj"
    assert "fws" in doc["additions"][1]
    assert len(doc["detours"]) == 1
    assert doc["append_wfs"] == [{"workflow": sub.to_dict(), "parents": [3], "detour": True}]
    again = FWAction.from_dict(doc)
    assert again == action
    assert again.to_dict() == doc
    via_json = FWAction.from_dict(json.loads(json.dumps(doc)))
    assert via_json == action


def test_fwaction_from_dict_defaults() -> None:
    minimal = {
        "stored_data": {},
        "exit": False,
        "update_spec": {},
        "mod_spec": [],
        "additions": [],
        "detours": [],
        "defuse_children": False,
    }
    action = FWAction.from_dict(minimal)
    assert action == FWAction()
    assert action.append_wfs == []
    assert action.defuse_workflow is False
    assert action.propagate is False
    assert FWAction.from_dict(None) == FWAction()
    assert FWAction.from_dict({}) == FWAction()
    assert FWAction.from_dict({"stored_data": None, "mod_spec": None}) == FWAction()


def test_fwaction_normalisation() -> None:
    single_mod = FWAction(mod_spec={"_set": {"a": 1}})  # type: ignore[arg-type]
    assert single_mod.mod_spec == [{"_set": {"a": 1}}]
    entry = FWAction(append_wfs=[{"workflow": {"spec": {}, "fw_id": -1}}]).append_wfs[0]
    assert entry == {"workflow": {"spec": {}, "fw_id": -1}, "parents": [], "detour": False}


# -- workflow state precedence (§1.3) --------------------------------------------------------------


def wf_in_states(
    links: Mapping[int, list[int]], fw_states: Mapping[int, str], allow: Iterable[int] = ()
) -> Workflow:
    allowed = set(allow)
    ids = sorted(fw_states)
    fws = [make_fw(i, **({"_allow_fizzled_parents": True} if i in allowed else {})) for i in ids]
    wf = Workflow.create(fws, dict(links))
    for fw_id, state in fw_states.items():
        set_fw_state(wf, wf.fws[fw_id], state)
    return wf


C, F, D, P, A = "COMPLETED", "FIZZLED", "DEFUSED", "PAUSED", "ARCHIVED"
W, R, S, U = "WAITING", "READY", "RESERVED", "RUNNING"

# (id, links, states, fws carrying _allow_fizzled_parents, expected workflow state)
STATE_ROWS: list[tuple[str, dict[int, list[int]], dict[int, str], list[int], str]] = [
    # rule 1: every leaf COMPLETED wins over everything
    ("1-single-completed", {}, {1: C}, [], "COMPLETED"),
    ("1-chain-completed", {1: [2]}, {1: C, 2: C}, [], "COMPLETED"),
    ("1-leaf-completed-others-defused", {1: [2], 3: [2]}, {1: D, 3: C, 2: C}, [], "COMPLETED"),
    ("1-leaf-completed-parent-fizzled", {1: [2]}, {1: F, 2: C}, [], "COMPLETED"),
    ("1-leaf-completed-parent-paused", {1: [2]}, {1: P, 2: C}, [], "COMPLETED"),
    ("1-leaf-completed-parent-archived", {1: [2]}, {1: A, 2: C}, [], "COMPLETED"),
    ("1-not-all-leaves", {1: [2, 3]}, {1: C, 2: C, 3: R}, [], "RUNNING"),
    # rule 2: every FW ARCHIVED
    ("2-all-archived", {1: [2]}, {1: A, 2: A}, [], "ARCHIVED"),
    ("2-single-archived", {}, {1: A}, [], "ARCHIVED"),
    ("2-not-all-archived", {1: [2]}, {1: A, 2: W}, [], "READY"),
    ("2-archived-and-defused", {1: [2]}, {1: A, 2: D}, [], "DEFUSED"),
    # rule 3: any DEFUSED
    ("3-defused", {1: [2]}, {1: C, 2: D}, [], "DEFUSED"),
    ("3-defused-over-paused", {1: [2], 3: []}, {1: D, 2: W, 3: P}, [], "DEFUSED"),
    ("3-defused-over-fizzled", {1: [2], 3: []}, {1: F, 2: W, 3: D}, [], "DEFUSED"),
    ("3-defused-over-running", {1: [2], 3: []}, {1: U, 2: W, 3: D}, [], "DEFUSED"),
    # rule 4: any PAUSED
    ("4-paused", {1: [2]}, {1: P, 2: W}, [], "PAUSED"),
    ("4-paused-over-fizzled", {1: [], 2: []}, {1: F, 2: P}, [], "PAUSED"),
    ("4-paused-over-running", {1: [], 2: []}, {1: U, 2: P}, [], "PAUSED"),
    # rule 5: any FIZZLED
    ("5-fizzled-leaf", {}, {1: F}, [], "FIZZLED"),
    ("5-fizzled-leaf-among-running", {1: [], 2: []}, {1: F, 2: U}, [], "FIZZLED"),
    ("5-fizzled-child-not-allowed", {1: [2]}, {1: F, 2: W}, [], "FIZZLED"),
    ("5-fizzled-all-children-allow", {1: [2]}, {1: F, 2: R}, [2], "RUNNING"),
    ("5-fizzled-all-children-allow-waiting", {1: [2, 3]}, {1: F, 2: W, 3: W}, [2, 3], "RUNNING"),
    ("5-fizzled-one-child-not-allowed", {1: [2, 3]}, {1: F, 2: R, 3: W}, [2], "FIZZLED"),
    (
        "5-two-fizzled-one-blocking",
        {1: [3], 2: [4]},
        {1: F, 2: F, 3: R, 4: W},
        [3],
        "FIZZLED",
    ),
    ("5-fizzled-allowed-child-fizzled-leaf", {1: [2]}, {1: F, 2: F}, [2], "FIZZLED"),
    ("5-fizzled-over-running", {1: [2], 3: []}, {1: F, 2: W, 3: U}, [], "FIZZLED"),
    ("5-fizzled-over-reserved", {1: [2], 3: []}, {1: F, 2: W, 3: S}, [], "FIZZLED"),
    # rule 6: any COMPLETED or RUNNING
    ("6-completed-non-leaf", {1: [2]}, {1: C, 2: W}, [], "RUNNING"),
    ("6-completed-and-ready", {1: [2]}, {1: C, 2: R}, [], "RUNNING"),
    ("6-running", {1: [2]}, {1: U, 2: W}, [], "RUNNING"),
    ("6-running-over-reserved", {1: [], 2: []}, {1: S, 2: U}, [], "RUNNING"),
    ("6-archived-and-completed", {1: [2]}, {1: C, 2: A}, [], "RUNNING"),
    # rule 7: any RESERVED
    ("7-reserved", {1: [2]}, {1: S, 2: W}, [], "RESERVED"),
    ("7-reserved-and-ready", {1: [], 2: []}, {1: S, 2: R}, [], "RESERVED"),
    # rule 8: otherwise READY
    ("8-ready", {1: [2]}, {1: R, 2: W}, [], "READY"),
    ("8-all-waiting", {1: [2]}, {1: W, 2: W}, [], "READY"),
    ("8-single-waiting", {}, {1: W}, [], "READY"),
]


@pytest.mark.parametrize(
    ("links", "fw_states", "allow", "expected"),
    [row[1:] for row in STATE_ROWS],
    ids=[row[0] for row in STATE_ROWS],
)
def test_workflow_state_precedence(
    links: dict[int, list[int]], fw_states: dict[int, str], allow: list[int], expected: str
) -> None:
    wf = wf_in_states(links, fw_states, allow)
    assert workflow_state(wf) == expected


def test_allow_fizzled_parents_false_counts_as_missing() -> None:
    wf = Workflow.create([make_fw(1), make_fw(2, _allow_fizzled_parents=False)], {1: [2]})
    set_fw_state(wf, wf.fws[1], "FIZZLED")
    assert workflow_state(wf) == "FIZZLED"


def test_workflow_state_from_a_real_run_with_allowed_fizzle() -> None:
    wf = build({1: [2]}, specs={2: {"_allow_fizzled_parents": True}})
    run(wf, 1, state="FIZZLED")
    assert workflow_state(wf) == "RUNNING"
    run(wf, 2)
    assert workflow_state(wf) == "COMPLETED"


# -- Launch state history (§1.4) -----------------------------------------------------------------


T0, T1, T2, T3 = (
    "2024-01-01T00:00:00.000000+00:00",
    "2024-01-01T00:00:10.000000+00:00",
    "2024-01-01T00:01:00.000000+00:00",
    "2024-01-01T00:02:30.000000+00:00",
)


@pytest.mark.parametrize(
    ("state", "has_updated_on"),
    [
        ("RUNNING", True),
        ("RESERVED", True),
        ("COMPLETED", False),
        ("FIZZLED", False),
        ("READY", False),
    ],
)
def test_history_entry_updated_on(state: str, has_updated_on: bool) -> None:
    launch = Launch(launch_id=1, fw_id=1, state="WAITING")
    launch.set_state(state, when=T1)
    entry = launch.state_history[-1]
    assert entry["state"] == state
    assert entry["created_on"] == T1
    assert ("updated_on" in entry) is has_updated_on
    if has_updated_on:
        assert entry["updated_on"] == T1


def test_new_launch_starts_its_history() -> None:
    launch = Launch(launch_id=1, fw_id=2)
    assert launch.state == "RUNNING"
    (entry,) = launch.state_history
    assert entry["state"] == "RUNNING"
    assert entry["updated_on"] == entry["created_on"]


def test_same_state_does_not_add_an_entry() -> None:
    launch = Launch(launch_id=1, fw_id=1, state="RUNNING")
    launch.set_state("RUNNING")
    assert len(launch.state_history) == 1


@pytest.mark.parametrize(
    ("final", "carried"),
    [("FIZZLED", True), ("COMPLETED", False), ("RUNNING", True), ("READY", True)],
)
def test_checkpoint_carry_over(final: str, carried: bool) -> None:
    checkpoint = {"_task_n": 1, "_all_stored_data": {"a": 1}}
    launch = Launch(launch_id=1, fw_id=1, state="RESERVED")
    launch.touch(when=T0, checkpoint=checkpoint)
    launch.set_state(final, when=T1)
    last = launch.state_history[-1]
    assert last["state"] == final
    if carried:
        assert last["checkpoint"] == checkpoint
        assert launch.checkpoint == checkpoint
    else:
        assert "checkpoint" not in last
        assert launch.checkpoint is None


def test_checkpoint_carried_from_running_into_fizzled_but_not_completed() -> None:
    checkpoint = {"_task_n": 2}
    fizzled = Launch(launch_id=1, fw_id=1)
    fizzled.touch(checkpoint=checkpoint)
    fizzled.set_state("FIZZLED")
    assert [e["state"] for e in fizzled.state_history] == ["RUNNING", "FIZZLED"]
    assert fizzled.state_history[-1]["checkpoint"] == checkpoint
    completed = Launch(launch_id=2, fw_id=1)
    completed.touch(checkpoint=checkpoint)
    completed.set_state("COMPLETED")
    assert "checkpoint" not in completed.state_history[-1]
    assert completed.state_history[0]["checkpoint"] == checkpoint


def test_touch_updates_only_the_last_entry() -> None:
    launch = Launch(launch_id=1, fw_id=1, state="RESERVED", state_history=[])
    launch.state_history[0]["created_on"] = T0
    launch.state_history[0]["updated_on"] = T0
    launch.set_state("RUNNING", when=T1)
    launch.touch(when=T2)
    assert launch.state_history[0]["updated_on"] == T0
    assert launch.state_history[1]["updated_on"] == T2
    assert launch.state_history[1]["created_on"] == T1
    assert "checkpoint" not in launch.state_history[1]
    launch.touch(when=T3, checkpoint={"_task_n": 0})
    assert launch.state_history[1]["checkpoint"] == {"_task_n": 0}
    launch.touch(when=T3)  # no checkpoint given: the previous one stays
    assert launch.state_history[1]["checkpoint"] == {"_task_n": 0}
    assert "checkpoint" not in launch.state_history[0]
    assert launch.last_pinged == T3


def test_touch_after_completion_touches_the_completed_entry() -> None:
    launch = Launch(launch_id=1, fw_id=1)
    launch.set_state("COMPLETED", when=T1)
    launch.touch(when=T2)
    assert launch.state_history[-1] == {"state": "COMPLETED", "created_on": T1, "updated_on": T2}


def test_launch_timing_fields() -> None:
    launch = Launch(launch_id=1, fw_id=1, state="RESERVED", state_history=[])
    launch.state_history[0].update(created_on=T0, updated_on=T0)
    launch.set_state("RUNNING", when=T1)
    launch.set_state("FIZZLED", when=T3)
    launch.set_state("COMPLETED", when="2024-01-01T01:00:00.000000+00:00")
    assert launch.time_reserved == T0
    assert launch.time_start == T1
    assert launch.time_end == T3  # the first COMPLETED/FIZZLED entry
    assert launch.runtime_secs == 140.0
    assert launch.reservedtime_secs == 10.0
    doc = launch.to_db_dict()
    assert doc["time_start"] == T1
    assert doc["time_end"] == T3
    assert doc["runtime_secs"] == 140.0
    assert doc["reservedtime_secs"] == 10.0


def test_launch_without_reservation_has_no_reservedtime() -> None:
    launch = Launch(launch_id=1, fw_id=1)
    assert launch.runtime_secs is None
    assert "reservedtime_secs" not in launch.to_db_dict()


@pytest.mark.parametrize("bad", ["running", "DONE", ""])
def test_invalid_launch_states(bad: str) -> None:
    with pytest.raises(ValueError):
        Launch(launch_id=1, fw_id=1, state=bad)
    launch = Launch(launch_id=1, fw_id=1)
    with pytest.raises(ValueError):
        launch.set_state(bad)
    assert launch.state == "RUNNING"
    assert len(launch.state_history) == 1


def test_launch_dict_round_trip() -> None:
    launch = Launch(launch_id=7, fw_id=3, host="h", ip="1.2.3.4", launch_dir="/x")
    launch.touch(checkpoint={"_task_n": 1})
    launch.action = FWAction(update_spec={"a": 1}).to_dict()
    launch.set_state("FIZZLED")
    doc = json.loads(json.dumps(launch.to_dict()))
    assert Launch.from_dict(doc) == launch
    assert Launch.from_dict(launch.to_db_dict()) == launch


# -- representative launch -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("launch_states", "expected_index"),
    [
        ([], None),
        (["RUNNING"], 0),
        (["FIZZLED", "COMPLETED"], 1),
        (["COMPLETED", "FIZZLED"], 0),
        (["COMPLETED", "COMPLETED"], 0),
        (["FIZZLED", "FIZZLED", "FIZZLED"], 0),
        (["RESERVED", "RUNNING", "RUNNING"], 1),
        (["FIZZLED", "RESERVED", "READY"], 1),
        (["READY", "FIZZLED"], 0),
        (["FIZZLED", "RUNNING", "COMPLETED", "COMPLETED"], 2),
    ],
)
def test_representative_launch(launch_states: list[str], expected_index: int | None) -> None:
    fw = make_fw(1)
    fw.launches = [Launch(launch_id=10 + n, fw_id=1, state=s) for n, s in enumerate(launch_states)]
    chosen = representative_launch(fw)
    if expected_index is None:
        assert chosen is None
    else:
        assert chosen is fw.launches[expected_index]


def test_refresh_applies_the_first_completed_launchs_action() -> None:
    wf = build({1: [2]})
    first = Launch(launch_id=1, fw_id=1, state="COMPLETED", action={"update_spec": {"who": 1}})
    second = Launch(launch_id=2, fw_id=1, state="COMPLETED", action={"update_spec": {"who": 2}})
    wf.fws[1].launches = [first, second]
    refresh(wf, 1)
    assert wf.fws[2].spec["who"] == 1


# -- Workflow construction -----------------------------------------------------------------------


def test_create_fills_leaves_and_states() -> None:
    wf = Workflow.create(
        [make_fw(1), make_fw(2), make_fw(3)], {1: [2]}, name="n", metadata={"m": 1}
    )
    assert wf.links == {1: [2], 2: [], 3: []}
    assert sorted(wf.root_fw_ids) == [1, 3]
    assert sorted(wf.leaf_fw_ids) == [2, 3]
    assert wf.fw_states == {1: "WAITING", 2: "WAITING", 3: "WAITING"}
    assert (wf.name, wf.metadata) == ("n", {"m": 1})


def test_create_accepts_string_keys_objects_and_scalar_children() -> None:
    a, b, c = make_fw(1), make_fw(2), make_fw(3)
    wf = Workflow.create([a, b, c], {"1": [b], 2: 3})
    assert wf.links == {1: [2], 2: [3], 3: []}


def test_create_uses_firework_parents() -> None:
    a = Firework.create([], name="a", fw_id=1)
    b = Firework.create([], name="b", fw_id=2, parents=a)
    c = Firework.create([], name="c", fw_id=3, parents=[a, b])
    wf = Workflow.create([a, b, c])
    assert wf.links == {1: [2, 3], 2: [3], 3: []}
    assert sorted(wf.parent_links[3]) == [1, 2]


@pytest.mark.parametrize(
    ("fw_ids", "links"),
    [
        pytest.param([1, 2], {1: [3]}, id="missing-child"),
        pytest.param([1, 2], {3: [1]}, id="missing-parent"),
        pytest.param([1, 2], {1: [2], 2: [1]}, id="cycle-2"),
        pytest.param([1, 2, 3], {1: [2], 2: [3], 3: [1]}, id="cycle-3"),
        pytest.param([1, 2, 3], {1: [2], 2: [3], 3: [2]}, id="cycle-tail"),
        pytest.param([1], {1: [1]}, id="self-loop"),
        pytest.param([1, 1], {}, id="duplicate-ids"),
        pytest.param([1, 2, 1], {1: [2]}, id="duplicate-ids-linked"),
        pytest.param([], {}, id="empty"),
        pytest.param([1], {"x": [1]}, id="non-numeric-key"),
    ],
)
def test_create_validation(fw_ids: list[int], links: dict[Any, Any]) -> None:
    with pytest.raises(WorkflowError):
        Workflow.create([make_fw(i) for i in fw_ids], links)


def test_create_rejects_parent_outside_the_workflow() -> None:
    outside = make_fw(9)
    inside = Firework.create([], fw_id=1, parents=outside)
    with pytest.raises(WorkflowError):
        Workflow.create([inside])


def test_workflow_error_is_an_afw_error() -> None:
    from afw.errors import AfwError

    assert issubclass(WorkflowError, AfwError)


def test_from_dict_of_a_bare_firework_dict() -> None:
    doc = {
        "spec": {"_tasks": [{"_fw_name": "ScriptTask", "script": "echo hi"}], "x": 1},
        "fw_id": -7,
        "name": "solo",
    }
    wf = Workflow.from_dict(doc)
    assert list(wf.fws) == [-7]
    assert wf.links == {-7: []}
    fw = wf.fws[-7]
    assert fw.name == "solo"
    assert fw.spec["x"] == 1
    assert fw.tasks == [{"_fw_name": "ScriptTask", "script": "echo hi"}]
    assert fw.state == "WAITING"
    assert wf.fw_states == {-7: "WAITING"}
    # FireWorks' Workflow.from_Firework names the workflow after the Firework
    assert wf.name == "solo"


def test_from_dict_of_a_bare_firework_dict_without_id_or_state() -> None:
    wf = Workflow.from_dict({"spec": {}})
    assert list(wf.fws) == [-1]
    assert wf.fws[-1].name == "Unnamed FW"


def test_from_dict_rejects_other_documents() -> None:
    with pytest.raises(WorkflowError):
        Workflow.from_dict({"name": "neither"})


def test_workflow_file_dict_round_trip() -> None:
    wf = Workflow.create(
        [make_fw(-1, "a", k=1), make_fw(-2, "b"), make_fw(-3, "c")],
        {-1: [-2, -3]},
        name="wf",
        metadata={"m": [1]},
    )
    doc = json.loads(json.dumps(wf.to_dict()))
    assert doc["links"] == {"-1": [-2, -3], "-2": [], "-3": []}
    again = Workflow.from_dict(doc)
    assert again.links == wf.links
    assert again.name == "wf"
    assert again.metadata == {"m": [1]}
    assert {i: fw.spec for i, fw in again.fws.items()} == {i: fw.spec for i, fw in wf.fws.items()}


def test_db_dict_round_trip_with_only_some_fireworks() -> None:
    wf = build({1: [2, 3]})
    run(wf, 1)
    doc = json.loads(json.dumps(wf.to_db_dict()))
    assert doc["parent_links"] == {"2": [1], "3": [1]}
    assert doc["fw_states"] == {"1": "COMPLETED", "2": "READY", "3": "READY"}
    partial = Workflow.from_db_dict(doc, [wf.fws[2]])
    assert partial.links == wf.links
    assert partial.fw_states == wf.fw_states
    assert set(partial.fws) == {2}


# -- lazy loading: NeedFireworks -----------------------------------------------------------------


def _db_docs(
    wf: Workflow,
) -> tuple[dict[str, Any], dict[int, dict[str, Any]], dict[int, dict[str, Any]]]:
    """Serialize like a store: workflow doc, FW docs (launch ids), launch docs."""
    wf_doc = json.loads(json.dumps(wf.to_db_dict()))
    fw_docs = {i: json.loads(json.dumps(fw.to_db_dict())) for i, fw in wf.fws.items()}
    launch_docs = {
        launch.launch_id: json.loads(json.dumps(launch.to_db_dict()))
        for fw in wf.fws.values()
        for launch in fw.launches
    }
    return wf_doc, fw_docs, launch_docs


def _load(
    wf_doc: dict[str, Any],
    fw_docs: dict[int, dict[str, Any]],
    launch_docs: dict[int, dict[str, Any]],
    ids: Iterable[int],
) -> Workflow:
    fws = [
        Firework.from_dict(
            copy.deepcopy(fw_docs[i]),
            launches=[
                Launch.from_dict(copy.deepcopy(launch_docs[lid])) for lid in fw_docs[i]["launches"]
            ],
        )
        for i in ids
    ]
    return Workflow.from_db_dict(copy.deepcopy(wf_doc), fws)


def test_need_fireworks_when_touching_an_unloaded_firework() -> None:
    full = build({1: [2, 3], 4: []})
    wf_doc, fw_docs, launch_docs = _db_docs(full)
    wf = _load(wf_doc, fw_docs, launch_docs, [1])
    with pytest.raises(NeedFireworks) as info:
        refresh(wf, 2)
    assert info.value.fw_ids == {2}
    with pytest.raises(NeedFireworks) as info:
        apply_action(wf, 1, {"update_spec": {"u": 1}})
    assert info.value.fw_ids == {2, 3}
    with pytest.raises(NeedFireworks) as info:
        apply_action(wf, 1, {"update_spec": {"u": 1}, "propagate": True})
    assert info.value.fw_ids == {2, 3}
    with pytest.raises(NeedFireworks) as info:
        apply_action(wf, 1, {"defuse_workflow": True})
    assert info.value.fw_ids == {2, 3, 4}
    # a Firework that is not in the workflow at all is an error, not a load request
    with pytest.raises(WorkflowError):
        wf.fw(99)


def test_need_fireworks_for_workflow_state_of_a_fizzled_parent() -> None:
    full = build({1: [2]}, specs={2: {"_allow_fizzled_parents": True}})
    run(full, 1, state="FIZZLED")
    wf_doc, fw_docs, launch_docs = _db_docs(full)
    assert workflow_state(_load(wf_doc, fw_docs, launch_docs, [1, 2])) == "RUNNING"
    with pytest.raises(NeedFireworks) as info:
        workflow_state(_load(wf_doc, fw_docs, launch_docs, [1]))
    assert info.value.fw_ids == {2}
    # a leaf fizzle needs nothing
    leaf = build({1: []}, extra_ids=[2])
    run(leaf, 1, state="FIZZLED")
    wf_doc, fw_docs, launch_docs = _db_docs(leaf)
    assert workflow_state(_load(wf_doc, fw_docs, launch_docs, [])) == "FIZZLED"


def test_logic_rerun_with_more_fireworks_matches_a_full_load() -> None:
    """The store's retry loop: run on a fresh partial load, load what is asked, run again."""
    full = build({1: [2, 3], 2: [4], 5: []})
    run(full, 1)
    start(full, 2)
    wf_doc, fw_docs, launch_docs = _db_docs(full)
    action = FWAction(update_spec={"u": 1}, mod_spec=[{"_push": {"log": 2}}], propagate=True)

    def complete(wf: Workflow) -> None:
        fw = wf.fw(2)
        launch = fw.launches[-1]
        launch.action = action.to_dict()
        launch.set_state("COMPLETED")
        refresh(wf, 2)

    loaded = {2}
    attempts = 0
    while True:
        attempts += 1
        wf = _load(wf_doc, fw_docs, launch_docs, sorted(loaded))
        try:
            complete(wf)
            break
        except NeedFireworks as need:
            assert not need.fw_ids & loaded
            loaded |= need.fw_ids
    assert attempts >= 2
    assert 5 not in loaded  # the unrelated root never had to be loaded
    reference = _load(wf_doc, fw_docs, launch_docs, sorted(fw_docs))
    complete(reference)
    assert wf.fw_states == reference.fw_states
    for fw_id in loaded:
        assert wf.fws[fw_id].spec == reference.fws[fw_id].spec
    assert wf.fws[4].spec["log"] == [2]
    assert workflow_state(wf) == workflow_state(reference) == "RUNNING"


# -- id assignment (afw.changeset) ---------------------------------------------------------------


def test_id_order() -> None:
    assert sorted([-2, 5, -1, 3, -10], key=id_order) == [3, 5, -1, -2, -10]


def test_assign_ids_renumbers_everywhere() -> None:
    wf = build({1: [2]})
    run(wf, 1, FWAction(detours=[chain_dict("d1", "d2")], additions=[new_fw_dict("x")]))
    d1, d2, x = named(wf, "d1"), named(wf, "d2"), named(wf, "x")
    assert sorted(wf.new_fw_ids) == sorted([d1, d2, x])
    new_ids = list(wf.new_fw_ids)
    mapping = assign_ids(wf, new_ids, 100)
    assert mapping == {old: 100 + n for n, old in enumerate(sorted(new_ids, key=id_order))}
    m = mapping
    assert set(wf.fws) == {1, 2, 100, 101, 102}
    assert all(fw.fw_id == i for i, fw in wf.fws.items())
    assert wf.links == {1: [2, m[d1], m[x]], 2: [], m[d1]: [m[d2]], m[d2]: [2], m[x]: []}
    assert sorted(wf.parent_links[2]) == [1, m[d2]]
    assert set(wf.fw_states) == set(wf.fws)
    assert wf.fw_states[m[d1]] == "READY"
    assert sorted(wf.new_fw_ids) == [100, 101, 102]
    assert wf.touched_fws >= {100, 101, 102}
    assert not any(i < 0 for i in wf.touched_fws)
    assert wf.links_changed


def test_assign_ids_updates_launch_fw_ids_and_unloaded_states() -> None:
    a, b = make_fw(-1, "a"), make_fw(-2, "b")
    wf = Workflow.create([a, b], {-1: [-2]})
    a.launches.append(Launch(launch_id=1, fw_id=-1))
    wf_doc = wf.to_db_dict()
    partial = Workflow.from_db_dict(wf_doc, [a])
    mapping = assign_ids(partial, [-1, -2], 7)
    assert mapping == {-1: 7, -2: 8}
    assert a.fw_id == 7
    assert a.launches[0].fw_id == 7
    assert partial.links == {7: [8], 8: []}
    assert partial.fw_states == {7: "WAITING", 8: "WAITING"}
    assert list(partial.fws) == [7]


def test_assign_ids_with_nothing_to_do() -> None:
    wf = build({1: [2]})
    links = copy.deepcopy(wf.links)
    assert assign_ids(wf, [], 50) == {}
    assert wf.links == links


def test_make_change_set_after_assign_ids() -> None:
    wf = build({1: [2]})
    wf.touched_fws.clear()
    previous = workflow_state(wf)
    run(wf, 1, FWAction(additions=[new_fw_dict("x")]))
    assign_ids(wf, list(wf.new_fw_ids), 10)
    changes = make_change_set(wf, previous)
    assert changes.new_fw_ids == {10}
    assert {fw.fw_id for fw in changes.fws} == {1, 2, 10}
    assert changes.fw_states == {1: "COMPLETED", 2: "READY", 10: "READY"}
    assert changes.state_changed
    assert wf.state == "RUNNING"
    assert changes.workflow_fields()["links"] == {"1": [2, 10], "2": [], "10": []}
