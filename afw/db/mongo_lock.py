"""FireWorks' workflow lock, with an owner and a lease.

FireWorks locks a workflow with ``find_one_and_update({"nodes": id, "locked": {"$exists":
False}}, {"$set": {"locked": True}})`` and releases it with ``$unset``. afw takes the same flag
the same way, so the two tools exclude each other, and also writes ``locked_by`` (a token unique
to this acquisition: host, pid, random) and ``lock_expires`` (now + lease). While it holds the
lock a :class:`Keeper` renews the lease every third of it.

* A lock whose lease has run out (its holder crashed or hung past the lease) is taken over by
  compare-and-set on the old owner and expiry: only one waiter wins, and a live holder, which
  keeps renewing, is never taken over.
* A lock without lease fields is FireWorks' own: it is waited for, as FireWorks waits
  (``WFLOCK_EXPIRATION_SECS``, 300 s), then :class:`~afw.errors.LockError` is raised.
* Release and renewal filter on ``locked_by``: a process that lost its lock cannot free or
  extend someone else's. Renewal that finds the lock gone marks the Keeper lost, and the write
  path refuses to write.
* Whoever acquires a lock that still carries ``afw_journal`` (a write interrupted by a crash)
  first completes that write (see :mod:`afw.db.mongo_journal`).

Lease expiry compares wall clocks of different hosts: they must agree within a quarter lease.
"""

from __future__ import annotations

import asyncio
import datetime
import itertools
import logging
import os
import random
import secrets
import socket
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import PyMongoError

from afw.db.mongo_conn import Collections, Doc
from afw.errors import LockError, NotFoundError

__all__ = ["LOCK_FIELDS", "Held", "Keeper", "Lease", "WorkflowLocks", "expiry", "new_token"]

log = logging.getLogger("afw.db.mongo")
LOCK_FIELDS: Final = ("locked", "locked_by", "lock_expires")
_SEQ = itertools.count(1)
_HOST = socket.gethostname()


def new_token() -> str:
    """An owner token no other acquisition anywhere will use."""
    return f"{_HOST}:{os.getpid()}:{secrets.token_hex(4)}:{next(_SEQ)}"


def expiry(lease_secs: float) -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=lease_secs)


@dataclass
class Lease:
    """A lease field on documents matched by ``filter`` (``expected`` of them)."""

    coll: AsyncCollection[Doc]
    filter: Mapping[str, Any]
    field: str
    expected: int = 1


class Keeper:
    """Renews leases while an operation runs; a lost lease makes :meth:`check` raise."""

    def __init__(self, lease_secs: float) -> None:
        self.lease_secs = lease_secs
        self.leases: dict[str, Lease] = {}
        self.lost: str | None = None
        self._renewed = time.monotonic()
        self._task: asyncio.Task[None] | None = None

    def add(self, name: str, lease: Lease) -> None:
        self.leases[name] = lease
        if self._task is None:
            self._renewed = time.monotonic()
            self._task = asyncio.get_running_loop().create_task(self._loop())

    def drop(self, name: str) -> None:
        self.leases.pop(name, None)

    async def renew(self) -> None:
        until = expiry(self.lease_secs)
        for name, lease in list(self.leases.items()):
            result = await lease.coll.update_many(
                dict(lease.filter), {"$set": {lease.field: until}}
            )
            if result.matched_count < lease.expected and name in self.leases:
                self.lost = name
                raise LockError(f"the {name} lease was lost (taken over after it expired)")
        self._renewed = time.monotonic()

    async def check(self) -> None:
        """Raise if a lease was lost; renew now if the background renewal is late."""
        if self.lost:
            raise LockError(f"the {self.lost} lease was lost (taken over after it expired)")
        if self.leases and time.monotonic() - self._renewed > self.lease_secs / 2:
            await self.renew()

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.lease_secs / 3)
            try:
                await self.renew()
            except LockError:
                return
            except PyMongoError as exc:
                log.warning("lease renewal failed, will retry: %s", str(exc).splitlines()[0])

    async def stop(self) -> None:
        task, self._task = self._task, None
        self.leases.clear()
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


@dataclass
class Held:
    """A workflow lock held by this process, with the workflow document read when taking it."""

    wf_id: Any
    token: str
    doc: dict[str, Any]
    released: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def owner(self) -> dict[str, Any]:
        """Filter matching the workflow only while this lock is still ours."""
        return {"_id": self.wf_id, "locked_by": self.token}


Replay = Callable[[Held], Awaitable[None]]


class WorkflowLocks:
    """Acquire and release workflow locks; ``replay`` completes an interrupted write."""

    def __init__(self, cols: Collections, lease_secs: float, wait_secs: float, replay: Replay):
        self.cols = cols
        self.lease_secs = lease_secs
        self.wait_secs = wait_secs
        self.replay = replay
        self.grace = datetime.timedelta(seconds=min(10.0, lease_secs / 4))

    def _lock_set(self, token: str) -> dict[str, Any]:
        return {
            "$set": {"locked": True, "locked_by": token, "lock_expires": expiry(self.lease_secs)}
        }

    def _expired(self, doc: Mapping[str, Any]) -> bool:
        expires = doc.get("lock_expires")
        if not doc.get("locked_by") or not isinstance(expires, datetime.datetime):
            return False  # FireWorks' lock (no lease): never taken over
        return expires + self.grace < datetime.datetime.now(datetime.UTC)

    async def _try(self, flt: Mapping[str, Any], token: str) -> dict[str, Any] | None:
        doc: dict[str, Any] | None = await self.cols.workflows.find_one_and_update(
            dict(flt),
            self._lock_set(token),
            projection={"parent_links": 0},
            return_document=ReturnDocument.AFTER,
        )
        return doc

    async def acquire(self, fw_id: int, keeper: Keeper, wait_secs: float | None = None) -> Held:
        """Lock the workflow holding ``fw_id``; raises NotFoundError or LockError."""
        token = new_token()
        wait = self.wait_secs if wait_secs is None else wait_secs
        doc = await self._wait_for(fw_id, token, keeper, wait)
        held = Held(wf_id=doc["_id"], token=token, doc=doc)
        keeper.add("workflow lock", Lease(self.cols.workflows, held.owner, "lock_expires"))
        if doc.get("afw_journal") is not None:
            await self.replay(held)
        return held

    async def _wait_for(
        self, fw_id: int, token: str, keeper: Keeper, wait: float
    ) -> dict[str, Any]:
        deadline = time.monotonic() + wait
        for attempt in itertools.count():
            doc = await self._try({"nodes": fw_id, "locked": {"$exists": False}}, token)
            if doc is not None:
                return doc
            current = await self.cols.workflows.find_one(
                {"nodes": fw_id}, {"locked": 1, "locked_by": 1, "lock_expires": 1}
            )
            if current is None:
                raise NotFoundError(f"no workflow holds Firework {fw_id}", fw_id=fw_id)
            if "locked" not in current:
                continue
            if current.get("locked_by") == token:
                # Our own write, applied although its reply was lost (the driver retried it).
                doc = await self._try({"_id": current["_id"], "locked_by": token}, token)
                if doc is not None:
                    return doc
                continue
            if self._expired(current):
                old = {k: current[k] for k in ("_id", "locked_by", "lock_expires")}
                doc = await self._try(old, token)
                if doc is not None:
                    log.warning(
                        "took over the lock of workflow %s (Firework %s) from %s: lease expired",
                        current["_id"],
                        fw_id,
                        current["locked_by"],
                    )
                    return doc
                continue
            if time.monotonic() > deadline:
                raise LockError(_locked_message(fw_id, current, wait), fw_id=fw_id)
            await keeper.check()
            await asyncio.sleep(min(0.005 * 2**attempt, 0.25) * (0.5 + random.random()))
        raise AssertionError("unreachable")

    async def release(self, held: Held) -> None:
        """Unlock, unless a journal is still pending (then the lease expires and the next
        holder completes the write)."""
        if held.released:
            return
        held.released = True
        await self.cols.workflows.update_one(
            {**held.owner, "afw_journal": {"$exists": False}},
            {"$unset": dict.fromkeys(LOCK_FIELDS, "")},
        )


def _locked_message(fw_id: int, doc: Mapping[str, Any], wait_secs: float) -> str:
    holder = doc.get("locked_by")
    if holder:
        return (
            f"the workflow of Firework {fw_id} stayed locked by {holder} (alive, renewing its "
            f"lease) for more than {wait_secs:.0f} s"
        )
    return (
        f"the workflow of Firework {fw_id} stayed locked (by FireWorks, no lease) for more than "
        f"{wait_secs:.0f} s; if no FireWorks process is running, clear it with "
        f"`afw lpad admin unlock -i {fw_id}`"
    )
