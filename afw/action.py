"""FWAction: what a Firework tells the workflow when it finishes (FireWorks semantics)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FWAction"]


def _as_wf_dicts(value: Any) -> list[dict[str, Any]]:
    """Normalise additions/detours: one or many Workflows/Fireworks, as objects or dicts."""
    items = value if isinstance(value, list | tuple) else [value]
    out: list[dict[str, Any]] = []
    for item in items:
        as_dict = getattr(item, "to_dict", None)
        out.append(as_dict() if callable(as_dict) else dict(item))
    return out


@dataclass
class FWAction:
    """The action a Firetask (and finally a Firework) returns.

    ``additions``, ``detours`` and the ``workflow`` of ``append_wfs`` entries are kept as
    FireWorks-format workflow (or Firework) dicts, so an action is always plain data.
    """

    stored_data: dict[str, Any] = field(default_factory=dict)
    exit: bool = False
    update_spec: dict[str, Any] = field(default_factory=dict)
    mod_spec: list[dict[str, Any]] = field(default_factory=list)
    additions: list[dict[str, Any]] = field(default_factory=list)
    detours: list[dict[str, Any]] = field(default_factory=list)
    append_wfs: list[dict[str, Any]] = field(default_factory=list)
    defuse_children: bool = False
    defuse_workflow: bool = False
    propagate: bool = False

    def __post_init__(self) -> None:
        self.stored_data = dict(self.stored_data or {})
        self.update_spec = dict(self.update_spec or {})
        mods = self.mod_spec or []
        self.mod_spec = [dict(m) for m in (mods if isinstance(mods, list) else [mods])]
        self.additions = _as_wf_dicts(self.additions) if self.additions else []
        self.detours = _as_wf_dicts(self.detours) if self.detours else []
        self.append_wfs = [self._append_entry(e) for e in (self.append_wfs or [])]

    @staticmethod
    def _append_entry(entry: Mapping[str, Any]) -> dict[str, Any]:
        workflow = entry["workflow"]
        as_dict = getattr(workflow, "to_dict", None)
        return {
            "workflow": as_dict() if callable(as_dict) else dict(workflow),
            "parents": list(entry.get("parents") or []),
            "detour": bool(entry.get("detour", False)),
        }

    @property
    def skip_remaining_tasks(self) -> bool:
        """True when the remaining tasks of the Firework must not run (FireWorks rule)."""
        return bool(
            self.exit
            or self.detours
            or self.additions
            or self.append_wfs
            or self.defuse_children
            or self.defuse_workflow
        )

    def to_dict(self) -> dict[str, Any]:
        """The FireWorks dict form (every key present)."""
        return {
            "stored_data": self.stored_data,
            "exit": self.exit,
            "update_spec": self.update_spec,
            "mod_spec": self.mod_spec,
            "additions": self.additions,
            "detours": self.detours,
            "append_wfs": self.append_wfs,
            "defuse_children": self.defuse_children,
            "defuse_workflow": self.defuse_workflow,
            "propagate": self.propagate,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> FWAction:
        """Build from a FireWorks dict; missing keys take their defaults."""
        data = data or {}
        return cls(
            stored_data=dict(data.get("stored_data") or {}),
            exit=bool(data.get("exit", False)),
            update_spec=dict(data.get("update_spec") or {}),
            mod_spec=list(data.get("mod_spec") or []),
            additions=list(data.get("additions") or []),
            detours=list(data.get("detours") or []),
            append_wfs=list(data.get("append_wfs") or []),
            defuse_children=bool(data.get("defuse_children", False)),
            defuse_workflow=bool(data.get("defuse_workflow", False)),
            propagate=bool(data.get("propagate", False)),
        )
