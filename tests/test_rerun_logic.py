"""The pure rerun logic (:mod:`afw.reruns`) on in-memory workflows: the rerun closure against
``rerun_fw`` on random DAGs, recovery building, ``_launch_dir`` pinning, descendants."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from afw.errors import ConfigError, StateError
from afw.firework import Firework
from afw.launch import Launch
from afw.reruns import build_recovery, rerun_closure, rerun_many
from afw.wflogic import rerun_fw
from afw.workflow import Workflow

STATES = ["WAITING", "READY", "RESERVED", "RUNNING", "COMPLETED", "FIZZLED", "DEFUSED", "PAUSED"]


@st.composite
def dags(draw: st.DrawFn) -> Workflow:
    n = draw(st.integers(1, 25))
    links = {
        i: sorted(draw(st.sets(st.integers(i + 1, n), max_size=3))) if i < n else []
        for i in range(1, n + 1)
    }
    fws = {i: Firework(fw_id=i, state=draw(st.sampled_from(STATES))) for i in links}
    return Workflow(links=links, fws=fws, fw_states={i: fw.state for i, fw in fws.items()})


@settings(max_examples=300, deadline=None)
@given(wf=dags(), data=st.data())
def test_closure_is_what_rerun_fw_resets(wf: Workflow, data: st.DataObject) -> None:
    target = data.draw(st.sampled_from(sorted(wf.links)))
    expected = set(rerun_fw(copy.deepcopy(wf), target))
    closure = rerun_closure(wf, target)
    assert set(closure) == expected
    assert len(closure) == len(expected)


def fizzled(fw_id: int, launch_id: int, checkpoint: dict[str, Any] | None, **spec: Any) -> Firework:
    launch = Launch(launch_id=launch_id, fw_id=fw_id, state="RUNNING", launch_dir=f"/run/{fw_id}")
    if checkpoint is not None:
        launch.touch(checkpoint=checkpoint)
    launch.set_state("FIZZLED")
    return Firework(fw_id=fw_id, state="FIZZLED", launches=[launch], spec=dict(spec))


def chain(*fws: Firework) -> Workflow:
    ids = [fw.fw_id for fw in fws]
    links = {a: [b] for a, b in zip(ids, ids[1:], strict=False)}
    links[ids[-1]] = []
    return Workflow(
        links=links, fws={fw.fw_id: fw for fw in fws}, fw_states={fw.fw_id: fw.state for fw in fws}
    )


CHECKPOINT = {
    "_task_n": 2,
    "_all_stored_data": {"a": 1},
    "_all_update_spec": {},
    "_all_mod_spec": [],
    "_cwd": "/run/1/sub",
}


def test_build_recovery_has_fireworks_keys() -> None:
    fw = fizzled(1, 10, CHECKPOINT)
    recovery = build_recovery(fw, "cp")
    assert recovery == {**CHECKPOINT, "_prev_dir": "/run/1", "_launch_id": 10, "_mode": "cp"}
    with pytest.raises(ConfigError):
        build_recovery(fw, "copy")
    with pytest.raises(StateError, match="No recovery info"):
        build_recovery(fizzled(2, 11, None), None)
    with pytest.raises(StateError, match="no current launch 99"):
        build_recovery(fw, None, 99)


def test_prev_dir_pins_and_clear_restores_the_launch_dir() -> None:
    wf = chain(fizzled(1, 10, CHECKPOINT))
    rerun_many(wf, [1], task_level=True, recover_mode="prev_dir")
    spec = wf.fws[1].spec
    assert spec["_launch_dir"] == "/run/1" and spec["_recovery"]["_mode"] == "prev_dir"
    # a later task-level rerun in a copy drops the pin again
    wf.fws[1].launches = [fizzled(1, 12, CHECKPOINT).launches[0]]
    rerun_many(wf, [1], task_level=True, recover_mode="cp")
    assert "_launch_dir" not in spec and spec["_recovery"]["_mode"] == "cp"
    wf.fws[1].launches = [fizzled(1, 13, CHECKPOINT).launches[0]]
    rerun_many(wf, [1], task_level=True, recover_mode="prev_dir")
    rerun_many(wf, [1], clear_recovery=True)
    assert "_launch_dir" not in spec and "_recovery" not in spec


def test_clear_recovery_reaches_rerun_descendants_plain_reruns_keep_it() -> None:
    parent = fizzled(1, 10, CHECKPOINT, _recovery={"_task_n": 1})
    child = Firework(fw_id=2, state="COMPLETED", spec={"_recovery": {"_task_n": 3}})
    wf = chain(parent, child)
    report = rerun_many(wf, [1])
    assert report.rerun == [1, 2]
    assert "_recovery" in wf.fws[1].spec and "_recovery" in wf.fws[2].spec
    wf.fws[2].state = wf.fw_states[2] = "COMPLETED"
    report = rerun_many(wf, [1], clear_recovery=True)
    assert "_recovery" not in wf.fws[1].spec and "_recovery" not in wf.fws[2].spec


def test_dynamic_actions_are_named_only_when_applied() -> None:
    done = Launch(launch_id=5, fw_id=1, state="RUNNING")
    done.action = {"update_spec": {"x": 1}}
    done.set_state("COMPLETED")
    parent = Firework(fw_id=1, state="COMPLETED", launches=[done])
    leaf_action = Launch(launch_id=6, fw_id=2, state="RUNNING")
    leaf_action.action = {"update_spec": {"y": 1}}  # no children: nothing was changed
    leaf_action.set_state("COMPLETED")
    leaf = Firework(fw_id=2, state="COMPLETED", launches=[leaf_action])
    wf = chain(parent, leaf)
    assert rerun_many(wf, [1]).dynamic == [1]
    failed = fizzled(3, 7, None)
    assert failed.launches[0].action is None
    wf2 = chain(failed)
    wf2.fws[3].launches[0].action = {"additions": [{"spec": {}}]}  # FIZZLED: never applied
    assert rerun_many(wf2, [3]).dynamic == []
