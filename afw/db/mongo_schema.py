"""Indexes and id counters of the MongoDB store, as FireWorks 2.1 keeps them.

Indexes are those of FireWorks' ``LaunchPad.tuneup`` plus what afw adds (documented in
docs/mongodb.md): ``offline_runs`` indexes (FireWorks has none), a checkout index matching afw's
sort, and sparse indexes on the lock/claim lease fields so that expired ones are found cheaply.
Creating them is idempotent; a server or user that refuses one (read-only user, unsupported
option, duplicates in old data) only costs that index.

Ids come from the ``fw_id_assigner`` singleton ``{_id: -1, next_fw_id, next_launch_id}``: one
``$inc`` hands out a block and returns the value before the increment, as FireWorks does.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from typing import Any, Final

from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError, OperationFailure

from afw.db.mongo_conn import Collections, Doc
from afw.errors import StoreError

__all__ = ["bump_counter", "ensure_counter", "ensure_indexes", "give_back", "reset_counter"]

log = logging.getLogger("afw.db.mongo")

_REFUSED: Final = frozenset({18, 8000})  # authentication failed: not an index problem
_FW_INDEXES: Final = (
    IndexModel("fw_id", unique=True),
    *(IndexModel(f) for f in ("state", "spec._category", "created_on", "updated_on", "name")),
    IndexModel("launches"),
    IndexModel([("state", DESCENDING), ("_id", DESCENDING)]),
    IndexModel([("state", DESCENDING), ("spec._priority", DESCENDING), ("created_on", DESCENDING)]),
    IndexModel([("state", DESCENDING), ("spec._priority", DESCENDING), ("created_on", ASCENDING)]),
    # afw: archived launch lookups (delete), checkout in afw's order, expired claims.
    IndexModel("archived_launches", name="afw_archived_launches"),
    IndexModel(
        [("state", 1), ("spec._priority", -1), ("created_on", 1), ("fw_id", 1)],
        name="afw_checkout",
    ),
    IndexModel("afw_claim.until", sparse=True, name="afw_claim_until"),
)
_LAUNCH_INDEXES: Final = (
    IndexModel("launch_id", unique=True),
    IndexModel("fw_id"),
    IndexModel("state_history.reservation_id"),
    *(IndexModel(f) for f in ("state", "time_start", "time_end", "host", "ip", "fworker.name")),
)
_WF_INDEXES: Final = (
    *(IndexModel(f) for f in ("name", "created_on", "updated_on", "nodes")),
    IndexModel([("state", DESCENDING), ("_id", DESCENDING)]),
    IndexModel("lock_expires", sparse=True, name="afw_lock_expires"),
)
_OFFLINE_INDEXES: Final = (
    IndexModel("launch_id", unique=True, name="afw_launch_id"),
    IndexModel([("completed", 1), ("deprecated", 1), ("launch_id", 1)], name="afw_pending"),
    IndexModel("fw_id", name="afw_fw_id"),
)


def _user_index(spec: Any) -> IndexModel:
    """A FireWorks ``user_indices`` entry: a field name or a list of ``[field, direction]``."""
    if isinstance(spec, str):
        return IndexModel(spec)
    return IndexModel([(str(key), int(direction)) for key, direction in spec])


async def _create(coll: AsyncCollection[Doc], models: Sequence[IndexModel]) -> None:
    try:
        await coll.create_indexes(list(models))
        return
    except OperationFailure as exc:
        if exc.code in _REFUSED:
            raise
        log.debug("create_indexes on %s failed (%s); creating one by one", coll.name, exc)
    for model in models:
        try:
            await coll.create_indexes([model])
        except OperationFailure as exc:
            if exc.code in _REFUSED or exc.code == 13:
                log.debug("no permission to create indexes on %s: %s", coll.name, exc)
                return  # a read-only user: the indexes are the owner's business
            if model.document.get("unique") and exc.code in (11000, 11001):
                # Old data with duplicates: keep the lookup fast without the constraint.
                keys = list(model.document["key"].items())
                await _create(coll, [IndexModel(keys, name=f"{model.document['name']}_nonunique")])
                continue
            name, reason = model.document["name"], str(exc).splitlines()[0]
            log.warning("MongoDB did not create index %s on %s: %s", name, coll.name, reason)


async def ensure_indexes(
    cols: Collections, user_indices: Iterable[Any], wf_user_indices: Iterable[Any]
) -> None:
    """Create FireWorks' and afw's indexes (idempotent)."""
    outcomes = await asyncio.gather(
        _create(cols.fireworks, [*_FW_INDEXES, *map(_user_index, user_indices)]),
        _create(cols.launches, _LAUNCH_INDEXES),
        _create(cols.workflows, [*_WF_INDEXES, *map(_user_index, wf_user_indices)]),
        _create(cols.offline_runs, _OFFLINE_INDEXES),
        _create(cols.db["fw_gridfs.files"], [IndexModel("metadata.launch_id", unique=True)]),
        return_exceptions=True,
    )
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome


async def _max_id(coll: AsyncCollection[Doc], key: str) -> int:
    doc = await coll.find_one({key: {"$type": "number"}}, {key: 1}, sort=[(key, DESCENDING)])
    return int(doc[key]) if doc else 0


async def ensure_counter(cols: Collections) -> None:
    """Create ``fw_id_assigner`` when missing, continuing after the largest stored ids."""
    if await cols.counters.find_one({}, {"_id": 1}) is not None:
        return
    first_fw = await _max_id(cols.fireworks, "fw_id") + 1
    first_launch = await _max_id(cols.launches, "launch_id") + 1
    try:
        await cols.counters.update_one(
            {"_id": -1},
            {"$setOnInsert": {"next_fw_id": first_fw, "next_launch_id": first_launch}},
            upsert=True,
        )
    except DuplicateKeyError:
        pass  # another process created it first


async def reset_counter(cols: Collections) -> None:
    await cols.counters.delete_many({})
    await cols.counters.insert_one({"_id": -1, "next_fw_id": 1, "next_launch_id": 1})


async def bump_counter(cols: Collections, key: str, n: int) -> int:
    """Reserve ``n`` ids of ``next_fw_id`` / ``next_launch_id``; returns the first.

    The first id is read from the post-image (``AFTER`` minus ``n``): some MongoDB-wire servers
    (SecantusDB 0.7.0b3) build the pre-image of a concurrent ``findAndModify`` from a stale read
    and hand the same id to two callers, while their post-image is exact.
    """
    for _ in range(2):
        doc = await cols.counters.find_one_and_update(
            {}, {"$inc": {key: n}}, projection={key: 1}, return_document=ReturnDocument.AFTER
        )
        if doc is not None and key in doc:
            return int(doc[key]) - n
        if doc is not None:
            raise StoreError(f"fw_id_assigner has no {key}: the database needs `lpad reset`")
        await ensure_counter(cols)
    raise StoreError("fw_id_assigner is missing and could not be created")


async def give_back(cols: Collections, key: str, first: int, n: int) -> bool:
    """Return the block ``[first, first + n)`` if nobody took ids after it (no gaps on errors)."""
    if n <= 0:
        return True
    result = await cols.counters.update_one({key: first + n}, {"$inc": {key: -n}})
    return result.modified_count == 1
