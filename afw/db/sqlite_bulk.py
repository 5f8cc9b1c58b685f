"""Deferred, set-based writes of many change sets (the batched update path of the SQLite store).

Each table is written by one statement over a JSON array of rows (``json_each``) instead of one
``executemany`` step per row: the rows are serialized up front, where a bad document fails its
own change set only, and a batch costs a handful of sqlite3 calls. Every sqlite3 call releases
the GIL and must win it back from the sweep's reader threads, so fewer calls also means less
waiting. The statements write exactly what :mod:`afw.db.sqlite_rows` writes row by row.
Blocking; runs in the store's worker thread, inside the caller's transaction.
"""

from __future__ import annotations

import math
import sqlite3
from dataclasses import dataclass, field
from typing import Any

import orjson

from afw.changeset import ChangeSet
from afw.db.sqlite_rows import fw_row, launch_row, wf_doc
from afw.db.sqlite_schema import dumps, id_list

__all__ = ["Pending", "plain_row"]

_INT64 = 2**63


def _col(n: int) -> str:
    return f"json_extract(value, '$[{n}]')"


_FW_FIELDS = "fw_id, wf_id, state, priority, category, fworker, name, created_on, updated_on, doc"
_UPSERT_FWS = f"""
INSERT INTO fireworks ({_FW_FIELDS})
SELECT {", ".join(_col(n) for n in range(10))} FROM json_each(?) WHERE true
ON CONFLICT (fw_id) DO UPDATE SET
    wf_id = excluded.wf_id, state = excluded.state, priority = excluded.priority,
    category = excluded.category, fworker = excluded.fworker, name = excluded.name,
    created_on = excluded.created_on, updated_on = excluded.updated_on, doc = excluded.doc
"""  # noqa: S608
_DELETE_FW_LAUNCHES = "DELETE FROM fw_launches WHERE fw_id IN (SELECT value FROM json_each(?))"
_INSERT_FW_LAUNCHES = f"""
INSERT OR REPLACE INTO fw_launches SELECT {_col(0)}, {_col(1)}, {_col(2)} FROM json_each(?)
"""  # noqa: S608
_UPSERT_LAUNCHES = f"""
INSERT INTO launches (launch_id, fw_id, state, doc)
SELECT {_col(0)}, {_col(1)}, {_col(2)}, {_col(3)} FROM json_each(?) WHERE true
ON CONFLICT (launch_id) DO UPDATE SET
    fw_id = excluded.fw_id, state = excluded.state, doc = excluded.doc
"""  # noqa: S608
_UPDATE_WFS = f"""
UPDATE workflows
SET state = v.state, updated_on = v.updated_on, doc = coalesce(v.doc, workflows.doc)
FROM (SELECT {_col(0)} AS wf_id, {_col(1)} AS state, {_col(2)} AS updated_on, {_col(3)} AS doc
      FROM json_each(?)) AS v
WHERE workflows.wf_id = v.wf_id
"""  # noqa: S608


def _plain(value: Any) -> bool:
    """Whether a column value survives a trip through JSON unchanged (as it would through a
    sqlite3 parameter): text, NULL, a 64-bit integer or a finite float."""
    if value is None or isinstance(value, str):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, int) and not isinstance(value, bool) and -_INT64 <= value < _INT64


def plain_row(row: tuple[Any, ...]) -> bool:
    return all(_plain(value) for value in row)


@dataclass
class _Rows:
    fws: list[tuple[Any, ...]] = field(default_factory=list)
    fw_ids: list[int] = field(default_factory=list)
    links: list[tuple[int, int, int]] = field(default_factory=list)
    launches: list[tuple[Any, ...]] = field(default_factory=list)
    wfs: list[tuple[Any, ...]] = field(default_factory=list)


@dataclass
class Pending:
    """Rows of change sets serialized but not written yet."""

    rows: _Rows = field(default_factory=_Rows)

    @staticmethod
    def serialize(wf_id: int, changes: ChangeSet) -> _Rows | None:
        """The rows of one change set (``None`` when a value would not survive JSON; the
        caller then writes it row by row). Raises what :func:`dumps` raises."""
        out = _Rows()
        out.fws = [fw_row(fw, wf_id) for fw in changes.fws]
        if not all(plain_row(row) for row in out.fws):
            return None
        out.fw_ids = [fw.fw_id for fw in changes.fws]
        # Archived rows first so that a launch both archived and current ends up current.
        for fw in changes.fws:
            out.links.extend((fw.fw_id, lid, 1) for lid in fw.archived_launch_ids)
        for fw in changes.fws:
            out.links.extend((fw.fw_id, lid, 0) for lid in fw.launch_ids)
        out.launches = [launch_row(la) for la in changes.launches]
        if not changes.empty:
            wf = changes.workflow
            doc = dumps(wf_doc(wf)) if changes.links_changed else None
            out.wfs.append((wf_id, wf.state, wf.updated_on, doc))
        return out

    def add(self, rows: _Rows) -> None:
        mine = self.rows
        mine.fws += rows.fws
        mine.fw_ids += rows.fw_ids
        mine.links += rows.links
        mine.launches += rows.launches
        mine.wfs += rows.wfs

    def flush(self, conn: sqlite3.Connection) -> None:
        """Write every pending row (in the order they were added) and forget them."""
        rows, self.rows = self.rows, _Rows()
        if rows.fws:
            conn.execute(_UPSERT_FWS, (_array(rows.fws),))
            conn.execute(_DELETE_FW_LAUNCHES, (id_list(rows.fw_ids),))
            # Sorted so that, per Firework, archived rows still come before current ones.
            links = sorted(rows.links, key=lambda r: (r[0], -r[2]))
            if links:
                conn.execute(_INSERT_FW_LAUNCHES, (_array(links),))
        if rows.launches:
            conn.execute(_UPSERT_LAUNCHES, (_array(rows.launches),))
        if rows.wfs:
            conn.execute(_UPDATE_WFS, (_array(rows.wfs),))


def _array(rows: list[tuple[Any, ...]]) -> str:
    return orjson.dumps(rows).decode()
