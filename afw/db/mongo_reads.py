"""Reads and MongoDB-style queries of the MongoDB store (filters go to the server unchanged)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from afw.db.base import SortSpec
from afw.db.mongo_conn import Collections, Doc
from afw.db.mongo_docs import INTERNAL_FW_FIELDS, build_firework, build_launch, pack, plain
from afw.db.mongo_gridfs import expand_actions
from afw.db.mongo_update import Snapshot
from afw.errors import NotFoundError
from afw.firework import Firework
from afw.launch import Launch
from afw.workflow import Workflow

__all__ = [
    "count",
    "find_fw_ids",
    "find_launch_fw_ids",
    "find_launch_ids",
    "find_wf_ids",
    "fw_ids_of_launches",
    "get_fw_docs",
    "get_fws",
    "get_launches",
    "get_wf_docs",
    "load_workflow",
    "wf_keys_of_fws",
]

_PAGE: Final = 1000
_WF_HIDDEN: Final = {"afw_journal": 0}


def ordered(sort: SortSpec, tiebreak: str) -> list[tuple[str, int]]:
    """The caller's sort with ``tiebreak`` (ascending) appended unless already there."""
    order = [(str(k), int(d)) for k, d in sort]
    if all(k != tiebreak for k, _ in order):
        order.append((tiebreak, 1))
    return order


def _ints(values: Iterable[Any]) -> list[int]:
    return sorted({int(v) for v in values})


async def load_workflow(cols: Collections, fw_id: int) -> Workflow:
    doc = await cols.workflows.find_one({"nodes": fw_id}, {"parent_links": 0, "afw_journal": 0})
    if doc is None:
        raise NotFoundError(f"no workflow holds Firework {fw_id}", fw_id=fw_id)
    snap = Snapshot(cols, doc)
    await snap.load_all()
    return snap.build()


async def get_fws(cols: Collections, fw_ids: Sequence[int]) -> list[Firework]:
    docs = {
        int(d["fw_id"]): d async for d in cols.fireworks.find({"fw_id": {"$in": _ints(fw_ids)}})
    }
    wanted = _ints(i for d in docs.values() for i in d.get("launches") or [])
    found = await cols.launches.find({"launch_id": {"$in": wanted}}).to_list(None)
    await expand_actions(cols, found)
    launches = {int(la["launch_id"]): pack(la, ("_id",)) for la in found}
    return [
        build_firework(pack(docs[i], INTERNAL_FW_FIELDS), launches) for i in fw_ids if i in docs
    ]


async def get_launches(cols: Collections, launch_ids: Sequence[int]) -> list[Launch]:
    found = await cols.launches.find({"launch_id": {"$in": _ints(launch_ids)}}).to_list(None)
    await expand_actions(cols, found)
    docs = {int(d["launch_id"]): d for d in found}
    return [build_launch(docs[i]) for i in launch_ids if i in docs]


async def get_fw_docs(
    cols: Collections, fw_ids: Sequence[int], projection: Sequence[str] | None
) -> list[dict[str, Any]]:
    fields: dict[str, Any] | None = None
    if projection is not None:
        fields = {"_id": 0, "fw_id": 1, **dict.fromkeys(projection, 1)}
    cursor = cols.fireworks.find({"fw_id": {"$in": _ints(fw_ids)}}, fields)
    docs = {int(d["fw_id"]): plain(d, INTERNAL_FW_FIELDS) async for d in cursor}
    return [docs[i] for i in fw_ids if i in docs]


def _wf_doc(doc: Doc) -> dict[str, Any]:
    out = plain(doc)  # _id as its hex string, dates as ISO strings
    out["nodes"] = [int(n) for n in out.get("nodes") or []]
    return out


async def get_wf_docs(cols: Collections, fw_ids: Sequence[int]) -> list[dict[str, Any]]:
    cursor = cols.workflows.find({"nodes": {"$in": _ints(fw_ids)}}, _WF_HIDDEN)
    docs = [_wf_doc(d) async for d in cursor]
    holder = {n: d for d in docs for n in d["nodes"]}
    out: dict[str, dict[str, Any]] = {}
    for fw_id in fw_ids:
        found = holder.get(int(fw_id))
        if found is not None:
            out.setdefault(found["_id"], found)
    return list(out.values())


async def find_fw_ids(
    cols: Collections, query: Mapping[str, Any], sort: SortSpec, limit: int
) -> list[int]:
    cursor = cols.fireworks.find(dict(query), {"fw_id": 1, "_id": 0})
    cursor = cursor.sort(ordered(sort, "fw_id")).limit(max(limit, 0))
    return [int(d["fw_id"]) async for d in cursor]


async def count(cols: Collections, collection: str, query: Mapping[str, Any]) -> int:
    return await cols.db[collection].count_documents(dict(query))


async def fw_ids_of_launches(cols: Collections, launch_ids: Sequence[int]) -> dict[int, list[int]]:
    """Fireworks listing each launch among their current launches, by ascending fw_id."""
    out: dict[int, list[int]] = {int(i): [] for i in launch_ids}
    cursor = cols.fireworks.find(
        {"launches": {"$in": _ints(launch_ids)}}, {"fw_id": 1, "launches": 1, "_id": 0}
    )
    async for doc in cursor.sort("fw_id", 1):
        for launch_id in doc.get("launches") or []:
            if int(launch_id) in out:
                out[int(launch_id)].append(int(doc["fw_id"]))
    return out


async def find_launch_fw_ids(
    cols: Collections, query: Mapping[str, Any], sort: SortSpec, limit: int
) -> list[int]:
    """fw_ids of current launches matching ``query``, in launch order (page by page, so that
    archived launches skipped do not cost a query each)."""
    cursor = cols.launches.find(dict(query), {"launch_id": 1, "_id": 0})
    cursor = cursor.sort(ordered(sort, "launch_id")).batch_size(_PAGE)
    found: dict[int, None] = {}
    page: list[int] = []

    async def flush() -> bool:
        holders = await fw_ids_of_launches(cols, page)
        for launch_id in page:
            for fw_id in holders[launch_id]:
                found[fw_id] = None
                if limit and len(found) >= limit:
                    return True
        page.clear()
        return False

    async for doc in cursor:
        page.append(int(doc["launch_id"]))
        if len(page) >= _PAGE and await flush():
            break
    else:
        if page:
            await flush()
    await cursor.close()
    return list(found)


async def find_launch_ids(cols: Collections, query: Mapping[str, Any], limit: int) -> list[int]:
    cursor = cols.launches.find(dict(query), {"launch_id": 1, "_id": 0})
    cursor = cursor.sort("launch_id", 1).limit(max(limit, 0))
    return [int(d["launch_id"]) async for d in cursor]


async def find_wf_ids(
    cols: Collections, query: Mapping[str, Any], sort: SortSpec, limit: int
) -> list[int]:
    """One fw_id (the smallest) per matching workflow."""
    cursor = cols.workflows.find(dict(query), {"nodes": 1})
    cursor = cursor.sort(ordered(sort, "_id")).limit(max(limit, 0))
    return [min(int(n) for n in d["nodes"]) async for d in cursor if d.get("nodes")]


async def wf_keys_of_fws(cols: Collections, fw_ids: Sequence[int]) -> dict[int, str]:
    wanted = _ints(fw_ids)
    cursor = cols.workflows.find({"nodes": {"$in": wanted}}, {"nodes": 1})
    keep = set(wanted)
    out: dict[int, str] = {}
    async for doc in cursor:
        key = str(doc["_id"])
        out.update((int(n), key) for n in doc.get("nodes") or [] if int(n) in keep)
    return out
