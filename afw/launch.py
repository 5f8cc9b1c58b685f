"""Launch: one attempt at running a Firework (FireWorks document shape)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from afw.states import STATE_RANKS
from afw.timeutil import now_iso, parse_iso

__all__ = ["Launch"]


@dataclass
class Launch:
    """A launch of a Firework with its state history.

    ``state_history`` entries are ``{"state", "created_on", ["updated_on"], ["checkpoint"],
    ["reservation_id"]}`` with ISO-8601 strings, as FireWorks stores them.

    ``remote_host`` (afw's addition, ``[user@]host[:port]``) is set when ``launch_dir`` is on a
    remote login node reached over SSH (``afw qlaunch --remote-host``); empty for local dirs. It
    is stored in the launch document only when set, so local launches keep FireWorks' shape.
    """

    launch_id: int
    fw_id: int
    state: str = "RUNNING"
    fworker: dict[str, Any] = field(default_factory=dict)
    launch_dir: str = ""
    host: str = ""
    ip: str = ""
    state_history: list[dict[str, Any]] = field(default_factory=list)
    action: dict[str, Any] | None = None
    trackers: list[dict[str, Any]] = field(default_factory=list)
    remote_host: str = ""

    def __post_init__(self) -> None:
        if self.state not in STATE_RANKS:
            raise ValueError(f"invalid launch state {self.state!r}")
        if not self.state_history:
            self._append_history(self.state, now_iso())

    def _append_history(self, state: str, when: str) -> None:
        entry: dict[str, Any] = {"state": state, "created_on": when}
        if state in ("RUNNING", "RESERVED"):
            entry["updated_on"] = when
        if self.state_history and state != "COMPLETED":
            checkpoint = self.state_history[-1].get("checkpoint")
            if checkpoint is not None:
                # Carrying the checkpoint over is what keeps task-level recovery possible.
                entry["checkpoint"] = checkpoint
        self.state_history.append(entry)

    def set_state(self, state: str, when: str | None = None) -> None:
        """Change state, recording a history entry when the state really changes."""
        if state not in STATE_RANKS:
            raise ValueError(f"invalid launch state {state!r}")
        if not self.state_history or self.state_history[-1]["state"] != state:
            self._append_history(state, when or now_iso())
        self.state = state

    def touch(self, when: str | None = None, checkpoint: dict[str, Any] | None = None) -> None:
        """Heartbeat: refresh ``updated_on`` (and the checkpoint) of the last history entry."""
        last = self.state_history[-1]
        last["updated_on"] = when or now_iso()
        if checkpoint is not None:
            last["checkpoint"] = checkpoint

    def _first(self, *states: str) -> dict[str, Any] | None:
        return next((e for e in self.state_history if e["state"] in states), None)

    @property
    def time_start(self) -> str | None:
        entry = self._first("RUNNING")
        return entry["created_on"] if entry else None

    @property
    def time_end(self) -> str | None:
        entry = self._first("COMPLETED", "FIZZLED")
        return entry["created_on"] if entry else None

    @property
    def time_reserved(self) -> str | None:
        entry = self._first("RESERVED")
        return entry["created_on"] if entry else None

    @property
    def last_pinged(self) -> str | None:
        entry = self._first("RUNNING")
        return entry.get("updated_on") if entry else None

    @property
    def checkpoint(self) -> dict[str, Any] | None:
        """The latest checkpoint (task-level recovery data), if any."""
        value = self.state_history[-1].get("checkpoint") if self.state_history else None
        return value if isinstance(value, dict) else None

    @property
    def runtime_secs(self) -> float | None:
        start, end = self.time_start, self.time_end
        if start is None or end is None:
            return None
        return (parse_iso(end) - parse_iso(start)).total_seconds()

    @property
    def reservedtime_secs(self) -> float | None:
        reserved, start = self.time_reserved, self.time_start
        if reserved is None or start is None:
            return None
        return (parse_iso(start) - parse_iso(reserved)).total_seconds()

    def to_dict(self) -> dict[str, Any]:
        """FireWorks ``Launch.to_dict`` shape (used inside FW.json)."""
        return {
            "fworker": self.fworker,
            "fw_id": self.fw_id,
            "launch_dir": self.launch_dir,
            "host": self.host,
            "ip": self.ip,
            "trackers": self.trackers,
            "action": self.action,
            "state": self.state,
            "state_history": self.state_history,
            "launch_id": self.launch_id,
        }

    def to_db_dict(self) -> dict[str, Any]:
        """The ``launches`` document: ``to_dict`` plus the derived timing fields."""
        doc = self.to_dict()
        doc["time_start"] = self.time_start
        doc["time_end"] = self.time_end
        doc["runtime_secs"] = self.runtime_secs
        reserved = self.reservedtime_secs
        if reserved:
            doc["reservedtime_secs"] = reserved
        if self.remote_host:
            doc["remote_host"] = self.remote_host
        return doc

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Launch:
        """Build from a FireWorks launch dict or document."""
        return cls(
            launch_id=int(doc["launch_id"]),
            fw_id=int(doc["fw_id"]),
            state=str(doc.get("state", "RUNNING")),
            fworker=dict(doc.get("fworker") or {}),
            launch_dir=str(doc.get("launch_dir") or ""),
            host=str(doc.get("host") or ""),
            ip=str(doc.get("ip") or ""),
            state_history=[dict(e) for e in doc.get("state_history") or []],
            action=dict(doc["action"]) if doc.get("action") else None,
            trackers=list(doc.get("trackers") or []),
            remote_host=str(doc.get("remote_host") or ""),
        )
