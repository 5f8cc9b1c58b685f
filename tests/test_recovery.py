"""recover_offline on real launch dirs and real stores (SQLite and MongoDB)."""

from __future__ import annotations

import gzip
import json
import shutil
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from helpers.offline import (
    TASK,
    Reserved,
    push_workflows,
    reserve_offline,
    run_files,
    stamp,
)

from afw import Firework, FWorker, LaunchPad, Workflow
from afw.fs import FW_OFFLINE_JSON, FW_PING_JSON, OfflineRunWriter, make_checkpoint
from afw.recovery import recover_offline
from afw.timeutil import now, to_iso

pytestmark = pytest.mark.anyio


@pytest.fixture
async def lp(store_url: str) -> AsyncIterator[LaunchPad]:
    async with LaunchPad(store_url) as pad:
        await pad.reset()
        yield pad


def ago(seconds: float) -> str:
    return to_iso(now() - timedelta(seconds=seconds))


async def one_offline(lp: LaunchPad, tmp_path: Path, n: int = 1, **kw: Any) -> list[Reserved]:
    """``n`` one-parent-one-child workflows, parents reserved offline."""
    await lp.add_wfs(push_workflows(n, 1))
    return await reserve_offline(lp, tmp_path / "runs", **kw)


async def test_running_run_keeps_its_latest_ping_and_checkpoint(
    lp: LaunchPad, tmp_path: Path
) -> None:
    (run,) = await one_offline(lp, tmp_path)
    writer = OfflineRunWriter(run.path)
    started = ago(3 * 3600)
    writer.start(started)
    writer.checkpoint(make_checkpoint(0))
    writer.ping(ago(600))
    first = await recover_offline(lp)
    assert (first.running, first.recovered) == (1, 1)
    launch = await lp.get_launch_by_id(run.launch_id)
    assert launch.state == "RUNNING"
    assert launch.time_start == started
    assert launch.checkpoint == make_checkpoint(0)
    assert (await lp.get_fw_by_id(run.fw_id)).state == "RUNNING"

    latest = ago(60)
    writer.checkpoint(make_checkpoint(1, {"a": 1}))
    writer.ping(latest)
    await recover_offline(lp)
    skipped = await recover_offline(lp)  # nothing changed on disk: nothing rewritten
    assert (skipped.unchanged, skipped.recovered) == (1, 0)
    launch = await lp.get_launch_by_id(run.launch_id)
    assert launch.last_pinged == latest
    assert launch.checkpoint == make_checkpoint(1, {"a": 1})
    assert await lp.detect_lostruns() == ([], [], [])
    assert await lp.detect_lostruns(expiration_secs=30 * 60) == ([], [], [])
    lost_launches, lost_fws, _ = await lp.detect_lostruns(expiration_secs=30)
    assert (lost_launches, lost_fws) == ([run.launch_id], [run.fw_id])


async def test_fizzled_in_task_two_keeps_its_checkpoint(lp: LaunchPad, tmp_path: Path) -> None:
    (run,) = await one_offline(lp, tmp_path)
    run_files(run, "fizzled")
    summary = await recover_offline(lp)
    assert (summary.fizzled, summary.recovered, summary.errors) == (1, 1, 0)
    fw = await lp.get_fw_by_id(run.fw_id)
    assert fw.state == "FIZZLED"
    launch = fw.launches[0]
    assert launch.checkpoint == make_checkpoint(1, {"task0": 1})
    assert (launch.time_start, launch.time_end) == (stamp(0), stamp(45))
    assert launch.action is not None
    assert launch.action["stored_data"]["_message"] == "task 2 failed"
    await lp.rerun_fws([run.fw_id], task_level=True)
    recovery = (await lp.get_fw_by_id(run.fw_id)).spec["_recovery"]
    assert recovery["_task_n"] == 1 and recovery["_launch_id"] == run.launch_id


async def test_completions_apply_each_action_once(lp: LaunchPad, tmp_path: Path) -> None:
    await lp.add_wfs(push_workflows(2, 3))
    runs = await reserve_offline(lp, tmp_path / "runs")
    for n, run in enumerate(runs):
        run_files(run, "completed", n)
    summary = await recover_offline(lp, batch_size=4, concurrency=2)
    assert (summary.completed, summary.recovered, summary.seen) == (6, 6, 6)
    children = [fw for fw in await lp.store.get_fws([4, 8]) if fw.name.startswith("child")]
    assert [fw.state for fw in children] == ["READY", "READY"]
    assert sorted(children[0].spec["seen"]) == ["p0-0", "p0-1", "p0-2"]
    assert (await recover_offline(lp)).seen == 0  # every record is closed
    # A sweep killed after writing the workflows but before closing the records:
    reopen = {r.launch_id: {"completed": False, "fingerprint": None} for r in runs}
    await lp.store.update_offline_runs(reopen)
    again = await recover_offline(lp)
    assert (again.already_done, again.recovered) == (6, 0)
    children = await lp.store.get_fws([4, 8])
    assert sorted(children[0].spec["seen"]) == ["p0-0", "p0-1", "p0-2"]
    launch = await lp.get_launch_by_id(runs[0].launch_id)
    assert (launch.time_start, launch.time_end, launch.runtime_secs) == (stamp(0), stamp(60), 60)


# FireWorks 2.1.4's files, exactly as its behaviour file (section 5.3) shows them.
FW_ACTION = {
    "stored_data": {"slept": 2.5},
    "exit": False,
    "update_spec": {"from_sleep": 1},
    "mod_spec": [],
    "additions": [],
    "detours": [],
    "append_wfs": [],
    "defuse_children": False,
    "defuse_workflow": False,
    "propagate": False,
}
CHECKPOINT = {"_task_n": 0, "_all_stored_data": {}, "_all_update_spec": {}, "_all_mod_spec": []}


def fireworks_offline(launch_id: int, **extra: Any) -> bytes:
    doc = {"launch_id": launch_id, "started_on": "2026-11-22T13:01:36.604965+00:00", **extra}
    return json.dumps(doc, ensure_ascii=False).encode()


def fireworks_completed(launch_id: int) -> bytes:
    return fireworks_offline(
        launch_id,
        checkpoint=CHECKPOINT,
        fwaction=FW_ACTION,
        state="COMPLETED",
        completed_on="2026-11-22T13:01:39.112256+00:00",
    )


PING = json.dumps({"ping_time": "2026-11-22T13:01:39.111909+00:00"}).encode()


async def test_dirs_written_by_fireworks_2_1_4(lp: LaunchPad, tmp_path: Path) -> None:
    plain, zipped, running = await one_offline(lp, tmp_path, 3)
    fw_json = json.loads((plain.path / "FW.json").read_bytes())
    (plain.path / "FW.json").write_text(json.dumps(fw_json, indent=4))  # rewritten by the Rocket
    (plain.path / FW_OFFLINE_JSON).write_bytes(fireworks_completed(plain.launch_id))
    (plain.path / FW_PING_JSON).write_bytes(PING)
    # A job whose last task gzipped the launch dir (FireWorks' zpath finds the .gz files).
    (zipped.path / FW_OFFLINE_JSON).unlink()
    (zipped.path / f"{FW_OFFLINE_JSON}.gz").write_bytes(
        gzip.compress(fireworks_completed(zipped.launch_id))
    )
    (zipped.path / f"{FW_PING_JSON}.gz").write_bytes(gzip.compress(PING))
    (running.path / FW_OFFLINE_JSON).write_bytes(
        fireworks_offline(running.launch_id, checkpoint=CHECKPOINT)
    )
    summary = await recover_offline(lp)
    assert (summary.completed, summary.running, summary.errors) == (2, 1, 0)
    for run in (plain, zipped):
        fw = await lp.get_fw_by_id(run.fw_id)
        assert fw.state == "COMPLETED"
        launch = fw.launches[0]
        assert launch.action == FW_ACTION
        assert launch.time_start == "2026-11-22T13:01:36.604965+00:00"
        assert launch.time_end == "2026-11-22T13:01:39.112256+00:00"
        assert launch.state_history[1]["updated_on"] == "2026-11-22T13:01:39.111909+00:00"
        child = await lp.get_fw_by_id(run.fw_id + 1)
        assert (child.state, child.spec["from_sleep"]) == ("READY", 1)
    launch = await lp.get_launch_by_id(running.launch_id)
    assert (launch.state, launch.checkpoint) == ("RUNNING", CHECKPOINT)


@pytest.mark.parametrize(
    "torn",
    [b"", b'{"launch_id": 1, "started_on": "2030-', b'{"launch_id": 1, "fwaction": {}}'],
)
async def test_torn_file_is_retried_and_never_fizzled(
    lp: LaunchPad, tmp_path: Path, torn: bytes
) -> None:
    (run,) = await one_offline(lp, tmp_path)
    (run.path / FW_OFFLINE_JSON).write_bytes(torn)  # FireWorks writes it in place
    for _ in range(2):
        summary = await recover_offline(lp)
        assert (summary.errors, summary.fizzled, summary.completed) == (1, 0, 0)
        ((launch_id, message),) = summary.problems
        assert launch_id == run.launch_id and str(run.path) in message
        assert (await lp.get_fw_by_id(run.fw_id)).state == "RESERVED"
        assert [r.launch_id for r in await lp.store.pending_offline_runs(0, 10)] == [run.launch_id]
    (run.path / FW_OFFLINE_JSON).write_bytes(fireworks_completed(run.launch_id))
    assert (await recover_offline(lp)).completed == 1
    assert (await lp.get_fw_by_id(run.fw_id)).state == "COMPLETED"


async def test_vanished_launch_dir_is_reported_and_left_alone(
    lp: LaunchPad, tmp_path: Path
) -> None:
    gone, kept = await one_offline(lp, tmp_path, 2)
    run_files(gone, "running")
    assert (await recover_offline(lp)).running == 1
    shutil.rmtree(gone.path)
    run_files(kept, "completed")
    summary = await recover_offline(lp)
    assert (summary.vanished, summary.errors, summary.completed) == (1, 0, 1)
    ((launch_id, message),) = summary.problems
    assert launch_id == gone.launch_id and "does not exist" in message
    assert (await lp.get_launch_by_id(gone.launch_id)).state == "RUNNING"
    assert [r.launch_id for r in await lp.store.pending_offline_runs(0, 10)] == [gone.launch_id]


async def test_unchanged_dirs_are_skipped(lp: LaunchPad, tmp_path: Path) -> None:
    runs = await one_offline(lp, tmp_path, 6)
    for run, kind in zip(runs, ["queued", "queued", "running", "running", "completed", "fizzled"]):
        run_files(run, kind)
    first = await recover_offline(lp)
    assert (first.queued, first.running, first.completed, first.fizzled) == (2, 2, 1, 1)
    assert (first.recovered, first.unchanged) == (4, 0)
    second = await recover_offline(lp)
    assert (second.unchanged, second.seen, second.recovered) == (4, 4, 0)
    OfflineRunWriter(runs[2].path).ping(stamp(99))
    third = await recover_offline(lp)
    assert (third.unchanged, third.running, third.recovered) == (3, 1, 1)
    assert (await lp.get_launch_by_id(runs[2].launch_id)).last_pinged == stamp(99)


async def test_cancelled_reservation_keeps_result_on_launch_only(
    lp: LaunchPad, tmp_path: Path
) -> None:
    (run,) = await one_offline(lp, tmp_path)
    await lp.cancel_reservation(run.launch_id)
    run_files(run, "completed")
    summary = await recover_offline(lp)
    assert (summary.orphaned, summary.completed, summary.errors) == (1, 0, 0)
    assert (await lp.get_fw_by_id(run.fw_id)).state == "READY"
    launch = await lp.get_launch_by_id(run.launch_id)
    assert (launch.state, launch.time_end) == ("COMPLETED", stamp(60))
    assert await lp.store.pending_offline_runs(0, 10) == []


async def test_online_run_that_lost_the_database(lp: LaunchPad, tmp_path: Path) -> None:
    """The Rocket could not store its result and left FW_action.json (afw.reporting)."""
    await lp.add_wfs(push_workflows(1, 1))
    fw, launch_id = await lp.checkout_fw(FWorker(name="w1"), str(tmp_path))
    assert fw is not None and launch_id is not None
    writer = OfflineRunWriter(tmp_path, launch_id=launch_id, fw_id=fw.fw_id)
    writer.start(stamp(0))
    writer.finish("COMPLETED", {"mod_spec": [{"_push": {"seen": "online"}}]}, stamp(5))
    assert (await recover_offline(lp)).seen == 0  # no offline record: not looked at
    summary = await recover_offline(lp, include_online=True)
    assert (summary.completed, summary.recovered) == (1, 1)
    assert (await lp.get_fw_by_id(fw.fw_id)).state == "COMPLETED"
    child = await lp.get_fw_by_id(fw.fw_id + 1)
    assert (child.state, child.spec["seen"]) == ("READY", ["online"])
    assert (await recover_offline(lp, include_online=True)).seen == 0


async def test_online_runs_still_going_are_not_reported(lp: LaunchPad, tmp_path: Path) -> None:
    await lp.add_wf(Firework.create([TASK]))
    await lp.checkout_fw(FWorker(), str(tmp_path / "nothing-here"))
    summary = await recover_offline(lp, include_online=True)
    assert (summary.seen, summary.problems) == (0, [])


async def test_worker_name_filter(lp: LaunchPad, tmp_path: Path) -> None:
    await lp.add_wfs([Workflow.create([Firework.create([TASK])]) for _ in range(2)])
    (one,) = await reserve_offline(lp, tmp_path / "a", worker="w1", limit=1)
    (two,) = await reserve_offline(lp, tmp_path / "b", worker="w2", limit=1)
    run_files(one, "completed")
    run_files(two, "completed")
    assert (await recover_offline(lp, fworker_name="nobody")).seen == 0
    only = await recover_offline(lp, fworker_name="w2")
    assert only.completed == 1
    assert (await lp.get_fw_by_id(two.fw_id)).state == "COMPLETED"
    assert (await lp.get_fw_by_id(one.fw_id)).state == "RESERVED"
    assert (await recover_offline(lp, fworker_name="")).completed == 1


async def test_dir_taken_over_by_a_later_launch_forgets_the_old_run(
    lp: LaunchPad, tmp_path: Path
) -> None:
    """A rerun re-reserved into the same dir (spec._launch_dir): the old launch can never come
    back, so its offline run is forgotten instead of failing every sweep."""
    (old,) = await one_offline(lp, tmp_path)
    await lp.cancel_reservation(old.launch_id)
    (new,) = await reserve_offline(lp, tmp_path / "runs")
    assert new.path == old.path and new.launch_id != old.launch_id
    summary = await recover_offline(lp)
    assert (summary.orphaned, summary.queued, summary.errors) == (1, 1, 0)
    assert [r.launch_id for r in await lp.store.pending_offline_runs(0, 10)] == [new.launch_id]
    (record,) = await lp.store.offline_runs([old.launch_id])
    assert record.deprecated and not record.completed


async def test_an_action_that_cannot_be_applied_holds_back_only_its_run(
    lp: LaunchPad, tmp_path: Path
) -> None:
    await lp.add_wfs(push_workflows(1, 2))
    good, bad = await reserve_offline(lp, tmp_path / "runs")
    run_files(good, "completed")
    writer = OfflineRunWriter(bad.path)
    writer.start(stamp(0))
    writer.finish("COMPLETED", {"mod_spec": [{"_inc": {"seen": 1}}]}, stamp(9))  # seen: a list
    for completed in (1, 0):
        summary = await recover_offline(lp)
        assert (summary.completed, summary.errors) == (completed, 1)
        ((launch_id, message),) = summary.problems
        assert launch_id == bad.launch_id and "could not apply" in message
    child = await lp.get_fw_by_id(3)
    assert (child.state, child.spec["seen"]) == ("WAITING", [good.name])
    assert (await lp.get_launch_by_id(bad.launch_id)).state == "RESERVED"
    assert [r.launch_id for r in await lp.store.pending_offline_runs(0, 10)] == [bad.launch_id]
