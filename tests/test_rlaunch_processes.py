"""`afw rlaunch` as real processes: concurrency, SIGTERM, and a store that goes away."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import anyio
import orjson
import pytest
from clihelp import REPO, afw

from afw import Firework, LaunchPad, Workflow

RECORD = "{{helpers.tasks.RecordTask}}"


def _env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "AFW_LAUNCHPAD": f"sqlite:///{tmp_path / 'lp.sqlite'}",
        "AFW_HOME": str(tmp_path / "home"),
        "PYTHONPATH": os.pathsep.join([str(REPO / "tests"), os.environ.get("PYTHONPATH", "")]),
    }


def _add_recorders(tmp_path: Path, count: int, per_wf: int = 20) -> Path:
    log = tmp_path / "ran.log"

    async def add() -> None:
        wfs = []
        for start in range(0, count, per_wf):
            fws = [
                Firework.create(
                    [{"_fw_name": RECORD, "log": str(log)}], spec={"tag": f"fw{start + i}"}
                )
                for i in range(per_wf)
            ]
            wfs.append(Workflow.create(fws))
        async with LaunchPad(f"sqlite:///{tmp_path / 'lp.sqlite'}") as lp:
            await lp.add_wfs(wfs)

    anyio.run(add)
    return log


def _assert_each_once(log: Path, count: int) -> Counter[str]:
    tags = [line.split()[0] for line in log.read_text().splitlines()]
    seen = Counter(tags)
    assert len(seen) == count, f"{count - len(seen)} Fireworks never ran"
    assert max(seen.values()) == 1, [t for t, n in seen.items() if n > 1]
    return Counter(line.split()[1] for line in log.read_text().splitlines())


def test_multi_4_runs_each_firework_once(tmp_path: Path) -> None:
    log = _add_recorders(tmp_path, 200)
    work = tmp_path / "work"
    work.mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "afw", "rlaunch", "multi", "4", "--sleep", "0"],
        env=_env(tmp_path),
        cwd=work,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    by_pid = _assert_each_once(log, 200)
    assert len(by_pid) == 4  # four processes shared the work


def test_four_rapidfire_processes_run_each_firework_once(tmp_path: Path) -> None:
    log = _add_recorders(tmp_path, 200)
    procs = []
    for n in range(4):
        work = tmp_path / f"work{n}"
        work.mkdir()
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "afw", "rlaunch", "rapidfire", "--sleep", "0"],
                env=_env(tmp_path),
                cwd=work,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
        )
    for proc in procs:
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err.decode()[-2000:]
    _assert_each_once(log, 200)
    count = afw("lpad", "get_fws", "-s", "COMPLETED", "-d", "count", env=_env(tmp_path))
    assert count.stdout.strip() == "200"


def test_sigterm_fizzles_current_launch_and_stops(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    script = f"echo $$ > {pidfile}; exec sleep 120"
    first = Firework.create(
        [{"_fw_name": "ScriptTask", "script": script}], name="long", spec={"_priority": 9}
    )
    other = Firework.create([{"_fw_name": "ScriptTask", "script": "touch never.txt"}], name="next")

    async def add() -> None:
        async with LaunchPad(f"sqlite:///{tmp_path / 'lp.sqlite'}") as lp:
            await lp.add_wfs([Workflow.create([first]), Workflow.create([other])])

    anyio.run(add)
    work = tmp_path / "work"
    work.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "afw", "rlaunch", "rapidfire", "--sleep", "0"],
        env=_env(tmp_path),
        cwd=work,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while not pidfile.exists() or not pidfile.read_text().strip():
        assert time.monotonic() < deadline, "the long task never started"
        time.sleep(0.1)
    child = int(pidfile.read_text())
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert "SIGTERM" in err.decode()
    with pytest.raises(ProcessLookupError):
        for _ in range(50):  # the ScriptTask's subprocess is gone (killed, not orphaned)
            os.kill(child, 0)
            time.sleep(0.1)
    env = _env(tmp_path)
    fws = {fw["name"]: fw for fw in afw("lpad", "get_fws", "-d", "all", env=env).json()}
    assert fws["long"]["state"] == "FIZZLED"
    message = fws["long"]["launches"][0]["action"]["stored_data"]["_message"]
    assert "SIGTERM" in message
    assert fws["next"]["state"] == "READY"
    assert not list(work.rglob("never.txt"))


def test_store_gone_at_completion_leaves_fw_action_json(tmp_path: Path) -> None:
    """The SQLite file is locked by another process when the Rocket completes (the database is
    unavailable): the result must land in FW_action.json and the Rocket must exit non-zero."""
    db = tmp_path / "lp.sqlite"
    locker = tmp_path / "lock.py"
    locker.write_text(
        "import sqlite3, sys, time\n"
        f"c = sqlite3.connect({str(db)!r}, isolation_level=None)\n"
        "c.execute('BEGIN EXCLUSIVE')\n"
        "print('locked', flush=True)\n"
        "time.sleep(120)\n"
    )
    script = f"{sys.executable} {locker} > locked.txt 2>&1 < /dev/null & sleep 2; echo done"
    fw = Firework.create(
        [{"_fw_name": "ScriptTask", "script": script, "store_stdout": True}], name="fragile"
    )

    async def add() -> None:
        async with LaunchPad(f"sqlite:///{db}") as lp:
            await lp.add_wf(fw)

    anyio.run(add)
    work = tmp_path / "work"
    work.mkdir()
    env = {**_env(tmp_path), "AFW_LAUNCHPAD": f"sqlite:///{db}?timeout=3"}
    result = subprocess.run(
        [sys.executable, "-m", "afw", "rlaunch", "singleshot"],
        env=env,
        cwd=work,
        capture_output=True,
        text=True,
        timeout=120,
    )
    subprocess.run(["pkill", "-f", str(locker)], check=False)
    assert result.returncode != 0
    assert "FW_action.json" in result.stderr
    final = orjson.loads((work / "FW_action.json").read_bytes())
    assert final["state"] == "COMPLETED"
    assert final["action"]["stored_data"]["stdout"].strip() == "done"
    assert final["launch_id"] == 1 and final["fw_id"] == 1
