"""Launch-dir file names and their byte formats: pure encode/decode functions, no I/O.

The shapes are those FireWorks 2.1.4 writes (its behaviour file, section 5.3), so a FireWorks
installation can read a launch dir written by afw and afw can read one written by FireWorks.
``FW_action.json`` is afw's own "run finished" marker.
"""

from __future__ import annotations

import bz2
import gzip
import zlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson

from afw.errors import FileFormatError, SerializationError

__all__ = [
    "ACTION_DEFAULTS",
    "COMPRESSED_SUFFIXES",
    "FW_ACTION_JSON",
    "FW_JSON",
    "FW_OFFLINE_JSON",
    "FW_PING_JSON",
    "FW_SUBMIT_SCRIPT",
    "Timestamp",
    "decode_json",
    "decompress",
    "encode_action_file",
    "encode_json",
    "encode_offline",
    "encode_ping",
    "encode_reservation",
    "format_time",
    "make_checkpoint",
    "normalize_action",
    "offline_doc",
    "parse_time",
    "utcnow_iso",
]

FW_JSON = "FW.json"
FW_OFFLINE_JSON = "FW_offline.json"
FW_PING_JSON = "FW_ping.json"
FW_ACTION_JSON = "FW_action.json"
FW_SUBMIT_SCRIPT = "FW_submit.script"

COMPRESSED_SUFFIXES = (".gz", ".GZ", ".bz2", ".BZ2", ".z", ".Z")
"""The variants FireWorks' ``zpath`` probes, in its order (``.z``/``.Z`` are read as gzip)."""

ACTION_DEFAULTS: Mapping[str, Any] = {
    "stored_data": {},
    "exit": False,
    "update_spec": {},
    "mod_spec": [],
    "additions": [],
    "detours": [],
    "append_wfs": [],
    "defuse_children": False,
    "defuse_workflow": False,
    "propagate": False,
}
"""Every key of a FireWorks ``FWAction.to_dict()``, in its order, with the empty values."""

Timestamp = datetime | str
"""A point in time: an aware (or naive-UTC) datetime, or an already formatted ISO string."""

_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY


def format_time(value: Timestamp) -> str:
    """ISO-8601 in UTC with ``+00:00`` and microseconds, as FireWorks writes; strings pass as is."""
    if isinstance(value, str):
        return value
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat(timespec="microseconds")


def parse_time(value: str) -> datetime:
    """Parse an ISO-8601 time from a launch-dir file; a naive one is taken as UTC."""
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def utcnow_iso() -> str:
    """The current time, formatted like :func:`format_time`."""
    return format_time(datetime.now(UTC))


def _default(obj: Any) -> Any:
    for method in ("to_dict", "as_dict"):
        if callable(getattr(obj, method, None)):
            return getattr(obj, method)()
    if isinstance(obj, set | frozenset):
        return list(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serializable")


def encode_json(obj: Any) -> bytes:
    """Compact UTF-8 JSON; objects with ``to_dict``/``as_dict`` are serialized through them."""
    try:
        return orjson.dumps(obj, default=_default, option=_OPTIONS)
    except (TypeError, orjson.JSONEncodeError) as exc:
        raise SerializationError(f"cannot encode launch-dir JSON: {exc}") from exc


def decode_json(data: bytes, name: str = "file") -> dict[str, Any]:
    """Parse a launch-dir JSON object; empty, torn or non-object content raises FileFormatError."""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        problem = "is empty" if not data.strip() else f"is not valid JSON ({exc})"
        raise FileFormatError(f"{name} {problem}", name=name, size=len(data)) from exc
    if not isinstance(value, dict):
        raise FileFormatError(f"{name} does not hold a JSON object", name=name)
    return value


def decompress(name: str, data: bytes) -> bytes:
    """Undo the compression implied by ``name``'s suffix (gzip for gz/z, bz2 for bz2)."""
    lowered = name.lower()
    try:
        if lowered.endswith((".gz", ".z")):
            return gzip.decompress(data)
        if lowered.endswith(".bz2"):
            return bz2.decompress(data)
    except (OSError, EOFError, ValueError, zlib.error) as exc:
        raise FileFormatError(f"{name} is not readable: {exc}", name=name) from exc
    return data


def normalize_action(action: Mapping[str, Any]) -> dict[str, Any]:
    """A full FWAction dict: FireWorks' keys first, in order, missing ones filled; extras kept."""
    full = {key: action.get(key, _fresh(default)) for key, default in ACTION_DEFAULTS.items()}
    full.update((key, value) for key, value in action.items() if key not in full)
    return full


def _fresh(default: Any) -> Any:
    return type(default)() if isinstance(default, dict | list) else default


def make_checkpoint(
    task_n: int,
    stored_data: Mapping[str, Any] | None = None,
    update_spec: Mapping[str, Any] | None = None,
    mod_spec: list[Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A FireWorks checkpoint (``_task_n`` = index of the task about to run) plus afw extras."""
    return {
        "_task_n": task_n,
        "_all_stored_data": dict(stored_data or {}),
        "_all_update_spec": dict(update_spec or {}),
        "_all_mod_spec": list(mod_spec or []),
        **extra,
    }


def encode_reservation(launch_id: int) -> bytes:
    """``FW_offline.json`` as the login node writes it at reservation: ``{"launch_id": N}``."""
    return encode_json({"launch_id": launch_id})


def offline_doc(
    launch_id: int | None,
    *,
    started_on: Timestamp | None = None,
    checkpoint: Any = None,
    action: Mapping[str, Any] | None = None,
    state: str | None = None,
    completed_on: Timestamp | None = None,
    base: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``FW_offline.json`` object at any stage of a run; unset fields are left out.

    ``base`` holds keys already in the file (FireWorks rewrites the file read-modify-write, so
    unknown keys survive); the fields given here replace theirs.
    """
    doc: dict[str, Any] = dict(base or {})
    doc["launch_id"] = launch_id if launch_id is not None else doc.get("launch_id")
    if started_on is not None:
        doc["started_on"] = format_time(started_on)
    if checkpoint is not None:
        doc["checkpoint"] = checkpoint
    if action is not None:
        doc["fwaction"] = normalize_action(action)
        doc["state"] = state
        doc["completed_on"] = None if completed_on is None else format_time(completed_on)
    return doc


def encode_offline(
    launch_id: int | None,
    *,
    started_on: Timestamp | None = None,
    checkpoint: Any = None,
    action: Mapping[str, Any] | None = None,
    state: str | None = None,
    completed_on: Timestamp | None = None,
) -> bytes:
    """``FW_offline.json`` bytes; see :func:`offline_doc`."""
    doc = offline_doc(
        launch_id,
        started_on=started_on,
        checkpoint=checkpoint,
        action=action,
        state=state,
        completed_on=completed_on,
    )
    return encode_json(doc)


def encode_ping(ping_time: Timestamp) -> bytes:
    """``FW_ping.json``: ``{"ping_time": ISO}``."""
    return encode_json({"ping_time": format_time(ping_time)})


def encode_action_file(
    *,
    launch_id: int | None,
    fw_id: int | None,
    state: str,
    action: Mapping[str, Any],
    started_on: Timestamp | None,
    completed_on: Timestamp,
    checkpoint: Any = None,
    ping_time: Timestamp | None = None,
) -> bytes:
    """``FW_action.json``, afw's final record of a run (its presence means "finished")."""
    return encode_json(
        {
            "launch_id": launch_id,
            "fw_id": fw_id,
            "state": state,
            "action": normalize_action(action),
            "started_on": None if started_on is None else format_time(started_on),
            "completed_on": format_time(completed_on),
            "checkpoint": checkpoint,
            "ping_time": None if ping_time is None else format_time(ping_time),
        }
    )
