"""The MongoDB store (``mongodb://`` / ``mongodb+srv://``), shareable with FireWorks 2.1.

It uses PyMongo's native asyncio client (``pymongo.AsyncMongoClient``) and FireWorks' own
collections, document shapes, date formats, id counter and indexes, so that FireWorks 2.1.4 and
afw can work on one database at the same time:

* ``fireworks``, ``launches``, ``workflows``, ``offline_runs``, ``fw_id_assigner``
  (:mod:`afw.db.mongo_docs`, :mod:`afw.db.mongo_schema`);
* workflow writes take FireWorks' ``locked`` flag, plus an owner and a lease so that a crashed
  holder's lock is taken over and a live one never is (:mod:`afw.db.mongo_lock`);
* change sets are written through a redo journal, so a crash never leaves a half-written
  workflow (:mod:`afw.db.mongo_journal`);
* checkout claims a Firework with one ``find_one_and_update`` (:mod:`afw.db.mongo_checkout`).

What afw adds to a FireWorks database is listed in docs/mongodb.md.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any, Self, TypeVar

import anyio
from pymongo import AsyncMongoClient

from afw.changeset import ChangeSet
from afw.db import mongo_book as book
from afw.db import mongo_reads as reads
from afw.db.base import OfflineRun, SortSpec, UpdateContext, WorkflowFn
from afw.db.mongo_checkout import Checkout
from afw.db.mongo_conn import (
    ClaimWatch,
    Collections,
    Doc,
    MongoOptions,
    connect,
    database_name,
    describe,
    guard,
)
from afw.db.mongo_insert import delete_workflows, insert_workflows
from afw.db.mongo_journal import replay
from afw.db.mongo_lock import Held, Keeper, WorkflowLocks
from afw.db.mongo_schema import bump_counter, ensure_counter, ensure_indexes
from afw.db.mongo_update import cleanup, update_workflow, update_workflows
from afw.errors import StoreError
from afw.firework import Firework
from afw.launch import Launch
from afw.workflow import Workflow

__all__ = ["MongoStore"]

log = logging.getLogger("afw.db.mongo")

T = TypeVar("T")


class _Parts:
    """What an open store works with."""

    def __init__(
        self,
        client: AsyncMongoClient[Doc],
        cols: Collections,
        opts: MongoOptions,
        watch: ClaimWatch,
    ) -> None:
        self.client = client
        self.cols = cols

        async def replay_journal(held: Held) -> None:
            await replay(cols, held)

        self.locks = WorkflowLocks(cols, opts.lock_lease_secs, opts.lock_wait_secs, replay_journal)
        self.checkout = Checkout(cols, self.locks, opts.lock_lease_secs, watch)


class MongoStore:
    """A :class:`~afw.db.base.Store` in a MongoDB database (FireWorks-compatible).

    Options are FireWorks' ``my_launchpad.yaml`` keys (``name``, ``authsource``,
    ``mongoclient_kwargs`` — TLS options go there —, ``user_indices``, ``wf_user_indices``),
    ``server_selection_timeout_ms`` (default 5000, or ``$AFW_MONGO_TIMEOUT_MS``), and the lock
    settings ``lock_lease_secs`` (60) and ``lock_wait_secs`` (300).
    """

    def __init__(
        self,
        url: str,
        *,
        name: str | None = None,
        authsource: str | None = None,
        mongoclient_kwargs: Mapping[str, Any] | None = None,
        user_indices: Sequence[Any] | None = None,
        wf_user_indices: Sequence[Any] | None = None,
        server_selection_timeout_ms: int | None = None,
        lock_lease_secs: float = 60.0,
        lock_wait_secs: float = 300.0,
        logdir: str | None = None,
        strm_lvl: str | None = None,
    ) -> None:
        self.url = url
        self.options = MongoOptions(
            name=name,
            authsource=authsource,
            mongoclient_kwargs=dict(mongoclient_kwargs or {}),
            user_indices=tuple(user_indices or ()),
            wf_user_indices=tuple(wf_user_indices or ()),
            server_selection_timeout_ms=server_selection_timeout_ms,
            lock_lease_secs=float(lock_lease_secs),
            lock_wait_secs=float(lock_wait_secs),
        )
        self.dbname = database_name(url, name)
        self.where = describe(url, self.dbname)
        self._parts: _Parts | None = None
        self._closed = False
        self._lock = anyio.Lock()

    def __repr__(self) -> str:
        return f"MongoStore({self.where!r})"

    # -- lifecycle --------------------------------------------------------------------------------

    async def open(self) -> None:
        """Connect, create the indexes and the id counter if needed. Idempotent."""
        async with self._lock:
            if self._closed:
                raise StoreError("store is closed", url=self.where)
            if self._parts is not None:
                return
            watch = ClaimWatch()
            client, _ = connect(self.url, self.options, watch)
            cols = Collections.of(client[self.dbname])
            try:
                async with guard("open", self.where):
                    await ensure_indexes(
                        cols, self.options.user_indices, self.options.wf_user_indices
                    )
                    await ensure_counter(cols)
            except BaseException:
                await client.close()
                raise
            self._parts = _Parts(client, cols, self.options, watch)

    async def close(self) -> None:
        """Disconnect; the store cannot be used (or reopened) afterwards."""
        async with self._lock:
            self._closed = True
            parts, self._parts = self._parts, None
            if parts is not None:
                await parts.client.close()

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @asynccontextmanager
    async def _op(self, op: str, **context: Any) -> AsyncIterator[_Parts]:
        parts = self._parts
        if parts is None:
            message = "store is closed" if self._closed else "store is not open"
            raise StoreError(message, url=self.where, op=op)
        async with guard(op, self.where, **context):
            yield parts

    @asynccontextmanager
    async def workflow_lock(self, fw_id: int) -> AsyncIterator[str]:
        """Hold the lock of the workflow holding ``fw_id`` (renewed while held); yields the
        owner token written to ``locked_by``. For tools and tests; updates lock by themselves."""
        async with self._op("workflow_lock", fw_id=fw_id) as p:
            keeper = Keeper(self.options.lock_lease_secs)
            held: Held | None = None
            try:
                held = await p.locks.acquire(fw_id, keeper)
                yield held.token
            finally:
                await keeper.stop()
                await cleanup(p.locks, held, None)

    async def reset(self) -> None:
        async with self._op("reset") as p:
            await book.reset(p.cols)

    async def tuneup(self, *, full: bool = False) -> None:
        async with self._op("tuneup") as p:
            await ensure_indexes(p.cols, self.options.user_indices, self.options.wf_user_indices)
            if full:
                for warning in await book.compact(p.cols):
                    log.warning("%s", warning)

    async def unlock_workflows(self, fw_ids: Sequence[int]) -> int:
        async with self._op("unlock_workflows") as p:
            return await book.unlock_workflows(p.cols, fw_ids)

    # -- workflows --------------------------------------------------------------------------------

    async def insert_workflows(self, wfs: Sequence[Workflow]) -> list[dict[int, int]]:
        async with self._op("insert_workflows") as p:
            return await insert_workflows(p.cols, self.options.lock_lease_secs, wfs)

    async def update_workflow(
        self, fw_id: int, fn: WorkflowFn[T], *, preload: Sequence[int] = ()
    ) -> tuple[T, ChangeSet]:
        async with self._op("update_workflow", fw_id=fw_id) as p:
            lease = self.options.lock_lease_secs
            return await update_workflow(p.cols, p.locks, lease, fw_id, fn, preload)

    async def update_workflows(
        self, items: Sequence[tuple[int, WorkflowFn[T]]]
    ) -> list[tuple[T, ChangeSet] | Exception]:
        """Each item atomic on its own, up to 16 workflows at a time (no batch transaction)."""
        return await update_workflows(self.update_workflow, items)

    async def checkout(
        self,
        query: Mapping[str, Any],
        sort: SortSpec,
        fn: Callable[[Workflow, UpdateContext, int], T],
    ) -> tuple[T, ChangeSet] | None:
        async with self._op("checkout") as p:
            return await p.checkout.checkout(query, sort, fn)

    async def load_workflow(self, fw_id: int) -> Workflow:
        async with self._op("load_workflow", fw_id=fw_id) as p:
            return await reads.load_workflow(p.cols, fw_id)

    async def delete_workflows(self, fw_ids: Sequence[int]) -> list[str]:
        async with self._op("delete_workflows") as p:
            lease = self.options.lock_lease_secs
            return await delete_workflows(p.cols, p.locks, lease, fw_ids)

    # -- reads ------------------------------------------------------------------------------------

    async def get_fws(self, fw_ids: Sequence[int]) -> list[Firework]:
        async with self._op("get_fws") as p:
            return await reads.get_fws(p.cols, fw_ids)

    async def get_launches(self, launch_ids: Sequence[int]) -> list[Launch]:
        async with self._op("get_launches") as p:
            return await reads.get_launches(p.cols, launch_ids)

    async def get_fw_docs(
        self, fw_ids: Sequence[int], projection: Sequence[str] | None = None
    ) -> list[dict[str, Any]]:
        async with self._op("get_fw_docs") as p:
            return await reads.get_fw_docs(p.cols, fw_ids, projection)

    async def get_wf_docs(self, fw_ids: Sequence[int]) -> list[dict[str, Any]]:
        async with self._op("get_wf_docs") as p:
            return await reads.get_wf_docs(p.cols, fw_ids)

    async def wf_keys_of_fws(self, fw_ids: Sequence[int]) -> dict[int, str]:
        async with self._op("wf_keys_of_fws") as p:
            return await reads.wf_keys_of_fws(p.cols, fw_ids)

    async def find_fw_ids(
        self, query: Mapping[str, Any], sort: SortSpec = (), limit: int = 0
    ) -> list[int]:
        async with self._op("find_fw_ids") as p:
            return await reads.find_fw_ids(p.cols, query, sort, limit)

    async def count_fws(self, query: Mapping[str, Any]) -> int:
        async with self._op("count_fws") as p:
            return await reads.count(p.cols, "fireworks", query)

    async def find_launch_fw_ids(
        self, query: Mapping[str, Any], sort: SortSpec = (), limit: int = 0
    ) -> list[int]:
        async with self._op("find_launch_fw_ids") as p:
            return await reads.find_launch_fw_ids(p.cols, query, sort, limit)

    async def find_launch_ids(self, query: Mapping[str, Any], limit: int = 0) -> list[int]:
        async with self._op("find_launch_ids") as p:
            return await reads.find_launch_ids(p.cols, query, limit)

    async def find_wf_ids(
        self, query: Mapping[str, Any], sort: SortSpec = (), limit: int = 0
    ) -> list[int]:
        async with self._op("find_wf_ids") as p:
            return await reads.find_wf_ids(p.cols, query, sort, limit)

    async def count_wfs(self, query: Mapping[str, Any]) -> int:
        async with self._op("count_wfs") as p:
            return await reads.count(p.cols, "workflows", query)

    async def fw_ids_of_launches(self, launch_ids: Sequence[int]) -> dict[int, list[int]]:
        async with self._op("fw_ids_of_launches") as p:
            return await reads.fw_ids_of_launches(p.cols, launch_ids)

    # -- launches ---------------------------------------------------------------------------------

    async def next_launch_ids(self, n: int) -> int:
        async with self._op("next_launch_ids") as p:
            return await bump_counter(p.cols, "next_launch_id", n)

    async def touch_launch(
        self, launch_id: int, when: str, checkpoint: dict[str, Any] | None = None
    ) -> bool:
        async with self._op("touch_launch", launch_id=launch_id) as p:
            return await book.touch_launch(p.cols, launch_id, when, checkpoint)

    async def update_launch_fields(self, launch_id: int, fields: Mapping[str, Any]) -> None:
        async with self._op("update_launch_fields", launch_id=launch_id) as p:
            await book.update_launch_fields(p.cols, launch_id, fields)

    # -- offline runs -----------------------------------------------------------------------------

    async def add_offline_runs(self, runs: Sequence[OfflineRun]) -> None:
        async with self._op("add_offline_runs") as p:
            await book.add_offline_runs(p.cols, runs)

    async def pending_offline_runs(
        self, after_launch_id: int, limit: int, launch_ids: Sequence[int] | None = None
    ) -> list[OfflineRun]:
        async with self._op("pending_offline_runs") as p:
            return await book.pending_offline_runs(p.cols, after_launch_id, limit, launch_ids)

    async def update_offline_runs(self, updates: Mapping[int, Mapping[str, Any]]) -> None:
        async with self._op("update_offline_runs") as p:
            await book.update_offline_runs(p.cols, updates)

    async def forget_offline(
        self, *, launch_ids: Sequence[int] = (), fw_ids: Sequence[int] = ()
    ) -> int:
        async with self._op("forget_offline") as p:
            return await book.forget_offline(p.cols, launch_ids, fw_ids)

    async def offline_runs(self, launch_ids: Sequence[int]) -> list[OfflineRun]:
        async with self._op("offline_runs") as p:
            return await book.offline_runs(p.cols, launch_ids)
