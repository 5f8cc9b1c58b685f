"""Counting what a benchmark asks of its database.

* :func:`command_counter`: a pymongo ``CommandListener``; every command the client sends
  (``find``, ``update``, ``insert``, ``getMore``, ``findAndModify``...) counts once, however many
  documents it carries. afw passes it in ``mongoclient_kwargs={"event_listeners": [...]}``;
  the FireWorks side registers the same class globally (:mod:`benchmarks.fw_side.common`).
* :class:`CountingStore`: wraps any afw ``Store`` and counts its (awaited) operations; on
  SQLite it also counts the SQL statements the connection runs. This is the SQLite figure
  (there is no wire protocol to listen to).
"""

from __future__ import annotations

import inspect
import sqlite3
from collections import Counter
from collections.abc import Callable
from typing import Any

__all__ = [
    "HOUSEKEEPING",
    "CommandCounter",
    "CountingStore",
    "command_counter",
    "data_commands",
]

HOUSEKEEPING = frozenset({"hello", "ismaster", "isMaster", "ping", "endSessions", "buildInfo"})
"""Connection chatter, not work: left out of the per-run figures."""


def data_commands(counts: dict[str, int]) -> int:
    """The number of commands that did work (all but :data:`HOUSEKEEPING`)."""
    return sum(n for name, n in counts.items() if name not in HOUSEKEEPING)


class CommandCounter:
    """Counts started commands by name. Build it with :func:`command_counter` (a pymongo
    ``CommandListener``; pymongo is imported only then, so SQLite runs never load it)."""

    counts: Counter[str]
    micros: Counter[str]
    """Time spent waiting for each command's reply (pymongo's ``duration_micros``)."""

    def reset(self) -> None:
        self.counts.clear()
        self.micros.clear()


def command_counter() -> CommandCounter:
    """A new :class:`CommandCounter` that is also a pymongo ``CommandListener``."""
    from pymongo import monitoring

    class Listener(CommandCounter, monitoring.CommandListener):
        def __init__(self) -> None:
            self.counts = Counter()
            self.micros = Counter()

        def started(self, event: monitoring.CommandStartedEvent) -> None:
            self.counts[event.command_name] += 1

        def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
            self.micros[event.command_name] += event.duration_micros

        def failed(self, event: monitoring.CommandFailedEvent) -> None:
            self.micros[event.command_name] += event.duration_micros

    return Listener()


class CountingStore:
    """A transparent proxy over a store that counts its coroutine calls by name."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.calls: Counter[str] = Counter()
        self.sql = 0

    @property
    def url(self) -> str:
        return str(self._inner.url)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if name.startswith("_") or not inspect.iscoroutinefunction(attr):
            return attr
        return self._wrap(name, attr)

    def _wrap(self, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        async def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            return await method(*args, **kwargs)

        return counted

    async def open(self) -> None:
        await self._inner.open()
        conn = getattr(self._inner, "_conn", None)
        if isinstance(conn, sqlite3.Connection):
            conn.set_trace_callback(self._statement)

    def _statement(self, _sql: str) -> None:
        self.sql += 1

    def reset(self) -> None:
        self.calls.clear()
        self.sql = 0
