"""The write path of the SQLite store: load a workflow snapshot, run a pure function on fresh
objects until it has every Firework it needs, write the change set; all inside one
``BEGIN IMMEDIATE`` transaction. Blocking; each entry point is one worker-thread hop."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from afw.changeset import ChangeSet, assign_ids
from afw.db import query as q
from afw.db.base import SortSpec, UpdateContext
from afw.db.logic_runner import MAX_ATTEMPTS, finish, try_once
from afw.db.sqlite_rows import (
    build_firework,
    current_launch_docs,
    fw_docs_by_id,
    wf_doc,
    write_fireworks,
    write_launches,
)
from afw.db.sqlite_schema import FW_COLUMNS, bump_counter, dumps, immediate, loads
from afw.errors import NotFoundError, StoreError, WorkflowError
from afw.wflogic import workflow_state
from afw.workflow import Workflow

__all__ = [
    "Snapshot",
    "checkout",
    "insert_workflows",
    "order_by",
    "run_update",
    "update_workflow",
]

T = TypeVar("T")


class Snapshot:
    """The stored state of one workflow, loaded piecemeal: the workflow row, every Firework's
    state (from the covering index), and the documents of the Fireworks loaded so far."""

    def __init__(self, conn: sqlite3.Connection, fw_id: int) -> None:
        self.conn = conn
        row = conn.execute("SELECT wf_id FROM fireworks WHERE fw_id = ?", (fw_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no workflow holds Firework {fw_id}", fw_id=fw_id)
        self.wf_id: int = row[0]
        wf_row = conn.execute(
            "SELECT state, name, created_on, updated_on, doc FROM workflows WHERE wf_id = ?",
            (self.wf_id,),
        ).fetchone()
        if wf_row is None:
            raise NotFoundError(f"Firework {fw_id} has no workflow document", fw_id=fw_id)
        *head, doc_text = wf_row
        states = conn.execute("SELECT fw_id, state FROM fireworks WHERE wf_id = ?", (self.wf_id,))
        self._fill(head, loads(doc_text), dict(states))

    @classmethod
    def from_rows(
        cls,
        conn: sqlite3.Connection,
        wf_id: int,
        head: Sequence[Any],
        doc: Any,
        states: dict[int, str],
    ) -> Snapshot:
        """A snapshot from rows already read: ``head`` is (state, name, created_on,
        updated_on) of the workflow row, ``doc`` its parsed document, ``states`` fw_id → state."""
        snap = cls.__new__(cls)
        snap.conn, snap.wf_id = conn, wf_id
        snap._fill(head, doc, states)
        return snap

    def _fill(self, head: Sequence[Any], doc: Any, states: dict[int, str]) -> None:
        self.state, self.name, self.created_on, self.updated_on = head
        self.fw_states: dict[int, str] = states
        # Converted once per operation; every attempt gets a copy (the logic edits links).
        self.links = {int(k): [int(c) for c in v] for k, v in (doc.get("links") or {}).items()}
        self.metadata_text = dumps(doc.get("metadata") or {})
        self.fw_docs: dict[int, str] = {}
        self.launch_docs: dict[int, str] = {}

    def load(self, fw_ids: Iterable[int]) -> bool:
        """Load these Fireworks and their children (one query each for Fireworks and launches);
        False when none of them was new."""
        wanted = set(fw_ids)
        for fw_id in list(wanted):
            wanted.update(self.links.get(fw_id, ()))
        wanted = {i for i in wanted if i in self.fw_states and i not in self.fw_docs}
        if not wanted:
            return False
        self.fw_docs.update(fw_docs_by_id(self.conn, wanted, self.wf_id))
        self.launch_docs.update(current_launch_docs(self.conn, wanted))
        return True

    def load_all(self) -> None:
        self.load(self.fw_states)

    def build(self) -> Workflow:
        """Fresh objects from the stored JSON (the logic mutates what it is given)."""
        fws = [build_firework(text, self.launch_docs) for text in self.fw_docs.values()]
        return Workflow(
            links={k: list(v) for k, v in self.links.items()},
            fws={fw.fw_id: fw for fw in fws},
            name=self.name or "unnamed WF",
            metadata=loads(self.metadata_text),
            created_on=self.created_on or "",
            updated_on=self.updated_on or "",
            state=self.state,
            fw_states=dict(self.fw_states),
            wf_id=self.wf_id,
        )


class _TxContext:
    """Launch ids from the counters table, inside the running transaction. A retried attempt
    gets the same ids again, so retries leave no gaps."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._ids: list[int] = []
        self._used = 0

    def rewind(self) -> None:
        self._used = 0

    def new_launch_id(self) -> int:
        if self._used == len(self._ids):
            self._ids.append(bump_counter(self._conn, "next_launch_id", 1))
        self._used += 1
        return self._ids[self._used - 1]


def run_update(
    conn: sqlite3.Connection,
    fw_id: int,
    fn: Callable[[Workflow, UpdateContext], T],
    preload: Iterable[int],
) -> tuple[T, ChangeSet]:
    """Load, run and write one update inside the caller's transaction."""
    snap = Snapshot(conn, fw_id)
    snap.load([fw_id, *preload])
    ctx = _TxContext(conn)
    for _ in range(MAX_ATTEMPTS):
        ctx.rewind()
        outcome = try_once(snap.build, fn, ctx)
        if isinstance(outcome, tuple):
            result, wf = outcome
            changes = finish(wf, snap.state, lambda n: bump_counter(conn, "next_fw_id", n))
            _write(conn, snap.wf_id, changes)
            return result, changes
        if outcome is None:
            raise StoreError("workflow logic asked for launch ids the store already provides")
        if not snap.load(outcome):
            raise StoreError(
                f"workflow {snap.wf_id} needs Fireworks {sorted(outcome)} that are not stored",
                fw_id=fw_id,
            )
    raise StoreError(f"workflow logic did not settle after {MAX_ATTEMPTS} loads", fw_id=fw_id)


def _write(conn: sqlite3.Connection, wf_id: int, changes: ChangeSet) -> None:
    write_fireworks(conn, wf_id, changes.fws)
    write_launches(conn, changes.launches)
    if changes.empty:
        return
    wf = changes.workflow
    if changes.links_changed:
        conn.execute(
            "UPDATE workflows SET state = ?, updated_on = ?, doc = ? WHERE wf_id = ?",
            (wf.state, wf.updated_on, dumps(wf_doc(wf)), wf_id),
        )
    else:
        conn.execute(
            "UPDATE workflows SET state = ?, updated_on = ? WHERE wf_id = ?",
            (wf.state, wf.updated_on, wf_id),
        )


def update_workflow(
    conn: sqlite3.Connection,
    fw_id: int,
    fn: Callable[[Workflow, UpdateContext], T],
    preload: Sequence[int],
) -> tuple[T, ChangeSet]:
    with immediate(conn):
        return run_update(conn, fw_id, fn, preload)


def order_by(
    sort: SortSpec, columns: Mapping[str, str], doc_column: str, tiebreak: str, default: str = ""
) -> str:
    """``ORDER BY`` for a MongoDB-style sort; ``tiebreak`` makes the order total."""
    clause = q.sort_clause(sort, columns, doc_column=doc_column) if sort else ""
    if clause:
        return f"{clause}, {tiebreak}"
    return f"ORDER BY {default}, {tiebreak}" if default else f"ORDER BY {tiebreak}"


# FireWorks' checkout order: highest priority first, missing priorities last.
_CHECKOUT_ORDER = "priority DESC"


def checkout(
    conn: sqlite3.Connection,
    query: Mapping[str, Any],
    sort: SortSpec,
    fn: Callable[[Workflow, UpdateContext, int], T],
) -> tuple[T, ChangeSet] | None:
    where, params = q.to_sql(query, doc_column="doc", columns=FW_COLUMNS)
    order = order_by(sort, FW_COLUMNS, "doc", "fw_id", _CHECKOUT_ORDER)
    sql = f"SELECT fw_id FROM fireworks WHERE {where} {order} LIMIT 1"  # noqa: S608
    with immediate(conn):
        row = conn.execute(sql, params).fetchone()
        if row is None:
            return None
        fw_id: int = row[0]
        return run_update(conn, fw_id, lambda wf, ctx: fn(wf, ctx, fw_id), ())


def insert_workflows(conn: sqlite3.Connection, wfs: Sequence[Workflow]) -> list[dict[int, int]]:
    for wf in wfs:
        if set(wf.fws) != set(wf.links):
            missing = sorted(set(wf.links) ^ set(wf.fws))
            raise WorkflowError(f"workflow {wf.name!r}: Fireworks and links differ at {missing}")
    maps: list[dict[int, int]] = []
    with immediate(conn):
        total = sum(len(wf.fws) for wf in wfs)
        first = bump_counter(conn, "next_fw_id", total) if total else 0
        for wf in wfs:
            maps.append(assign_ids(wf, list(wf.fws), first))
            first += len(wf.fws)
            wf.fw_states = {fw_id: fw.state for fw_id, fw in wf.fws.items()}
            wf.state = workflow_state(wf)
            row = conn.execute(
                "INSERT INTO workflows (state, name, created_on, updated_on, doc)"
                " VALUES (?, ?, ?, ?, ?) RETURNING wf_id",
                (wf.state, wf.name, wf.created_on, wf.updated_on, dumps(wf_doc(wf))),
            ).fetchone()
            wf.wf_id = row[0]
            fws = [wf.fws[i] for i in sorted(wf.fws)]
            write_fireworks(conn, wf.wf_id, fws)
            write_launches(conn, [launch for fw in fws for launch in fw.launches])
    for wf in wfs:
        wf.touched_fws.clear()
        wf.touched_launches.clear()
        wf.new_fw_ids.clear()
        wf.links_changed = False
    return maps
