"""Building offline runs for recovery tests, the way qlaunch -r and a compute node would.

The login node's side is real: ``LaunchPad.reserve_fw``, ``write_reservation`` (FW.json and
FW_offline.json) and the ``offline_runs`` records. The compute node's side is
:class:`OfflineRunWriter`, which is what ``rlaunch singleshot --offline`` writes its files with.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio

from afw import Firework, FWorker, LaunchPad, Workflow
from afw.db import OfflineRun
from afw.fs import (
    LocalFileSystem,
    OfflineRunWriter,
    encode_json,
    make_checkpoint,
    write_reservation,
)
from afw.timeutil import now_iso

TASK = {"_fw_name": "ScriptTask", "script": "true"}
BASE = datetime(2030, 5, 1, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Reserved:
    launch_id: int
    fw_id: int
    name: str
    path: Path


def stamp(seconds: float) -> str:
    """A fixed, reproducible time (BASE + seconds) in FireWorks' format."""
    return (BASE + timedelta(seconds=seconds)).isoformat(timespec="microseconds")


def push_workflows(count: int, parents: int) -> list[Workflow]:
    """``count`` workflows of ``parents`` parents feeding one child whose ``seen`` list each
    parent's action ``_push``es into (a duplicated action shows as a duplicated tag)."""
    wfs = []
    for w in range(count):
        ps = [Firework.create([TASK], name=f"p{w}-{k}") for k in range(parents)]
        child = Firework.create([TASK], name=f"child{w}", spec={"seen": []})
        wfs.append(Workflow.create([*ps, child], links={p.fw_id: [child.fw_id] for p in ps}))
    return wfs


async def reserve_offline(
    lp: LaunchPad, runs_dir: Path, *, worker: str = "w1", limit: int | None = None
) -> list[Reserved]:
    """Reserve every READY Firework (or ``limit`` of them) as qlaunch -r does offline: reserve,
    write FW.json and FW_offline.json, record the offline run. The files are written 16 dirs at
    a time (each atomic write fsyncs) and the records in one call, to keep big set-ups quick."""
    fs = LocalFileSystem()
    reserved: list[tuple[Firework, Reserved]] = []
    while limit is None or len(reserved) < limit:
        path = runs_dir / f"run{len(reserved):05d}"
        fw, launch_id = await lp.reserve_fw(FWorker(name=worker), str(path))
        if fw is None or launch_id is None:
            break
        reserved.append((fw, Reserved(launch_id, fw.fw_id, fw.name, path)))
    limiter = anyio.CapacityLimiter(16)

    async def write(fw: Firework, run: Reserved) -> None:
        async with limiter:
            await write_reservation(fs, str(run.path), encode_json(fw.to_dict()), run.launch_id)

    async with anyio.create_task_group() as tg:
        for fw, run in reserved:
            tg.start_soon(write, fw, run)
    when = now_iso()
    records = [OfflineRun(r.launch_id, r.fw_id, r.name, when, when) for _, r in reserved]
    await lp.store.add_offline_runs(records)
    return [run for _, run in reserved]


def push_action(tag: str) -> dict[str, Any]:
    return {"mod_spec": [{"_push": {"seen": tag}}], "stored_data": {"tag": tag}}


def run_files(run: Reserved, kind: str, offset: float = 0.0) -> None:
    """Write what the compute node writes for a run that ends up ``kind``: ``completed``,
    ``fizzled`` (in its second task), ``running`` (in its second task) or ``queued``."""
    if kind == "queued":
        return
    writer = OfflineRunWriter(run.path)
    writer.start(stamp(offset))
    writer.checkpoint(make_checkpoint(0))
    writer.checkpoint(make_checkpoint(1, {"task0": 1}))
    writer.ping(stamp(offset + 30))
    if kind == "completed":
        writer.finish("COMPLETED", push_action(run.name), stamp(offset + 60))
    elif kind == "fizzled":
        failed = {"stored_data": {"_message": "task 2 failed", "_task": TASK}, "exit": True}
        writer.finish("FIZZLED", failed, stamp(offset + 45))


def kind_of(index: int) -> str:
    """The fate of run ``index`` in the big data sets: 70 % completed, 10 % each other kind."""
    return {7: "fizzled", 8: "running", 9: "queued"}.get(index % 10, "completed")


def write_all(runs: list[Reserved]) -> None:
    """The compute nodes' files of every run (in threads: each atomic write fsyncs)."""
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda n: run_files(runs[n], kind_of(n), n), range(len(runs))))
