"""Inserting and deleting whole workflows in the MongoDB store.

Insert: one counter bump for every Firework of every workflow; every document is encoded before
anything is written (a document MongoDB cannot store fails the call with nothing written and the
ids given back); the workflow documents go first, locked and marked ``{"op": "insert"}``, then
the Fireworks and launches, then one update unlocks them all. FireWorks inserts Fireworks before
their workflow, so a fast rocket can claim a Firework whose workflow does not exist yet; here a
claimer finds the workflow and waits for the insert to finish. A crash half-way leaves locked,
marked workflows that the next lock holder rolls back (:mod:`afw.db.mongo_journal`).

Delete: per workflow, lock it, mark it ``{"op": "delete"}``, delete its documents; a crash
half-way is completed by the next lock holder.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import bson
from bson import ObjectId
from bson.raw_bson import RawBSONDocument

from afw.changeset import assign_ids
from afw.db.mongo_conn import Collections
from afw.db.mongo_docs import wf_insert_doc
from afw.db.mongo_journal import delete_contents
from afw.db.mongo_lock import LOCK_FIELDS, Held, Keeper, Lease, WorkflowLocks, expiry, new_token
from afw.db.mongo_schema import bump_counter, give_back
from afw.db.mongo_update import cleanup
from afw.errors import LockError, NotFoundError, WorkflowError
from afw.wflogic import workflow_state
from afw.workflow import Workflow

__all__ = ["delete_workflows", "insert_workflows"]


def _raw(doc: dict[str, Any]) -> RawBSONDocument:
    doc.setdefault("_id", ObjectId())
    return RawBSONDocument(bson.encode(doc))


class _Batch:
    """The encoded documents of an insert, and their ``_id``s for a rollback."""

    def __init__(self, wfs: Sequence[Workflow], token: str, lease_secs: float) -> None:
        until = expiry(lease_secs)
        self.wfs: list[RawBSONDocument] = []
        self.fws: list[RawBSONDocument] = []
        self.launches: list[RawBSONDocument] = []
        for wf in wfs:
            doc = wf_insert_doc(wf)
            doc.update(locked=True, locked_by=token, lock_expires=until)
            doc["afw_journal"] = {"op": "insert"}
            self.wfs.append(_raw(doc))
            wf.wf_id = doc["_id"]
            for fw_id in sorted(wf.fws):
                fw = wf.fws[fw_id]
                self.fws.append(_raw(fw.to_db_dict()))
                self.launches += [_raw(launch.to_db_dict()) for launch in fw.launches]
        self.wf_ids = [d["_id"] for d in self.wfs]

    async def rollback(self, cols: Collections) -> None:
        await cols.launches.delete_many({"_id": {"$in": [d["_id"] for d in self.launches]}})
        await cols.fireworks.delete_many({"_id": {"$in": [d["_id"] for d in self.fws]}})
        await cols.workflows.delete_many({"_id": {"$in": self.wf_ids}})


def _number(wfs: Sequence[Workflow], first: int) -> list[dict[int, int]]:
    maps = []
    for wf in wfs:
        maps.append(assign_ids(wf, list(wf.fws), first))
        first += len(wf.fws)
        wf.fw_states = {fw_id: fw.state for fw_id, fw in wf.fws.items()}
        wf.state = workflow_state(wf)
    return maps


async def insert_workflows(
    cols: Collections, lease_secs: float, wfs: Sequence[Workflow]
) -> list[dict[int, int]]:
    for wf in wfs:
        if set(wf.fws) != set(wf.links):
            missing = sorted(set(wf.links) ^ set(wf.fws))
            raise WorkflowError(f"workflow {wf.name!r}: Fireworks and links differ at {missing}")
    total = sum(len(wf.fws) for wf in wfs)
    if not total:
        return [{} for _ in wfs]
    first = await bump_counter(cols, "next_fw_id", total)
    token = new_token()
    try:
        maps = _number(wfs, first)
        batch = _Batch(wfs, token, lease_secs)
    except BaseException:
        await give_back(cols, "next_fw_id", first, total)
        raise
    keeper = Keeper(lease_secs)
    owned = {"_id": {"$in": batch.wf_ids}, "locked_by": token}
    done = False
    try:
        await cols.workflows.insert_many(batch.wfs)
        keeper.add("insert lock", Lease(cols.workflows, owned, "lock_expires", len(batch.wf_ids)))
        await cols.fireworks.insert_many(batch.fws)
        if batch.launches:
            await cols.launches.insert_many(batch.launches)
        await keeper.check()
        unset = dict.fromkeys((*LOCK_FIELDS, "afw_journal"), "")
        await cols.workflows.update_many(owned, {"$unset": unset})
        done = True
    finally:
        await keeper.stop()
        if not done:
            await _undo(cols, batch)
    for wf in wfs:
        wf.touched_fws.clear()
        wf.touched_launches.clear()
        wf.new_fw_ids.clear()
        wf.links_changed = False
    return maps


async def _undo(cols: Collections, batch: _Batch) -> None:
    """Remove what was inserted (the ids stay used: some documents may have been visible)."""
    import anyio

    with anyio.CancelScope(shield=True), anyio.move_on_after(30):
        await batch.rollback(cols)


async def delete_workflows(
    cols: Collections, locks: WorkflowLocks, lease_secs: float, fw_ids: Sequence[int]
) -> list[str]:
    cursor = cols.workflows.find({"nodes": {"$in": sorted({int(i) for i in fw_ids})}}, {"nodes": 1})
    targets = [int(d["nodes"][0]) async for d in cursor if d.get("nodes")]
    dirs: list[str] = []
    for fw_id in targets:
        keeper = Keeper(lease_secs)
        held: Held | None = None
        try:
            held = await locks.acquire(fw_id, keeper)
            marked = await cols.workflows.update_one(
                held.owner, {"$set": {"afw_journal": {"op": "delete"}}}
            )
            if marked.matched_count != 1:
                raise LockError("the workflow lock was lost before deleting; nothing was deleted")
            dirs += await delete_contents(cols, held.doc)
            held.released = True
        except NotFoundError:
            continue
        finally:
            await cleanup(locks, held, None)
            await keeper.stop()
    return list(dict.fromkeys(dirs))
