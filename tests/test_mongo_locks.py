"""Workflow locks across processes: a lock whose holder was SIGKILLed is taken over once its lease
has run out; a live holder (renewing its lease) is never taken over; FireWorks' own lock (no
lease) is waited for; many processes checking out at once never get the same Firework."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pymongo
import pytest

from afw.db.mongo import MongoStore
from afw.errors import LockError
from afw.firework import Firework
from afw.workflow import Workflow

pytestmark = pytest.mark.anyio
TASK = {"_fw_name": "ScriptTask", "script": "true"}

HOLDER = textwrap.dedent(
    """
    import sys, anyio
    from afw.db.mongo import MongoStore

    async def main(url, fw_id, lease):
        async with MongoStore(url, lock_lease_secs=lease) as store:
            async with store.workflow_lock(fw_id) as token:
                print(token, flush=True)
                await anyio.sleep(3600)

    anyio.run(main, sys.argv[1], int(sys.argv[2]), float(sys.argv[3]))
    """
)

CLAIMER = textwrap.dedent(
    """
    import json, sys, anyio
    from afw.db.mongo import MongoStore
    from afw.launch import Launch
    from afw.wflogic import set_fw_state

    def claim(wf, ctx, fw_id):
        fw = wf.fw(fw_id)
        launch = Launch(launch_id=ctx.new_launch_id(), fw_id=fw_id, state="RUNNING")
        fw.launches.append(launch)
        set_fw_state(wf, fw, "RUNNING")
        wf.mark_launch(launch)
        return [fw_id, launch.launch_id]

    async def main(url, go):
        got = []
        async with MongoStore(url) as store:
            while not __import__("os").path.exists(go):
                await anyio.sleep(0.01)
            while (found := await store.checkout({"state": "READY"}, [], claim)) is not None:
                got.append(found[0][0])
        print(json.dumps(got))

    anyio.run(main, sys.argv[1], sys.argv[2])
    """
)


def url_of(fresh: tuple[str, str]) -> str:
    uri, dbname = fresh
    return uri.split("?")[0].rstrip("/") + f"/{dbname}"


def flat(n: int, name: str = "flat") -> Workflow:
    fws = [Firework.create([TASK], name=f"{name}{i}", fw_id=-(i + 1)) for i in range(n)]
    for fw in fws:
        fw.state = "READY"
    return Workflow.create(fws, name=name)


def spawn(tmp_path: Path, source: str, *args: str) -> subprocess.Popen[str]:
    script = tmp_path / f"helper_{abs(hash(source))}.py"
    if not script.exists():
        script.write_text(source)
    return subprocess.Popen(
        [sys.executable, str(script), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_line(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if not line:
        raise AssertionError(
            f"helper exited: {proc.wait()} {proc.stderr.read() if proc.stderr else ''}"
        )
    return line


def lock_fields(fresh: tuple[str, str]) -> dict[str, Any]:
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(fresh[0])
    try:
        doc = client[fresh[1]].workflows.find_one({}, {"locked": 1, "locked_by": 1, "_id": 0})
    finally:
        client.close()
    return doc or {}


async def test_lock_of_killed_holder_is_taken_over_after_its_lease(
    fresh_mongo_db: tuple[str, str], tmp_path: Path
) -> None:
    url, lease = url_of(fresh_mongo_db), 3.0
    async with MongoStore(url, lock_lease_secs=lease) as store:
        await store.reset()
        await store.insert_workflows([flat(2)])
        holder = spawn(tmp_path, HOLDER, url, "1", str(lease))
        token = wait_line(holder)
        assert lock_fields(fresh_mongo_db) == {"locked": True, "locked_by": token}
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        killed = time.monotonic()
        names, _ = await store.update_workflow(
            2, lambda wf, ctx: sorted(wf.fw(i).name for i in (1, 2))
        )
        waited = time.monotonic() - killed
    assert names == ["flat0", "flat1"]
    assert 0.5 * lease < waited < lease + 8, waited
    assert lock_fields(fresh_mongo_db) == {}


async def test_lock_of_live_holder_is_never_taken_over(
    fresh_mongo_db: tuple[str, str], tmp_path: Path
) -> None:
    url, lease = url_of(fresh_mongo_db), 1.0
    async with MongoStore(url, lock_lease_secs=lease, lock_wait_secs=3) as store:
        await store.reset()
        await store.insert_workflows([flat(1)])
        holder = spawn(tmp_path, HOLDER, url, "1", str(lease))
        try:
            token = wait_line(holder)
            began = time.monotonic()
            with pytest.raises(LockError, match="alive, renewing"):
                await store.update_workflow(1, lambda wf, ctx: None)
            assert time.monotonic() - began >= 3
            assert lock_fields(fresh_mongo_db) == {"locked": True, "locked_by": token}
            with pytest.raises(LockError):
                await store.checkout({"state": "READY"}, [], lambda wf, ctx, i: i)
            assert await store.find_fw_ids({"state": "READY"}) == [1]  # claim given back
            assert lock_fields(fresh_mongo_db) == {"locked": True, "locked_by": token}
        finally:
            holder.terminate()
            holder.wait()


async def test_afw_waits_for_fireworks_lock(
    fresh_mongo_db: tuple[str, str], fireworks_python: Path, tmp_path: Path
) -> None:
    """FireWorks' WFLock (no owner, no lease) excludes afw until FireWorks releases it."""
    url = url_of(fresh_mongo_db)
    helper = Path(__file__).resolve().parent / "helpers" / "fw_lock.py"
    async with MongoStore(url, lock_lease_secs=1) as store:
        await store.reset()
        await store.insert_workflows([flat(1)])
        argv = [str(fireworks_python), str(helper), *fresh_mongo_db, "1", "4"]
        holder = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert json.loads(wait_line(holder)) == "locked"
        began = time.monotonic()
        await store.update_workflow(1, lambda wf, ctx: None)
        waited = time.monotonic() - began
        assert holder.wait(timeout=30) == 0
    assert waited > 2, "afw must not take FireWorks' lock"


async def test_processes_never_check_out_the_same_firework(
    fresh_mongo_db: tuple[str, str], tmp_path: Path
) -> None:
    url = url_of(fresh_mongo_db)
    async with MongoStore(url) as store:
        await store.reset()
        await store.insert_workflows([flat(15, f"w{i}") for i in range(3)])
    go = tmp_path / "go"
    workers = [spawn(tmp_path, CLAIMER, url, str(go)) for _ in range(4)]
    time.sleep(1.0)
    go.touch()
    got: list[int] = []
    for proc in workers:
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err[-3000:]
        got += json.loads(out.strip().splitlines()[-1])
    assert Counter(got) == dict.fromkeys(range(1, 46), 1)
    assert sum(1 for proc in workers if proc.returncode == 0) == 4
    async with MongoStore(url) as store:
        assert await store.count_fws({"state": "RUNNING"}) == 45
        launch_ids = await store.find_launch_ids({})
        # A claim dropped after allocating its launch id leaves a gap in the counter, as
        # FireWorks' own counter does; what matters is one launch per Firework.
        assert len(set(launch_ids)) == 45
        owners = await store.fw_ids_of_launches(launch_ids)
        assert sorted(fw for fws in owners.values() for fw in fws) == list(range(1, 46))


BUMPER = textwrap.dedent(
    """
    import json, sys, anyio
    from afw.db.mongo import MongoStore

    async def main(url):
        async with MongoStore(url) as store:
            print(json.dumps([await store.next_launch_ids(1) for _ in range(150)]))

    anyio.run(main, sys.argv[1])
    """
)


async def test_concurrent_id_allocations_never_repeat(
    fresh_mongo_db: tuple[str, str], tmp_path: Path
) -> None:
    """Four processes taking launch ids at once get 600 different ones (SecantusDB's
    findAndModify pre-image repeats ids under this load; afw reads the post-image)."""
    url = url_of(fresh_mongo_db)
    async with MongoStore(url) as store:
        await store.reset()
    workers = [spawn(tmp_path, BUMPER, url) for _ in range(4)]
    got: list[int] = []
    for proc in workers:
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err[-3000:]
        got += json.loads(out.strip().splitlines()[-1])
    assert sorted(got) == list(range(1, 601))
