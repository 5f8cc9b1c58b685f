"""Group commit in the SQLite store: concurrent reservations share transactions, and still never
hand a Firework out twice, lose a write, or let one failing operation fail its neighbours."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import anyio
import pytest

from afw.db.base import OfflineRun
from afw.db.sqlite import SQLiteStore
from afw.db.sqlite_batch import GroupCommit
from afw.db.sqlite_schema import immediate, shared_transaction
from afw.errors import NotFoundError, StoreError
from afw.firework import Firework
from afw.fworker import FWorker
from afw.launchpad import LaunchPad
from afw.workflow import Workflow

pytestmark = pytest.mark.anyio

TASK = {"_fw_name": "ScriptTask", "script": "true"}


def singles(n: int) -> list[Workflow]:
    return [Workflow.create([Firework.create([TASK], name=f"fw{i}")]) for i in range(n)]


async def test_concurrent_reservations_are_batched_and_unique(sqlite_url: str) -> None:
    n, k = 200, 16
    async with LaunchPad(sqlite_url) as lp:
        await lp.add_wfs(singles(n))
        store = lp.store
        assert isinstance(store, SQLiteStore)
        claimed: list[tuple[int, int]] = []

        async def reserver(w: int) -> None:
            while True:
                fw, launch_id = await lp.reserve_fw(FWorker(), f"/scratch/w{w}")
                if fw is None or launch_id is None:
                    return
                claimed.append((fw.fw_id, launch_id))
                await lp.add_offline_run(launch_id, fw.fw_id, fw.name)

        async with anyio.create_task_group() as tg:
            for w in range(k):
                tg.start_soon(reserver, w)

        fw_ids = [fw_id for fw_id, _ in claimed]
        launch_ids = [launch_id for _, launch_id in claimed]
        assert sorted(fw_ids) == list(range(1, n + 1))
        assert sorted(launch_ids) == list(range(1, n + 1))
        # Reservations and offline records of 16 workers shared transactions.
        commit = store.group_commit
        assert commit.operations >= 2 * n
        assert commit.batches < commit.operations / 2
        assert await lp.get_fw_ids({"state": "RESERVED"}, count_only=True) == n
        runs = await store.offline_runs(launch_ids)
        assert {(r.launch_id, r.fw_id) for r in runs} == {(lid, f) for f, lid in claimed}


async def test_a_failing_operation_does_not_fail_its_batch(sqlite_url: str) -> None:
    async with LaunchPad(sqlite_url) as lp:
        await lp.add_wfs(singles(8))
        store = lp.store
        assert isinstance(store, SQLiteStore)
        results: dict[str, object] = {}

        async def reserve(i: int) -> None:
            results[f"fw{i}"] = await lp.reserve_fw(FWorker(), f"/scratch/{i}")

        async def bad_update() -> None:
            try:
                await store.update_launch_fields(999, {"launch_dir": "/nowhere"})
            except NotFoundError as exc:
                results["bad"] = exc

        # Hold the store's lock so that everything queues up into one batch.
        await store._lock.acquire()
        async with anyio.create_task_group() as tg:
            for i in range(4):
                tg.start_soon(reserve, i)
            tg.start_soon(bad_update)
            for i in range(4, 8):
                tg.start_soon(reserve, i)
            await anyio.wait_all_tasks_blocked()
            store._lock.release()

        assert isinstance(results["bad"], NotFoundError)
        reserved = [results[f"fw{i}"] for i in range(8)]
        assert sorted(pair[0].fw_id for pair in reserved) == list(range(1, 9))  # type: ignore[index]
        assert store.group_commit.batches == 1
        assert await lp.get_fw_ids({"state": "RESERVED"}, count_only=True) == 8


def _table(tmp_path: Path) -> sqlite3.Connection:
    tmp_path.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(tmp_path / "t.sqlite", isolation_level=None, check_same_thread=False)
    conn.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)")
    return conn


def _insert(k: int, v: str):
    def work(conn: sqlite3.Connection) -> int:
        with immediate(conn):
            conn.execute("INSERT INTO t VALUES (?, ?)", (k, v))
            if v == "raise":
                raise ValueError(k)
        return k

    return work


async def _run_together(commit: GroupCommit, conn: sqlite3.Connection, works: list) -> list:
    lock = anyio.Lock()
    out: list[object] = [None] * len(works)

    async def one(i: int) -> None:
        try:
            out[i] = await commit.run(lock, lambda: conn, works[i])
        except Exception as exc:
            out[i] = exc

    await lock.acquire()
    async with anyio.create_task_group() as tg:
        for i in range(len(works)):
            tg.start_soon(one, i)
        await anyio.wait_all_tasks_blocked()
        lock.release()
    return out


async def test_an_operation_raising_is_rolled_back_alone(tmp_path: Path) -> None:
    conn = _table(tmp_path)
    commit = GroupCommit()
    out = await _run_together(commit, conn, [_insert(1, "a"), _insert(2, "raise"), _insert(3, "c")])
    assert out[0] == 1 and out[2] == 3
    assert isinstance(out[1], ValueError)
    assert commit.batches == 1
    assert conn.execute("SELECT k FROM t ORDER BY k").fetchall() == [(1,), (3,)]


async def test_a_database_error_reruns_the_batch_one_by_one(tmp_path: Path) -> None:
    conn = _table(tmp_path)
    conn.execute("INSERT INTO t VALUES (5, 'old')")
    commit = GroupCommit()
    # The duplicate key is a database error: the batch is rolled back and every operation runs
    # again on its own, so only the duplicate fails.
    out = await _run_together(commit, conn, [_insert(1, "a"), _insert(5, "dup"), _insert(3, "c")])
    assert out[0] == 1 and out[2] == 3
    assert isinstance(out[1], sqlite3.IntegrityError)
    assert conn.execute("SELECT k, v FROM t ORDER BY k").fetchall() == [
        (1, "a"),
        (3, "c"),
        (5, "old"),
    ]


async def test_more_than_max_batch_waiters_all_run(tmp_path: Path) -> None:
    conn = _table(tmp_path)
    commit = GroupCommit(max_batch=3)
    out = await _run_together(commit, conn, [_insert(i, "x") for i in range(10)])
    assert out == list(range(10))
    assert commit.batches == 4
    assert conn.execute("SELECT COUNT(*) FROM t").fetchone() == (10,)


async def test_a_cancelled_waiter_leaves_nothing_behind(tmp_path: Path) -> None:
    conn = _table(tmp_path)
    commit = GroupCommit()
    lock = anyio.Lock()
    release = anyio.Event()

    async def holder() -> None:
        async with lock:
            await release.wait()

    async with anyio.create_task_group() as tg:
        tg.start_soon(holder)
        await anyio.wait_all_tasks_blocked()
        with anyio.move_on_after(0.05):
            await commit.run(lock, lambda: conn, _insert(1, "never"))
        release.set()
    assert await commit.run(lock, lambda: conn, _insert(2, "ok")) == 2
    assert conn.execute("SELECT k FROM t").fetchall() == [(2,)]
    assert commit.operations == 1


async def test_a_closed_store_fails_queued_operations_cleanly(sqlite_url: str) -> None:
    store = SQLiteStore(sqlite_url)
    await store.open()
    await store.close()
    with pytest.raises(StoreError, match="closed"):
        await store.add_offline_runs([OfflineRun(1, 1, "x", "t", "t")])


def test_nested_immediate_is_a_savepoint(tmp_path: Path) -> None:
    conn = _table(tmp_path)
    with immediate(conn):
        conn.execute("INSERT INTO t VALUES (1, 'outer')")
        with pytest.raises(ValueError), immediate(conn):
            conn.execute("INSERT INTO t VALUES (2, 'inner')")
            raise ValueError
        with immediate(conn):
            conn.execute("INSERT INTO t VALUES (3, 'kept')")
    assert not conn.in_transaction
    assert conn.execute("SELECT k FROM t ORDER BY k").fetchall() == [(1,), (3,)]


def test_immediate_joins_a_shared_transaction(tmp_path: Path) -> None:
    conn = _table(tmp_path)
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    with shared_transaction(conn):
        with immediate(conn):
            conn.execute("INSERT INTO t VALUES (1, 'a')")
        with immediate(conn):
            conn.execute("INSERT INTO t VALUES (2, 'b')")
    assert statements.count("BEGIN IMMEDIATE") == 1
    assert not [s for s in statements if "SAVEPOINT" in s]
    # An exception anywhere rolls the whole shared transaction back.
    with pytest.raises(ValueError), shared_transaction(conn):
        with immediate(conn):
            conn.execute("INSERT INTO t VALUES (3, 'c')")
        raise ValueError
    assert conn.execute("SELECT k FROM t ORDER BY k").fetchall() == [(1,), (2,)]
    # Outside it, nesting is a savepoint again.
    test_nested_immediate_is_a_savepoint(tmp_path / "again")


async def test_a_locked_file_fails_the_batch_once(tmp_path: Path) -> None:
    conn = _table(tmp_path)
    conn.execute("PRAGMA busy_timeout = 300")
    other = sqlite3.connect(tmp_path / "t.sqlite", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        began = anyio.current_time()
        out = await _run_together(GroupCommit(), conn, [_insert(i, "x") for i in range(6)])
        elapsed = anyio.current_time() - began
    finally:
        other.execute("ROLLBACK")
    assert all(isinstance(o, sqlite3.OperationalError) for o in out)
    assert elapsed < 6 * 0.3  # one busy wait for the batch, not one per operation
    assert conn.execute("SELECT COUNT(*) FROM t").fetchone() == (0,)
