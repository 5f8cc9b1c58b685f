"""`afw lpad recover_offline` / `forget_offline` end to end, with real compute-node runs:
afw's own ``rlaunch singleshot --offline`` and, when installed, FireWorks 2.1.4's."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from clihelp import REPO, Result, afw, one_line_error
from helpers.offline import Reserved, push_workflows, reserve_offline, run_files

from afw import Firework, LaunchPad, Workflow
from afw.fs import FW_OFFLINE_JSON


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "AFW_LAUNCHPAD": f"sqlite:///{tmp_path / 'lp.sqlite'}",
        "AFW_HOME": str(tmp_path / "home"),
        "HOME": str(tmp_path / "home"),
    }


def setup_runs(
    tmp_path: Path, wfs: list[Workflow], runs: str = "runs", **kw: Any
) -> list[Reserved]:
    async def go() -> list[Reserved]:
        async with LaunchPad(f"sqlite:///{tmp_path / 'lp.sqlite'}") as lp:
            await lp.add_wfs(wfs)
            return await reserve_offline(lp, tmp_path / runs, **kw)

    return anyio.run(go)


def fw_state(env: dict[str, str], fw_id: int) -> str:
    (fw,) = afw("lpad", "get_fws", "-i", str(fw_id), "-d", "all", env=env).json()
    return str(fw["state"])


def recover(env: dict[str, str], *args: str) -> Result:
    return afw("lpad", "recover_offline", *args, env=env)


def test_summary_errors_and_exit_codes(tmp_path: Path, env: dict[str, str]) -> None:
    done, torn, queued = setup_runs(tmp_path, push_workflows(3, 1))
    run_files(done, "completed")
    (torn.path / FW_OFFLINE_JSON).write_bytes(b'{"launch_id": 2, "sta')
    result = recover(env)
    assert result.returncode == 1, result.stderr
    summary = result.json()
    assert (summary["completed"], summary["queued"], summary["errors"]) == (1, 1, 1)
    assert "problems" not in summary and "-pe" in result.stderr
    listed = recover(env, "-pe")
    assert listed.returncode == 1
    assert f"launch {torn.launch_id}: {torn.path}" in listed.stderr
    assert listed.json()["problems"][0]["launch_id"] == torn.launch_id
    assert listed.json()["unchanged"] == 1  # the queued run: its dir did not change
    ignored = afw("lpad", "recover-offline", "-i", "--print-errors", env=env)
    assert ignored.returncode == 0 and ignored.json()["errors"] == 1
    assert fw_state(env, torn.fw_id) == "RESERVED"  # never FIZZLED for a torn file
    assert fw_state(env, done.fw_id) == "COMPLETED"
    assert fw_state(env, done.fw_id + 1) == "READY"


def test_worker_filter(tmp_path: Path, env: dict[str, str]) -> None:
    (one,) = setup_runs(tmp_path, push_workflows(1, 1), "runs1", worker="w1")
    (two,) = setup_runs(tmp_path, push_workflows(1, 1), "runs2", worker="w2")
    for run in (one, two):
        run_files(run, "running")
    worker_file = tmp_path / "my_fworker.yaml"
    worker_file.write_text("name: w2\ncategory: ''\nquery: '{}'\n")
    assert recover(env, "-w", "nobody").json()["running"] == 0
    assert recover(env, "--fworker-name", "w2").json()["running"] == 1
    assert recover(env, "-w", str(worker_file)).json()["unchanged"] == 1
    everyone = recover(env, "-w", "")
    assert everyone.json()["running"] + everyone.json()["unchanged"] == 2


def test_forget_offline(tmp_path: Path, env: dict[str, str]) -> None:
    runs = setup_runs(tmp_path, push_workflows(4, 1))
    result = afw("lpad", "forget_offline", "-i", str(runs[0].fw_id), env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1"
    ids = f"{runs[1].launch_id},{runs[2].launch_id}"
    assert afw("lpad", "forget-offline", "--launch-ids", ids, env=env).stdout.strip() == "2"
    assert recover(env).json()["queued"] == 1
    assert "select Fireworks" in one_line_error(afw("lpad", "forget_offline", env=env))
    assert "cannot be combined" in one_line_error(
        afw("lpad", "forget_offline", "-i", "1", "--launch-ids", "1", env=env)
    )
    assert fw_state(env, runs[0].fw_id) == "RESERVED"  # forgotten, not changed


def test_loop_sweeps_until_interrupted(tmp_path: Path, env: dict[str, str]) -> None:
    (run,) = setup_runs(tmp_path, push_workflows(1, 1))
    proc = subprocess.Popen(
        [sys.executable, "-m", "afw", "lpad", "recover_offline", "--loop", "0.2"],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None

    def lines() -> Iterator[dict[str, Any]]:
        assert proc.stdout is not None
        for line in proc.stdout:
            yield json.loads(line)

    sweeps = lines()
    assert next(sweeps)["queued"] == 1
    run_files(run, "completed")
    while next(sweeps)["completed"] != 1:
        pass
    assert next(sweeps)["completed"] == 0
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and "Traceback" not in err


def _offline_rlaunch(argv: list[str], run: Reserved, env: dict[str, str]) -> None:
    done = subprocess.run(
        [*argv, "singleshot", "--offline"],
        cwd=run.path,
        env={**os.environ, **env, "PYTHONPATH": str(REPO / "tests")},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]


SCRIPTS = [
    {"_fw_name": "ScriptTask", "script": "echo first", "store_stdout": True},
    {"_fw_name": "ScriptTask", "script": "exit 3", "fizzle_bad_rc": True},
]


@pytest.mark.parametrize("runner", ["afw", "fireworks"])
def test_offline_runs_of_a_real_rocket(tmp_path: Path, env: dict[str, str], runner: str) -> None:
    """A real compute-node run (afw's rlaunch, or FireWorks 2.1.4's) completes one Firework and
    FIZZLEs another in its second task; afw recovers both, the checkpoint included."""
    if runner == "fireworks":
        from services import require_service

        argv = [str(Path(require_service("fireworks")).parent / "rlaunch")]
    else:
        argv = [sys.executable, "-m", "afw", "rlaunch"]
    good = Firework.create([SCRIPTS[0]], name="good")
    bad = Firework.create(SCRIPTS, name="bad")
    runs = setup_runs(tmp_path, [Workflow.create([good]), Workflow.create([bad])])
    for run in runs:
        _offline_rlaunch(argv, run, env)
    summary = recover(env).json()
    assert (summary["completed"], summary["fizzled"], summary["errors"]) == (1, 1, 0)
    fws = {fw["name"]: fw for fw in afw("lpad", "get_fws", "-d", "all", env=env).json()}
    assert fws["good"]["state"] == "COMPLETED"
    assert fws["good"]["launches"][0]["action"]["stored_data"]["stdout"] == "first\n"
    bad_launch = fws["bad"]["launches"][0]
    assert fws["bad"]["state"] == "FIZZLED"
    assert bad_launch["state_history"][-1]["checkpoint"]["_task_n"] == 1
    rerun = afw("lpad", "rerun_fws", "-i", str(fws["bad"]["fw_id"]), "--task-level", env=env)
    assert rerun.returncode == 0, rerun.stderr
