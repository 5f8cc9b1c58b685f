"""``OfflineRunWriter``: the compute node's side of the launch-dir contract (synchronous).

The compute node has no database. It records the run in its launch dir: ``started_on`` and one
checkpoint per task in ``FW_offline.json``, heartbeats in ``FW_ping.json`` and, last, the result in
``FW_offline.json`` (FireWorks' shape), ``FW_ping.json`` and ``FW_action.json``. Every write is
atomic, so ``recover_offline`` may read at any moment.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from afw.errors import FileFormatError, StateError
from afw.fs.atomic import write_atomic_sync
from afw.fs.base import translate_os_error
from afw.fs.formats import (
    FW_ACTION_JSON,
    FW_OFFLINE_JSON,
    FW_PING_JSON,
    Timestamp,
    decode_json,
    encode_action_file,
    encode_json,
    encode_ping,
    format_time,
    offline_doc,
)

__all__ = ["OfflineRunWriter"]

_RUN_KEYS = ("started_on", "checkpoint", "fwaction", "state", "completed_on")


def _now(value: Timestamp | None) -> str:
    return format_time(datetime.now(UTC) if value is None else value)


class OfflineRunWriter:
    """Writes one run's files into its launch dir; safe to share with a heartbeat thread.

    The launch dir is made absolute when the writer is created, so a task that changes the
    working directory cannot misdirect later writes (FireWorks issue #269). ``launch_id``
    defaults to the one the login node wrote into ``FW_offline.json`` at reservation; ``fw_id``
    is recorded in ``FW_action.json``. Times default to now (UTC).
    """

    def __init__(
        self,
        launch_dir: str | os.PathLike[str],
        *,
        launch_id: int | None = None,
        fw_id: int | None = None,
    ) -> None:
        self.launch_dir = str(Path(launch_dir).absolute())
        self.fw_id = fw_id
        self._launch_id = launch_id
        self._lock = threading.Lock()
        self._base: dict[str, Any] | None = None
        self._started_on: str | None = None
        self._checkpoint: orjson.Fragment | None = None
        self._ping_time: str | None = None
        self._finished = False

    @property
    def launch_id(self) -> int | None:
        """The launch id written into the files (known after the first write)."""
        return self._launch_id

    @property
    def finished(self) -> bool:
        """Whether :meth:`finish` has completed."""
        return self._finished

    def path(self, name: str) -> str:
        """The absolute path of ``name`` inside the launch dir."""
        return str(Path(self.launch_dir, name))

    def start(self, started_on: Timestamp | None = None) -> None:
        """Record the start of the run in ``FW_offline.json``."""
        with self._lock:
            self._check_running()
            self._load_base()
            self._started_on = _now(started_on)
            self._write_offline()

    def checkpoint(self, checkpoint: Mapping[str, Any]) -> None:
        """Record the checkpoint taken before a task (``_task_n`` and the ``_all_*`` keys)."""
        fragment = orjson.Fragment(encode_json(checkpoint))
        with self._lock:
            self._check_running()
            self._load_base()
            self._checkpoint = fragment
            self._write_offline()

    def ping(self, ping_time: Timestamp | None = None) -> None:
        """Write a heartbeat to ``FW_ping.json``; ignored once the run has finished."""
        with self._lock:
            if self._finished:
                return
            self._ping_time = _now(ping_time)
            self._write(FW_PING_JSON, encode_ping(self._ping_time))

    def finish(
        self,
        state: str,
        action: Mapping[str, Any],
        completed_on: Timestamp | None = None,
        ping_time: Timestamp | None = None,
    ) -> None:
        """Record the result: ``FW_offline.json``, then ``FW_ping.json``, then ``FW_action.json``.

        ``state`` is ``"COMPLETED"`` or ``"FIZZLED"``; ``action`` a FWAction dict (missing keys
        are filled in). ``ping_time`` defaults to ``completed_on``.
        """
        done = _now(completed_on)
        with self._lock:
            self._check_running()
            self._load_base()
            self._write_offline(action=action, state=state, completed_on=done)
            self._ping_time = _now(ping_time or done)
            self._write(FW_PING_JSON, encode_ping(self._ping_time))
            final = encode_action_file(
                launch_id=self._launch_id,
                fw_id=self.fw_id,
                state=state,
                action=action,
                started_on=self._started_on,
                completed_on=done,
                checkpoint=self._checkpoint,
                ping_time=self._ping_time,
            )
            self._write(FW_ACTION_JSON, final)
            self._finished = True

    def _check_running(self) -> None:
        if self._finished:
            raise StateError(f"the run in {self.launch_dir} is already finished")

    def _load_base(self) -> None:
        """Keep what the login node wrote (FireWorks rewrites the file read-modify-write too)."""
        if self._base is not None:
            return
        try:
            raw = Path(self.path(FW_OFFLINE_JSON)).read_bytes()
            found = decode_json(raw, FW_OFFLINE_JSON)
        except (OSError, FileFormatError):
            found = {}
        self._base = {key: value for key, value in found.items() if key not in _RUN_KEYS}
        if self._launch_id is None and isinstance(self._base.get("launch_id"), int):
            self._launch_id = self._base["launch_id"]

    def _write_offline(self, **final: Any) -> None:
        doc = offline_doc(
            self._launch_id,
            started_on=self._started_on,
            checkpoint=self._checkpoint,
            base=self._base,
            **final,
        )
        self._write(FW_OFFLINE_JSON, encode_json(doc))

    def _write(self, name: str, data: bytes) -> None:
        path = self.path(name)
        try:
            write_atomic_sync(path, data)
        except OSError as exc:
            raise translate_os_error("write", path, exc) from exc
