"""``update_workflows`` of the SQLite store: many workflow updates in one transaction, at a cost
per batch rather than per item (a recovery sweep sends hundreds of workflows at once).

Inside one ``BEGIN IMMEDIATE`` transaction:

1. *Prefetch*: the workflow rows and Firework states of every workflow in the batch, then the
   documents the items start from, in a few set-based queries.
2. *Speculate*: run each pure function on its snapshot; Fireworks the functions ask for are
   loaded for all items together, and the functions run again.
3. *Apply*, item by item in order: a result computed on a snapshot that no earlier item has
   written to is finished (ids assigned) and its rows queued (:mod:`afw.db.sqlite_bulk`);
   anything else (an item needing launch ids, a second item on one workflow, a snapshot an
   earlier item wrote to) runs the one-item path on fresh rows, after the queued rows are
   written. The outcome is the same as running the items one after the other.

A failing item still writes nothing and yields its exception; a database error aborts the batch.
Blocking; one worker-thread hop.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar

from afw.changeset import ChangeSet
from afw.db.base import NeedLaunchIds, UpdateContext
from afw.db.logic_runner import finish, try_once
from afw.db.sqlite_bulk import Pending
from afw.db.sqlite_schema import bump_counter, id_list, immediate, loads, savepoint
from afw.db.sqlite_update import Snapshot, run_update
from afw.workflow import Workflow

__all__ = ["update_workflows"]

T = TypeVar("T")
Fn = Callable[[Workflow, UpdateContext], T]
Outcome = tuple[T, ChangeSet] | Exception

_ROUNDS: Final = 8
"""Speculative load-and-retry rounds before an item is left to the one-item path."""

_WF_OF = (
    "SELECT json_group_object(fw_id, wf_id) FROM fireworks"
    " WHERE fw_id IN (SELECT value FROM json_each(?))"
)
# One row: [wf_id, state, name, created_on, updated_on, doc text, {fw_id: state}] per workflow.
_WORKFLOWS = """
SELECT json_group_array(json_array(w.wf_id, w.state, w.name, w.created_on, w.updated_on, w.doc,
    json((SELECT json_group_object(fw_id, state)
          FROM (SELECT fw_id, state FROM fireworks WHERE wf_id = w.wf_id ORDER BY fw_id)))))
FROM workflows w WHERE w.wf_id IN (SELECT value FROM json_each(?))
"""
_FW_DOCS = (
    "SELECT json_group_array(json_array(fw_id, wf_id, doc)) FROM fireworks"
    " WHERE fw_id IN (SELECT value FROM json_each(?))"
)
_LAUNCH_DOCS = (
    "SELECT json_group_array(json_array(fl.fw_id, l.launch_id, l.doc)) FROM fw_launches fl"
    " JOIN launches l ON l.launch_id = fl.launch_id"
    " WHERE fl.fw_id IN (SELECT value FROM json_each(?)) AND fl.archived = 0"
)


class _NoLaunchIds:
    """Speculative runs cannot allocate: an item that needs launch ids takes the one-item path."""

    def new_launch_id(self) -> int:
        raise NeedLaunchIds


def _one(conn: sqlite3.Connection, sql: str, ids: Any) -> Any:
    return loads(conn.execute(sql, (id_list(ids),)).fetchone()[0])


def _prefetch(conn: sqlite3.Connection, fw_ids: Sequence[int]) -> dict[int, Snapshot]:
    """Snapshots by item index, for the first item of each workflow found."""
    wf_of = {int(k): int(v) for k, v in _one(conn, _WF_OF, set(fw_ids)).items()}
    snaps: dict[int, Snapshot] = {}
    for wf_id, state, name, created, updated, text, states in _one(
        conn, _WORKFLOWS, set(wf_of.values())
    ):
        try:
            doc = loads(text)
        except ValueError:
            continue  # the one-item path reports it, for that item alone
        fw_states = {int(k): v for k, v in states.items()}
        snaps[wf_id] = Snapshot.from_rows(
            conn, wf_id, (state, name, created, updated), doc, fw_states
        )
    out: dict[int, Snapshot] = {}
    taken: set[int] = set()
    for k, fw_id in enumerate(fw_ids):
        wf_id = wf_of.get(fw_id)
        if wf_id in snaps and wf_id not in taken:
            taken.add(wf_id)
            out[k] = snaps[wf_id]
    return out


def _bulk_load(conn: sqlite3.Connection, wants: dict[Snapshot, set[int]]) -> set[Snapshot]:
    """:meth:`Snapshot.load` for many snapshots at once; those that had something to load."""
    owner: dict[int, Snapshot] = {}
    for snap, fw_ids in wants.items():
        wanted = set(fw_ids)
        for fw_id in fw_ids:
            wanted.update(snap.links.get(fw_id, ()))
        owner.update((i, snap) for i in wanted if i in snap.fw_states and i not in snap.fw_docs)
    if not owner:
        return set()
    for fw_id, wf_id, text in _one(conn, _FW_DOCS, owner):
        if owner[fw_id].wf_id == wf_id:
            owner[fw_id].fw_docs[fw_id] = text
    for fw_id, launch_id, text in _one(conn, _LAUNCH_DOCS, owner):
        owner[fw_id].launch_docs[launch_id] = text
    return set(owner.values())


def _speculate(
    conn: sqlite3.Connection, items: Sequence[tuple[int, Fn[T]]], snaps: dict[int, Snapshot]
) -> dict[int, tuple[T, Workflow] | Exception]:
    """Run every prefetched item on its snapshot, loading what the functions ask for."""
    done: dict[int, tuple[T, Workflow] | Exception] = {}
    _bulk_load(conn, {snap: {items[k][0]} for k, snap in snaps.items()})
    todo = list(snaps)
    for _ in range(_ROUNDS):
        wants: dict[Snapshot, set[int]] = {}
        asked: list[int] = []
        for k in todo:
            try:
                outcome = try_once(snaps[k].build, items[k][1], _NoLaunchIds())
            except sqlite3.Error:
                raise
            except Exception as exc:
                done[k] = exc
                continue
            if isinstance(outcome, tuple):
                done[k] = outcome
            elif outcome is not None:
                wants[snaps[k]] = outcome
                asked.append(k)
        grown = _bulk_load(conn, wants)
        todo = [k for k in asked if snaps[k] in grown]
        if not todo:
            break
    return done


@dataclass
class _Written:
    """What the items applied so far wrote; a snapshot that saw any of it is stale."""

    wfs: set[int] = field(default_factory=set)
    fws: set[int] = field(default_factory=set)
    launches: set[int] = field(default_factory=set)

    def add(self, changes: ChangeSet) -> None:
        self.wfs.add(changes.workflow.wf_id)
        self.fws.update(fw.fw_id for fw in changes.fws)
        self.launches.update(launch.launch_id for launch in changes.launches)

    def stale(self, snap: Snapshot) -> bool:
        return (
            snap.wf_id in self.wfs
            or not self.fws.isdisjoint(snap.fw_docs)
            or not self.launches.isdisjoint(snap.launch_docs)
        )


def _finish_queued(
    conn: sqlite3.Connection, snap: Snapshot, wf: Workflow, pending: Pending
) -> ChangeSet | Exception | None:
    """Assign ids, build the change set and queue its rows; ``None``: write it row by row."""
    savepoint = bool(wf.new_fw_ids)  # only new Firework ids write anything here
    if savepoint:
        conn.execute("SAVEPOINT afw_item")
    rows = failure = None
    try:
        changes = finish(wf, snap.state, lambda n: bump_counter(conn, "next_fw_id", n))
        rows = pending.serialize(snap.wf_id, changes)
    except sqlite3.Error:
        raise
    except Exception as exc:
        failure = exc
    if savepoint:
        if rows is None:
            conn.execute("ROLLBACK TO afw_item")
        conn.execute("RELEASE afw_item")
    if failure is not None or rows is None:
        return failure
    pending.add(rows)
    return changes


def _one_item(conn: sqlite3.Connection, fw_id: int, fn: Fn[T], written: _Written) -> Outcome[T]:
    try:
        with savepoint(conn):
            result, changes = run_update(conn, fw_id, fn, ())
    except sqlite3.Error:
        raise  # the database itself failed: the whole batch rolls back
    except Exception as exc:
        return exc
    written.add(changes)
    return result, changes


def _apply(
    conn: sqlite3.Connection,
    items: Sequence[tuple[int, Fn[T]]],
    snaps: dict[int, Snapshot],
    done: dict[int, tuple[T, Workflow] | Exception],
) -> list[Outcome[T]]:
    out: list[Outcome[T]] = []
    pending, written = Pending(), _Written()
    for k, (fw_id, fn) in enumerate(items):
        snap, got = snaps.get(k), done.get(k)
        if snap is not None and got is not None and not written.stale(snap):
            if isinstance(got, Exception):
                out.append(got)
                continue
            changes = _finish_queued(conn, snap, got[1], pending)
            if isinstance(changes, Exception):
                out.append(changes)
                continue
            if changes is not None:
                written.add(changes)
                out.append((got[0], changes))
                continue
        pending.flush(conn)  # the one-item path reads rows: they must be up to date
        out.append(_one_item(conn, fw_id, fn, written))
    pending.flush(conn)
    return out


def update_workflows(
    conn: sqlite3.Connection, items: Sequence[tuple[int, Fn[T]]]
) -> list[Outcome[T]]:
    """Many updates in one transaction; a failing item writes nothing and yields its exception."""
    with immediate(conn):
        snaps = _prefetch(conn, [fw_id for fw_id, _ in items])
        done = _speculate(conn, items, snaps)
        return _apply(conn, items, snaps, done)
