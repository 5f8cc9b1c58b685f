"""`afw lpad recover_offline` as real processes over 2,000 offline runs (SQLite only).

One data set is built once: 400 workflows of 5 parents feeding one child, every parent reserved
offline; 70 % of the runs completed, 10 % each FIZZLED, still running and still queued. Each
completed parent's action ``_push``es its name into the child's ``seen`` list, so an action
applied twice shows as a duplicated name. Tests work on copies: the launch dirs are recorded
under ``<root>/live/...`` and ``live`` is a symlink re-pointed at the copy in use.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from contextlib import closing
from pathlib import Path
from typing import Any

import anyio
import pytest
from clihelp import REPO
from helpers.offline import push_workflows, reserve_offline, write_all

from afw import LaunchPad

WORKFLOWS, PARENTS = 400, 5
RUNS = WORKFLOWS * PARENTS
FINISHED = RUNS * 8 // 10


class DataSets:
    """The template data set and its copies (see the module docstring)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.live = root / "live"

    def point(self, name: str) -> Path:
        if self.live.is_symlink():
            self.live.unlink()
        self.live.symlink_to(self.root / name, target_is_directory=True)
        return self.root / name

    def copy(self, name: str) -> Path:
        shutil.copytree(self.root / "template", self.root / name, symlinks=True)
        return self.point(name)


def db(data: Path) -> Path:
    return data / "lp.sqlite"


def _build(sets: DataSets) -> None:
    async def build() -> None:
        async with LaunchPad(f"sqlite:///{db(sets.point('template'))}") as lp:
            await lp.add_wfs(push_workflows(WORKFLOWS, PARENTS))
            runs = await reserve_offline(lp, sets.live / "runs")
            assert len(runs) == RUNS
            await anyio.to_thread.run_sync(write_all, runs)

    anyio.run(build)


@pytest.fixture(scope="module")
def sets(tmp_path_factory: pytest.TempPathFactory) -> DataSets:
    data = DataSets(tmp_path_factory.mktemp("recovery"))
    _build(data)
    return data


def sweep(data: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "AFW_LAUNCHPAD": f"sqlite:///{db(data)}", "AFW_HOME": str(data / "home")}
    return subprocess.Popen(
        [sys.executable, "-m", "afw", "lpad", "recover_offline", "--json", *args],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-3000:]
    summary: dict[str, Any] = json.loads(out)
    return summary


def snapshot(data: Path) -> dict[str, Any]:
    """Everything recovery may change, normalized: Fireworks (without their updated_on),
    launches, offline-run flags. The order of pushes into a child may differ between sweeps
    (batches are read concurrently), so ``seen`` is compared as a sorted list; duplicates are
    checked first."""

    async def read() -> dict[str, Any]:
        async with LaunchPad(f"sqlite:///{db(data)}") as lp:
            ids = await lp.store.find_fw_ids({})
            fws = await lp.store.get_fws(ids)
            runs = await lp.store.offline_runs(range(1, RUNS + 1))
        out: dict[str, Any] = {"runs": {r.launch_id: (r.completed, r.deprecated) for r in runs}}
        for fw in fws:
            seen = fw.spec.get("seen", [])
            dupes = [name for name, n in Counter(seen).items() if n > 1]
            assert not dupes, f"actions applied twice on Firework {fw.fw_id}: {dupes}"
            spec = {**fw.spec, "seen": sorted(seen)} if "seen" in fw.spec else fw.spec
            launches = [la.to_db_dict() for la in fw.launches]
            out[f"fw{fw.fw_id}"] = (fw.state, spec, launches)
        return out

    return anyio.run(read)


@pytest.fixture(scope="module")
def reference(sets: DataSets) -> dict[str, Any]:
    """The state after one uninterrupted sweep."""
    data = sets.copy("reference")
    summary = finish(sweep(data))
    assert summary["completed"] + summary["fizzled"] == FINISHED
    assert (summary["running"], summary["queued"], summary["errors"]) == (RUNS // 10,) * 2 + (0,)
    return snapshot(data)


def test_reference_sweep(reference: dict[str, Any]) -> None:
    fws = [v for k, v in reference.items() if k.startswith("fw")]
    assert Counter(state for state, _, _ in fws) == {
        "COMPLETED": RUNS * 7 // 10,
        "FIZZLED": RUNS // 10,
        "RUNNING": RUNS // 10,
        "RESERVED": RUNS // 10,
        "READY": WORKFLOWS // 2,  # children of five completed parents
        "WAITING": WORKFLOWS // 2,  # children of a FIZZLED, a running and a queued parent
    }
    seen = Counter(len(spec["seen"]) for state, spec, _ in fws if "seen" in spec)
    assert seen == {PARENTS: WORKFLOWS // 2, 2: WORKFLOWS // 2}
    closed = [flags for flags in reference["runs"].values() if flags[0]]
    assert len(closed) == FINISHED


def completed_count(path: Path) -> int:
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)) as conn:
        row = conn.execute("SELECT COUNT(*) FROM offline_runs WHERE completed = 1").fetchone()
        return int(row[0])


def kill_when(proc: subprocess.Popen[str], data: Path, closed: int) -> int:
    """SIGKILL ``proc`` once ``closed`` offline runs are closed; returns how many were."""
    deadline = time.monotonic() + 300
    while completed_count(db(data)) < closed:
        assert proc.poll() is None, "the sweep finished before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    return completed_count(db(data))


def test_sigkill_mid_sweep_then_rerun_matches_one_sweep(
    sets: DataSets, reference: dict[str, Any]
) -> None:
    data = sets.copy("killed")
    first = kill_when(sweep(data, "--batch-size", "50"), data, 200)
    second = kill_when(sweep(data, "--batch-size", "50"), data, first + 600)
    assert 0 < first < second < FINISHED, (first, second)
    summary = finish(sweep(data))
    assert summary["completed"] + summary["fizzled"] + summary["already_done"] == FINISHED - second
    assert snapshot(data) == reference


def test_two_sweeps_at_once_match_one_sweep(sets: DataSets, reference: dict[str, Any]) -> None:
    data = sets.copy("racing")
    procs = [sweep(data, "--batch-size", "100"), sweep(data, "--batch-size", "70")]
    summaries = [finish(p) for p in procs]
    # Each run's result was applied by exactly one of the two; the other saw it done already.
    assert sum(s["completed"] + s["fizzled"] for s in summaries) == FINISHED
    assert snapshot(data) == reference
