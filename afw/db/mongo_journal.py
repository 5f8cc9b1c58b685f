"""Crash-safe multi-document writes without transactions: a redo journal on the locked workflow.

A change set touches several documents (Fireworks, launches, the workflow), and MongoDB without
a replica set has no multi-document transactions. So, holding the workflow lock, afw

1. writes the whole change set into the workflow document as ``afw_journal`` (one fenced update
   that only succeeds while the lock is ours: if it fails, nothing was written);
2. writes the Fireworks and launches (bulk ``ReplaceOne`` upserts, idempotent);
3. sets the workflow's changed fields and removes the journal and the lock in one update.

A process that dies between 1 and 3 leaves the lock and the journal; whoever takes the lock
after its lease completes steps 2 and 3 from the journal before doing anything else. Change sets
too large to sit in the workflow document go to the ``afw_journal`` collection in chunks.

The same mechanism makes the other multi-document operations recoverable: ``{"op": "insert"}``
marks workflows being inserted (a crash rolls the insert back) and ``{"op": "delete"}`` marks
workflows being deleted (a crash finishes the delete).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import Any, Final

import bson
from pymongo import ReplaceOne

from afw.db.mongo_conn import Collections, Doc
from afw.db.mongo_gridfs import delete_actions
from afw.db.mongo_lock import LOCK_FIELDS, Held, Keeper
from afw.errors import LockError, NotFoundError, StoreError

__all__ = ["Journal", "delete_contents", "replay"]

log = logging.getLogger("afw.db.mongo")
INLINE_MAX: Final = 2 * 1024 * 1024
CHUNK_MAX: Final = 8 * 1024 * 1024
_DONE: Final = {"$unset": {"afw_journal": ""}}


class Journal:
    """One change set: Firework and launch documents, and the workflow fields to ``$set``."""

    def __init__(
        self, fws: Sequence[Doc], launches: Sequence[Doc], wf_set: Mapping[str, Any]
    ) -> None:
        self.fws = list(fws)
        self.launches = list(launches)
        self.wf_set = dict(wf_set)
        self.chunked = False

    def body(self) -> dict[str, Any]:
        # Field names such as "fw_states.3" are kept as pairs: dots are not allowed in keys.
        return {"fws": self.fws, "launches": self.launches, "wf_set": list(self.wf_set.items())}

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> Journal:
        return cls(
            body.get("fws") or [], body.get("launches") or [], dict(body.get("wf_set") or [])
        )

    def extend(self, other: Journal) -> None:
        self.fws += other.fws
        self.launches += other.launches
        self.wf_set.update(other.wf_set)

    async def record(self, cols: Collections, held: Held, keeper: Keeper) -> None:
        """Step 1: store the journal on the locked workflow (or in chunks when it is large)."""
        await keeper.check()
        body = self.body()
        size = len(bson.encode(body))
        if size <= INLINE_MAX:
            mark: dict[str, Any] = {"op": "write", **body}
        else:
            await _write_chunks(cols, held, body, size)
            self.chunked = True
            mark = {"op": "write", "chunked": held.token}
        result = await cols.workflows.update_one(held.owner, {"$set": {"afw_journal": mark}})
        if result.matched_count != 1:
            raise LockError("the workflow lock was lost before writing; nothing was written")

    async def apply(self, cols: Collections) -> None:
        """Step 2: the Firework and launch documents (idempotent)."""
        writes = []
        if self.fws:
            ops = [ReplaceOne({"fw_id": d["fw_id"]}, d, upsert=True) for d in self.fws]
            writes.append(cols.fireworks.bulk_write(ops, ordered=False))
        if self.launches:
            ops = [ReplaceOne({"launch_id": d["launch_id"]}, d, upsert=True) for d in self.launches]
            writes.append(cols.launches.bulk_write(ops, ordered=False))
        await asyncio.gather(*writes)

    async def commit(self, cols: Collections, held: Held, unlock: bool = True) -> bool:
        """Step 3: the workflow fields; the journal (and the lock) removed in the same update.
        False when the lock was no longer ours."""
        unset: dict[str, Any] = {"afw_journal": ""}
        if unlock:
            unset.update(dict.fromkeys(LOCK_FIELDS, ""))
        update: dict[str, Any] = {"$unset": unset}
        if self.wf_set:
            update["$set"] = self.wf_set
        result = await cols.workflows.update_one(held.owner, update)
        if unlock:
            held.released = True
        if self.chunked:
            await cols.db["afw_journal"].delete_many({"wf": held.wf_id})
        return result.matched_count == 1


async def _write_chunks(cols: Collections, held: Held, body: dict[str, Any], size: int) -> None:
    parts = max(2, -(-size // CHUNK_MAX))
    docs = []
    for n in range(parts):
        docs.append(
            {
                "wf": held.wf_id,
                "token": held.token,
                "n": n,
                "fws": body["fws"][n::parts],
                "launches": body["launches"][n::parts],
                "wf_set": body["wf_set"] if n == 0 else [],
            }
        )
    await cols.db["afw_journal"].delete_many({"wf": held.wf_id})
    await cols.db["afw_journal"].insert_many(docs)


async def _load(cols: Collections, held: Held, mark: Mapping[str, Any]) -> Journal:
    if not mark.get("chunked"):
        return Journal.from_body(mark)
    journal = Journal([], [], {})
    journal.chunked = True
    cursor = cols.db["afw_journal"].find({"wf": held.wf_id, "token": mark["chunked"]})
    async for chunk in cursor.sort("n", 1):
        journal.extend(Journal.from_body(chunk))
    return journal


async def replay(cols: Collections, held: Held) -> None:
    """Complete the interrupted operation recorded on a workflow we just locked."""
    mark = held.doc.get("afw_journal") or {}
    op = mark.get("op")
    log.warning(
        "workflow %s: completing an interrupted %s left by a crashed process", held.wf_id, op
    )
    if op == "insert":
        await delete_contents(cols, held.doc, rollback=True)
        raise NotFoundError(
            "the workflow was being inserted by a process that crashed; rolled back"
        )
    if op == "delete":
        await delete_contents(cols, held.doc)
        raise NotFoundError("the workflow was being deleted; the delete was completed")
    if op != "write":
        raise StoreError(f"workflow {held.wf_id} carries an unknown afw_journal {op!r}")
    journal = await _load(cols, held, mark)
    await journal.apply(cols)
    await journal.commit(cols, held, unlock=False)
    fresh = await cols.workflows.find_one({"_id": held.wf_id}, {"parent_links": 0})
    if fresh is None:
        raise NotFoundError(f"workflow {held.wf_id} disappeared")
    held.doc = fresh


async def delete_contents(
    cols: Collections, wf_doc: Mapping[str, Any], rollback: bool = False
) -> list[str]:
    """Delete a workflow with its Fireworks, their launches (unless another Firework lists
    them) and offline runs; returns the launch dirs of deleted launches."""
    nodes = [int(n) for n in wf_doc.get("nodes") or []]
    launch_ids: set[int] = set()
    async for fw in cols.fireworks.find(
        {"fw_id": {"$in": nodes}}, {"launches": 1, "archived_launches": 1}
    ):
        launch_ids.update(
            int(i) for i in (fw.get("launches") or []) + (fw.get("archived_launches") or [])
        )
    async for launch in cols.launches.find({"fw_id": {"$in": nodes}}, {"launch_id": 1}):
        launch_ids.add(int(launch["launch_id"]))
    ids = sorted(launch_ids)
    listed = {"$or": [{"launches": {"$in": ids}}, {"archived_launches": {"$in": ids}}]}
    async for other in cols.fireworks.find(
        {"fw_id": {"$nin": nodes}, **listed}, {"launches": 1, "archived_launches": 1}
    ):
        launch_ids -= {
            int(i) for i in (other.get("launches") or []) + (other.get("archived_launches") or [])
        }
    ids = sorted(launch_ids)
    dirs: list[str] = []
    if not rollback:
        cursor = cols.launches.find({"launch_id": {"$in": ids}}, {"launch_dir": 1, "launch_id": 1})
        dirs = [str(d.get("launch_dir") or "") async for d in cursor.sort("launch_id", 1)]
    await delete_actions(cols, ids)
    await cols.launches.delete_many({"launch_id": {"$in": ids}})
    await cols.offline_runs.delete_many(
        {"$or": [{"launch_id": {"$in": ids}}, {"fw_id": {"$in": nodes}}]}
    )
    await cols.fireworks.delete_many({"fw_id": {"$in": nodes}})
    await cols.workflows.delete_one({"_id": wf_doc["_id"]})
    await cols.db["afw_journal"].delete_many({"wf": wf_doc["_id"]})
    return [d for d in dict.fromkeys(dirs) if d]
