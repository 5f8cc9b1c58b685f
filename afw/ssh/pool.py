"""``SSHPool``: one shared, self-healing SSH connection per remote login node.

Everything afw does on a host (SFTP reads and writes, scheduler commands) goes over a single
connection per ``(user, host, port, jump chain)``: clusters ban users who open many (aiida-core
#995, #4288). Per connection the pool caps

* channels: ``max_channels`` in all, below sshd's ``MaxSessions`` (10 by default); one of them
  is the shared SFTP session, the others run commands;
* SFTP operations in flight: ``max_sftp_requests`` (each a few requests: open, fstat, read,
  close), all pipelined on the one SFTP session.

When the connection drops, the next user reconnects (once, for everybody waiting) with jittered
exponential backoff, and :meth:`SSHPool.run_with_retry` re-runs the interrupted operations. Only
idempotent operations may be re-run: a retried ``sbatch`` could submit a job twice.
"""

from __future__ import annotations

import contextlib
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

import anyio
import asyncssh

from afw.errors import RemoteError
from afw.lifecycle import GuardedCloseable
from afw.ssh.connect import RETRYABLE_KINDS, close_all, open_connection
from afw.ssh.target import SSHTarget

__all__ = ["SSHPool", "is_connection_drop"]

log = logging.getLogger(__name__)
T = TypeVar("T")
Key = tuple[str | None, str, int | None, tuple[str, ...]]

_DROPS = (
    asyncssh.ConnectionLost,
    asyncssh.SFTPConnectionLost,
    asyncssh.SFTPNoConnection,
    BrokenPipeError,
    ConnectionResetError,
)


def is_connection_drop(conn: asyncssh.SSHClientConnection, exc: BaseException) -> bool:
    """Whether ``exc`` means the connection (or its SFTP session) went away under ``conn``."""
    return conn.is_closed() or isinstance(exc, _DROPS)


@dataclass(eq=False)
class _Slot:
    """The state shared by every user of one connection key."""

    target: SSHTarget
    channels: anyio.Semaphore
    requests: anyio.Semaphore
    lock: anyio.Lock = field(default_factory=anyio.Lock)
    sftp_lock: anyio.Lock = field(default_factory=anyio.Lock)
    conns: list[asyncssh.SSHClientConnection] = field(default_factory=list)
    sftp: asyncssh.SFTPClient | None = None
    sftp_conn: asyncssh.SSHClientConnection | None = None
    opened: int = 0

    @property
    def conn(self) -> asyncssh.SSHClientConnection | None:
        live = self.conns[-1] if self.conns else None
        return live if live is not None and not live.is_closed() else None


class SSHPool(GuardedCloseable):
    """Shared SSH connections, one per target key; an async context manager.

    ``retries`` bounds how often one operation is re-run after a drop; ``reconnect_attempts``
    how often a dropped connection is re-opened (with backoff from ``backoff`` up to
    ``max_backoff`` seconds, jittered) before the operation fails. A first connection is tried
    once: a wrong host, key or password fails at once with one clear line.

    Targets with the same :attr:`SSHTarget.key` share one connection, opened with the settings
    (keys, known hosts, ...) of the first of them the pool saw.
    """

    def __init__(
        self,
        *,
        max_channels: int = 8,
        max_sftp_requests: int = 64,
        retries: int = 3,
        reconnect_attempts: int = 5,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
    ) -> None:
        if max_channels < 2:
            raise ValueError("max_channels must be at least 2 (one SFTP session, one command)")
        self.max_channels = max_channels
        self.max_sftp_requests = max_sftp_requests
        self.retries = retries
        self.reconnect_attempts = reconnect_attempts
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._slots: dict[Key, _Slot] = {}
        self._closed = False

    async def aclose(self) -> None:
        """Close every connection; the pool refuses use afterwards."""
        self._closed = True
        slots, self._slots = list(self._slots.values()), {}
        for slot in slots:
            await self._reset(slot)

    def _slot(self, target: SSHTarget) -> _Slot:
        self._check_open()
        slot = self._slots.get(target.key)
        if slot is None:
            slot = _Slot(
                target,
                channels=anyio.Semaphore(self.max_channels - 1),
                requests=anyio.Semaphore(self.max_sftp_requests),
            )
            self._slots[target.key] = slot
        return slot

    def connections_opened(self, target: SSHTarget) -> int:
        """How many times the connection to ``target`` was opened (1 + reconnects)."""
        slot = self._slots.get(target.key)
        return slot.opened if slot else 0

    async def connection(self, target: SSHTarget) -> asyncssh.SSHClientConnection:
        """The live shared connection to ``target``, opened or re-opened as needed."""
        slot = self._slot(target)
        if (conn := slot.conn) is not None:
            return conn
        async with slot.lock:
            if (conn := slot.conn) is not None:
                return conn
            reconnect = slot.opened > 0
            await self._reset(slot)
            self._check_open()
            slot.conns = await self._open(slot.target, reconnect)
            slot.opened += 1
            return slot.conns[-1]

    async def _open(self, target: SSHTarget, reconnect: bool) -> list[asyncssh.SSHClientConnection]:
        attempts = max(1, self.reconnect_attempts) if reconnect else 1
        for attempt in range(1, attempts + 1):
            try:
                return await open_connection(target)
            except RemoteError as exc:
                if exc.context.get("kind") not in RETRYABLE_KINDS or attempt == attempts:
                    raise
                delay = min(self.max_backoff, self.backoff * 2 ** (attempt - 1))
                delay *= random.uniform(0.5, 1.0)
                log.warning("%s; reconnecting in %.1f s (%d/%d)", exc, delay, attempt, attempts)
                await anyio.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _reset(self, slot: _Slot) -> None:
        """Forget a slot's connection and SFTP session (closing them if still open)."""
        conns, slot.conns, slot.sftp, slot.sftp_conn = slot.conns, [], None, None
        if conns:
            await close_all(conns)

    @contextlib.asynccontextmanager
    async def channel(self, target: SSHTarget) -> AsyncIterator[None]:
        """Hold one of ``target``'s command channels (waits while all are busy)."""
        async with self._slot(target).channels:
            yield

    async def sftp(self, target: SSHTarget) -> asyncssh.SFTPClient:
        """The SFTP session shared by all users of ``target``'s current connection."""
        return await self._sftp_on(self._slot(target), await self.connection(target))

    async def _sftp_on(
        self, slot: _Slot, conn: asyncssh.SSHClientConnection
    ) -> asyncssh.SFTPClient:
        async with slot.sftp_lock:
            if slot.sftp is None or slot.sftp_conn is not conn:
                try:
                    slot.sftp, slot.sftp_conn = await conn.start_sftp_client(), conn
                except Exception as exc:
                    if is_connection_drop(conn, exc):
                        raise
                    reason = getattr(exc, "reason", None) or str(exc)
                    message = f"cannot start an SFTP session on {slot.target}: {reason}"
                    raise RemoteError(message, host=str(slot.target), kind="protocol") from exc
            return slot.sftp

    async def run_with_retry(
        self,
        target: SSHTarget,
        op: Callable[[asyncssh.SSHClientConnection], Awaitable[T]],
        *,
        what: str = "an SSH operation",
        retries: int | None = None,
    ) -> T:
        """Run ``op(conn)``; after a dropped connection, reconnect and run it again.

        ``op`` must be idempotent unless ``retries=0``. Other exceptions from ``op`` propagate
        unchanged; a drop after the last retry raises :class:`RemoteError` (``kind="lost"``).
        """
        limit = self.retries if retries is None else retries
        attempt = 0
        while True:
            conn = await self.connection(target)
            try:
                return await op(conn)
            except Exception as exc:
                if not is_connection_drop(conn, exc):
                    raise
                await self._forget(target, conn)
                if attempt >= limit:
                    raise self._lost(target, what, exc, attempt) from exc
                attempt += 1
                log.info("connection to %s lost during %s; retrying (%d)", target, what, attempt)

    async def run_sftp(
        self,
        target: SSHTarget,
        op: Callable[[asyncssh.SFTPClient], Awaitable[T]],
        *,
        what: str = "an SFTP operation",
    ) -> T:
        """:meth:`run_with_retry` for an (idempotent) operation on the shared SFTP session."""

        slot = self._slot(target)

        async def on_sftp(conn: asyncssh.SSHClientConnection) -> T:
            return await op(await self._sftp_on(slot, conn))

        async with slot.requests:
            return await self.run_with_retry(target, on_sftp, what=what)

    async def _forget(self, target: SSHTarget, conn: asyncssh.SSHClientConnection) -> None:
        slot = self._slots.get(target.key)
        if slot is None or not slot.conns or slot.conns[-1] is not conn:
            return  # already replaced by whoever noticed the drop first
        if conn.is_closed():
            async with slot.lock:
                if slot.conns and slot.conns[-1] is conn:
                    await self._reset(slot)
        elif slot.sftp is not None and slot.sftp_conn is conn:
            # Only the SFTP channel died: open a new session on the same connection.
            sftp, slot.sftp, slot.sftp_conn = slot.sftp, None, None
            sftp.exit()

    @staticmethod
    def _lost(target: SSHTarget, what: str, exc: BaseException, attempt: int) -> RemoteError:
        reason = getattr(exc, "reason", None) or str(exc) or type(exc).__name__
        after = f" (after {attempt} reconnects)" if attempt else ""
        message = f"connection to {target} lost during {what}{after}: {reason}"
        return RemoteError(message, host=str(target), kind="lost")
