"""MongoDB store specifics: FireWorks document shapes, dates, indexes, configuration, errors, and
recovery from what a crashed process leaves behind (the contract suite covers the rest)."""

from __future__ import annotations

import datetime
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import pymongo
import pytest
from bson import ObjectId

from afw.db.mongo import MongoStore
from afw.db.mongo_conn import MongoOptions, _timeout_ms, database_name, describe
from afw.errors import ConfigError, LockError, NotFoundError, StoreUnavailableError
from afw.firework import Firework
from afw.launch import Launch
from afw.wflogic import refresh, rerun_fw, set_fw_state
from afw.workflow import Workflow

pytestmark = pytest.mark.anyio
UTC = datetime.UTC
TASK = {"_fw_name": "ScriptTask", "script": "echo hi"}


def url_of(fresh: tuple[str, str]) -> str:
    uri, dbname = fresh
    return uri.split("?")[0].rstrip("/") + f"/{dbname}"


@pytest.fixture
def raw(fresh_mongo_db: tuple[str, str]) -> Any:
    """The test database through plain (sync) pymongo: what FireWorks would see."""
    uri, dbname = fresh_mongo_db
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(uri, tz_aware=True)
    yield client[dbname]
    client.close()


@pytest.fixture
async def mstore(fresh_mongo_db: tuple[str, str]) -> AsyncIterator[MongoStore]:
    store = MongoStore(url_of(fresh_mongo_db), lock_lease_secs=2, lock_wait_secs=30)
    async with store:
        await store.reset()
        yield store


def chain(n: int, **spec: Any) -> Workflow:
    fws = [
        Firework.create([TASK], spec=dict(spec), name=f"fw{i}", fw_id=-i) for i in range(1, n + 1)
    ]
    wf = Workflow.create(fws, links={-i: [-(i + 1)] for i in range(1, n)}, name="chain")
    wf.fws[-1].state = "READY"
    return wf


def start(wf: Workflow, ctx: Any, fw_id: int) -> int:
    fw = wf.fw(fw_id)
    launch = Launch(launch_id=ctx.new_launch_id(), fw_id=fw_id, state="RUNNING", launch_dir="/d")
    fw.launches.append(launch)
    set_fw_state(wf, fw, "RUNNING")
    wf.mark_launch(launch)
    return launch.launch_id


def finish(launch_id: int, stored: dict[str, Any] | None = None) -> Any:
    def fn(wf: Workflow, ctx: Any) -> None:
        for fw in list(wf.fws.values()):
            for launch in fw.launches:
                if launch.launch_id == launch_id:
                    launch.set_state("COMPLETED")
                    launch.action = {"stored_data": stored or {}}
                    wf.mark_launch(launch)
                    refresh(wf, fw.fw_id)

    return fn


# -- configuration --------------------------------------------------------------------------------


def test_database_name_and_description() -> None:
    assert database_name("mongodb://h:1/mydb?tls=true", None) == "mydb"
    assert database_name("mongodb://h:1/mydb", "other") == "other"
    assert database_name("mongodb://h:1", None) == "fireworks"
    assert database_name("mongodb://h:1/", None) == "fireworks"
    where = describe("mongodb://bob:pa%40ss@h1:1,h2:2/db?authSource=admin", "db")
    assert where == "h1:1,h2:2/db"
    assert (
        describe("mongodb+srv://u:p@cluster.example.org/x", "x")
        == "mongodb+srv://cluster.example.org/x"
    )
    with pytest.raises(ConfigError):
        MongoStore("mysql://h/db")


def test_server_selection_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AFW_MONGO_TIMEOUT_MS", raising=False)
    assert _timeout_ms("mongodb://h/db", MongoOptions()) == 5000
    assert _timeout_ms("mongodb://h/db", MongoOptions(server_selection_timeout_ms=700)) == 700
    given = MongoOptions(mongoclient_kwargs={"serverSelectionTimeoutMS": 9})
    assert _timeout_ms("mongodb://h/db", given) is None
    assert _timeout_ms("mongodb://h/db?serverSelectionTimeoutMS=9", MongoOptions()) is None
    monkeypatch.setenv("AFW_MONGO_TIMEOUT_MS", "1234")
    assert _timeout_ms("mongodb://h/db", MongoOptions()) == 1234
    monkeypatch.setenv("AFW_MONGO_TIMEOUT_MS", "soon")
    with pytest.raises(ConfigError):
        _timeout_ms("mongodb://h/db", MongoOptions())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_unreachable_server_is_one_clear_error() -> None:
    url = f"mongodb://alice:s3cret@127.0.0.1:{_free_port()}/fireworks"
    store = MongoStore(url, server_selection_timeout_ms=400)
    began = time.monotonic()
    with pytest.raises(StoreUnavailableError) as info:
        await store.open()
    assert time.monotonic() - began < 5
    message = str(info.value)
    assert message.startswith("cannot reach MongoDB at 127.0.0.1:")
    assert "\n" not in message and "s3cret" not in message and "alice" not in message
    await store.close()


async def test_store_not_open(fresh_mongo_db: tuple[str, str]) -> None:
    store = MongoStore(url_of(fresh_mongo_db))
    with pytest.raises(Exception, match="store is not open"):
        await store.count_fws({})


# -- FireWorks shapes ---------------------------------------------------------------------------


async def test_documents_as_fireworks_writes_them(mstore: MongoStore, raw: Any) -> None:
    (mapping,) = await mstore.insert_workflows([chain(3, _priority=4)])
    assert mapping == {-1: 1, -2: 2, -3: 3}
    result = await mstore.checkout({"state": "READY"}, [], start)
    assert result is not None
    launch_id = result[0]
    await mstore.update_workflow(1, finish(launch_id, {"x": 1}))

    assert raw.fw_id_assigner.find_one() == {"_id": -1, "next_fw_id": 4, "next_launch_id": 2}
    fw = raw.fireworks.find_one({"fw_id": 1})
    assert set(fw) == {"_id", "spec", "fw_id", "created_on", "updated_on", "launches",
                       "archived_launches", "state", "name"}  # fmt: skip
    assert fw["state"] == "COMPLETED" and fw["launches"] == [1]
    assert isinstance(fw["created_on"], str) and fw["created_on"].endswith("+00:00")
    launch = raw.launches.find_one({"launch_id": 1})
    assert {"fworker", "fw_id", "launch_dir", "host", "ip", "trackers", "action", "state",
            "state_history", "launch_id", "time_start", "time_end", "runtime_secs"} <= set(launch)  # fmt: skip
    assert launch["action"] == {"stored_data": {"x": 1}}
    assert [e["state"] for e in launch["state_history"]] == ["RUNNING", "COMPLETED"]
    wf = raw.workflows.find_one()
    assert isinstance(wf["created_on"], datetime.datetime)
    assert isinstance(wf["updated_on"], datetime.datetime)
    assert wf["links"] == {"1": [2], "2": [3], "3": []}
    assert wf["parent_links"] == {"2": [1], "3": [2]}
    assert wf["fw_states"] == {"1": "COMPLETED", "2": "READY", "3": "WAITING"}
    assert wf["nodes"] == [1, 2, 3] and wf["state"] == "RUNNING"
    leftovers = {"locked", "locked_by", "lock_expires", "afw_journal"}
    assert not leftovers & set(wf)
    assert raw.fireworks.count_documents({"afw_claim": {"$exists": True}}) == 0


async def test_indexes(fresh_mongo_db: tuple[str, str], raw: Any) -> None:
    store = MongoStore(
        url_of(fresh_mongo_db), user_indices=["spec.kind"], wf_user_indices=["metadata.project"]
    )
    async with store:
        pass

    def names(coll: str) -> dict[str, dict[str, Any]]:
        return {ix["name"]: ix for ix in raw[coll].list_indexes()}

    fws = names("fireworks")
    assert fws["fw_id_1"]["unique"]
    for name in ("state_1", "spec._category_1", "created_on_1", "updated_on_1", "name_1",
                 "launches_1", "state_-1__id_-1", "state_-1_spec._priority_-1_created_on_1",
                 "state_-1_spec._priority_-1_created_on_-1", "spec.kind_1"):  # fmt: skip
        assert name in fws, name
    launches = names("launches")
    assert launches["launch_id_1"]["unique"]
    assert {"fw_id_1", "state_history.reservation_id_1", "fworker.name_1"} <= set(launches)
    assert {"nodes_1", "name_1", "metadata.project_1"} <= set(names("workflows"))
    offline = names("offline_runs")
    assert offline["afw_launch_id"]["unique"]
    assert offline["afw_pending"]["key"] == {"completed": 1, "deprecated": 1, "launch_id": 1}


async def test_reads_what_fireworks_writes(mstore: MongoStore, raw: Any) -> None:
    """FireWorks stores BSON dates in places (claims, recover_offline, workflows)."""
    when = datetime.datetime(2024, 5, 1, 12, 0, 0, 123000, tzinfo=UTC)
    raw.fireworks.insert_many([
        {"fw_id": 7, "spec": {"_tasks": [TASK]}, "name": "a", "state": "RUNNING",
         "created_on": "2024-05-01T11:00:00.000000+00:00", "updated_on": when,
         "launches": [3], "archived_launches": []},
        {"fw_id": 8, "spec": {"_tasks": [TASK]}, "name": "b", "state": "WAITING",
         "created_on": when, "updated_on": when, "launches": [], "archived_launches": []},
    ])  # fmt: skip
    raw.launches.insert_one(
        {"launch_id": 3, "fw_id": 7, "state": "RUNNING", "launch_dir": "/x", "host": "h",
         "ip": "1.2.3.4", "fworker": {"name": "w", "category": "", "query": "{}", "env": {}},
         "trackers": [], "action": None,
         "state_history": [{"state": "RUNNING", "created_on": when, "updated_on": when}]}
    )  # fmt: skip
    raw.workflows.insert_one(
        {"links": {"7": [8], "8": []}, "parent_links": {"8": [7]}, "nodes": [7, 8],
         "metadata": {}, "state": "RUNNING", "name": "fw-made", "created_on": when,
         "updated_on": when, "fw_states": {"7": "RUNNING", "8": "WAITING"}}
    )  # fmt: skip
    (fw,) = await mstore.get_fws([7])
    assert fw.updated_on == "2024-05-01T12:00:00.123000+00:00"
    assert fw.launches[0].state_history[0]["created_on"] == "2024-05-01T12:00:00.123000+00:00"
    wf = await mstore.load_workflow(8)
    assert wf.created_on == "2024-05-01T12:00:00.123000+00:00"
    (wdoc,) = await mstore.get_wf_docs([7])
    assert wdoc["updated_on"] == "2024-05-01T12:00:00.123000+00:00" and isinstance(wdoc["_id"], str)
    assert await mstore.touch_launch(3, "2024-05-01T12:30:00.000000+00:00", {"_task_n": 1})
    await mstore.update_workflow(7, finish(3, {"done": True}))
    assert await mstore.find_fw_ids({"state": "READY"}) == [8]
    (launch,) = await mstore.get_launches([3])
    assert [e["state"] for e in launch.state_history] == ["RUNNING", "COMPLETED"]
    assert launch.state_history[0]["checkpoint"] == {"_task_n": 1}


async def test_counter_created_after_existing_ids(
    fresh_mongo_db: tuple[str, str], raw: Any
) -> None:
    raw.fireworks.insert_one({"fw_id": 41, "spec": {}, "state": "READY"})
    raw.launches.insert_one({"launch_id": 17, "fw_id": 41, "state": "RUNNING"})
    async with MongoStore(url_of(fresh_mongo_db)) as store:
        assert await store.next_launch_ids(1) == 18
    assert raw.fw_id_assigner.find_one()["next_fw_id"] == 42


# -- what crashed processes leave behind --------------------------------------------------------


def _expired() -> datetime.datetime:
    return datetime.datetime.now(UTC) - datetime.timedelta(seconds=120)


async def test_interrupted_write_is_completed_from_its_journal(
    mstore: MongoStore, raw: Any
) -> None:
    await mstore.insert_workflows([chain(2)])
    fw2 = raw.fireworks.find_one({"fw_id": 2}, {"_id": 0})
    fw2.update(state="READY", name="renamed by the dead writer")
    journal = {"op": "write", "fws": [fw2], "launches": [],
               "wf_set": [["fw_states.2", "READY"], ["state", "READY"]]}  # fmt: skip
    raw.workflows.update_one({"nodes": 2}, {"$set": {
        "locked": True, "locked_by": "deadhost:1:x", "lock_expires": _expired(),
        "afw_journal": journal}})  # fmt: skip
    names, _ = await mstore.update_workflow(2, lambda wf, ctx: wf.fw(2).name)
    assert names == "renamed by the dead writer"
    wf = raw.workflows.find_one()
    assert wf["fw_states"]["2"] == "READY"
    assert not {"locked", "locked_by", "lock_expires", "afw_journal"} & set(wf)


async def test_interrupted_insert_is_rolled_back(mstore: MongoStore, raw: Any) -> None:
    await mstore.insert_workflows([chain(2)])
    raw.workflows.update_one({"nodes": 1}, {"$set": {
        "locked": True, "locked_by": "deadhost:1:y", "lock_expires": _expired(),
        "afw_journal": {"op": "insert"}}})  # fmt: skip
    with pytest.raises(NotFoundError):
        await mstore.update_workflow(1, lambda wf, ctx: None)
    assert raw.workflows.count_documents({}) == 0 and raw.fireworks.count_documents({}) == 0


async def test_expired_claim_is_given_back(mstore: MongoStore, raw: Any) -> None:
    await mstore.insert_workflows([chain(1)])
    raw.fireworks.update_one({"fw_id": 1}, {"$set": {
        "state": "RESERVED", "afw_claim": {"by": "deadhost:2:z", "until": _expired(), "prev": "READY"}}})  # fmt: skip
    assert await mstore.find_fw_ids({"state": "READY"}) == []
    result = await mstore.checkout({"state": "READY"}, [], start)
    assert result is not None and result[0] == 1
    assert raw.fireworks.find_one({"fw_id": 1})["state"] == "RUNNING"


async def test_expired_lock_without_journal_is_taken_over(mstore: MongoStore, raw: Any) -> None:
    await mstore.insert_workflows([chain(1)])
    raw.workflows.update_one({}, {"$set": {"locked": True, "locked_by": "deadhost:3:w",
                                           "lock_expires": _expired()}})  # fmt: skip
    began = time.monotonic()
    assert await mstore.checkout({"state": "READY"}, [], start) is not None
    assert time.monotonic() - began < 5
    assert "locked" not in raw.workflows.find_one()


async def test_fireworks_lock_is_waited_for(fresh_mongo_db: tuple[str, str], raw: Any) -> None:
    async with MongoStore(url_of(fresh_mongo_db), lock_wait_secs=1) as store:
        await store.insert_workflows([chain(1)])
        raw.workflows.update_one({}, {"$set": {"locked": True}})  # FireWorks: no owner, no lease
        began = time.monotonic()
        with pytest.raises(LockError, match="lpad admin unlock"):
            await store.update_workflow(1, lambda wf, ctx: None)
        assert 1 <= time.monotonic() - began < 5
        assert raw.workflows.find_one()["locked"] is True
        raw.workflows.update_one({}, {"$unset": {"locked": True}})
        await store.update_workflow(1, lambda wf, ctx: None)


async def test_large_change_set_goes_through_chunked_journal(mstore: MongoStore, raw: Any) -> None:
    blob = "x" * 400_000
    await mstore.insert_workflows([chain(8, blob=blob)])
    launch_id = (await mstore.checkout({"state": "READY"}, [], start))[0]
    await mstore.update_workflow(1, finish(launch_id))
    _, changes = await mstore.update_workflow(
        1, lambda wf, ctx: (wf.need(wf.links), rerun_fw(wf, 1))
    )
    assert len(changes.fws) == 2

    def spread(wf: Workflow, ctx: Any) -> None:
        wf.need(wf.links)
        for fw_id in wf.links:
            wf.fws[fw_id].spec["tag"] = "t"
            wf.mark(wf.fws[fw_id])

    _, changes = await mstore.update_workflow(1, spread)
    assert len(changes.fws) == 8  # ~3.2 MB: more than fits inline
    assert all(fw.spec["tag"] == "t" for fw in await mstore.get_fws(list(range(1, 9))))
    assert raw["afw_journal"].count_documents({}) == 0
    assert "afw_journal" not in raw.workflows.find_one()


async def test_large_actions_live_in_gridfs_as_fireworks_keeps_them(
    mstore: MongoStore, raw: Any
) -> None:
    import json

    import gridfs

    await mstore.insert_workflows([chain(2)])
    launch_id = (await mstore.checkout({"state": "READY"}, [], start))[0]
    big = {"blob": "y" * (16 * 1024 * 1024)}
    await mstore.update_workflow(1, finish(launch_id, big))
    stored = raw.launches.find_one({"launch_id": launch_id})
    assert set(stored["action"]) == {"gridfs_id"}
    fs = gridfs.GridFS(raw, "fw_gridfs")  # how FireWorks reads it back
    assert json.loads(fs.get(ObjectId(stored["action"]["gridfs_id"])).read())["stored_data"] == big
    (launch,) = await mstore.get_launches([launch_id])
    assert launch.action == {"stored_data": big}
    assert (await mstore.get_fws([1]))[0].launches[0].action == {"stored_data": big}
    await mstore.delete_workflows([1])
    assert raw["fw_gridfs.files"].count_documents({}) == 0


async def test_refused_login_is_one_clear_error(fresh_mongo_db: tuple[str, str]) -> None:
    uri, dbname = fresh_mongo_db
    hosts = uri.split("://", 1)[1].split("/", 1)[0]
    url = f"mongodb://mallory:wrong-pw@{hosts}/{dbname}?authSource=admin"
    store = MongoStore(url, server_selection_timeout_ms=3000)
    began = time.monotonic()
    with pytest.raises(StoreUnavailableError) as info:
        await store.open()
    assert time.monotonic() - began < 10
    message = str(info.value)
    assert message.startswith(f"MongoDB at {hosts}/{dbname} refused open: ")
    assert "authentication failed" in message.lower()
    assert "\n" not in message and "wrong-pw" not in message and "mallory" not in message
    await store.close()
