"""Generate a benchmark state: store documents (through afw's store API) and launch dirs.

The documents are made by afw's own code: workflows built with the model, roots made READY by
:func:`afw.wflogic.refresh` (as ``LaunchPad.add_wfs`` does), each run reserved by the pure
checkout logic :func:`afw.lpops.checkout` with ``state="RESERVED"`` (what ``reserve_fw`` runs
inside its transaction), then one :meth:`Store.insert_workflows` for everything and one
:meth:`Store.add_offline_runs`: the documents ``qlaunch -r`` would leave, written in two store
calls instead of one transaction per reservation, so that 100,000 runs generate in a minute
rather than in hours on a slow server. The reservation times are back-dated two days (the
checkout logic stamps "now"), so that the times found in the launch dirs come after them.

Launch dirs are written by :mod:`benchmarks.content` in afw's or FireWorks' format.
"""

from __future__ import annotations

import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from afw.db import OfflineRun, Store, make_store
from afw.firework import Firework
from afw.fs.formats import format_time
from afw.fworker import FWorker
from afw.lpops import checkout
from afw.wflogic import refresh
from afw.workflow import Workflow
from benchmarks.content import files_for, run_dir, run_times, tasks_for, write_files
from benchmarks.plan import Plan, WorkflowPlan

__all__ = [
    "LOGIN_WORKER",
    "Generated",
    "build_workflows",
    "fresh_store",
    "populate",
    "reservation_epoch",
    "spec_for",
    "write_dirs",
]

LOGIN_WORKER = FWorker(name="login-node")
"""The worker recorded on every reservation (qlaunch runs on the login node)."""


def reservation_epoch() -> datetime:
    """When the generated runs were reserved: two days ago, to the second."""
    return (datetime.now(UTC) - timedelta(days=2)).replace(microsecond=123_456)


def spec_for(index: int, size: int) -> dict[str, Any]:
    """A spec of about 1 kB, like a small DFT job's."""
    return {
        "_priority": 1 + index % 3,
        "material_id": f"mp-{100_000 + index}",
        "structure": {
            "lattice": [[5.43, 0.0, 0.0], [0.0, 5.43, 0.0], [0.0, 0.0, 5.43]],
            "sites": [{"species": "Si", "xyz": [k / 4, k / 4, k / 4]} for k in range(8)],
        },
        "incar": {"ENCUT": 520, "EDIFF": 1e-5, "ISMEAR": 0, "SIGMA": 0.05, "KPOINTS": [4, 4, 4]},
        "wf_size": size,
    }


def _workflow(wfp: WorkflowPlan, created: str, serial: int) -> tuple[Workflow, list[int]]:
    def make(n: int, name: str) -> Firework:
        return Firework.create(tasks_for(serial + n), spec_for(serial + n, wfp.size), name=name)

    roots = [make(j, f"wf{wfp.index}-job{j}") for j in range(wfp.roots)]
    fws = list(roots)
    if wfp.size > 1:
        fws.append(make(wfp.roots, f"wf{wfp.index}-collect"))
        fws[-1].parents = roots
    for fw in fws:
        fw.created_on = fw.updated_on = created
    wf = Workflow.create(fws, name=f"bench-{wfp.size}-{wfp.index}", metadata={"benchmark": True})
    wf.created_on = wf.updated_on = created
    for root in wf.root_fw_ids:
        refresh(wf, root)
    return wf, [fw.fw_id for fw in roots]


class _LaunchIds:
    """The :class:`~afw.db.UpdateContext` of the generator: launch ids reserved up front."""

    def __init__(self) -> None:
        self.next = 0

    def new_launch_id(self) -> int:
        return self.next


def build_workflows(
    plan: Plan, root: str, first_launch_id: int, epoch: datetime
) -> tuple[list[Workflow], list[int]]:
    """The workflows of ``plan`` with every run reserved; also each run's (temporary) fw_id."""
    created = format_time(epoch - timedelta(hours=1))
    reserved = format_time(epoch)
    built = []
    serial = 0
    for wfp in plan.workflows:
        built.append(_workflow(wfp, created, serial))
        serial += wfp.size
    ids = _LaunchIds()
    per_run: list[int] = []
    for run in plan.runs:
        wf, roots = built[run.wf]
        fw_id = roots[run.root]
        ids.next = first_launch_id + run.index
        fw, launch = checkout(
            wf,
            ids,
            fw_id,
            fworker=LOGIN_WORKER,
            launch_dir=run_dir(root, run.index),
            state="RESERVED",
        )
        entry = launch.state_history[-1]
        entry["created_on"] = entry["updated_on"] = reserved
        fw.updated_on = reserved
        per_run.append(fw_id)
    wfs = [wf for wf, _ in built]
    for wf in wfs:
        wf.updated_on = reserved
    return wfs, per_run


@dataclass
class Generated:
    """What :func:`populate` made: ``fw_docs[i]`` is run i's ``FW.json`` content."""

    plan: Plan
    root: str
    epoch: datetime
    first_launch_id: int
    fw_ids: list[int] = field(default_factory=list)
    fw_docs: list[dict[str, Any]] = field(default_factory=list, repr=False)
    seconds: float = 0.0


async def fresh_store(url: str, **options: Any) -> Store:
    """An open, empty store at ``url`` (a SQLite file is deleted first, a MongoDB reset)."""
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///").split("?", 1)[0]
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.remove(path + suffix)
    store = make_store(url, **options)
    await store.open()
    await store.reset()
    return store


async def populate(store: Store, plan: Plan, root: str, epoch: datetime) -> Generated:
    """Insert ``plan``'s workflows, reservations and offline runs into an empty ``store``."""
    start = time.perf_counter()
    first = await store.next_launch_ids(plan.n)
    wfs, per_run = build_workflows(plan, root, first, epoch)
    maps: list[dict[int, int]] = []
    chunk: list[Workflow] = []
    size = 0
    for wf in wfs:  # about 20,000 Fireworks per call keeps each write (and its memory) modest
        chunk.append(wf)
        size += len(wf.fws)
        if size >= 20_000:
            maps += await store.insert_workflows(chunk)
            chunk, size = [], 0
    if chunk:
        maps += await store.insert_workflows(chunk)
    out = Generated(plan, root, epoch, first)
    reserved = format_time(epoch)
    runs = []
    for run, old_id in zip(plan.runs, per_run, strict=True):
        fw = wfs[run.wf].fws[maps[run.wf][old_id]]
        out.fw_ids.append(fw.fw_id)
        out.fw_docs.append(fw.to_dict())
        runs.append(OfflineRun(first + run.index, fw.fw_id, fw.name, reserved, reserved))
    for start_at in range(0, len(runs), 10_000):
        await store.add_offline_runs(runs[start_at : start_at + 10_000])
    out.seconds = time.perf_counter() - start
    return out


def write_dirs(gen: Generated, fmt: str, *, threads: int = 4) -> float:
    """Write every run's launch dir under ``gen.root`` in format ``fmt``; returns the seconds."""
    start = time.perf_counter()
    if os.path.exists(gen.root):
        shutil.rmtree(gen.root)
    runs = gen.plan.runs

    def work(lo: int, hi: int) -> None:
        for run in runs[lo:hi]:
            times = run_times(run, gen.epoch)
            files = files_for(
                fmt, run, gen.fw_docs[run.index], gen.first_launch_id + run.index, times
            )
            write_files(run_dir(gen.root, run.index), files)

    step = 2000
    with ThreadPoolExecutor(threads) as pool:
        for future in [pool.submit(work, lo, lo + step) for lo in range(0, len(runs), step)]:
            future.result()
    return time.perf_counter() - start
