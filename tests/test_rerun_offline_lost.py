"""Task-level reruns of offline runs (checkpoint recovered from FW_offline.json) and of lost
runs (``detect_lostruns --rerun --task-level``, FireWorks #270) with real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from clihelp import REPO, afw

from afw import Firework, FWorker, LaunchPad
from afw.fs import LocalFileSystem, encode_json, write_reservation
from afw.rocket import run_offline

STEP = "{{helpers.rerun_tasks.StepTask}}"


def step(key: str, log: Path, **params: Any) -> dict[str, Any]:
    return {"_fw_name": STEP, "key": key, "log": str(log), **params}


def ran(log: Path) -> list[str]:
    return log.read_text().split() if log.exists() else []


def three_tasks(tmp_path: Path, **t2: Any) -> tuple[Firework, Path, Path]:
    """Task 2 fails (or hangs, with ``sleep``) until ``marker`` exists; it needs task 1's file."""
    log, marker = tmp_path / "ran.log", tmp_path / "fixed"
    fw = Firework.create(
        [
            step("t1", log, value=1),
            step("t2", log, value=2, unless_file=str(marker), needs=["t1.txt"], **t2),
            step("t3", log, value=3, needs=["t1.txt", "t2.txt"]),
        ],
        name="three",
    )
    return fw, log, marker


async def reserve(lp: LaunchPad, directory: Path) -> Path:
    """What ``qlaunch -r`` does for an offline run: reserve, write FW.json/FW_offline.json."""
    fw, launch_id = await lp.reserve_fw(FWorker(), str(directory))
    assert fw is not None and launch_id is not None
    path = Path(fw.spec.get("_launch_dir") or directory)
    if str(path) != str(directory):
        await lp.change_launch_dir(launch_id, str(path))
    await write_reservation(LocalFileSystem(), str(path), encode_json(fw.to_dict()), launch_id)
    await lp.add_offline_run(launch_id, fw.fw_id, fw.name)
    return path


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["cp", "prev_dir"])
async def test_offline_run_reruns_at_task_level(sqlite_url: str, tmp_path: Path, mode: str) -> None:
    recovery = pytest.importorskip("afw.recovery", reason="awaits afw.recovery.recover_offline")
    fw, log, marker = three_tasks(tmp_path)
    async with LaunchPad(sqlite_url) as lp:
        fw_id = next(iter((await lp.add_wf(fw)).values()))
        first_dir = await reserve(lp, tmp_path / "off1")
        assert (await run_offline(str(first_dir), chdir=True)).state == "FIZZLED"
        await recovery.recover_offline(lp)
        stored = await lp.get_fw_by_id(fw_id)
        assert stored.state == "FIZZLED"
        checkpoint = stored.launches[0].checkpoint
        assert checkpoint is not None
        assert checkpoint["_task_n"] == 1 and checkpoint["_all_stored_data"] == {"t1": 1}

        marker.touch()
        assert await lp.rerun_fws([fw_id], task_level=True, recover_mode=mode) == [fw_id]
        second_dir = await reserve(lp, tmp_path / "off2")
        assert second_dir == (first_dir if mode == "prev_dir" else tmp_path / "off2")
        assert (await run_offline(str(second_dir), chdir=True)).state == "COMPLETED"
        assert ran(log) == ["t1", "t2", "t2", "t3"]
        assert (second_dir / "t1.txt").read_text() == str(first_dir)
        await recovery.recover_offline(lp)
        done = await lp.get_fw_by_id(fw_id)
        assert done.state == "COMPLETED"
        assert done.launches[0].action["stored_data"] == {"t1": 1, "t2": 2, "t3": 3}


def _env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "AFW_LAUNCHPAD": f"sqlite:///{tmp_path / 'lp.sqlite'}",
        "AFW_HOME": str(tmp_path / "home"),
        "PYTHONPATH": os.pathsep.join([str(REPO / "tests"), os.environ.get("PYTHONPATH", "")]),
    }


def _wait_for(log: Path, line: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while line not in ran(log):
        assert time.monotonic() < deadline, f"{line!r} never ran: {ran(log)}"
        time.sleep(0.05)


def test_270_lost_run_resumes_at_the_running_task(tmp_path: Path) -> None:
    """A Rocket killed (SIGKILL, as by a walltime) in task 2 is found by
    ``detect_lostruns --rerun --task-level`` and resumes at task 2 with task 1's data."""
    env = _env(tmp_path)
    fw, log, marker = three_tasks(tmp_path, sleep=600)

    async def add() -> None:
        async with LaunchPad(env["AFW_LAUNCHPAD"]) as lp:
            await lp.add_wf(fw)  # renumbers fw.fw_id

    anyio.run(add)
    run1 = tmp_path / "run1"
    run1.mkdir()
    cmd = [sys.executable, "-m", "afw", "rlaunch", "singleshot", "-f", str(fw.fw_id)]
    proc = subprocess.Popen(cmd, cwd=run1, env=env)
    try:
        _wait_for(log, "t2")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    state = afw("lpad", "get_fws", "-i", str(fw.fw_id), "-d", "more", env=env).json()
    assert state[0]["state"] == "RUNNING"

    args = ["detect_lostruns", "--time", "0", "--rerun", "--task-level", "--copy-data"]
    result = afw("lpad", *args, env=env)
    assert result.returncode == 0, result.stderr
    assert result.json()["lost_fw_ids"] == [fw.fw_id]
    shown = afw("lpad", "get_fws", "-i", str(fw.fw_id), "-d", "all", env=env).json()[0]
    assert shown["state"] == "READY"
    recovery = shown["spec"]["_recovery"]
    assert recovery["_task_n"] == 1 and recovery["_all_stored_data"] == {"t1": 1}
    assert recovery["_mode"] == "cp" and recovery["_prev_dir"] == str(run1)
    assert [la["state"] for la in shown["archived_launches"]] == ["FIZZLED"]

    marker.touch()
    run2 = tmp_path / "run2"
    run2.mkdir()
    done = afw("rlaunch", "singleshot", "-f", str(fw.fw_id), env=env, cwd=run2)
    assert done.returncode == 0, done.stderr
    assert ran(log) == ["t1", "t2", "t2", "t3"]  # task 1 not rerun: its files and data came along
    final = afw("lpad", "get_fws", "-i", str(fw.fw_id), "-d", "all", env=env).json()[0]
    assert final["state"] == "COMPLETED"
    assert final["launches"][0]["action"]["stored_data"] == {"t1": 1, "t2": 2, "t3": 3}


def test_270_lost_runs_without_a_checkpoint_are_rerun_from_the_start(tmp_path: Path) -> None:
    env = _env(tmp_path)
    log = tmp_path / "ran.log"
    fw = Firework.create([step("x", log)], name="never started")

    async def lose() -> int:
        async with LaunchPad(env["AFW_LAUNCHPAD"]) as lp:
            fw_id = next(iter((await lp.add_wf(fw)).values()))
            _fw, launch_id = await lp.checkout_fw(FWorker(), str(tmp_path / "dead"))
            assert launch_id is not None  # checked out, then the node died before any task
            return fw_id

    fw_id = anyio.run(lose)
    result = afw("lpad", "detect_lostruns", "--time", "0", "--rerun", "--task-level", env=env)
    assert result.returncode == 0, result.stderr
    shown = afw("lpad", "get_fws", "-i", str(fw_id), "-d", "all", env=env).json()[0]
    assert shown["state"] == "READY" and "_recovery" not in shown["spec"]
