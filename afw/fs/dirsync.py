"""Shared directory fsyncs: threads that need the same directory made durable share one fsync.

When K reservations create their launch dirs in one ``block_*`` dir at once, each must fsync that
parent before it reports its launch dir durable. One fsync covers every entry changed before it
*started*, so a thread arriving while another thread's fsync of the same directory runs waits
for it to finish, and then one fsync (run by one of the waiting threads) covers all of them:
with K concurrent creators at most two fsyncs are in line, not K.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

__all__ = ["SharedDirSync"]


class _Dir:
    __slots__ = ("done", "running", "started", "waiters")

    def __init__(self) -> None:
        self.running = False
        self.started = 0  # fsyncs begun
        self.done = 0  # the highest fsync number known to have succeeded
        self.waiters = 0


class SharedDirSync:
    """Runs ``fsync(path)`` for many threads, sharing the calls that can be shared."""

    def __init__(self, fsync: Callable[[str], None]) -> None:
        self._fsync = fsync
        self._cond = threading.Condition()
        self._dirs: dict[str, _Dir] = {}

    def sync(self, path: str | os.PathLike[str]) -> None:
        """Return once an fsync of ``path`` that started after this call has succeeded (ours or
        another thread's); raise if ours fails."""
        key = os.fspath(path)
        with self._cond:
            state = self._dirs.setdefault(key, _Dir())
            state.waiters += 1
            need = state.started + 1  # the next fsync to begin covers our change
            try:
                while state.done < need and state.running:
                    self._cond.wait()
            finally:
                state.waiters -= 1
            if state.done >= need:
                self._forget(key, state)
                return
            state.running = True
            state.started += 1
            mine = state.started
        try:
            self._fsync(key)
        except BaseException:
            self._finish(key, state, None)
            raise
        self._finish(key, state, mine)

    def _finish(self, key: str, state: _Dir, succeeded: int | None) -> None:
        with self._cond:
            state.running = False
            if succeeded is not None:
                state.done = max(state.done, succeeded)
            self._forget(key, state)
            self._cond.notify_all()

    def _forget(self, key: str, state: _Dir) -> None:
        """Drop an idle directory's record (the caller holds the condition's lock)."""
        if not state.waiters and not state.running:
            self._dirs.pop(key, None)
