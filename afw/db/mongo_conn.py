"""Connecting the MongoDB store: options, the client, error translation and collections.

The URL is ``mongodb://[user:password@]host[:port][,host...]/[db][?options]`` or
``mongodb+srv://...``. The database is the ``name`` option, else the URL's path, else
``fireworks`` (FireWorks' default). Messages name the hosts and the database, never the password.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import unquote

from bson.errors import InvalidDocument
from pymongo import AsyncMongoClient, monitoring
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import (
    ConfigurationError,
    ConnectionFailure,
    DuplicateKeyError,
    InvalidOperation,
    OperationFailure,
    PyMongoError,
)

from afw.errors import (
    AfwError,
    ConfigError,
    QueryError,
    SerializationError,
    StoreError,
    StoreUnavailableError,
)

__all__ = [
    "DEFAULT_TIMEOUT_MS",
    "ClaimWatch",
    "Collections",
    "MongoOptions",
    "connect",
    "describe",
    "guard",
    "translate_error",
]

Doc = dict[str, Any]
DEFAULT_TIMEOUT_MS: Final = 5000
_AUTH_CODES: Final = frozenset({13, 18, 8000})  # Unauthorized, AuthenticationFailed, Atlas auth
_QUERY_CODES: Final = frozenset({2, 9})  # BadValue, FailedToParse
# Operations whose filter comes from the caller: a filter the server rejects is a QueryError.
QUERY_OPS: Final = frozenset(
    {"find_fw_ids", "count_fws", "find_launch_fw_ids", "find_launch_ids", "find_wf_ids",
     "count_wfs", "checkout"}
)  # fmt: skip


@dataclass(frozen=True)
class MongoOptions:
    """The store's options (FireWorks ``my_launchpad.yaml`` keys, plus afw's lock settings).

    ``lock_lease_secs``: how long a workflow lock (and a checkout claim) stays valid without
    renewal; a holder renews it every third of that. ``lock_wait_secs``: how long to wait for a
    workflow lock held by a live process (FireWorks' ``WFLOCK_EXPIRATION_SECS``).
    """

    name: str | None = None
    authsource: str | None = None
    mongoclient_kwargs: Mapping[str, Any] = field(default_factory=dict)
    user_indices: tuple[Any, ...] = ()
    wf_user_indices: tuple[Any, ...] = ()
    server_selection_timeout_ms: int | None = None
    lock_lease_secs: float = 60.0
    lock_wait_secs: float = 300.0


@dataclass(frozen=True)
class Collections:
    """The FireWorks 2.1 collections of one database."""

    db: AsyncDatabase[Doc]
    fireworks: AsyncCollection[Doc]
    launches: AsyncCollection[Doc]
    workflows: AsyncCollection[Doc]
    offline_runs: AsyncCollection[Doc]
    counters: AsyncCollection[Doc]

    @classmethod
    def of(cls, db: AsyncDatabase[Doc]) -> Collections:
        return cls(
            db=db,
            fireworks=db["fireworks"],
            launches=db["launches"],
            workflows=db["workflows"],
            offline_runs=db["offline_runs"],
            counters=db["fw_id_assigner"],
        )


def _split(url: str) -> tuple[str, str, str]:
    """``(scheme, hosts, path)`` of a MongoDB URL, credentials dropped."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in ("mongodb", "mongodb+srv"):
        raise ConfigError(
            f"not a MongoDB URL: use mongodb://HOST[:PORT]/DB (got scheme {scheme!r})"
        )
    head = rest.split("?", 1)[0]
    netloc, _, path = head.partition("/")
    hosts = netloc.rpartition("@")[2]
    if not hosts:
        raise ConfigError("MongoDB URL names no host: use mongodb://HOST[:PORT]/DB")
    return scheme, hosts, unquote(path)


def database_name(url: str, name: str | None) -> str:
    """``name`` wins, else the URL's path, else ``fireworks``."""
    path = _split(url)[2]
    return name or path or "fireworks"


def describe(url: str, dbname: str) -> str:
    """``host:port/db`` for messages (no user, no password)."""
    scheme, hosts, _ = _split(url)
    prefix = "mongodb+srv://" if scheme == "mongodb+srv" else ""
    return f"{prefix}{hosts}/{dbname}"


def _timeout_ms(url: str, opts: MongoOptions) -> int | None:
    """Server selection timeout: option, else $AFW_MONGO_TIMEOUT_MS, else the client kwargs or
    the URL when they set one (None: leave theirs), else 5 s (so that the CLI fails fast)."""
    if opts.server_selection_timeout_ms is not None:
        return int(opts.server_selection_timeout_ms)
    env = os.environ.get("AFW_MONGO_TIMEOUT_MS", "").strip()
    if env:
        try:
            return int(env)
        except ValueError:
            raise ConfigError(f"AFW_MONGO_TIMEOUT_MS must be milliseconds, not {env!r}") from None
    given = {k.lower() for k in opts.mongoclient_kwargs}
    if "serverselectiontimeoutms" in given or "serverselectiontimeoutms=" in url.lower():
        return None
    return DEFAULT_TIMEOUT_MS


class ClaimWatch(monitoring.CommandListener):
    """Remembers the checkout claims whose ``findAndModify`` failed on the wire.

    The driver retries such a write; a server that does not deduplicate retried writes (no
    replica set session support) may then have applied it twice, claiming a second Firework
    under the same token. The checkout looks for such strays when its token is listed here.
    """

    def __init__(self) -> None:
        self._pending: dict[int, str] = {}
        self.uncertain: set[str] = set()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name == "findAndModify":
            update = event.command.get("update")
            claim = update.get("$set", {}).get("afw_claim") if isinstance(update, dict) else None
            if isinstance(claim, dict) and "by" in claim:
                self._pending[event.request_id] = str(claim["by"])

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        self._pending.pop(event.request_id, None)

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        token = self._pending.pop(event.request_id, None)
        if token is not None:
            self.uncertain.add(token)


def connect(
    url: str, opts: MongoOptions, watch: ClaimWatch | None = None
) -> tuple[AsyncMongoClient[Doc], str]:
    """A client (it connects lazily) and the database name; bad options are a ConfigError."""
    dbname = database_name(url, opts.name)
    kwargs: dict[str, Any] = dict(opts.mongoclient_kwargs)
    if watch is not None:
        kwargs["event_listeners"] = [*kwargs.get("event_listeners", ()), watch]
    timeout = _timeout_ms(url, opts)
    if timeout is not None:
        kwargs["serverSelectionTimeoutMS"] = timeout
    if opts.authsource:
        kwargs.setdefault("authSource", opts.authsource)
    kwargs["tz_aware"] = True
    try:
        client: AsyncMongoClient[Doc] = AsyncMongoClient(url, **kwargs)
    except ConfigurationError as exc:
        raise translate_error(exc, "connect", describe(url, dbname)) from exc
    except (TypeError, ValueError) as exc:
        where = describe(url, dbname)
        raise ConfigError(f"bad MongoDB settings for {where}: {_first_line(exc)}") from exc
    return client, dbname


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    # ServerSelectionTimeoutError appends timeouts and a topology dump: keep the reason only.
    text = re.split(
        r" \(configured timeouts|, Timeout: |, Topology Description|, full error", text
    )[0]
    return text[:300]


def translate_error(exc: Exception, op: str, where: str, **context: Any) -> AfwError:
    """A pymongo/bson error as a one-line afw error naming the server (not the password)."""
    reason = _first_line(exc)
    refused = "authentication failed" in reason.lower() or (
        isinstance(exc, OperationFailure) and exc.code in _AUTH_CODES
    )
    if refused:
        return StoreUnavailableError(f"MongoDB at {where} refused {op}: {reason}", op=op, **context)
    if isinstance(exc, ConnectionFailure):
        return StoreUnavailableError(
            f"cannot reach MongoDB at {where} ({op}): {reason}", op=op, **context
        )
    if isinstance(exc, ConfigurationError) and "DNS" in reason:
        return StoreUnavailableError(f"cannot resolve MongoDB at {where}: {reason}", op=op)
    if isinstance(exc, OperationFailure) and exc.code in _QUERY_CODES and op in QUERY_OPS:
        return QueryError(f"MongoDB rejected the query: {reason}", op=op, **context)
    if isinstance(exc, InvalidDocument):
        return SerializationError(f"document cannot be stored in MongoDB ({op}): {reason}")
    if isinstance(exc, ConfigurationError):
        return ConfigError(f"bad MongoDB settings for {where}: {reason}")
    if isinstance(exc, DuplicateKeyError):
        return StoreError(f"MongoDB {op} at {where}: duplicate key: {reason}", op=op, **context)
    if isinstance(exc, InvalidOperation) and "after close" in str(exc):
        return StoreError("store is closed", op=op, **context)
    return StoreError(f"MongoDB {op} failed at {where}: {reason}", op=op, **context)


@asynccontextmanager
async def guard(op: str, where: str, **context: Any) -> AsyncIterator[None]:
    """Translate driver errors raised inside into afw errors."""
    try:
        yield
    except (PyMongoError, InvalidDocument) as exc:
        raise translate_error(exc, op, where, **context) from exc
