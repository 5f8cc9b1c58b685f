"""Reruns through the LaunchPad API with real Rockets: rerun semantics, task-level resumes
(--copy-data, --previous-dir, --clear-recovery), FireWorks #269 and #565, duplicates."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import anyio
import orjson
import pytest

from afw import Firework, FWorker, LaunchPad, Workflow
from afw.errors import ConfigError, StateError
from afw.launcher import RapidfireOptions, rapidfire
from afw.rocket import Rocket, RunResult, StopFlag, run_offline

pytestmark = pytest.mark.anyio

STEP = "{{helpers.rerun_tasks.StepTask}}"
CHDIR = "{{helpers.rerun_tasks.ChdirTask}}"
ADD_CHILD = "{{helpers.rerun_tasks.AddChildTask}}"


def step(key: str, log: Path, **params: Any) -> dict[str, Any]:
    return {"_fw_name": STEP, "key": key, "log": str(log), **params}


def ran(log: Path) -> list[str]:
    return log.read_text().split() if log.exists() else []


async def add(lp: LaunchPad, wf: Workflow | Firework, *fws: Firework) -> list[int]:
    """Add ``wf``; the new ids of ``fws`` (adding renumbers the objects)."""
    old = [fw.fw_id for fw in fws]
    mapping = await lp.add_wf(wf)
    return [mapping[i] for i in old]


async def run_in(lp: LaunchPad, directory: Path, fw_id: int | None = None) -> RunResult:
    directory.mkdir(parents=True, exist_ok=True)
    result = await Rocket(lp, FWorker(), fw_id, launch_dir=str(directory), chdir=True).run()
    assert result is not None
    return result


def three_tasks(tmp_path: Path, **spec: Any) -> tuple[Firework, Path, Path]:
    """Task 2 fails until ``marker`` exists; tasks 2 and 3 need task 1's file."""
    log, marker = tmp_path / "ran.log", tmp_path / "fixed"
    fw = Firework.create(
        [
            step("t1", log, value=1, update=True),
            step("t2", log, value=2, unless_file=str(marker), needs=["t1.txt"]),
            step("t3", log, value=3, needs=["t1.txt", "t2.txt"]),
        ],
        name="three",
        spec=spec,
    )
    return fw, log, marker


async def fizzle_in_task_two(lp: LaunchPad, tmp_path: Path, **spec: Any) -> tuple[int, Path, Path]:
    fw, log, marker = three_tasks(tmp_path, **spec)
    await lp.add_wf(fw)
    first = await run_in(lp, tmp_path / "run1")
    assert first.state == "FIZZLED"
    assert ran(log) == ["t1", "t2"]
    return first.fw_id, log, marker


async def test_task_level_copy_data_runs_only_the_remaining_tasks(
    store_url: str, tmp_path: Path
) -> None:
    async with LaunchPad(store_url) as lp:
        fw_id, log, marker = await fizzle_in_task_two(lp, tmp_path)
        old_launch = (await lp.get_fw_by_id(fw_id)).launches[0]
        marker.touch()
        assert await lp.rerun_fw(fw_id, task_level=True, recover_mode="cp") == [fw_id]
        fw = await lp.get_fw_by_id(fw_id)
        assert fw.state == "READY" and fw.launches == []
        assert fw.archived_launch_ids == [old_launch.launch_id]
        recovery = fw.spec["_recovery"]
        assert recovery["_task_n"] == 1
        assert recovery["_all_stored_data"] == {"t1": 1}
        assert recovery["_all_update_spec"] == {"t1": 1}
        assert recovery["_prev_dir"] == str(tmp_path / "run1")
        assert recovery["_launch_id"] == old_launch.launch_id
        assert recovery["_mode"] == "cp"
        assert recovery["_cwd"] == str(tmp_path / "run1")

        second = await run_in(lp, tmp_path / "run2")
        assert second.state == "COMPLETED"
        assert second.launch_dir == str(tmp_path / "run2")
        assert ran(log) == ["t1", "t2", "t2", "t3"]  # task 1 did not run again
        new_dir = Path(second.launch_dir)
        assert sorted(p.name for p in new_dir.glob("t*.txt")) == ["t1.txt", "t2.txt", "t3.txt"]
        assert (new_dir / "t1.txt").read_text() == str(tmp_path / "run1")  # copied, not rerun
        done = await lp.get_fw_by_id(fw_id)
        assert done.state == "COMPLETED"
        action = done.launches[0].action
        assert action["stored_data"] == {"t1": 1, "t2": 2, "t3": 3}
        assert action["update_spec"] == {"t1": 1}
        archived = await lp.get_fw_dict_by_id(fw_id)
        assert [la["state"] for la in archived["archived_launches"]] == ["FIZZLED"]


async def test_task_level_previous_dir_reruns_in_the_old_dir(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with LaunchPad(sqlite_url) as lp:
        fw_id, log, marker = await fizzle_in_task_two(lp, tmp_path)
        marker.touch()
        await lp.rerun_fw(fw_id, task_level=True, recover_mode="prev_dir")
        fw = await lp.get_fw_by_id(fw_id)
        assert fw.spec["_launch_dir"] == str(tmp_path / "run1")
        second = await run_in(lp, tmp_path / "run2")
        assert second.state == "COMPLETED"
        assert second.launch_dir == str(tmp_path / "run1")
        assert not (tmp_path / "run2").exists()  # the empty start dir was removed
        assert ran(log) == ["t1", "t2", "t2", "t3"]
        data = (await lp.get_fw_by_id(fw_id)).launches[0].action["stored_data"]
        assert data == {"t1": 1, "t2": 2, "t3": 3}

        # --clear-recovery also removes the _launch_dir the recovery pinned: a fresh start.
        await lp.rerun_fw(fw_id, clear_recovery=True)
        fw = await lp.get_fw_by_id(fw_id)
        assert "_recovery" not in fw.spec and "_launch_dir" not in fw.spec
        third = await run_in(lp, tmp_path / "run3")
        assert third.launch_dir == str(tmp_path / "run3")
        assert ran(log)[4:] == ["t1", "t2", "t3"]


async def test_previous_dir_keeps_a_launch_dir_the_user_set(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with LaunchPad(sqlite_url) as lp:
        fw_id, _log, marker = await fizzle_in_task_two(lp, tmp_path, _launch_dir="mine")
        launch_dir = (await lp.get_fw_by_id(fw_id)).launches[0].launch_dir
        assert launch_dir == str(tmp_path / "run1" / "mine")
        await lp.rerun_fw(fw_id, task_level=True, recover_mode="prev_dir")
        assert (await lp.get_fw_by_id(fw_id)).spec["_launch_dir"] == launch_dir
        await lp.rerun_fw(fw_id, clear_recovery=True)
        assert (await lp.get_fw_by_id(fw_id)).spec["_launch_dir"] == "mine"


async def test_plain_reruns_keep_the_recovery_until_cleared(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with LaunchPad(sqlite_url) as lp:
        fw_id, log, marker = await fizzle_in_task_two(lp, tmp_path)
        marker.touch()
        await lp.rerun_fw(fw_id, task_level=True, recover_mode="cp")
        assert (await run_in(lp, tmp_path / "run2")).state == "COMPLETED"
        assert ran(log) == ["t1", "t2", "t2", "t3"]

        await lp.rerun_fw(fw_id)  # plain rerun: the recovery stays (the user documentation)
        assert "_recovery" in (await lp.get_fw_by_id(fw_id)).spec
        assert (await run_in(lp, tmp_path / "run3")).state == "COMPLETED"
        assert ran(log)[4:] == ["t2", "t3"]

        await lp.rerun_fws([fw_id], clear_recovery=True)
        assert "_recovery" not in (await lp.get_fw_by_id(fw_id)).spec
        assert (await run_in(lp, tmp_path / "run4")).state == "COMPLETED"
        assert ran(log)[6:] == ["t1", "t2", "t3"]


async def test_copy_data_from_a_vanished_dir_fails_clearly_and_keeps_the_checkpoint(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with LaunchPad(sqlite_url) as lp:
        fw_id, log, marker = await fizzle_in_task_two(lp, tmp_path)
        await lp.rerun_fw(fw_id, task_level=True, recover_mode="cp")
        for path in (tmp_path / "run1").iterdir():
            path.unlink()
        (tmp_path / "run1").rmdir()
        second = await run_in(lp, tmp_path / "run2")
        assert second.state == "FIZZLED"
        launch = (await lp.get_fw_by_id(fw_id)).launches[0]
        message = launch.action["stored_data"]["_message"]
        assert f"{tmp_path / 'run1'} is gone" in message
        assert ran(log) == ["t1", "t2"]
        assert launch.checkpoint is not None and launch.checkpoint["_task_n"] == 1
        # The failed launch kept the resume point: a new task-level rerun still starts at task 2.
        await lp.rerun_fw(fw_id, task_level=True)
        recovery = (await lp.get_fw_by_id(fw_id)).spec["_recovery"]
        assert recovery["_task_n"] == 1 and recovery["_all_stored_data"] == {"t1": 1}
        # Or start from scratch.
        marker.touch()
        await lp.rerun_fw(fw_id, clear_recovery=True)
        assert (await run_in(lp, tmp_path / "run3")).state == "COMPLETED"
        assert ran(log)[2:] == ["t1", "t2", "t3"]


async def test_rerun_fw_from_a_named_launch(sqlite_url: str, tmp_path: Path) -> None:
    async with LaunchPad(sqlite_url) as lp:
        fw_id, _log, _marker = await fizzle_in_task_two(lp, tmp_path)
        launch_id = (await lp.get_fw_by_id(fw_id)).launches[0].launch_id
        with pytest.raises(ConfigError):
            await lp.rerun_fw(fw_id, recover_launch="first")
        with pytest.raises(StateError, match=f"launch {launch_id + 1} recorded no checkpoint"):
            await lp.rerun_fw(fw_id, recover_launch=launch_id + 1)
        assert await lp.rerun_fw(fw_id, recover_launch=launch_id) == [fw_id]
        recovery = (await lp.get_fw_by_id(fw_id)).spec["_recovery"]
        assert recovery["_launch_id"] == launch_id and recovery["_mode"] is None


async def test_rerun_semantics_parents_untouched_children_waiting(
    sqlite_url: str, tmp_path: Path
) -> None:
    log = tmp_path / "ran.log"
    a = Firework.create([step("a", log)], name="a")
    b = Firework.create([step("b", log)], name="b", parents=a)
    c = Firework.create([step("c", log)], name="c", parents=b)
    async with LaunchPad(sqlite_url) as lp:
        ida, idb, idc = await add(lp, Workflow.create([a, b, c]), a, b, c)
        for n in range(3):
            assert (await run_in(lp, tmp_path / f"r{n}")).state == "COMPLETED"
        before_a = await lp.get_fw_by_id(ida)

        assert await lp.rerun_fws([idb]) == [idb, idc]
        fa, fb, fc = [await lp.get_fw_by_id(i) for i in (ida, idb, idc)]
        assert fa.state == "COMPLETED" and fa.launch_ids == before_a.launch_ids
        assert fb.state == "READY" and not fb.launches and len(fb.archived_launch_ids) == 1
        assert fc.state == "WAITING" and not fc.launches and len(fc.archived_launch_ids) == 1
        wf = await lp.get_wf_by_fw_id(ida)
        assert wf.state == "RUNNING"

        # Rerunning the root puts the READY child back to WAITING (its parent is not done).
        assert await lp.rerun_fw(ida) == [ida, idb]
        assert (await lp.get_fw_by_id(idb)).state == "WAITING"
        assert (await lp.get_fw_by_id(ida)).state == "READY"
        # A WAITING Firework is left alone (and reported as skipped).
        report = await lp.rerun_fws_report([idc])
        assert report.rerun == [] and report.skipped == [idc]


async def test_dynamic_actions_are_kept_and_reported(sqlite_url: str, tmp_path: Path) -> None:
    log = tmp_path / "ran.log"
    parent = Firework.create([{"_fw_name": ADD_CHILD, "log": str(log)}], name="adder")
    async with LaunchPad(sqlite_url) as lp:
        (pid,) = await add(lp, parent, parent)
        assert (await run_in(lp, tmp_path / "r1")).state == "COMPLETED"
        wf = await lp.get_wf_by_fw_id(pid)
        assert len(wf.links) == 2
        dry = await lp.rerun_fws_report([pid], dry_run=True)
        assert dry.dynamic == [pid] and len(dry.rerun) == 2
        assert (await lp.get_fw_by_id(pid)).state == "COMPLETED"  # the dry run wrote nothing
        report = await lp.rerun_fws_report([pid])
        assert report.dynamic == [pid]
        assert report.rerun == dry.rerun
        wf = await lp.get_wf_by_fw_id(pid)
        assert len(wf.links) == 2  # the added Firework stays
        assert (await run_in(lp, tmp_path / "r2")).state == "COMPLETED"
        assert len((await lp.get_wf_by_fw_id(pid)).links) == 3  # added again, on top


async def test_task_level_without_checkpoint_is_refused_and_changes_nothing(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with LaunchPad(sqlite_url) as lp:
        fw_id, _log, _marker = await fizzle_in_task_two(lp, tmp_path)
        bare = Firework.create([step("x", tmp_path / "x.log")], name="bare")
        (bare_id,) = await add(lp, bare, bare)
        _fw, launch_id = await lp.checkout_fw(FWorker(), str(tmp_path / "bare"), bare_id)
        assert launch_id is not None
        await lp.mark_fizzled(launch_id)  # died before its first task: no checkpoint
        with pytest.raises(StateError, match=rf"\[{bare_id}\].*no checkpoint"):
            await lp.rerun_fws([fw_id, bare_id], task_level=True)
        for i in (fw_id, bare_id):
            fw = await lp.get_fw_by_id(i)
            assert fw.state == "FIZZLED" and "_recovery" not in fw.spec


async def test_task_level_on_a_selected_descendant_keeps_its_own_recovery(
    sqlite_url: str, tmp_path: Path
) -> None:
    """Two FIZZLED Fireworks, the second below the first (it may run after a fizzled parent):
    rerunning both at task level must not lose the second's checkpoint to the first's rerun."""
    log, marker = tmp_path / "ran.log", tmp_path / "fixed"
    a = Firework.create([step("a1", log), step("a2", log, unless_file=str(marker))])
    b = Firework.create(
        [step("b1", log), step("b2", log, unless_file=str(marker))],
        parents=a,
        spec={"_allow_fizzled_parents": True},
    )
    async with LaunchPad(sqlite_url) as lp:
        ids = dict(zip(("a", "b"), await add(lp, Workflow.create([a, b]), a, b), strict=True))
        assert (await run_in(lp, tmp_path / "r1")).state == "FIZZLED"
        assert (await run_in(lp, tmp_path / "r2")).state == "FIZZLED"
        marker.touch()
        done = await lp.rerun_fws([ids["a"], ids["b"]], task_level=True)
        assert sorted(done) == sorted(ids.values())
        for fw_id in ids.values():
            assert (await lp.get_fw_by_id(fw_id)).spec["_recovery"]["_task_n"] == 1
        await run_in(lp, tmp_path / "r3")
        await run_in(lp, tmp_path / "r4")
        assert ran(log)[4:] == ["a2", "b2"]


# -- FireWorks #565: rapidfire, a Firework with parents failing in its first task ----------------


def parent_and_child(tmp_path: Path, **child_params: Any) -> tuple[Workflow, Firework, Path, Path]:
    log, marker = tmp_path / "ran.log", tmp_path / "fixed"
    parent = Firework.create([step("p1", log)], name="parent")
    child = Firework.create(
        [step("c1", log, unless_file=str(marker), **child_params), step("c2", log)],
        name="child",
        parents=parent,
    )
    return Workflow.create([parent, child]), child, log, marker


async def test_565_rapidfire_child_failing_in_its_first_task(
    sqlite_url: str, tmp_path: Path
) -> None:
    wf, child, log, marker = parent_and_child(tmp_path)
    opts = RapidfireOptions(sleep_time=0, max_loops=1)
    async with LaunchPad(sqlite_url) as lp:
        (child_id,) = await add(lp, wf, child)
        results = await rapidfire(lp, FWorker(), str(tmp_path / "rf"), opts)
        assert [r.state for r in results] == ["COMPLETED", "FIZZLED"]
        recovery = (await lp.get_fw_by_id(child_id)).launches[0].checkpoint
        assert recovery is not None and recovery["_task_n"] == 0
        marker.touch()
        assert await lp.rerun_fws([child_id], task_level=True, recover_mode="cp") == [child_id]
        results = await rapidfire(lp, FWorker(), str(tmp_path / "rf"), opts)
        assert [(r.fw_id, r.state) for r in results] == [(child_id, "COMPLETED")]
        assert ran(log) == ["p1", "c1", "c1", "c2"]
        assert (await lp.get_wf_by_fw_id(child_id)).state == "COMPLETED"


async def test_565_rapidfire_child_interrupted_in_its_first_task(
    sqlite_url: str, tmp_path: Path
) -> None:
    wf, child, log, marker = parent_and_child(tmp_path, sleep=2)
    opts = RapidfireOptions(sleep_time=0, max_loops=1)
    stop = StopFlag()
    async with LaunchPad(sqlite_url) as lp:
        (child_id,) = await add(lp, wf, child)
        async with anyio.create_task_group() as tg:
            tg.start_soon(rapidfire, lp, FWorker(), str(tmp_path / "rf"), opts, stop)
            with anyio.fail_after(20):
                while "c1" not in ran(log):
                    await anyio.sleep(0.02)
            stop.reason = "signal 2 (SIGINT)"
            tg.cancel_scope.cancel()
        launch = (await lp.get_fw_by_id(child_id)).launches[0]
        assert launch.state == "FIZZLED"
        assert "interrupted" in launch.action["stored_data"]["_message"]
        assert launch.checkpoint is not None and launch.checkpoint["_task_n"] == 0
        marker.touch()
        await lp.rerun_fws([child_id], task_level=True)
        results = await rapidfire(lp, FWorker(), str(tmp_path / "rf"), opts)
        assert [(r.fw_id, r.state) for r in results] == [(child_id, "COMPLETED")]
        assert ran(log) == ["p1", "c1", "c1", "c2"]


# -- FireWorks #269: a task that changes directory ------------------------------------------------


def moving_fw(tmp_path: Path) -> tuple[Firework, Path, Path]:
    log, marker = tmp_path / "ran.log", tmp_path / "fixed"
    fw = Firework.create(
        [
            step("t1", log),
            {"_fw_name": CHDIR, "subdir": "sub", "log": str(log)},
            step("t3", log, unless_file=str(marker)),
            step("t4", log, needs=["t3.txt"]),
        ],
        name="mover",
    )
    return fw, log, marker


@pytest.mark.parametrize("mode", ["cp", "prev_dir", None])
async def test_269_resume_after_a_task_changed_directory(
    sqlite_url: str, tmp_path: Path, mode: str | None
) -> None:
    fw, log, marker = moving_fw(tmp_path)
    cwd = os.getcwd()
    async with LaunchPad(sqlite_url) as lp:
        (fw_id,) = await add(lp, fw, fw)
        first = await run_in(lp, tmp_path / "run1")
        assert first.state == "FIZZLED"
        assert os.getcwd() == cwd  # the Rocket restored the process's directory
        checkpoint = (await lp.get_fw_by_id(fw_id)).launches[0].checkpoint
        assert checkpoint is not None
        assert checkpoint["_task_n"] == 2
        assert checkpoint["_cwd"] == str(tmp_path / "run1" / "sub")
        marker.touch()
        await lp.rerun_fw(fw_id, task_level=True, recover_mode=mode)
        second = await run_in(lp, tmp_path / "run2")
        assert second.state == "COMPLETED"
        assert ran(log) == ["t1", "chdir:sub", "t3", "t3", "t4"]
        new_dir = Path(second.launch_dir)
        assert (new_dir / "sub" / "t3.txt").read_text() == str(new_dir / "sub")
        assert (new_dir / "sub" / "t4.txt").exists()
        assert (new_dir / "FW.json").exists() and not (new_dir / "sub" / "FW.json").exists()
        if mode == "cp":
            assert (new_dir / "t1.txt").exists()


async def test_269_offline_files_stay_in_the_launch_dir(tmp_path: Path) -> None:
    fw, _log, _marker = moving_fw(tmp_path)
    run_dir = tmp_path / "offline"
    run_dir.mkdir()
    fw.fw_id = 5
    (run_dir / "FW.json").write_bytes(orjson.dumps(fw.to_dict()))
    (run_dir / "FW_offline.json").write_bytes(b'{"launch_id": 9}')
    result = await run_offline(str(run_dir), chdir=True)
    assert result.state == "FIZZLED"
    final = orjson.loads((run_dir / "FW_action.json").read_bytes())
    assert final["checkpoint"]["_cwd"] == str(run_dir / "sub")
    assert orjson.loads((run_dir / "FW_offline.json").read_bytes())["state"] == "FIZZLED"
    assert not any((run_dir / "sub").glob("FW_*.json"))


# -- duplicates (_dupefinder) ---------------------------------------------------------------------


async def test_rerun_also_reruns_duplicates_sharing_launches(
    store_url: str, tmp_path: Path
) -> None:
    """FireWorks' DupeFinderExact makes a Firework adopt the launches of an identical completed
    one (a FireWorks installation on the same database does this); rerunning either reruns both."""
    log = tmp_path / "ran.log"
    spec = {"_dupefinder": {"_fw_name": "DupeFinderExact"}}
    a = Firework.create([step("same", log)], spec=spec, name="a")
    b = Firework.create([step("same", log)], spec=spec, name="b")
    async with LaunchPad(store_url) as lp:
        (ida,) = await add(lp, a, a)
        (idb,) = await add(lp, b, b)
        assert (await run_in(lp, tmp_path / "r1", ida)).state == "COMPLETED"
        shared = (await lp.get_fw_by_id(ida)).launches[0]

        def adopt(wf: Workflow, _ctx: object) -> None:
            from afw.wflogic import refresh

            wf.fws[idb].launches.append(shared)
            wf.mark(wf.fws[idb])
            refresh(wf, idb)

        await lp.store.update_workflow(idb, adopt)
        assert (await lp.get_fw_by_id(idb)).state == "COMPLETED"
        assert sorted(await lp.rerun_fws([ida])) == sorted([ida, idb])
        for i in (ida, idb):
            fw = await lp.get_fw_by_id(i)
            assert fw.state == "READY" and fw.archived_launch_ids == [shared.launch_id]
        assert await lp.rerun_fws([ida], rerun_duplicates=False) == [ida]
