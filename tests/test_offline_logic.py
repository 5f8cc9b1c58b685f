"""The pure step of offline recovery: one launch dir status applied to a launch / workflow."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from afw import Firework, Launch, Workflow
from afw.fs.status import OfflineStatus
from afw.offline_logic import apply_offline_status, apply_to_launch, check_status

NOW = "2030-01-01T09:00:00.000000+00:00"
T0 = "2030-01-01T00:00:00.000000+00:00"
T1 = "2030-01-01T01:00:00.000000+00:00"
T2 = "2030-01-01T02:00:00.000000+00:00"
T3 = "2030-01-01T03:00:00.000000+00:00"


def cp(n: int) -> dict[str, Any]:
    return {"_task_n": n, "_all_stored_data": {}, "_all_update_spec": {}, "_all_mod_spec": []}


def reserved() -> Launch:
    return Launch(launch_id=7, fw_id=1, state="RESERVED", launch_dir="/x")


def status(**fields: Any) -> OfflineStatus:
    return OfflineStatus("/x", launch_id=7, **fields)


def finished(state: str = "COMPLETED", **fields: Any) -> OfflineStatus:
    return status(
        started_on=T0,
        finished=True,
        state=state,
        action={"update_spec": {"a": 1}},
        completed_on=T2,
        **fields,
    )


def test_not_started_changes_nothing() -> None:
    launch = reserved()
    before = copy.deepcopy(launch)
    outcome = apply_to_launch(launch, status(), NOW)
    assert (outcome.kind, outcome.changed) == ("queued", False)
    assert launch == before


def test_start_uses_the_true_start_time_and_ping() -> None:
    launch = reserved()
    outcome = apply_to_launch(launch, status(started_on=T0, ping_time=T1, checkpoint=cp(1)), NOW)
    assert (outcome.kind, outcome.changed) == ("running", True)
    running = launch.state_history[-1]
    assert running == {"state": "RUNNING", "created_on": T0, "updated_on": T1, "checkpoint": cp(1)}
    again = apply_to_launch(launch, status(started_on=T0, ping_time=T1, checkpoint=cp(1)), NOW)
    assert (again.kind, again.changed) == ("running", False)


def test_heartbeat_never_moves_back_nor_checkpoint_to_an_earlier_task() -> None:
    launch = reserved()
    apply_to_launch(launch, status(started_on=T0, ping_time=T2, checkpoint=cp(2)), NOW)
    older = apply_to_launch(launch, status(started_on=T0, ping_time=T1, checkpoint=cp(1)), NOW)
    assert not older.changed
    assert launch.state_history[-1]["updated_on"] == T2
    assert launch.checkpoint == cp(2)
    newer = apply_to_launch(launch, status(started_on=T0, ping_time=T3, checkpoint=cp(3)), NOW)
    assert newer.changed
    assert (launch.last_pinged, launch.checkpoint) == (T3, cp(3))


def test_finished_between_two_sweeps_keeps_true_times() -> None:
    launch = reserved()
    outcome = apply_to_launch(launch, finished(ping_time=T1), NOW)
    assert (outcome.kind, outcome.changed, outcome.final) == ("completed", True, True)
    assert [e["state"] for e in launch.state_history] == ["RESERVED", "RUNNING", "COMPLETED"]
    assert (launch.time_start, launch.time_end, launch.runtime_secs) == (T0, T2, 7200.0)
    assert launch.action is not None and launch.action["update_spec"] == {"a": 1}
    assert launch.action["mod_spec"] == []  # a full FireWorks action dict


def test_fizzled_keeps_its_checkpoint() -> None:
    launch = reserved()
    apply_to_launch(launch, finished("FIZZLED", checkpoint=cp(1), ping_time=T1), NOW)
    assert launch.state == "FIZZLED"
    assert launch.checkpoint == cp(1)


def test_a_finished_launch_is_never_touched_again() -> None:
    launch = reserved()
    apply_to_launch(launch, finished(), NOW)
    before = copy.deepcopy(launch)
    outcome = apply_to_launch(launch, finished("FIZZLED", ping_time=T3), NOW)
    assert (outcome.kind, outcome.changed, outcome.state) == ("already_done", False, "COMPLETED")
    assert launch == before


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"finished": True, "state": "RUNNING", "action": {}}, "not COMPLETED or FIZZLED"),
        ({"started_on": "yesterday"}, "not an ISO-8601 time"),
        ({"finished": True, "state": "COMPLETED", "action": {"append_wfs": [{}]}}, "malformed"),
    ],
)
def test_check_status_rejects_what_cannot_be_applied(fields: dict[str, Any], problem: str) -> None:
    found = check_status(status(**fields))
    assert found is not None and problem in found


def _two_step() -> Workflow:
    parent = Firework.create([{"_fw_name": "ScriptTask", "script": "true"}], fw_id=1)
    child = Firework.create([{"_fw_name": "ScriptTask", "script": "true"}], fw_id=2)
    wf = Workflow.create([parent, child], links={1: [2]})
    parent.launches.append(reserved())
    parent.state = "RESERVED"
    wf.fw_states = {1: "RESERVED", 2: "WAITING"}
    return wf


def test_workflow_completion_applies_the_action_once() -> None:
    wf = _two_step()
    outcome = apply_offline_status(wf, [1], 7, finished(), NOW)
    assert outcome.kind == "completed"
    assert wf.fw_states == {1: "COMPLETED", 2: "READY"}
    assert wf.fws[2].spec["a"] == 1
    assert 7 in wf.touched_launches and {1, 2} <= wf.touched_fws
    wf.touched_fws.clear()
    wf.touched_launches.clear()
    again = apply_offline_status(wf, [1], 7, finished(), NOW)
    assert again.kind == "already_done" and not wf.touched_fws and not wf.touched_launches


def test_workflow_start_makes_the_firework_running() -> None:
    wf = _two_step()
    apply_offline_status(wf, [1], 7, status(started_on=T0), NOW)
    assert wf.fw_states == {1: "RUNNING", 2: "WAITING"}


def test_launch_not_listed_any_more() -> None:
    wf = _two_step()
    assert apply_offline_status(wf, [1], 99, finished(), NOW).kind == "not_current"
