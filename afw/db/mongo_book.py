"""Launch heartbeats and fields, offline-run records and reset for the MongoDB store."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from pymongo import ReplaceOne, UpdateMany
from pymongo.errors import OperationFailure

from afw.db.base import OfflineRun
from afw.db.mongo_conn import Collections
from afw.db.mongo_docs import offline_doc, offline_run
from afw.db.mongo_lock import LOCK_FIELDS
from afw.db.mongo_schema import reset_counter
from afw.errors import NotFoundError, StoreError

__all__ = [
    "add_offline_runs",
    "forget_offline",
    "offline_runs",
    "pending_offline_runs",
    "reset",
    "touch_launch",
    "update_launch_fields",
    "update_offline_runs",
]

_SETTABLE: Final = frozenset(
    {"fw_id", "name", "created_on", "updated_on", "deprecated", "completed", "fingerprint"}
)


async def touch_launch(
    cols: Collections, launch_id: int, when: str, checkpoint: dict[str, Any] | None
) -> bool:
    """Set the last history entry's ``updated_on`` (and checkpoint) of a RUNNING launch.

    MongoDB cannot address "the last element" in an update, so this reads the history length
    and updates entry ``n`` only while there is no entry ``n + 1`` and the launch is RUNNING:
    a completion racing in between makes the update match nothing, and nothing is lost.
    """
    for _ in range(5):
        doc = await cols.launches.find_one(
            {"launch_id": launch_id, "state": "RUNNING"}, {"state_history.state": 1}
        )
        if doc is None or not doc.get("state_history"):
            return False
        last = len(doc["state_history"]) - 1
        changes: dict[str, Any] = {f"state_history.{last}.updated_on": when}
        if checkpoint is not None:
            changes[f"state_history.{last}.checkpoint"] = checkpoint
        result = await cols.launches.update_one(
            {
                "launch_id": launch_id,
                "state": "RUNNING",
                f"state_history.{last}": {"$exists": True},
                f"state_history.{last + 1}": {"$exists": False},
            },
            {"$set": changes},
        )
        if result.matched_count == 1:
            return True
    return False


async def update_launch_fields(
    cols: Collections, launch_id: int, fields: Mapping[str, Any]
) -> None:
    if fields.get("launch_id", launch_id) != launch_id:
        raise StoreError("a launch's launch_id cannot be changed", launch_id=launch_id)
    changes = {k: v for k, v in fields.items() if k != "_id"}
    if not changes:
        found = await cols.launches.count_documents({"launch_id": launch_id}, limit=1)
    else:
        found = (
            await cols.launches.update_one({"launch_id": launch_id}, {"$set": changes})
        ).matched_count
    if not found:
        raise NotFoundError(f"no launch {launch_id}", launch_id=launch_id)


async def add_offline_runs(cols: Collections, runs: Sequence[OfflineRun]) -> None:
    if runs:
        ops = [ReplaceOne({"launch_id": r.launch_id}, offline_doc(r), upsert=True) for r in runs]
        await cols.offline_runs.bulk_write(ops, ordered=True)


async def pending_offline_runs(
    cols: Collections, after_launch_id: int, limit: int, launch_ids: Sequence[int] | None
) -> list[OfflineRun]:
    id_filter: dict[str, Any] = {"$gt": after_launch_id}
    if launch_ids is not None:
        id_filter["$in"] = sorted({int(i) for i in launch_ids})
    cursor = cols.offline_runs.find(
        {"completed": False, "deprecated": False, "launch_id": id_filter}
    )
    cursor = cursor.sort("launch_id", 1).limit(max(limit, 0))
    found: dict[int, OfflineRun] = {}
    async for doc in cursor:
        run = offline_run(doc)
        found.setdefault(run.launch_id, run)  # FireWorks may have recorded a launch twice
    return list(found.values())


async def update_offline_runs(cols: Collections, updates: Mapping[int, Mapping[str, Any]]) -> None:
    ops = []
    for launch_id, fields in updates.items():
        unknown = set(fields) - _SETTABLE
        if unknown:
            raise StoreError(f"unknown offline run fields {sorted(unknown)}", launch_id=launch_id)
        if fields:
            ops.append(UpdateMany({"launch_id": int(launch_id)}, {"$set": dict(fields)}))
    if ops:
        await cols.offline_runs.bulk_write(ops, ordered=False)


async def forget_offline(
    cols: Collections, launch_ids: Sequence[int], fw_ids: Sequence[int]
) -> int:
    result = await cols.offline_runs.update_many(
        {
            "deprecated": {"$ne": True},
            "$or": [
                {"launch_id": {"$in": [int(i) for i in launch_ids]}},
                {"fw_id": {"$in": [int(i) for i in fw_ids]}},
            ],
        },
        {"$set": {"deprecated": True}},
    )
    return result.modified_count


async def offline_runs(cols: Collections, launch_ids: Sequence[int]) -> list[OfflineRun]:
    cursor = cols.offline_runs.find({"launch_id": {"$in": sorted({int(i) for i in launch_ids})}})
    found: dict[int, OfflineRun] = {}
    async for doc in cursor.sort("_id", 1):
        run = offline_run(doc)
        found.setdefault(run.launch_id, run)
    return [found[i] for i in launch_ids if i in found]


async def reset(cols: Collections) -> None:
    """FireWorks' ``lpad reset``: empty the collections (indexes kept), ids back to 1."""
    for coll in (cols.fireworks, cols.launches, cols.workflows, cols.offline_runs):
        await coll.delete_many({})
    for name in ("afw_journal", "fw_gridfs.files", "fw_gridfs.chunks"):
        await cols.db[name].delete_many({})
    await reset_counter(cols)


async def unlock_workflows(cols: Collections, fw_ids: Sequence[int]) -> int:
    """FireWorks' ``lpad admin unlock``: clear the lock fields (FireWorks' and afw's) of the
    workflows holding ``fw_ids``. A pending ``afw_journal`` stays: the next writer replays it."""
    result = await cols.workflows.update_many(
        {"nodes": {"$in": sorted({int(i) for i in fw_ids})}, "locked": {"$exists": True}},
        {"$unset": dict.fromkeys(LOCK_FIELDS, "")},
    )
    return int(result.modified_count)


async def compact(cols: Collections) -> list[str]:
    """``compact`` the Firework and launch collections (FireWorks ``tuneup --full``); returns
    one warning per collection the server would not compact (not every server implements it)."""
    warnings: list[str] = []
    for name in (cols.fireworks.name, cols.launches.name):
        try:
            await cols.db.command("compact", name)
        except OperationFailure as exc:
            warnings.append(f"compact {name}: {exc.details.get('errmsg') if exc.details else exc}")
    return warnings
