"""Launch heartbeats and fields, offline-run records, delete and reset for the SQLite store.
Blocking; one worker-thread hop each."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from afw.db.base import OfflineRun
from afw.db.sqlite_schema import bump_counter, dumps, id_list, immediate, loads
from afw.errors import NotFoundError, StoreError

__all__ = [
    "add_offline_runs",
    "delete_workflows",
    "forget_offline",
    "next_launch_ids",
    "offline_runs",
    "pending_offline_runs",
    "reset",
    "touch_launch",
    "update_launch_fields",
    "update_offline_runs",
]

_LAST = "$.state_history[#-1]"
_OFFLINE_FIELDS: Final[tuple[str, ...]] = (
    "launch_id",
    "fw_id",
    "name",
    "created_on",
    "updated_on",
    "deprecated",
    "completed",
    "fingerprint",
)
_SETTABLE: Final[frozenset[str]] = frozenset(_OFFLINE_FIELDS) - {"launch_id"}


def next_launch_ids(conn: sqlite3.Connection, n: int) -> int:
    with immediate(conn):
        return bump_counter(conn, "next_launch_id", n)


def touch_launch(
    conn: sqlite3.Connection, launch_id: int, when: str, checkpoint: dict[str, Any] | None
) -> bool:
    # One UPDATE statement: atomic against a completion racing in another process, and a no-op
    # once the launch has left RUNNING.
    if checkpoint is None:
        setter, params = f"json_set(doc, '{_LAST}.updated_on', ?)", [when]
    else:
        setter = f"json_set(doc, '{_LAST}.updated_on', ?, '{_LAST}.checkpoint', json(?))"
        params = [when, dumps(checkpoint)]
    cursor = conn.execute(
        f"UPDATE launches SET doc = {setter} WHERE launch_id = ? AND state = 'RUNNING'",  # noqa: S608
        (*params, launch_id),
    )
    return cursor.rowcount == 1


def update_launch_fields(
    conn: sqlite3.Connection, launch_id: int, fields: Mapping[str, Any]
) -> None:
    if fields.get("launch_id", launch_id) != launch_id:
        raise StoreError("a launch's launch_id cannot be changed", launch_id=launch_id)
    with immediate(conn):
        row = conn.execute("SELECT doc FROM launches WHERE launch_id = ?", (launch_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no launch {launch_id}", launch_id=launch_id)
        doc = loads(row[0])
        doc.update(fields)
        conn.execute(
            "UPDATE launches SET fw_id = ?, state = ?, doc = ? WHERE launch_id = ?",
            (doc.get("fw_id"), doc.get("state"), dumps(doc), launch_id),
        )


def add_offline_runs(conn: sqlite3.Connection, runs: Sequence[OfflineRun]) -> None:
    rows = [
        (r.launch_id, r.fw_id, r.name, r.created_on, r.updated_on, *_flags(r), r.fingerprint)
        for r in runs
    ]
    with immediate(conn):
        conn.executemany(
            f"INSERT OR REPLACE INTO offline_runs ({', '.join(_OFFLINE_FIELDS)})"  # noqa: S608
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )


def _flags(run: OfflineRun) -> tuple[int, int]:
    return int(run.deprecated), int(run.completed)


def _runs(rows: Iterable[Sequence[Any]]) -> list[OfflineRun]:
    return [
        OfflineRun(
            launch_id=row[0],
            fw_id=row[1],
            name=row[2],
            created_on=row[3],
            updated_on=row[4],
            deprecated=bool(row[5]),
            completed=bool(row[6]),
            fingerprint=row[7],
        )
        for row in rows
    ]


_SELECT_RUNS = f"SELECT {', '.join(_OFFLINE_FIELDS)} FROM offline_runs"  # noqa: S608


def pending_offline_runs(
    conn: sqlite3.Connection, after_launch_id: int, limit: int, launch_ids: Sequence[int] | None
) -> list[OfflineRun]:
    sql = f"{_SELECT_RUNS} WHERE completed = 0 AND deprecated = 0 AND launch_id > ?"
    params: list[Any] = [after_launch_id]
    if launch_ids is not None:
        sql += " AND launch_id IN (SELECT value FROM json_each(?))"
        params.append(id_list(launch_ids))
    params.append(limit if limit > 0 else -1)
    return _runs(conn.execute(f"{sql} ORDER BY launch_id LIMIT ?", params))


def update_offline_runs(conn: sqlite3.Connection, updates: Mapping[int, Mapping[str, Any]]) -> None:
    with immediate(conn):
        for launch_id, fields in updates.items():
            unknown = set(fields) - _SETTABLE
            if unknown:
                raise StoreError(
                    f"unknown offline run fields {sorted(unknown)}", launch_id=launch_id
                )
            if not fields:
                continue
            names = list(fields)
            values = [int(v) if isinstance(v, bool) else v for v in fields.values()]
            assignments = ", ".join(f"{name} = ?" for name in names)
            conn.execute(
                f"UPDATE offline_runs SET {assignments} WHERE launch_id = ?",  # noqa: S608
                (*values, launch_id),
            )


def forget_offline(
    conn: sqlite3.Connection, launch_ids: Sequence[int], fw_ids: Sequence[int]
) -> int:
    with immediate(conn):
        cursor = conn.execute(
            "UPDATE offline_runs SET deprecated = 1 WHERE deprecated = 0 AND ("
            " launch_id IN (SELECT value FROM json_each(?))"
            " OR fw_id IN (SELECT value FROM json_each(?)))",
            (id_list(launch_ids), id_list(fw_ids)),
        )
        return cursor.rowcount


def offline_runs(conn: sqlite3.Connection, launch_ids: Sequence[int]) -> list[OfflineRun]:
    rows = conn.execute(
        f"{_SELECT_RUNS} WHERE launch_id IN (SELECT value FROM json_each(?))",  # noqa: S608
        (id_list(launch_ids),),
    )
    found = {run.launch_id: run for run in _runs(rows)}
    return [found[i] for i in launch_ids if i in found]


def _ids(conn: sqlite3.Connection, sql: str, *params: Any) -> list[Any]:
    return [row[0] for row in conn.execute(sql, params)]


def delete_workflows(conn: sqlite3.Connection, fw_ids: Sequence[int]) -> list[str]:
    with immediate(conn):
        wf_ids = _ids(
            conn,
            "SELECT DISTINCT wf_id FROM fireworks WHERE fw_id IN (SELECT value FROM json_each(?))",
            id_list(fw_ids),
        )
        if not wf_ids:
            return []
        dead_wfs = id_list(wf_ids)
        dead = id_list(
            _ids(
                conn,
                "SELECT fw_id FROM fireworks WHERE wf_id IN (SELECT value FROM json_each(?))",
                dead_wfs,
            )
        )
        # Launches of the deleted Fireworks, unless a surviving Firework still lists them.
        launch_ids = id_list(
            _ids(
                conn,
                "SELECT launch_id FROM fw_launches WHERE fw_id IN (SELECT value FROM json_each(?1))"
                " UNION SELECT launch_id FROM launches"
                " WHERE fw_id IN (SELECT value FROM json_each(?1))"
                " EXCEPT SELECT launch_id FROM fw_launches"
                " WHERE fw_id NOT IN (SELECT value FROM json_each(?1))",
                dead,
            )
        )
        dirs = _ids(
            conn,
            "SELECT json_extract(doc, '$.launch_dir') FROM launches"
            " WHERE launch_id IN (SELECT value FROM json_each(?)) ORDER BY launch_id",
            launch_ids,
        )
        in_list = "IN (SELECT value FROM json_each(?))"
        conn.execute(f"DELETE FROM launches WHERE launch_id {in_list}", (launch_ids,))  # noqa: S608
        conn.execute(
            f"DELETE FROM offline_runs WHERE launch_id {in_list} OR fw_id {in_list}",  # noqa: S608
            (launch_ids, dead),
        )
        conn.execute(f"DELETE FROM fw_launches WHERE fw_id {in_list}", (dead,))  # noqa: S608
        conn.execute(f"DELETE FROM fireworks WHERE wf_id {in_list}", (dead_wfs,))  # noqa: S608
        conn.execute(f"DELETE FROM workflows WHERE wf_id {in_list}", (dead_wfs,))  # noqa: S608
    return [str(d) for d in dict.fromkeys(dirs) if d]


def reset(conn: sqlite3.Connection) -> None:
    with immediate(conn):
        for table in ("fw_launches", "launches", "fireworks", "workflows", "offline_runs"):
            conn.execute(f"DELETE FROM {table}")  # noqa: S608
        conn.execute(
            "INSERT OR REPLACE INTO counters (name, value)"
            " VALUES ('next_fw_id', 1), ('next_launch_id', 1)"
        )


def tuneup(conn: sqlite3.Connection, full: bool) -> None:
    """Refresh the planner's statistics; ``full`` also rebuilds the file without free pages
    (``VACUUM``, which needs no other connection writing meanwhile)."""
    conn.execute("ANALYZE")
    conn.execute("PRAGMA optimize")
    if full:
        conn.execute("VACUUM")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
