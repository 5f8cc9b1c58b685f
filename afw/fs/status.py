"""Decode a launch dir's run files into one :class:`OfflineStatus`, never raising.

Understands afw dirs (``FW_action.json`` preferred when present) and FireWorks 2.1.4 dirs (the
result inside ``FW_offline.json``, possibly compressed). Anything torn, empty or malformed yields a
status with ``error`` set: "not ready yet, look again later", never a failed job.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from afw.errors import FileFormatError
from afw.fs.base import DirSnapshot, Fingerprint
from afw.fs.formats import (
    COMPRESSED_SUFFIXES,
    FW_ACTION_JSON,
    FW_OFFLINE_JSON,
    FW_PING_JSON,
    decode_json,
    decompress,
)

__all__ = ["OfflineStatus", "read_offline_status"]


@dataclass(frozen=True, slots=True)
class OfflineStatus:
    """What a launch dir says about its run.

    Times are the ISO strings found in the files. ``finished`` means the final action and state
    are known; ``source`` names the file they came from. ``fingerprint`` is ``None`` whenever
    something could not be read, so that a sweep never skips such a dir next time. ``error`` is
    set when the status is not usable yet; the other fields are then unset.
    """

    path: str
    launch_id: int | None = None
    fw_id: int | None = None
    started_on: str | None = None
    checkpoint: dict[str, Any] | None = None
    ping_time: str | None = None
    finished: bool = False
    state: str | None = None
    action: dict[str, Any] | None = None
    completed_on: str | None = None
    source: str | None = None
    fingerprint: Fingerprint | None = None
    dir_exists: bool = True
    error: str | None = None

    @property
    def started(self) -> bool:
        """Whether the compute node has started the run."""
        return self.started_on is not None


def _find(snapshot: DirSnapshot, base: str) -> tuple[str, bytes | None]:
    for suffix in ("", *COMPRESSED_SUFFIXES):
        data = snapshot.data(base + suffix)
        if data is not None:
            return base + suffix, data
    return base, None


def _load(snapshot: DirSnapshot, base: str) -> tuple[str, dict[str, Any] | None]:
    name, data = _find(snapshot, base)
    if data is None:
        return name, None
    return name, decode_json(decompress(name, data), name)


def _get(doc: dict[str, Any], key: str, kind: type | tuple[type, ...], name: str) -> Any:
    value = doc.get(key)
    if value is None or isinstance(value, kind):
        return value
    raise FileFormatError(f"{name}: {key!r} is a {type(value).__name__}", name=name, key=key)


def _require(doc: dict[str, Any], key: str, kind: type, name: str) -> Any:
    value = _get(doc, key, kind, name)
    if value is None:
        raise FileFormatError(f"{name} has no {key!r}", name=name, key=key)
    return value


def _ping(snapshot: DirSnapshot) -> tuple[str | None, bool]:
    """The heartbeat is advisory: a torn FW_ping.json (FireWorks writes it in place) is skipped."""
    try:
        name, doc = _load(snapshot, FW_PING_JSON)
        return (None if doc is None else _get(doc, "ping_time", str, name)), True
    except FileFormatError:
        return None, False


def _common(name: str, doc: dict[str, Any]) -> dict[str, Any]:
    return {
        "launch_id": _get(doc, "launch_id", int, name),
        "started_on": _get(doc, "started_on", str, name),
        "checkpoint": _get(doc, "checkpoint", dict, name),
    }


def _from_offline(name: str, doc: dict[str, Any]) -> dict[str, Any]:
    fields = _common(name, doc)
    if "fwaction" in doc:
        fields |= {
            "finished": True,
            "action": _require(doc, "fwaction", dict, name),
            "state": _require(doc, "state", str, name),
            "completed_on": _get(doc, "completed_on", str, name),
            "source": name,
        }
    return fields


def _from_action(doc: dict[str, Any], offline: dict[str, Any]) -> dict[str, Any]:
    name = FW_ACTION_JSON
    mine = _common(name, doc)
    return {
        "launch_id": mine["launch_id"] if mine["launch_id"] is not None else offline["launch_id"],
        "fw_id": _get(doc, "fw_id", int, name),
        "started_on": mine["started_on"] or offline["started_on"],
        "checkpoint": mine["checkpoint"] or offline["checkpoint"],
        "ping_time": _get(doc, "ping_time", str, name),
        "finished": True,
        "action": _require(doc, "action", dict, name),
        "state": _require(doc, "state", str, name),
        "completed_on": _get(doc, "completed_on", str, name),
        "source": name,
    }


def _offline_fields(snapshot: DirSnapshot, *, required: bool) -> dict[str, Any]:
    try:
        name, doc = _load(snapshot, FW_OFFLINE_JSON)
    except FileFormatError:
        if required:
            raise
        doc = None
    if doc is None:
        if required:
            raise FileFormatError(f"no {FW_OFFLINE_JSON} in {snapshot.path}", path=snapshot.path)
        return {"launch_id": None, "started_on": None, "checkpoint": None}
    return _from_offline(name, doc)


def _decode(snapshot: DirSnapshot) -> dict[str, Any]:
    raw_action = snapshot.data(FW_ACTION_JSON)
    if raw_action is None:
        return _offline_fields(snapshot, required=True)
    final = decode_json(raw_action, FW_ACTION_JSON)
    # A valid FW_action.json is self-sufficient: FW_offline.json only fills gaps, torn or not.
    offline = _offline_fields(snapshot, required=False)
    mine = _get(final, "launch_id", int, FW_ACTION_JSON)
    if None not in (mine, offline["launch_id"]) and mine != offline["launch_id"]:
        # Left over from an earlier launch in the same dir: the new run has not finished.
        return _offline_fields(snapshot, required=True)
    return _from_action(final, offline)


def read_offline_status(snapshot: DirSnapshot, launch_id: int | None = None) -> OfflineStatus:
    """Merge a dir's ``FW_action.json``, ``FW_offline.json`` and ``FW_ping.json`` into a status.

    ``launch_id``, when given, must match the files' launch id (a dir reused by a later
    reservation yields an error status instead of someone else's result). Never raises.
    """
    path, exists = snapshot.path, snapshot.exists
    if snapshot.error:
        return OfflineStatus(path, dir_exists=exists, error=snapshot.error)
    try:
        fields = _decode(snapshot)
    except FileFormatError as exc:
        return OfflineStatus(path, dir_exists=exists, error=f"{path}: {exc}")
    found = fields["launch_id"]
    if launch_id is not None and found is not None and found != launch_id:
        message = f"{path} holds launch {found}, not launch {launch_id}"
        return OfflineStatus(path, dir_exists=exists, error=message)
    ping_time, ping_ok = _ping(snapshot)
    fields["ping_time"] = fields.get("ping_time") or ping_time
    fingerprint = snapshot.fingerprint if ping_ok else None
    return OfflineStatus(path, **fields, fingerprint=fingerprint, dir_exists=exists)
