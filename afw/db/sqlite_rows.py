"""Rows ⇄ model objects for the SQLite store, and the batched row loads and writes that both the
update path and the read path use. Blocking; runs in a worker thread."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from afw.db.sqlite_schema import dumps, id_list, loads
from afw.firework import Firework
from afw.launch import Launch
from afw.workflow import Workflow

__all__ = [
    "build_firework",
    "current_launch_docs",
    "fw_docs_by_id",
    "fw_row",
    "launch_row",
    "wf_doc",
    "write_fireworks",
    "write_launches",
]

_UPSERT_FW = """
INSERT INTO fireworks (fw_id, wf_id, state, priority, category, fworker, name, created_on,
                       updated_on, doc)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (fw_id) DO UPDATE SET
    wf_id = excluded.wf_id, state = excluded.state, priority = excluded.priority,
    category = excluded.category, fworker = excluded.fworker, name = excluded.name,
    created_on = excluded.created_on, updated_on = excluded.updated_on, doc = excluded.doc
"""
_UPSERT_LAUNCH = """
INSERT INTO launches (launch_id, fw_id, state, doc) VALUES (?, ?, ?, ?)
ON CONFLICT (launch_id) DO UPDATE SET
    fw_id = excluded.fw_id, state = excluded.state, doc = excluded.doc
"""


def _hot(value: Any) -> Any:
    """A spec value as a hot-column value: strings and numbers unchanged, anything else NULL.

    Booleans, arrays and objects in ``_priority``/``_category``/``_fworker`` are not supported
    by the SQLite store's queries on those fields (FireWorks only ever stores scalars there)."""
    if isinstance(value, str) or (isinstance(value, int | float) and not isinstance(value, bool)):
        return value
    return None


def fw_row(fw: Firework, wf_id: int) -> tuple[Any, ...]:
    spec = fw.spec
    return (
        fw.fw_id,
        wf_id,
        fw.state,
        _hot(spec.get("_priority")),
        _hot(spec.get("_category")),
        _hot(spec.get("_fworker")),
        fw.name,
        fw.created_on,
        fw.updated_on,
        dumps(fw.to_db_dict()),
    )


def write_fireworks(conn: sqlite3.Connection, wf_id: int, fws: Sequence[Firework]) -> None:
    """Upsert Firework documents with their hot columns and their fw_launches rows."""
    if not fws:
        return
    conn.executemany(_UPSERT_FW, [fw_row(fw, wf_id) for fw in fws])
    conn.executemany("DELETE FROM fw_launches WHERE fw_id = ?", [(fw.fw_id,) for fw in fws])
    # Archived rows first so that a launch both archived and current ends up current.
    archived = [(fw.fw_id, lid, 1) for fw in fws for lid in fw.archived_launch_ids]
    current = [(fw.fw_id, lid, 0) for fw in fws for lid in fw.launch_ids]
    conn.executemany("INSERT OR REPLACE INTO fw_launches VALUES (?, ?, ?)", archived + current)


def launch_row(launch: Launch) -> tuple[Any, ...]:
    return (launch.launch_id, launch.fw_id, launch.state, dumps(launch.to_db_dict()))


def write_launches(conn: sqlite3.Connection, launches: Iterable[Launch]) -> None:
    rows = [launch_row(la) for la in launches]
    if rows:
        conn.executemany(_UPSERT_LAUNCH, rows)


def wf_doc(wf: Workflow) -> dict[str, Any]:
    """The part of the ``workflows`` document kept in the ``doc`` column; state, name and dates
    are columns and ``fw_states`` is derived from the fireworks table."""
    return {
        "links": {str(k): list(v) for k, v in wf.links.items()},
        "parent_links": {str(k): list(v) for k, v in wf.parent_links.items()},
        "nodes": list(wf.links),
        "metadata": wf.metadata,
    }


def fw_docs_by_id(
    conn: sqlite3.Connection, fw_ids: Iterable[int], wf_id: int | None = None
) -> dict[int, str]:
    """Firework document texts by id (rowid lookups, never a scan of the workflow)."""
    if wf_id is None:
        rows = conn.execute(
            "SELECT fw_id, doc FROM fireworks WHERE fw_id IN (SELECT value FROM json_each(?))",
            (id_list(fw_ids),),
        )
    else:
        # The unary + keeps the planner on the rowid lookups instead of the wf_id index.
        rows = conn.execute(
            "SELECT fw_id, doc FROM fireworks"
            " WHERE fw_id IN (SELECT value FROM json_each(?)) AND +wf_id = ?",
            (id_list(fw_ids), wf_id),
        )
    return {int(fw_id): doc for fw_id, doc in rows}


def current_launch_docs(conn: sqlite3.Connection, fw_ids: Iterable[int]) -> dict[int, str]:
    """Launch document texts of the current launches of these Fireworks, by launch id."""
    rows = conn.execute(
        "SELECT l.launch_id, l.doc FROM fw_launches fl"
        " JOIN launches l ON l.launch_id = fl.launch_id"
        " WHERE fl.fw_id IN (SELECT value FROM json_each(?)) AND fl.archived = 0",
        (id_list(fw_ids),),
    )
    return {int(launch_id): doc for launch_id, doc in rows}


def build_firework(text: str, launch_docs: Mapping[int, str]) -> Firework:
    """A fresh Firework (with fresh Launch objects) from stored JSON."""
    doc = loads(text)
    launches = [
        Launch.from_dict(loads(launch_docs[lid]))
        for lid in doc.get("launches") or []
        if lid in launch_docs
    ]
    return Firework.from_dict(doc, launches=launches)
