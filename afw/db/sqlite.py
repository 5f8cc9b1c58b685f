"""The embedded SQLite store (``sqlite:///path``): the default, nothing to install.

Documents are stored as JSON text with the hot fields (ids, state, priority, category, worker,
dates) in indexed columns. The file is in WAL mode; every write is one transaction, and the
atomic operations (:meth:`SQLiteStore.update_workflow`, :meth:`SQLiteStore.checkout`, id
allocation, inserts) take the write lock up front with ``BEGIN IMMEDIATE``, so several processes
sharing the file never hand out a Firework twice nor lose an update.

Each operation is one hop to a worker thread (the sqlite3 work, and for updates the pure workflow
function too), serialized on the store's single connection; nothing blocks the event loop.

Layout: ``workflows`` (links and metadata in ``doc``; ``fw_states`` is derived from
``fireworks``, so a one-Firework change never rewrites a large workflow document),
``fireworks``, ``launches``, ``fw_launches`` (which Firework lists which launch, current or
archived), ``offline_runs`` and ``counters``. See :mod:`afw.db.sqlite_schema`.

Query limits (MongoDB-style filters, :mod:`afw.db.query`): ``spec._priority``, ``spec._category``
and ``spec._fworker`` are answered from columns, so only string or number values there are
found by queries on those fields (FireWorks stores nothing else); workflow filters cannot look
at ``fw_states`` (derived, not stored in the workflow document).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, Self, TypeVar

import anyio
import anyio.to_thread

from afw.changeset import ChangeSet
from afw.db import sqlite_bookkeeping as book
from afw.db import sqlite_many as many
from afw.db import sqlite_reads as reads
from afw.db import sqlite_update as upd
from afw.db.base import OfflineRun, SortSpec, UpdateContext, WorkflowFn
from afw.db.sqlite_batch import GroupCommit
from afw.db.sqlite_schema import connect, path_from_url, translate_error
from afw.errors import StoreError
from afw.firework import Firework
from afw.launch import Launch
from afw.workflow import Workflow

__all__ = ["SQLiteStore"]

T = TypeVar("T")
R = TypeVar("R")


class SQLiteStore:
    """A :class:`~afw.db.base.Store` in one SQLite file.

    ``busy_timeout`` (seconds) is how long a write waits for another process's transaction
    before failing with :class:`~afw.errors.StoreUnavailableError`.
    """

    def __init__(self, url: str, *, busy_timeout: float = 60.0) -> None:
        self.url = url
        base, _, query = url.partition("?")
        self.path = path_from_url(base)
        # ``sqlite:///PATH?timeout=SECONDS`` sets the busy timeout from the URL.
        options = dict(part.split("=", 1) for part in query.split("&") if "=" in part)
        try:
            self.busy_timeout = float(options.get("timeout", busy_timeout))
        except ValueError:
            raise StoreError(f"bad timeout in store URL {url!r}", url=url) from None
        self._conn: sqlite3.Connection | None = None
        self._closed = False
        self._lock = anyio.Lock()
        self.group_commit = GroupCommit()

    def __repr__(self) -> str:
        return f"SQLiteStore({self.url!r})"

    # -- lifecycle --------------------------------------------------------------------------------

    async def open(self) -> None:
        """Open the file, creating it, its directory and the schema as needed. Idempotent."""
        async with self._lock:
            if self._closed:
                raise StoreError("store is closed", url=self.url)
            if self._conn is not None:
                return
            try:
                self._conn = await anyio.to_thread.run_sync(connect, self.path, self.busy_timeout)
            except sqlite3.Error as exc:
                raise translate_error(exc, "open", path=str(self.path)) from exc

    async def close(self) -> None:
        """Close the connection; the store cannot be used (or reopened) afterwards."""
        async with self._lock:
            self._closed = True
            conn, self._conn = self._conn, None
            if conn is not None:
                await anyio.to_thread.run_sync(conn.close)

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

    async def _call(self, op: str, work: Callable[[sqlite3.Connection], R], **context: Any) -> R:
        """Run ``work`` on the connection in a worker thread, one operation at a time."""
        async with self._lock:
            conn = self._open_conn(op)
            try:
                return await anyio.to_thread.run_sync(work, conn)
            except sqlite3.Error as exc:
                raise translate_error(exc, op, **context) from exc

    def _open_conn(self, op: str) -> sqlite3.Connection:
        if self._conn is None:
            message = "store is closed" if self._closed else "store is not open"
            raise StoreError(message, url=self.url, op=op)
        return self._conn

    async def _call_batched(
        self, op: str, work: Callable[[sqlite3.Connection], R], **context: Any
    ) -> R:
        """Like :meth:`_call`, but concurrent calls share one transaction (group commit,
        :mod:`afw.db.sqlite_batch`). ``work`` must make all its writes inside
        :func:`~afw.db.sqlite_schema.immediate` (which joins the batch's transaction) and may
        run twice (again on its own when another operation of its batch fails)."""
        try:
            return await self.group_commit.run(self._lock, lambda: self._open_conn(op), work)
        except sqlite3.Error as exc:
            raise translate_error(exc, op, **context) from exc

    async def reset(self) -> None:
        await self._call("reset", book.reset)

    async def tuneup(self, *, full: bool = False) -> None:
        await self._call("tuneup", lambda c: book.tuneup(c, full))

    async def unlock_workflows(self, fw_ids: Sequence[int]) -> int:
        """SQLite holds no lock beyond a transaction: nothing to release."""
        return 0

    # -- workflows --------------------------------------------------------------------------------

    async def insert_workflows(self, wfs: Sequence[Workflow]) -> list[dict[int, int]]:
        return await self._call("insert_workflows", lambda c: upd.insert_workflows(c, wfs))

    async def update_workflow(
        self, fw_id: int, fn: WorkflowFn[T], *, preload: Sequence[int] = ()
    ) -> tuple[T, ChangeSet]:
        return await self._call(
            "update_workflow", lambda c: upd.update_workflow(c, fw_id, fn, preload), fw_id=fw_id
        )

    async def update_workflows(
        self, items: Sequence[tuple[int, WorkflowFn[T]]]
    ) -> list[tuple[T, ChangeSet] | Exception]:
        """All items in one ``BEGIN IMMEDIATE`` transaction (one worker-thread hop)."""
        batch = list(items)
        return await self._call("update_workflows", lambda c: many.update_workflows(c, batch))

    async def checkout(
        self,
        query: Mapping[str, Any],
        sort: SortSpec,
        fn: Callable[[Workflow, UpdateContext, int], T],
    ) -> tuple[T, ChangeSet] | None:
        return await self._call_batched("checkout", lambda c: upd.checkout(c, query, sort, fn))

    async def load_workflow(self, fw_id: int) -> Workflow:
        return await self._call(
            "load_workflow", lambda c: reads.load_workflow(c, fw_id), fw_id=fw_id
        )

    async def delete_workflows(self, fw_ids: Sequence[int]) -> list[str]:
        return await self._call("delete_workflows", lambda c: book.delete_workflows(c, fw_ids))

    # -- reads ------------------------------------------------------------------------------------

    async def get_fws(self, fw_ids: Sequence[int]) -> list[Firework]:
        return await self._call("get_fws", lambda c: reads.get_fws(c, fw_ids))

    async def get_launches(self, launch_ids: Sequence[int]) -> list[Launch]:
        return await self._call("get_launches", lambda c: reads.get_launches(c, launch_ids))

    async def get_fw_docs(
        self, fw_ids: Sequence[int], projection: Sequence[str] | None = None
    ) -> list[dict[str, Any]]:
        return await self._call("get_fw_docs", lambda c: reads.get_fw_docs(c, fw_ids, projection))

    async def get_wf_docs(self, fw_ids: Sequence[int]) -> list[dict[str, Any]]:
        return await self._call("get_wf_docs", lambda c: reads.get_wf_docs(c, fw_ids))

    async def find_fw_ids(
        self, query: Mapping[str, Any], sort: SortSpec = (), limit: int = 0
    ) -> list[int]:
        return await self._call("find_fw_ids", lambda c: reads.find_fw_ids(c, query, sort, limit))

    async def count_fws(self, query: Mapping[str, Any]) -> int:
        return await self._call("count_fws", lambda c: reads.count(c, "fireworks", query))

    async def find_launch_fw_ids(
        self, query: Mapping[str, Any], sort: SortSpec = (), limit: int = 0
    ) -> list[int]:
        return await self._call(
            "find_launch_fw_ids", lambda c: reads.find_launch_fw_ids(c, query, sort, limit)
        )

    async def find_launch_ids(self, query: Mapping[str, Any], limit: int = 0) -> list[int]:
        return await self._call("find_launch_ids", lambda c: reads.find_launch_ids(c, query, limit))

    async def find_wf_ids(
        self, query: Mapping[str, Any], sort: SortSpec = (), limit: int = 0
    ) -> list[int]:
        return await self._call("find_wf_ids", lambda c: reads.find_wf_ids(c, query, sort, limit))

    async def count_wfs(self, query: Mapping[str, Any]) -> int:
        return await self._call("count_wfs", lambda c: reads.count(c, "workflows", query))

    async def fw_ids_of_launches(self, launch_ids: Sequence[int]) -> dict[int, list[int]]:
        return await self._call(
            "fw_ids_of_launches", lambda c: reads.fw_ids_of_launches(c, launch_ids)
        )

    async def wf_keys_of_fws(self, fw_ids: Sequence[int]) -> dict[int, str]:
        return await self._call("wf_keys_of_fws", lambda c: reads.wf_keys_of_fws(c, fw_ids))

    # -- launches ---------------------------------------------------------------------------------

    async def next_launch_ids(self, n: int) -> int:
        return await self._call("next_launch_ids", lambda c: book.next_launch_ids(c, n))

    async def touch_launch(
        self, launch_id: int, when: str, checkpoint: dict[str, Any] | None = None
    ) -> bool:
        return await self._call(
            "touch_launch",
            lambda c: book.touch_launch(c, launch_id, when, checkpoint),
            launch_id=launch_id,
        )

    async def update_launch_fields(self, launch_id: int, fields: Mapping[str, Any]) -> None:
        await self._call_batched(
            "update_launch_fields",
            lambda c: book.update_launch_fields(c, launch_id, fields),
            launch_id=launch_id,
        )

    # -- offline runs -----------------------------------------------------------------------------

    async def add_offline_runs(self, runs: Sequence[OfflineRun]) -> None:
        await self._call_batched("add_offline_runs", lambda c: book.add_offline_runs(c, runs))

    async def pending_offline_runs(
        self, after_launch_id: int, limit: int, launch_ids: Sequence[int] | None = None
    ) -> list[OfflineRun]:
        return await self._call(
            "pending_offline_runs",
            lambda c: book.pending_offline_runs(c, after_launch_id, limit, launch_ids),
        )

    async def update_offline_runs(self, updates: Mapping[int, Mapping[str, Any]]) -> None:
        await self._call("update_offline_runs", lambda c: book.update_offline_runs(c, updates))

    async def forget_offline(
        self, *, launch_ids: Sequence[int] = (), fw_ids: Sequence[int] = ()
    ) -> int:
        return await self._call(
            "forget_offline", lambda c: book.forget_offline(c, launch_ids, fw_ids)
        )

    async def offline_runs(self, launch_ids: Sequence[int]) -> list[OfflineRun]:
        return await self._call("offline_runs", lambda c: book.offline_runs(c, launch_ids))
