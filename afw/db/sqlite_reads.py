"""Reads and MongoDB-style queries of the SQLite store. Blocking; one worker-thread hop each."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from afw.db import query as q
from afw.db.base import SortSpec
from afw.db.sqlite_rows import build_firework, current_launch_docs, fw_docs_by_id
from afw.db.sqlite_schema import (
    FW_COLUMNS,
    LAUNCH_COLUMNS,
    WF_COLUMNS,
    id_list,
    loads,
    read_tx,
)
from afw.db.sqlite_update import Snapshot, order_by
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

_NO_LIMIT = -1


def load_workflow(conn: sqlite3.Connection, fw_id: int) -> Workflow:
    with read_tx(conn):
        snap = Snapshot(conn, fw_id)
        snap.load_all()
    return snap.build()


def get_fws(conn: sqlite3.Connection, fw_ids: Sequence[int]) -> list[Firework]:
    with read_tx(conn):
        docs = fw_docs_by_id(conn, fw_ids)
        launch_docs = current_launch_docs(conn, docs)
    return [build_firework(docs[i], launch_docs) for i in fw_ids if i in docs]


def get_launches(conn: sqlite3.Connection, launch_ids: Sequence[int]) -> list[Launch]:
    rows = conn.execute(
        "SELECT launch_id, doc FROM launches WHERE launch_id IN (SELECT value FROM json_each(?))",
        (id_list(launch_ids),),
    )
    docs = dict(rows)
    return [Launch.from_dict(loads(docs[i])) for i in launch_ids if i in docs]


def _project(doc: Mapping[str, Any], paths: Sequence[str]) -> dict[str, Any]:
    """Keep only the dotted ``paths`` (MongoDB inclusion projection), plus ``fw_id``."""
    out: dict[str, Any] = {"fw_id": doc.get("fw_id")}
    for path in paths:
        keys = path.split(".")
        source: Any = doc
        for key in keys:
            if not isinstance(source, Mapping) or key not in source:
                break
            source = source[key]
        else:
            target = out
            for key in keys[:-1]:
                target = target.setdefault(key, {})
            target[keys[-1]] = source
    return out


def get_fw_docs(
    conn: sqlite3.Connection, fw_ids: Sequence[int], projection: Sequence[str] | None
) -> list[dict[str, Any]]:
    docs = fw_docs_by_id(conn, fw_ids)
    parsed = (loads(docs[i]) for i in fw_ids if i in docs)
    if projection is None:
        return list(parsed)
    return [_project(doc, projection) for doc in parsed]


def get_wf_docs(conn: sqlite3.Connection, fw_ids: Sequence[int]) -> list[dict[str, Any]]:
    with read_tx(conn):
        rows = conn.execute(
            "SELECT fw_id, wf_id FROM fireworks WHERE fw_id IN (SELECT value FROM json_each(?))",
            (id_list(fw_ids),),
        )
        wf_of = dict(rows)
        wf_ids = list(dict.fromkeys(wf_of[i] for i in fw_ids if i in wf_of))
        return [_wf_doc(conn, wf_id) for wf_id in wf_ids]


def _wf_doc(conn: sqlite3.Connection, wf_id: int) -> dict[str, Any]:
    state, name, created_on, updated_on, text = conn.execute(
        "SELECT state, name, created_on, updated_on, doc FROM workflows WHERE wf_id = ?",
        (wf_id,),
    ).fetchone()
    states = conn.execute(
        "SELECT fw_id, state FROM fireworks WHERE wf_id = ? ORDER BY fw_id", (wf_id,)
    )
    doc: dict[str, Any] = {"_id": wf_id, **loads(text)}
    doc.update(state=state, name=name, created_on=created_on, updated_on=updated_on)
    doc["fw_states"] = {str(fw_id): fw_state for fw_id, fw_state in states}
    return doc


def _where(
    query: Mapping[str, Any], doc: str, columns: Mapping[str, str]
) -> tuple[str, Sequence[Any]]:
    where, params = q.to_sql(query, doc_column=doc, columns=columns)
    return where, params


def find_fw_ids(
    conn: sqlite3.Connection, query: Mapping[str, Any], sort: SortSpec, limit: int
) -> list[int]:
    where, params = _where(query, "doc", FW_COLUMNS)
    order = order_by(sort, FW_COLUMNS, "doc", "fw_id")
    sql = f"SELECT fw_id FROM fireworks WHERE {where} {order} LIMIT ?"  # noqa: S608
    return [row[0] for row in conn.execute(sql, (*params, limit or _NO_LIMIT))]


def count(conn: sqlite3.Connection, table: str, query: Mapping[str, Any]) -> int:
    """How many rows of ``fireworks`` or ``workflows`` match."""
    if table == "fireworks":
        where, params = _where(query, "doc", FW_COLUMNS)
        sql = f"SELECT COUNT(*) FROM fireworks WHERE {where}"  # noqa: S608
    else:
        where, params = _where(query, "w.doc", WF_COLUMNS)
        sql = f"SELECT COUNT(*) FROM workflows w WHERE {where}"  # noqa: S608
    total: int = conn.execute(sql, params).fetchone()[0]
    return total


def _distinct(rows: Iterator[Any], limit: int) -> list[int]:
    seen: dict[int, None] = {}
    for (fw_id,) in rows:
        seen[fw_id] = None
        if limit and len(seen) >= limit:
            break
    return list(seen)


def find_launch_fw_ids(
    conn: sqlite3.Connection, query: Mapping[str, Any], sort: SortSpec, limit: int
) -> list[int]:
    where, params = _where(query, "l.doc", LAUNCH_COLUMNS)
    sql = (
        "SELECT fl.fw_id FROM launches l"  # noqa: S608
        " JOIN fw_launches fl ON fl.launch_id = l.launch_id AND fl.archived = 0"
        f" WHERE {where} {order_by(sort, LAUNCH_COLUMNS, 'l.doc', 'l.launch_id, fl.fw_id')}"
    )
    cursor = conn.execute(sql, params)
    try:
        return _distinct(iter(cursor), limit)
    finally:
        cursor.close()  # a half-read SELECT would keep its read snapshot open


def find_launch_ids(conn: sqlite3.Connection, query: Mapping[str, Any], limit: int) -> list[int]:
    where, params = _where(query, "l.doc", LAUNCH_COLUMNS)
    sql = f"SELECT l.launch_id FROM launches l WHERE {where} ORDER BY l.launch_id LIMIT ?"  # noqa: S608
    return [row[0] for row in conn.execute(sql, (*params, limit or _NO_LIMIT))]


def find_wf_ids(
    conn: sqlite3.Connection, query: Mapping[str, Any], sort: SortSpec, limit: int
) -> list[int]:
    where, params = _where(query, "w.doc", WF_COLUMNS)
    sql = (
        "SELECT (SELECT MIN(f.fw_id) FROM fireworks f WHERE f.wf_id = w.wf_id)"  # noqa: S608
        f" FROM workflows w WHERE {where} {order_by(sort, WF_COLUMNS, 'w.doc', 'w.wf_id')} LIMIT ?"
    )
    return [row[0] for row in conn.execute(sql, (*params, limit or _NO_LIMIT))]


def fw_ids_of_launches(conn: sqlite3.Connection, launch_ids: Sequence[int]) -> dict[int, list[int]]:
    rows = conn.execute(
        "SELECT launch_id, fw_id FROM fw_launches"
        " WHERE launch_id IN (SELECT value FROM json_each(?)) AND archived = 0"
        " ORDER BY launch_id, fw_id",
        (id_list(launch_ids),),
    )
    out: dict[int, list[int]] = {int(i): [] for i in launch_ids}
    for launch_id, fw_id in rows:
        out[launch_id].append(fw_id)
    return out


def wf_keys_of_fws(conn: sqlite3.Connection, fw_ids: Sequence[int]) -> dict[int, str]:
    rows = conn.execute(
        "SELECT fw_id, wf_id FROM fireworks WHERE fw_id IN (SELECT value FROM json_each(?))",
        (id_list(fw_ids),),
    )
    return {int(fw_id): str(wf_id) for fw_id, wf_id in rows}
