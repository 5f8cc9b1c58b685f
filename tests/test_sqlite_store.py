"""What only the SQLite store promises: its file, its locking, the cost of one-Firework updates."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import anyio
import pytest

from afw.db import make_store, sqlite_update
from afw.db.base import UpdateContext
from afw.db.sqlite import SQLiteStore
from afw.errors import StoreError, StoreUnavailableError
from afw.firework import Firework
from afw.launch import Launch
from afw.wflogic import refresh, set_fw_state
from afw.workflow import Workflow

pytestmark = pytest.mark.anyio

TASK = {"_fw_name": "ScriptTask", "script": "true"}


def claim(wf: Workflow, ctx: UpdateContext, fw_id: int) -> int:
    fw = wf.fw(fw_id)
    launch = Launch(launch_id=ctx.new_launch_id(), fw_id=fw_id, state="RUNNING")
    fw.launches.append(launch)
    set_fw_state(wf, fw, "RUNNING")
    wf.mark_launch(launch)
    return launch.launch_id


def complete(launch_id: int):
    def fn(wf: Workflow, ctx: UpdateContext) -> None:
        for fw in list(wf.fws.values()):
            for launch in fw.launches:
                if launch.launch_id == launch_id:
                    launch.set_state("COMPLETED")
                    wf.mark_launch(launch)
                    refresh(wf, fw.fw_id)

    return fn


def star(n: int) -> Workflow:
    """One root with ``n - 1`` children."""
    fws = [Firework.create([TASK], fw_id=-(i + 1), name=f"fw{i}") for i in range(n)]
    wf = Workflow.create(fws, links={-1: [-(i + 1) for i in range(1, n)]}, name="star")
    fws[0].state = "READY"
    return wf


def rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as conn:
        return conn.execute(sql).fetchall()


async def test_url_creates_parent_dirs_and_wal(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "lp.sqlite"
    async with make_store(f"sqlite:///{path}") as store:  # type: ignore[attr-defined]
        assert await store.count_fws({}) == 0
    assert path.exists()
    assert rows(path, "PRAGMA journal_mode") == [("wal",)]
    async with SQLiteStore(f"sqlite:///{path}") as again:  # schema creation is idempotent
        assert await again.next_launch_ids(1) == 1


async def test_relative_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    async with SQLiteStore("sqlite:///sub/rel.sqlite") as store:
        await store.insert_workflows([star(2)])
    assert (tmp_path / "sub" / "rel.sqlite").exists()


def test_bad_url() -> None:
    with pytest.raises(StoreError, match="sqlite:///PATH"):
        SQLiteStore("sqlite:/nope")


async def test_unopened_store(tmp_path: Path) -> None:
    store = SQLiteStore(f"sqlite:///{tmp_path / 'x.sqlite'}")
    with pytest.raises(StoreError, match="not open"):
        await store.count_fws({})


async def test_one_firework_of_a_large_workflow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "big.sqlite"
    n = 2000
    async with SQLiteStore(f"sqlite:///{path}") as store:
        await store.insert_workflows([star(n)])
        result = await store.checkout({"state": "READY"}, [], claim)
        assert result is not None
        await store.update_workflow(1, complete(result[0]))  # makes the 1,999 leaves READY
        wf_doc_before = rows(path, "SELECT doc FROM workflows")
        fws_before = dict(rows(path, "SELECT fw_id, doc FROM fireworks"))

        built: list[int] = []
        original = sqlite_update.build_firework

        def counting(text: str, launch_docs: dict[int, str]) -> Firework:
            built.append(1)
            return original(text, launch_docs)

        monkeypatch.setattr(sqlite_update, "build_firework", counting)
        began = time.perf_counter()
        result = await store.checkout({"state": "READY"}, [], claim)
        claim_ms = (time.perf_counter() - began) * 1e3
        assert result is not None
        assert len(built) == 1
        built.clear()

        def rename(wf: Workflow, ctx: UpdateContext) -> None:
            fw = wf.fw(n)
            fw.name = "renamed"
            wf.mark(fw)

        began = time.perf_counter()
        await store.update_workflow(n, rename)
        update_ms = (time.perf_counter() - began) * 1e3
        assert len(built) == 1

    assert rows(path, "SELECT doc FROM workflows") == wf_doc_before
    fws_after = dict(rows(path, "SELECT fw_id, doc FROM fireworks"))
    changed = sorted(fw_id for fw_id, doc in fws_after.items() if fws_before[fw_id] != doc)
    assert changed == [2, n]
    print(f"\n{n}-FW workflow: checkout {claim_ms:.1f} ms, one-FW update {update_ms:.1f} ms")


async def test_busy_database_does_not_block_the_loop(tmp_path: Path) -> None:
    path = tmp_path / "busy.sqlite"
    async with SQLiteStore(f"sqlite:///{path}", busy_timeout=0.5) as store:
        await store.insert_workflows([star(1)])
        blocker = sqlite3.connect(path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await anyio.sleep(0.01)

        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(tick)
                with pytest.raises(StoreUnavailableError, match="locked") as info:
                    await store.checkout({"state": "READY"}, [], claim)
                tg.cancel_scope.cancel()
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        assert ticks >= 10  # the event loop kept running while SQLite waited
        assert info.value.context["op"] == "checkout"
        assert await store.count_fws({"state": "READY"}) == 1
        assert await store.checkout({"state": "READY"}, [], claim) is not None


async def test_completion_waits_for_a_concurrent_writer(tmp_path: Path) -> None:
    path = tmp_path / "wait.sqlite"
    async with SQLiteStore(f"sqlite:///{path}") as store:
        await store.insert_workflows([star(2)])
        result = await store.checkout({"state": "READY"}, [], claim)
        assert result is not None
        launch_id = result[0]
        blocker = sqlite3.connect(path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        async with anyio.create_task_group() as tg:
            tg.start_soon(store.update_workflow, 1, complete(launch_id))
            await anyio.sleep(0.3)
            blocker.execute("COMMIT")
        blocker.close()
        fws = await store.get_fws([1, 2])
        assert [fw.state for fw in fws] == ["COMPLETED", "READY"]


async def test_unopenable_file(tmp_path: Path) -> None:
    (tmp_path / "adir.sqlite").mkdir()
    store = SQLiteStore(f"sqlite:///{tmp_path / 'adir.sqlite'}")
    with pytest.raises(StoreUnavailableError, match="open"):
        await store.open()
