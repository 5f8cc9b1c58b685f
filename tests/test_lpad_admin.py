"""append_wf, lpad admin (unlock, refresh, tuneup, maintain), dump_wflow and the queue-id
commands, on both stores; unlock against a lock left by FireWorks itself."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pymongo
import pytest
from clihelp import afw, one_line_error

from afw import LaunchPad
from afw.db import UpdateContext
from afw.firework import Firework
from afw.fworker import FWorker
from afw.workflow import Workflow

pytestmark = pytest.mark.anyio

TASK = {"_fw_name": "ScriptTask", "script": "echo hi"}


def chain(*names: str) -> Workflow:
    fws = [Firework.create([TASK], name=n, fw_id=-(i + 1)) for i, n in enumerate(names)]
    links = {fws[i].fw_id: [fws[i + 1].fw_id] for i in range(len(fws) - 1)}
    return Workflow.create(fws, links, name="-".join(names))


async def states(lp: LaunchPad, fw_id: int) -> dict[int, str]:
    wf = await lp.get_wf_by_fw_id(fw_id)
    return dict(wf.fw_states)


async def test_append_wf_detour_below_a_running_parent(store_url: str) -> None:
    async with LaunchPad(store_url) as lp:
        ids = await lp.add_wf(chain("a", "b"))
        a, b = ids[-1], ids[-2]
        _, launch = await lp.checkout_fw(FWorker(), "/tmp/x", fw_id=a)
        assert launch is not None
        mapping = await lp.append_wf(chain("x", "y"), [a], detour=True)
        x, y = mapping[-1], mapping[-2]
        assert sorted(mapping.values()) == [3, 4]
        wf = await lp.get_wf_by_fw_id(a)
        assert sorted(wf.links[a]) == [b, x]
        assert wf.links[y] == [b]
        await lp.complete_launch(launch)
        after = await states(lp, a)
        assert (after[x], after[y], after[b]) == ("READY", "WAITING", "WAITING")


async def test_append_wf_below_a_completed_parent_pulls_its_spec_mods(store_url: str) -> None:
    from afw.errors import AfwError

    async with LaunchPad(store_url) as lp:
        ids = await lp.add_wf(chain("a", "b"))
        a = ids[-1]
        _, launch = await lp.checkout_fw(FWorker(), "/tmp/x", fw_id=a)
        assert launch is not None
        await lp.complete_launch(launch, {"update_spec": {"pulled": 1}})
        with pytest.raises(AfwError, match="already started"):
            await lp.append_wf(chain("z"), [a], detour=True)  # b is READY: FireWorks refuses
        pulled = await lp.append_wf(chain("x"), [a])
        kept = await lp.append_wf(chain("y"), [a], pull_spec_mods=False)
        assert (await lp.get_fw_by_id(pulled[-1])).spec["pulled"] == 1
        assert (await lp.get_fw_by_id(pulled[-1])).state == "READY"
        assert "pulled" not in (await lp.get_fw_by_id(kept[-1])).spec


async def test_append_wf_refuses_bad_parents(store_url: str) -> None:
    from afw.errors import AfwError

    async with LaunchPad(store_url) as lp:
        one = await lp.add_wf(chain("a", "b"))
        two = await lp.add_wf(chain("c"))
        with pytest.raises(AfwError, match="different workflows"):
            await lp.append_wf(chain("x"), [one[-1], two[-1]])
        with pytest.raises(AfwError, match="no Firework with id 99"):
            await lp.append_wf(chain("x"), [99])
        assert await lp.get_fw_ids({}, count_only=True) == 3


async def test_admin_refresh_repairs_an_inconsistent_state(store_url: str) -> None:
    async with LaunchPad(store_url) as lp:
        ids = await lp.add_wf(chain("a", "b", "c"))
        a, b = ids[-1], ids[-2]

        def corrupt(wf: Workflow, _ctx: UpdateContext) -> None:
            wf.need([b])
            wf.fws[b].state = "READY"  # its parent has not run: should be WAITING
            wf.fw_states[b] = "READY"
            wf.mark(wf.fws[b])

        await lp.store.update_workflow(a, corrupt, preload=[b])
        assert (await states(lp, a))[b] == "READY"
        assert await lp.refresh_wfs([a]) == [b]
        assert (await states(lp, a))[b] == "WAITING"
        assert await lp.refresh_wfs([a]) == []


async def test_queue_ids_and_cancel_qid(store_url: str) -> None:
    async with LaunchPad(store_url) as lp:
        ids = await lp.add_wf(chain("a"))
        fw_id = ids[-1]
        _, launch = await lp.reserve_fw(FWorker(), "/tmp/r", fw_id=fw_id)
        assert launch is not None
        assert await lp.get_reservation_id_from_fw_id(fw_id) is None
        await lp.set_reservation_id(launch, 4242)
        assert await lp.get_reservation_id_from_fw_id(fw_id) == "4242"
        assert await lp.get_fw_ids_from_reservation_id("4242") == [fw_id]
        assert await lp.cancel_reservation_by_reservation_id("4243") == []
        assert await lp.cancel_reservation_by_reservation_id(4242) == [fw_id]
        assert (await lp.get_fw_by_id(fw_id)).state == "READY"


async def test_maintain_fizzles_lost_runs_and_cancels_stale_reservations(
    store_url: str,
) -> None:
    async with LaunchPad(store_url) as lp:
        running = (await lp.add_wf(chain("run")))[-1]
        reserved = (await lp.add_wf(chain("res")))[-1]
        _, lost = await lp.checkout_fw(FWorker(), "/tmp/a", fw_id=running)
        _, stale = await lp.reserve_fw(FWorker(), "/tmp/b", fw_id=reserved)
        untouched = await lp.maintain()
        assert untouched.to_dict() == {
            "fizzled_launch_ids": [],
            "fizzled_fw_ids": [],
            "cancelled_launch_ids": [],
        }
        report = await lp.maintain(lost_secs=0, reservation_secs=0)
        assert report.fizzled_launch_ids == [lost]
        assert report.fizzled_fw_ids == [running]
        assert report.cancelled_launch_ids == [stale]
        assert (await lp.get_fw_by_id(running)).state == "FIZZLED"
        assert (await lp.get_fw_by_id(reserved)).state == "READY"


async def test_tuneup_keeps_everything(store_url: str) -> None:
    async with LaunchPad(store_url) as lp:
        await lp.add_wf(chain("a", "b"))
        await lp.tuneup()
        await lp.tuneup(full=True)
        assert await lp.get_fw_ids({"state": "READY"}) == [1]
        assert await lp.unlock_wfs([1]) == 0


def _mongo(fresh: tuple[str, str]) -> Any:
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(fresh[0])
    return client, client[fresh[1]]


async def test_unlock_releases_a_lock_fireworks_left_behind(
    fresh_mongo_db: tuple[str, str], fireworks_python: Path
) -> None:
    """A FireWorks process killed inside ``WFLock`` leaves ``locked: true`` with no owner;
    afw waits for such a lock, and ``lpad admin unlock`` clears it."""
    from clihelp import REPO

    uri, dbname = fresh_mongo_db
    url = uri.split("?")[0].rstrip("/") + f"/{dbname}"
    async with LaunchPad(url) as lp:
        await lp.add_wf(chain("a"))
    helper = REPO / "tests" / "helpers" / "fw_lock.py"
    holder = subprocess.Popen(
        [str(fireworks_python), str(helper), uri, dbname, "1", "600"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert json.loads(holder.stdout.readline()) == "locked"
    finally:
        holder.kill()  # dies holding the lock, as a crashed FireWorks process does
        holder.wait()
    client, db = _mongo(fresh_mongo_db)
    try:
        assert db.workflows.find_one({"nodes": 1}, {"_id": 0, "locked": 1}) == {"locked": True}
        env = {"AFW_LAUNCHPAD": url}
        result = afw("lpad", "admin", "unlock", "-i", "1", env=env)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "1"
        assert "locked" not in (db.workflows.find_one({"nodes": 1}) or {})
        assert afw("lpad", "admin", "unlock", "-i", "1", env=env).stdout.strip() == "0"
    finally:
        client.close()
    async with LaunchPad(url) as lp:
        assert await lp.pause_fws([1]) == [1]  # the workflow is writable again


def test_cli_append_dump_and_qids(tmp_path: Path) -> None:
    env = {"AFW_LAUNCHPAD": f"sqlite:///{tmp_path / 'lp.sqlite'}"}
    (tmp_path / "wf.yaml").write_text(
        "name: w\nfws:\n- {fw_id: 1, name: a, spec: {_tasks: [{_fw_name: ScriptTask, "
        "script: echo a}]}}\n"
    )
    (tmp_path / "add.json").write_text(
        json.dumps({"fws": [{"fw_id": 7, "name": "x", "spec": {"_tasks": [TASK]}}], "links": {}})
    )
    assert afw("lpad", "add", str(tmp_path / "wf.yaml"), env=env).returncode == 0
    appended = afw("lpad", "append_wflow", "-i", "1", "-f", str(tmp_path / "add.json"), env=env)
    assert appended.returncode == 0, appended.stderr
    assert appended.json() == {"7": 2}
    assert afw("lpad", "get_fws", "-s", "WAITING", "-d", "ids", env=env).json() == [2]
    out = tmp_path / "dumped.yaml"
    assert afw("lpad", "dump-wflow", "-i", "2", "-f", str(out), env=env).returncode == 0
    assert afw("lpad", "add", str(out), env=env).returncode == 0
    assert afw("lpad", "get_fws", "-d", "count", env=env).stdout.strip() == "4"
    assert afw("lpad", "get_qids", "-i", "1,2", env=env).json() == {"1": None, "2": None}
    assert afw("lpad", "admin", "refresh", "-i", "1", env=env).json() == []
    assert afw("lpad", "admin", "tuneup", "--full", env=env).returncode == 0
    maintained = afw("lpad", "admin", "maintain", env=env)
    assert maintained.json()["fizzled_fw_ids"] == []
    assert "no reservations match" in one_line_error(
        afw("lpad", "cancel_qid", "--qid", "9", env=env)
    )
    assert "no Firework with id 99" in one_line_error(
        afw("lpad", "append_wflow", "-i", "99", "-f", str(tmp_path / "add.json"), env=env)
    )
    unwritable = tmp_path / "missing-dir" / "wf.json"
    line = one_line_error(afw("lpad", "dump_wflow", "-i", "1", "-f", str(unwritable), env=env))
    assert f"cannot write {unwritable}" in line
    assert not unwritable.parent.exists()
    (tmp_path / "bad.yaml").write_text("fws: [\n")
    one_line_error(
        afw("lpad", "append_wflow", "-i", "1", "-f", str(tmp_path / "bad.yaml"), env=env)
    )
    assert afw("lpad", "get_fws", "-d", "count", env=env).stdout.strip() == "4"
    assert not (tmp_path / "nothing.json").exists()
    one_line_error(
        afw("lpad", "admin", "maintain", "--infinite", "--maintain-interval", "0", env=env)
    )


def test_dumped_workflow_loads_in_fireworks(tmp_path: Path, fireworks_python: Path) -> None:
    env = {"AFW_LAUNCHPAD": f"sqlite:///{tmp_path / 'lp.sqlite'}"}
    (tmp_path / "wf.yaml").write_text(
        "name: w\nfws:\n- {fw_id: 1, name: a, spec: {_tasks: [{_fw_name: ScriptTask, "
        "script: echo a}]}}\n- {fw_id: 2, name: b, spec: {_tasks: []}}\nlinks: {1: [2]}\n"
    )
    assert afw("lpad", "add", str(tmp_path / "wf.yaml"), env=env).returncode == 0
    for name in ("dumped.json", "dumped.yaml"):
        assert (
            afw("lpad", "dump_wflow", "-i", "1", "-f", str(tmp_path / name), env=env).returncode
            == 0
        )
        code = (
            "import sys; from fireworks import Workflow; wf = Workflow.from_file(sys.argv[1]); "
            "print(sorted(wf.id_fw), {k: v for k, v in wf.links.items()}, wf.name)"
        )
        proc = subprocess.run(
            [str(fireworks_python), "-c", code, str(tmp_path / name)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip().splitlines()[-1] == "[1, 2] {1: [2], 2: []} w"
