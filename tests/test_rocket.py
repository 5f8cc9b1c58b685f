"""The Rocket in-process: checkpoints, failures, action merging, launch dirs, offline runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from afw import Firework, FWorker, LaunchPad, Workflow
from afw.rocket import Rocket, run_offline

pytestmark = pytest.mark.anyio

T = "{{helpers.tasks.%s}}"


def task(name: str, **params: Any) -> dict[str, Any]:
    return {"_fw_name": T % name, **params}


async def run_one(lp: LaunchPad, tmp_path: Path, fw_id: int | None = None) -> Any:
    launch_dir = tmp_path / f"run{fw_id or ''}"
    launch_dir.mkdir(exist_ok=True)
    return await Rocket(lp, FWorker(), fw_id, launch_dir=str(launch_dir), chdir=False).run()


async def test_failure_in_task_two_keeps_checkpoint(sqlite_url: str, tmp_path: Path) -> None:
    fw = Firework.create(
        [
            task("StoreTask", key="t1", value=11),
            task("FailTask", message="bad thing"),
            task("StoreTask", key="t3", value=33),
        ],
        name="three tasks",
    )
    async with LaunchPad(sqlite_url) as lp:
        await lp.add_wf(fw)
        result = await run_one(lp, tmp_path)
        assert result.state == "FIZZLED"
        stored = await lp.get_fw_by_id(result.fw_id)
        assert stored.state == "FIZZLED"
        launch = stored.launches[0]
        assert [e["state"] for e in launch.state_history] == ["RUNNING", "FIZZLED"]
        checkpoint = launch.state_history[-1]["checkpoint"]
        assert checkpoint["_task_n"] == 1
        assert checkpoint["_all_stored_data"] == {"t1": 11}
        data = launch.action["stored_data"]
        assert data["_message"] == "runtime error during task"
        assert data["_task"]["_fw_name"] == T % "FailTask"
        assert "MyError: bad thing" in data["_exception"]["_stacktrace"]
        assert not (Path(result.launch_dir) / "t3.txt").exists()


async def test_success_merges_actions_and_passes_data(sqlite_url: str, tmp_path: Path) -> None:
    parent = Firework.create(
        [
            task("StoreTask", key="a", value=1, update=True),
            task("StoreTask", key="b", value=2, update=True),
        ],
        name="parent",
        spec={"_pass_job_info": True, "_files_out": {"out": "b.txt"}},
    )
    child = Firework.create(
        [task("StoreTask", key="c", value=3)],
        name="child",
        parents=parent,
        spec={"_files_in": {"out": "from_parent.txt"}},
    )
    async with LaunchPad(sqlite_url) as lp:
        await lp.add_wf(Workflow.create([parent, child]))
        first = await run_one(lp, tmp_path)
        assert first.state == "COMPLETED"
        done = await lp.get_fw_by_id(parent.fw_id)
        assert done.launches[0].action["stored_data"] == {"a": 1, "b": 2}
        kid = await lp.get_fw_by_id(child.fw_id)
        assert kid.state == "READY"
        assert kid.spec["a"] == 1 and kid.spec["b"] == 2
        assert kid.spec["_job_info"][0]["fw_id"] == parent.fw_id
        assert kid.spec["_files_prev"]["out"].endswith("b.txt")
        second = await run_one(lp, tmp_path, child.fw_id)
        assert second.state == "COMPLETED"
        assert (Path(second.launch_dir) / "from_parent.txt").read_text() == "2"
        wf = await lp.get_wf_by_fw_id(parent.fw_id)
        assert wf.state == "COMPLETED"


async def test_relative_launch_dir_works(sqlite_url: str, tmp_path: Path) -> None:
    fw = Firework.create([task("StoreTask", key="x", value=1)], spec={"_launch_dir": "sub/dir"})
    async with LaunchPad(sqlite_url) as lp:
        await lp.add_wf(fw)
        result = await run_one(lp, tmp_path)
        assert result.state == "COMPLETED"
        assert result.launch_dir == str((tmp_path / "run" / "sub" / "dir").resolve())
        assert (Path(result.launch_dir) / "x.txt").exists()
        assert (Path(result.launch_dir) / "FW.json").exists()
        stored = await lp.get_fw_by_id(result.fw_id)
        assert stored.launches[0].launch_dir == result.launch_dir


async def test_heartbeat_updates_launch(sqlite_url: str, tmp_path: Path) -> None:
    fw = Firework.create([task("SleepTask", seconds=1.2)])
    async with LaunchPad(sqlite_url) as lp:
        await lp.add_wf(fw)
        launch_dir = tmp_path / "hb"
        launch_dir.mkdir()
        rocket = Rocket(lp, FWorker(), launch_dir=str(launch_dir), chdir=False, ping_secs=0.2)
        result = await rocket.run()
        launch = (await lp.get_fw_by_id(result.fw_id)).launches[0]
        running = launch.state_history[0]
        assert running["updated_on"] > running["created_on"]


async def test_offline_run_needs_no_database(tmp_path: Path) -> None:
    fw = Firework.create(
        [task("StoreTask", key="k", value=5), task("FailTask")], name="offline", fw_id=7
    )
    (tmp_path / "FW.json").write_bytes(orjson.dumps(fw.to_dict()))
    (tmp_path / "FW_offline.json").write_bytes(b'{"launch_id": 42}')
    result = await run_offline(str(tmp_path), chdir=False)
    assert result.state == "FIZZLED"
    final = orjson.loads((tmp_path / "FW_action.json").read_bytes())
    assert final["launch_id"] == 42 and final["state"] == "FIZZLED"
    assert final["checkpoint"]["_task_n"] == 1
    offline = orjson.loads((tmp_path / "FW_offline.json").read_bytes())
    assert offline["state"] == "FIZZLED" and "fwaction" in offline and "started_on" in offline
    assert "ping_time" in orjson.loads((tmp_path / "FW_ping.json").read_bytes())
