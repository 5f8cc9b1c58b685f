"""``recover_offline``: bring the results of offline runs back into the store, concurrently.

The sweep is a pipeline (DESIGN.md §5) with bounded memory and concurrency::

    page pending offline runs ──▶ read launch dirs (N readers) ──▶ apply + write (1 writer)
      (batch_size per page)        one thread hop / SFTP pipeline     one update_workflows and
                                   per batch                          one offline_runs write
                                                                      per batch

Streams between the stages hold one batch each, so at most ``concurrency + 3`` batches are in
memory and the next batches' files are read while the current batch is written. Launch dirs whose
files have not changed since the last sweep (same fingerprint) are skipped. Every step is
idempotent (:mod:`afw.offline_logic`): a sweep killed at any point and run again, or two sweeps
at once, end in the same state as one uninterrupted sweep.

Files that are torn, empty or unparsable mean "not ready yet": they are counted as errors and
read again next sweep; a run is never FIZZLED because its files could not be read (FireWorks
does that by default). A vanished launch dir is reported and left for ``detect_lostruns``.

Launch dirs on remote login nodes (launches with a ``remote_host``, from ``afw qlaunch
--remote-host``) are read over SFTP, one connection per host, and skipped by their stat data when
unchanged (:mod:`afw.recovery_remote`); local ones through ``fs``.

With ``include_online`` the sweep also looks at RUNNING launches that have no offline record:
a Rocket that could not reach the database at completion left its result in ``FW_action.json``
(:mod:`afw.reporting`), and this picks it up.
"""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Final

import anyio
from anyio.abc import ObjectReceiveStream, ObjectSendStream
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from afw.db.base import Store
from afw.fs.base import DirSnapshot, FileSystem
from afw.fs.formats import FW_ACTION_JSON
from afw.fs.launchdir import read_offline_statuses
from afw.fs.local import LocalFileSystem
from afw.fs.status import OfflineStatus, read_offline_status
from afw.launch import Launch
from afw.recovery_batch import Candidate, RecoverySummary, process_batch
from afw.recovery_remote import RemoteDirs, read_routed

if TYPE_CHECKING:
    from afw.launchpad import LaunchPad

__all__ = ["Candidate", "RecoverySummary", "recover_offline"]

log = logging.getLogger("afw.recovery")

Batch = list[Candidate]
Read = tuple[Batch, list[OfflineStatus | None]]
Progress = Callable[[RecoverySummary], None]


def _matches(launch: Launch | None, fworker_name: str | None) -> bool:
    if launch is None or not fworker_name:
        return True
    return launch.fworker.get("name") == fworker_name


async def _offline_pages(
    store: Store, batch_size: int, fworker_name: str | None, launch_ids: Sequence[int] | None
) -> AsyncIterator[Batch]:
    """Pending offline runs, a page at a time (keyset paging: safe while the writer closes
    records behind it)."""
    after = 0
    while True:
        runs = await store.pending_offline_runs(after, batch_size, launch_ids)
        if not runs:
            return
        after = runs[-1].launch_id
        found = {la.launch_id: la for la in await store.get_launches([r.launch_id for r in runs])}
        batch = [Candidate(r.launch_id, r, found.get(r.launch_id)) for r in runs]
        yield [c for c in batch if _matches(c.launch, fworker_name)]
        if len(runs) < batch_size:
            return


async def _online_pages(
    store: Store, batch_size: int, fworker_name: str | None
) -> AsyncIterator[Batch]:
    """RUNNING launches without an offline record (candidates for an ``FW_action.json``)."""
    running = await store.find_launch_ids({"state": "RUNNING"})
    for start in range(0, len(running), batch_size):
        chunk = running[start : start + batch_size]
        known = {r.launch_id for r in await store.offline_runs(chunk)}
        launches = await store.get_launches([i for i in chunk if i not in known])
        yield [Candidate(la.launch_id, None, la) for la in launches if _matches(la, fworker_name)]


async def _produce(
    send: ObjectSendStream[Batch],
    store: Store,
    batch_size: int,
    fworker_name: str | None,
    launch_ids: Sequence[int] | None,
    include_online: bool,
) -> None:
    async with send:
        async for batch in _offline_pages(store, batch_size, fworker_name, launch_ids):
            if batch:
                await send.send(batch)
        if include_online:
            async for batch in _online_pages(store, batch_size, fworker_name):
                if batch:
                    await send.send(batch)


def _decode_all(
    snapshots: Sequence[DirSnapshot], launch_ids: Sequence[int | None]
) -> list[OfflineStatus]:
    return [read_offline_status(s, i) for s, i in zip(snapshots, launch_ids, strict=True)]


async def _read_batch(fs: FileSystem, batch: Batch) -> list[OfflineStatus | None]:
    """Statuses parallel to ``batch``; ``None`` where there is no dir to read."""
    where = [
        (n, c.launch.launch_dir) for n, c in enumerate(batch) if c.launch and c.launch.launch_dir
    ]
    index = [n for n, _ in where]
    dirs = [d for _, d in where]
    ids: list[int | None] = [batch[n].launch_id for n in index]
    if not index:
        found: list[OfflineStatus] = []
    elif batch[0].run is None:
        # Online launches: only a finished Rocket's FW_action.json matters (no probing).
        snapshots = await fs.read_launch_dirs(dirs, (FW_ACTION_JSON,))
        found = await anyio.to_thread.run_sync(_decode_all, snapshots, ids)
    else:
        found = await read_offline_statuses(fs, dirs, ids)
    statuses: list[OfflineStatus | None] = [None] * len(batch)
    for n, status in zip(index, found, strict=True):
        statuses[n] = status
    return statuses


async def _read(
    receive: ObjectReceiveStream[Batch],
    send: ObjectSendStream[Read],
    fs: FileSystem,
    remote: RemoteDirs,
) -> None:
    async with receive, send:
        async for batch in receive:
            await send.send((batch, await read_routed(fs, remote, batch, _read_batch)))


async def _write(
    receive: ObjectReceiveStream[Read],
    store: Store,
    summary: RecoverySummary,
    echo: bool,
    progress: Progress | None,
) -> None:
    async with receive:
        async for batch, statuses in receive:
            await process_batch(store, batch, statuses, summary, echo=echo)
            if progress is not None:
                progress(summary)


_GC_FULL_EVERY: Final = 1000
"""Gen-1 collections between full collections while a sweep runs (CPython's default: 10).

A sweep allocates millions of short-lived containers (parsed JSON, model objects); with the
default thresholds the full collections that scan the whole heap cost about a third of its CPU.
Young collections still run as usual, so only cyclic garbage that reached the oldest generation
waits longer."""


class _GcRelief:
    """Raises the oldest generation's threshold while any sweep of the process runs; the
    thresholds found before the first one are restored when the last one ends."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sweeps = 0
        self._saved: tuple[int, int, int] | None = None

    @contextmanager
    def during_sweep(self) -> Iterator[None]:
        with self._lock:
            if self._sweeps == 0:
                self._saved = first, second, third = gc.get_threshold()
                gc.set_threshold(first, second, max(third, _GC_FULL_EVERY))
            self._sweeps += 1
        try:
            yield
        finally:
            with self._lock:
                self._sweeps -= 1
                if self._sweeps == 0 and self._saved is not None:
                    gc.set_threshold(*self._saved)
                    self._saved = None


_gc_relief = _GcRelief()


def _first_error(group: BaseExceptionGroup[BaseException]) -> BaseException:
    leaves: list[BaseException] = []
    pending: list[BaseException] = [group]
    while pending:
        exc = pending.pop(0)
        if isinstance(exc, BaseExceptionGroup):
            pending.extend(exc.exceptions)
        else:
            leaves.append(exc)
    return next((e for e in leaves if not isinstance(e, anyio.get_cancelled_exc_class())), group)


async def recover_offline(
    lp: LaunchPad,
    *,
    fworker_name: str | None = None,
    batch_size: int = 500,
    concurrency: int = 4,
    launch_ids: Sequence[int] | None = None,
    include_online: bool = False,
    print_errors: bool = False,
    fs: FileSystem | None = None,
    progress: Progress | None = None,
    remote: RemoteDirs | None = None,
) -> RecoverySummary:
    """Sweep every pending offline run once; returns what happened.

    ``fworker_name`` keeps runs whose launch was made for that worker (``None`` or ``""``: all);
    ``launch_ids`` limits the sweep to those runs; ``include_online`` also picks up
    ``FW_action.json`` left by online Rockets that lost the database. ``concurrency`` is the
    number of batches read at once; ``fs`` the filesystem holding the launch dirs (local by
    default). ``print_errors`` logs each problem as it is found (logger ``afw.recovery``);
    ``progress`` is called with the running summary after each batch. ``remote`` reads the
    dirs of remote launches (default: SSH settings from ``~/.ssh/config`` only, closed at the end).
    """
    if batch_size < 1 or concurrency < 1:
        raise ValueError("batch_size and concurrency must be at least 1")
    store = lp.store
    files = fs if fs is not None else LocalFileSystem()
    summary = RecoverySummary()
    pages: tuple[MemoryObjectSendStream[Batch], MemoryObjectReceiveStream[Batch]]
    pages = anyio.create_memory_object_stream[Batch](1)
    reads = anyio.create_memory_object_stream[Read](1)
    remotes = remote if remote is not None else RemoteDirs()
    remotes.new_sweep()
    try:
        with _gc_relief.during_sweep():
            async with anyio.create_task_group() as tg:
                tg.start_soon(
                    _produce, pages[0], store, batch_size, fworker_name, launch_ids, include_online
                )
                async with pages[1], reads[0]:
                    for _ in range(concurrency):
                        tg.start_soon(_read, pages[1].clone(), reads[0].clone(), files, remotes)
                tg.start_soon(_write, reads[1], store, summary, print_errors, progress)
    except BaseExceptionGroup as group:
        raise _first_error(group) from group
    finally:
        if remote is None:
            with anyio.CancelScope(shield=True):
                await remotes.aclose()
    return summary
