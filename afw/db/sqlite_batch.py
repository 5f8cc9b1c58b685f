"""Group commit for the SQLite store: concurrent write operations share one transaction.

K coroutines reserving jobs on one store each queue their operation and wait for the store's
lock; the first to get it runs every queued operation (up to ``max_batch``) in one worker-thread
hop and one ``BEGIN IMMEDIATE`` transaction (:func:`~afw.db.sqlite_schema.shared_transaction`,
which each operation's own :func:`~afw.db.sqlite_schema.immediate` joins). The others find
their results ready when their turn for the lock comes. Nobody waits for a timer: a lone
operation runs at once, as before.

Operations run in queue order and see each other's writes (one connection, one transaction),
so a batch of checkouts never hands out one Firework twice. If any operation raises (its own
error or a database error), the whole batch is rolled back and every operation of it runs again
in its own transaction: nothing is reported done that was not committed, one failing operation
cannot fail its neighbours, and the common case pays no savepoint per operation. If the batch's
own ``BEGIN``/``COMMIT`` fails (the file stays locked by another process past the busy timeout),
every operation of it fails with that error, as it would have alone.
"""

from __future__ import annotations

import sqlite3
from collections import deque
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import anyio
import anyio.to_thread

from afw.db.sqlite_schema import shared_transaction
from afw.errors import StoreError

__all__ = ["GroupCommit"]

R = TypeVar("R")
Work = Callable[[sqlite3.Connection], R]


class _Pending(Generic[R]):
    """One queued operation and, once its batch has run, its outcome."""

    __slots__ = ("done", "error", "settled", "taken", "value", "work")

    def __init__(self, work: Work[R]) -> None:
        self.work = work
        self.taken = False
        self.settled = False  # its outcome is final: committed, or failed with nothing written
        self.done = anyio.Event()
        self.value: R | None = None
        self.error: BaseException | None = None

    def run(self, conn: sqlite3.Connection) -> None:
        self.value, self.error = None, None
        try:
            self.value = self.work(conn)
        except Exception as exc:
            self.error = exc

    def result(self) -> R:
        if not self.settled:
            raise StoreError("the batch holding this SQLite operation was interrupted")
        if self.error is not None:
            raise self.error
        return self.value  # type: ignore[return-value]


class _Failed(Exception):
    """An operation of a shared transaction failed: roll it all back."""


def _run_all(conn: sqlite3.Connection, batch: list[_Pending[Any]]) -> None:
    for item in batch:
        item.run(conn)
        if item.error is not None:
            raise _Failed


def _run_batch(conn: sqlite3.Connection, batch: list[_Pending[Any]]) -> None:
    """In a worker thread: the batch in one transaction, or one by one after a failure."""
    if len(batch) > 1:
        try:
            with shared_transaction(conn):
                _run_all(conn, batch)
        except _Failed:
            pass  # rolled back; every operation runs again in its own transaction
        except sqlite3.Error as exc:
            # BEGIN or COMMIT failed (busy past the timeout, disk full...): nothing was written,
            # and running each operation again would only wait that long once per operation.
            for item in batch:
                item.value, item.error, item.settled = None, exc, True
            return
        else:
            for item in batch:
                item.settled = True
            return
    for item in batch:
        item.run(conn)
        item.settled = True


class GroupCommit:
    """The queue of one store's batchable write operations (see the module docstring).

    ``batches`` and ``operations`` count what has run, for tests and benchmarks.
    """

    def __init__(self, max_batch: int = 64) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be >= 1")
        self.max_batch = max_batch
        self.batches = 0
        self.operations = 0
        self._queue: deque[_Pending[Any]] = deque()

    async def run(
        self, lock: anyio.Lock, connection: Callable[[], sqlite3.Connection], work: Work[R]
    ) -> R:
        """Run ``work(conn)`` in the next batch; its result, or its exception (a driver error
        raw, as ``sqlite3.Error``). ``connection`` gives the open connection or raises.

        ``lock`` is the store's lock, which every other use of the connection holds as well.
        """
        item: _Pending[R] = _Pending(work)
        self._queue.append(item)
        try:
            async with lock:
                while not item.taken:  # more than max_batch may be queued ahead of it
                    await self._drain(connection())
        except BaseException:
            if not item.taken:
                self._queue.remove(item)
            else:
                # Another caller's batch holds it: let that batch finish before going away.
                with anyio.CancelScope(shield=True):
                    await item.done.wait()
            raise
        return item.result()

    async def _drain(self, conn: sqlite3.Connection) -> None:
        batch: list[_Pending[Any]] = []
        while self._queue and len(batch) < self.max_batch:
            item = self._queue.popleft()
            item.taken = True
            batch.append(item)
        try:
            await anyio.to_thread.run_sync(_run_batch, conn, batch)
        finally:
            self.batches += 1
            self.operations += len(batch)
            for item in batch:
                item.done.set()
