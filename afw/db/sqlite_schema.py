"""SQLite plumbing for :class:`afw.db.sqlite.SQLiteStore`: URL, connection, schema, transactions,
error translation and the JSON codec. Everything here is blocking and runs in a worker thread."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

import orjson

from afw.db import query
from afw.errors import SerializationError, StoreError, StoreUnavailableError

__all__ = [
    "FW_COLUMNS",
    "LAUNCH_COLUMNS",
    "WF_COLUMNS",
    "bump_counter",
    "connect",
    "dumps",
    "id_list",
    "immediate",
    "loads",
    "path_from_url",
    "read_tx",
    "savepoint",
    "shared_transaction",
    "translate_error",
]

# Hot fields kept in indexed columns; query.to_sql uses them instead of json_extract.
FW_COLUMNS: Final[Mapping[str, str]] = {
    "fw_id": "fw_id",
    "state": "state",
    "name": "name",
    "spec._priority": "priority",
    "spec._category": "category",
    "spec._fworker": "fworker",
    "created_on": "created_on",
    "updated_on": "updated_on",
}
# Launch queries join fw_launches, so their columns are qualified.
LAUNCH_COLUMNS: Final[Mapping[str, str]] = {
    "launch_id": "l.launch_id",
    "fw_id": "l.fw_id",
    "state": "l.state",
}
WF_COLUMNS: Final[Mapping[str, str]] = {
    "_id": "w.wf_id",
    "state": "w.state",
    "name": "w.name",
    "created_on": "w.created_on",
    "updated_on": "w.updated_on",
}

_SCHEMA: Final[tuple[str, ...]] = (
    """CREATE TABLE IF NOT EXISTS workflows (
        wf_id INTEGER PRIMARY KEY, state TEXT NOT NULL, name TEXT,
        created_on TEXT, updated_on TEXT, doc TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS workflows_state ON workflows (state)",
    "CREATE INDEX IF NOT EXISTS workflows_name ON workflows (name)",
    "CREATE INDEX IF NOT EXISTS workflows_created_on ON workflows (created_on)",
    "CREATE INDEX IF NOT EXISTS workflows_updated_on ON workflows (updated_on)",
    # priority/category/fworker are declared without a type: no affinity, so a value is kept
    # exactly as the spec holds it (query.to_sql needs "5" and 5 to stay apart).
    """CREATE TABLE IF NOT EXISTS fireworks (
        fw_id INTEGER PRIMARY KEY, wf_id INTEGER NOT NULL, state TEXT NOT NULL,
        priority NULL, category NULL, fworker NULL, name TEXT,
        created_on TEXT, updated_on TEXT, doc TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS fireworks_checkout ON fireworks (state, priority DESC, fw_id)",
    # The LaunchPad's FIFO order (priority, then created_on): without this index every READY
    # row would be filtered and sorted on each checkout.
    "CREATE INDEX IF NOT EXISTS fireworks_checkout_fifo"
    " ON fireworks (state, priority DESC, created_on, fw_id)",
    # (wf_id, fw_id, state) covers both the fw_states scan and MIN(fw_id) per workflow.
    "CREATE INDEX IF NOT EXISTS fireworks_wf ON fireworks (wf_id, fw_id, state)",
    "CREATE INDEX IF NOT EXISTS fireworks_name ON fireworks (name)",
    "CREATE INDEX IF NOT EXISTS fireworks_category ON fireworks (category)",
    "CREATE INDEX IF NOT EXISTS fireworks_created_on ON fireworks (created_on)",
    "CREATE INDEX IF NOT EXISTS fireworks_updated_on ON fireworks (updated_on)",
    """CREATE TABLE IF NOT EXISTS launches (
        launch_id INTEGER PRIMARY KEY, fw_id INTEGER, state TEXT, doc TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS launches_fw_id ON launches (fw_id)",
    "CREATE INDEX IF NOT EXISTS launches_state ON launches (state)",
    """CREATE TABLE IF NOT EXISTS fw_launches (
        fw_id INTEGER NOT NULL, launch_id INTEGER NOT NULL, archived INTEGER NOT NULL,
        PRIMARY KEY (fw_id, launch_id)) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS fw_launches_launch ON fw_launches (launch_id, archived)",
    """CREATE TABLE IF NOT EXISTS offline_runs (
        launch_id INTEGER PRIMARY KEY, fw_id INTEGER, name TEXT, created_on TEXT,
        updated_on TEXT, deprecated INTEGER NOT NULL DEFAULT 0,
        completed INTEGER NOT NULL DEFAULT 0, fingerprint TEXT)""",
    "CREATE INDEX IF NOT EXISTS offline_runs_pending"
    " ON offline_runs (completed, deprecated, launch_id)",
    "CREATE INDEX IF NOT EXISTS offline_runs_fw_id ON offline_runs (fw_id)",
    "CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)",
    "INSERT OR IGNORE INTO counters (name, value) VALUES ('next_fw_id', 1), ('next_launch_id', 1)",
)

_UNAVAILABLE: Final[frozenset[int]] = frozenset(
    {
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_PROTOCOL,
        sqlite3.SQLITE_READONLY,
    }
)


def path_from_url(url: str) -> Path:
    """``sqlite:///relative/x.sqlite`` or ``sqlite:////absolute/x.sqlite`` → a path."""
    scheme, sep, rest = url.partition("://")
    if scheme != "sqlite" or not sep or not rest.startswith("/") or len(rest) < 2:
        raise StoreError(f"not a SQLite store URL: {url!r} (use sqlite:///PATH)", url=url)
    return Path(rest[1:])


def connect(path: Path, busy_timeout: float) -> sqlite3.Connection:
    """Open (creating the file, its directory and the schema if needed) in WAL mode."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreUnavailableError(
            f"cannot create the directory of SQLite store {path}: {exc}", path=str(path)
        ) from exc
    conn = sqlite3.connect(
        path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
    )
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        with immediate(conn):
            for statement in _SCHEMA:
                conn.execute(statement)
        query.register_sqlite_functions(conn)
    except BaseException:
        conn.close()
        raise
    return conn


@contextmanager
def immediate(conn: sqlite3.Connection) -> Iterator[None]:
    """A write transaction that takes the database write lock up front (``BEGIN IMMEDIATE``),
    so two processes never both read-then-write the same rows. Rolls back on any exception.

    Inside a write transaction already open it is a savepoint instead (an exception undoes
    this block's writes only); inside a :func:`shared_transaction` it simply joins that one."""
    if getattr(_shared, "conn", None) is conn:
        yield
        return
    yield from (_savepoint(conn) if conn.in_transaction else _transaction(conn))


_shared = threading.local()


@contextmanager
def shared_transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """One write transaction for several operations (group commit, :mod:`afw.db.sqlite_batch`):
    their :func:`immediate` blocks join it, without a savepoint each, so an exception anywhere
    rolls all of it back."""
    with immediate(conn):
        _shared.conn = conn
        try:
            yield
        finally:
            _shared.conn = None


def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _savepoint(conn: sqlite3.Connection) -> Iterator[None]:
    """Inside the caller's write transaction: an exception undoes this block's writes only."""
    conn.execute("SAVEPOINT afw_nested")
    try:
        yield
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK TO afw_nested")
            conn.execute("RELEASE afw_nested")
        raise
    conn.execute("RELEASE afw_nested")


savepoint = contextmanager(_savepoint)


@contextmanager
def read_tx(conn: sqlite3.Connection) -> Iterator[None]:
    """A read transaction: several SELECTs see one snapshot."""
    conn.execute("BEGIN")
    try:
        yield
    finally:
        if conn.in_transaction:
            conn.execute("COMMIT")


def bump_counter(conn: sqlite3.Connection, name: str, n: int) -> int:
    """Reserve ``n`` ids from counter ``name`` (inside the caller's transaction); the first."""
    row = conn.execute(
        "UPDATE counters SET value = value + ? WHERE name = ? RETURNING value - ?", (n, name, n)
    ).fetchone()
    if row is None:
        raise StoreError(f"the SQLite store has no {name} counter; run reset", counter=name)
    first: int = row[0]
    return first


def translate_error(exc: sqlite3.Error, op: str, **context: Any) -> StoreError:
    """A driver error as an afw error carrying the operation and ids involved."""
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    where = ", ".join(f"{key}={value}" for key, value in context.items())
    message = f"SQLite {op} failed{f' ({where})' if where else ''}: {exc}"
    text = str(exc)
    unavailable = primary in _UNAVAILABLE or (
        isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "unable to open" in text)
    )
    kind = StoreUnavailableError if unavailable else StoreError
    return kind(message, op=op, **context)


def _default(value: Any) -> Any:
    for name in ("to_dict", "as_dict"):
        method = getattr(value, name, None)
        if callable(method):
            return method()
    raise TypeError(f"cannot store a {type(value).__name__} in a document")


def dumps(doc: Any) -> str:
    """JSON text for a document (``TEXT`` so that SQLite's JSON functions read it)."""
    try:
        return orjson.dumps(doc, default=_default, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError as exc:
        raise SerializationError(f"document cannot be stored as JSON: {exc}") from exc


def loads(text: str | bytes) -> Any:
    return orjson.loads(text)


def id_list(ids: Iterable[int]) -> str:
    """Ids as one JSON parameter, for ``IN (SELECT value FROM json_each(?))``: no variable
    limits, one statement."""
    return orjson.dumps([int(i) for i in ids]).decode()
