"""Several OS processes sharing one SQLite store: no Firework handed out twice, no lost update."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import pytest

from afw.db.sqlite import SQLiteStore
from afw.firework import Firework
from afw.workflow import Workflow

REPO = Path(__file__).resolve().parent.parent
WORKER = Path(__file__).resolve().parent / "helpers" / "sqlite_worker.py"
TASK = {"_fw_name": "ScriptTask", "script": "true"}


def _load_worker() -> Any:
    spec = importlib.util.spec_from_file_location("sqlite_worker", WORKER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


worker = _load_worker()


def flat_workflows(n_wfs: int, per_wf: int) -> list[Workflow]:
    wfs = []
    for w in range(n_wfs):
        fws = [
            Firework.create([TASK], name=f"w{w}-{i}", fw_id=-(i + 1), spec={"_priority": i % 3})
            for i in range(per_wf)
        ]
        for fw in fws:
            fw.state = "READY"
        wfs.append(Workflow.create(fws, name=f"wf{w}"))
    return wfs


async def _insert(url: str, wfs: list[Workflow]) -> None:
    async with SQLiteStore(url) as store:
        await store.insert_workflows(wfs)


def run_workers(tmp_path: Path, url: str, jobs: list[tuple[str, list[str]]]) -> list[Any]:
    """Start one process per job, release them together, return their JSON results."""
    start = tmp_path / "start"
    start.mkdir()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    outs = [tmp_path / f"out{i}.json" for i in range(len(jobs))]
    procs = [
        subprocess.Popen(
            [sys.executable, str(WORKER), mode, url, str(out), str(start), *args],
            cwd=REPO,
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for (mode, args), out in zip(jobs, outs)
    ]
    try:
        deadline = time.monotonic() + 120
        while len(list(start.glob("ready.*"))) < len(procs):
            failed = [p for p in procs if p.poll() not in (None, 0)]
            if failed:
                pytest.fail(f"worker died before starting: {failed[0].stderr.read()}")
            assert time.monotonic() < deadline, "workers did not start"
            time.sleep(0.01)
        (start / "go").touch()
        for proc in procs:
            _, err = proc.communicate(timeout=240)
            assert proc.returncode == 0, err
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return [json.loads(out.read_text()) for out in outs]


@pytest.mark.parametrize(("n_wfs", "per_wf"), [(20, 100), (2000, 1)], ids=["20x100", "2000x1"])
def test_eight_processes_claim_every_firework_once(tmp_path: Path, n_wfs: int, per_wf: int) -> None:
    url = f"sqlite:///{tmp_path / 'shared.sqlite'}"
    anyio.run(_insert, url, flat_workflows(n_wfs, per_wf))
    began = time.perf_counter()
    results = run_workers(tmp_path, url, [("claim", [])] * 8)
    wall = time.perf_counter() - began
    claims = [tuple(pair) for result in results for pair in result["claimed"]]
    fw_ids = [fw_id for fw_id, _ in claims]
    launch_ids = [launch_id for _, launch_id in claims]
    total = n_wfs * per_wf
    assert len(fw_ids) == len(set(fw_ids)) == total
    assert set(fw_ids) == set(range(1, total + 1))
    assert sorted(launch_ids) == list(range(1, total + 1))
    per_proc = [len(result["claimed"]) for result in results]
    busiest = max(result["elapsed"] for result in results)
    print(
        f"\n8 processes claimed {total} Fireworks: {busiest:.2f} s from the start signal"
        f" ({wall:.2f} s with process start-up); claims per process {per_proc}"
    )

    async def check() -> None:
        async with SQLiteStore(url) as store:
            assert await store.count_fws({"state": "RUNNING"}) == total
            assert await store.find_launch_fw_ids({"state": "RUNNING"}) == sorted(
                fw_ids, key=lambda f: dict(claims)[f]
            )
            wf_states = {
                doc["state"] for doc in await store.get_wf_docs(list(range(1, total + 1, per_wf)))
            }
            assert wf_states == {"RUNNING"}

    anyio.run(check)


def test_heartbeats_racing_completions_lose_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.sqlite'}"
    n = 200

    async def prepare() -> list[list[int]]:
        async with SQLiteStore(url) as store:
            await store.insert_workflows(flat_workflows(4, n // 4))
            pairs = []
            for _ in range(n):
                result = await store.checkout({"state": "READY"}, [], worker.claim)
                assert result is not None
                pairs.append(result[0])
            return pairs

    pairs = anyio.run(prepare)
    launch_ids = [launch_id for _, launch_id in pairs]
    began = time.perf_counter()
    beats, completions = run_workers(
        tmp_path,
        url,
        [("heartbeat", [json.dumps(launch_ids)]), ("complete", [json.dumps(pairs)])],
    )
    wall = time.perf_counter() - began
    print(
        f"\n{beats['beats']} heartbeats and {len(completions['completed'])} completions"
        f" raced for {wall:.2f} s"
    )
    assert sorted(completions["completed"]) == sorted(launch_ids)
    assert set(beats["refused"]) == set(map(str, launch_ids))

    async def check() -> None:
        async with SQLiteStore(url) as store:
            launches = await store.get_launches(launch_ids)
            fws = await store.get_fws([fw_id for fw_id, _ in pairs])
        assert {fw.state for fw in fws} == {"COMPLETED"}
        for launch in launches:
            assert launch.state == "COMPLETED"
            assert [e["state"] for e in launch.state_history] == ["RUNNING", "COMPLETED"]
            assert launch.action is not None and launch.action["stored_data"]["completed_by"]
            acked = beats["acked"].get(str(launch.launch_id))
            running = launch.state_history[0]
            if acked is None:  # completed before its first heartbeat
                assert "checkpoint" not in running
                continue
            when, checkpoint = acked
            assert running["updated_on"] == when, launch.launch_id
            assert running["checkpoint"] == checkpoint, launch.launch_id

    anyio.run(check)
