"""The launch-dir file contract, and the helpers that read and write it over a FileSystem.

=====================  ===========================  =============================================
file                   written by                   content
=====================  ===========================  =============================================
``FW.json``            login node at reservation    the Firework dict (FireWorks format)
``FW_offline.json``    login node, then compute     ``{"launch_id"}``, ``started_on``, a
                       node                         ``checkpoint`` per task, then ``fwaction``,
                                                    ``state``, ``completed_on``
``FW_ping.json``       compute node (heartbeat)     ``{"ping_time": ISO}``
``FW_action.json``     compute node, last           launch_id, fw_id, state, action, times,
                                                    last checkpoint: the run is finished
``FW_submit.script``   login node                   the rendered queue script
=====================  ===========================  =============================================

Every file is replaced atomically (:func:`afw.fs.atomic.write_atomic_sync`). The byte formats
live in :mod:`afw.fs.formats`, their decoding in :mod:`afw.fs.status`, the compute-node writer
in :mod:`afw.fs.writer`.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from typing import Any

from anyio import to_thread

from afw.fs.base import DirSnapshot, FileSystem
from afw.fs.formats import (
    COMPRESSED_SUFFIXES,
    FW_ACTION_JSON,
    FW_JSON,
    FW_OFFLINE_JSON,
    FW_PING_JSON,
    FW_SUBMIT_SCRIPT,
    decode_json,
    encode_reservation,
)
from afw.fs.status import OfflineStatus, read_offline_status

__all__ = [
    "STATUS_FILES",
    "read_fw_json",
    "read_launch_snapshots",
    "read_offline_statuses",
    "write_reservation",
    "write_submit_script",
]

STATUS_FILES = (FW_ACTION_JSON, FW_OFFLINE_JSON, FW_PING_JSON)
"""What a sweep reads in every launch dir."""

_COMPRESSED_FILES = tuple(
    base + suffix for base in (FW_OFFLINE_JSON, FW_PING_JSON) for suffix in COMPRESSED_SUFFIXES
)


async def write_reservation(
    fs: FileSystem,
    launch_dir: str,
    fw_json: bytes,
    launch_id: int,
    *,
    submit_script: str | None = None,
) -> None:
    """Prepare a launch dir at reservation: ``FW.json``, then ``FW_offline.json`` (then
    ``FW_SUBMIT_SCRIPT`` when given), all durable on return, in one batch
    (:meth:`~afw.fs.base.FileSystem.write_files_atomic`).

    Result files of an earlier launch in the same dir are removed first, so they cannot be
    mistaken for this launch's.
    """
    files = [(FW_JSON, fw_json), (FW_OFFLINE_JSON, encode_reservation(launch_id))]
    if submit_script is not None:
        files.append((FW_SUBMIT_SCRIPT, submit_script.encode()))
    await fs.write_files_atomic(launch_dir, files, remove=(FW_ACTION_JSON, FW_PING_JSON))


async def write_submit_script(fs: FileSystem, launch_dir: str, script: str) -> str:
    """Write ``FW_submit.script`` into ``launch_dir`` (made if needed), durable on return;
    return its path."""
    await fs.write_files_atomic(launch_dir, [(FW_SUBMIT_SCRIPT, script.encode())])
    return posixpath.join(launch_dir, FW_SUBMIT_SCRIPT)


async def read_fw_json(fs: FileSystem, launch_dir: str) -> dict[str, Any]:
    """Read and parse ``FW.json`` (raises ``FileFormatError`` if missing or unparsable)."""
    data = await fs.read_bytes(posixpath.join(launch_dir, FW_JSON))
    return decode_json(data, FW_JSON)


async def read_launch_snapshots(fs: FileSystem, dirs: Sequence[str]) -> list[DirSnapshot]:
    """Read the status files of a batch of dirs; compressed variants only where needed.

    One batched read for :data:`STATUS_FILES`; a second one, for the dirs that hold neither
    ``FW_action.json`` nor ``FW_offline.json``, probes the ``.gz``/``.bz2``/... names that
    FireWorks' ``zpath`` accepts (a FireWorks dir gzipped by a job's last task).
    """
    snapshots = await fs.read_launch_dirs(dirs, STATUS_FILES)
    retry = [i for i, snap in enumerate(snapshots) if _needs_probe(snap)]
    if retry:
        extra = await fs.read_launch_dirs([dirs[i] for i in retry], _COMPRESSED_FILES)
        for i, snap in zip(retry, extra, strict=True):
            snapshots[i] = snapshots[i].merged(snap)
    return snapshots


def _needs_probe(snap: DirSnapshot) -> bool:
    main = (snap.data(FW_ACTION_JSON), snap.data(FW_OFFLINE_JSON))
    return snap.exists and snap.error is None and main == (None, None)


async def read_offline_statuses(
    fs: FileSystem, dirs: Sequence[str], launch_ids: Sequence[int | None] | None = None
) -> list[OfflineStatus]:
    """Statuses of a batch of launch dirs, in order; decoding runs in one worker thread.

    ``launch_ids`` (parallel to ``dirs``) guards against dirs reused by a later reservation.
    Never raises for a single dir: see :attr:`OfflineStatus.error`.
    """
    expected = list(launch_ids) if launch_ids is not None else [None] * len(dirs)
    if len(expected) != len(dirs):
        raise ValueError("launch_ids must be as long as dirs")
    snapshots = await read_launch_snapshots(fs, dirs)
    return await to_thread.run_sync(_decode_all, snapshots, expected)


def _decode_all(
    snapshots: Sequence[DirSnapshot], expected: Sequence[int | None]
) -> list[OfflineStatus]:
    return [read_offline_status(s, i) for s, i in zip(snapshots, expected, strict=True)]
