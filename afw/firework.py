"""Firework: one job of a workflow (FireWorks document shape)."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from itertools import count
from typing import Any

from afw.launch import Launch
from afw.states import STATE_RANKS
from afw.timeutil import now_iso

__all__ = ["Firework", "task_dict"]

# FireWorks gives new Fireworks decreasing negative ids until the LaunchPad assigns real ones.
_NEGATIVE_IDS = count(-1, -1)


def task_dict(task: Any) -> dict[str, Any]:
    """A Firetask (object with ``to_dict``) or task dict, as a plain FireWorks task dict."""
    as_dict = getattr(task, "to_dict", None)
    return dict(as_dict()) if callable(as_dict) else dict(task)


@dataclass
class Firework:
    """A Firework. Tasks live in ``spec["_tasks"]`` as FireWorks task dicts.

    ``launches`` holds the current launches as objects; archived launches are referenced by id,
    which is all the workflow logic needs (the LaunchPad expands them on request).
    """

    spec: dict[str, Any] = field(default_factory=dict)
    fw_id: int = 0
    name: str = "Unnamed FW"
    state: str = "WAITING"
    created_on: str = ""
    updated_on: str = ""
    launches: list[Launch] = field(default_factory=list)
    archived_launch_ids: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.state not in STATE_RANKS:
            raise ValueError(f"invalid Firework state {self.state!r}")
        if not self.fw_id:
            self.fw_id = next(_NEGATIVE_IDS)
        self.created_on = self.created_on or now_iso()
        self.updated_on = self.updated_on or self.created_on
        self.spec.setdefault("_tasks", [])

    @classmethod
    def create(
        cls,
        tasks: Iterable[Any] | Any,
        spec: Mapping[str, Any] | None = None,
        name: str | None = None,
        fw_id: int | None = None,
        parents: Iterable[Firework] | Firework | None = None,
    ) -> Firework:
        """FireWorks-style constructor: ``Firework.create([ScriptTask(...)], spec, name)``."""
        task_list = list(tasks) if isinstance(tasks, list | tuple) else [tasks]
        full_spec = copy.deepcopy(dict(spec or {}))
        full_spec["_tasks"] = [task_dict(t) for t in task_list]
        fw = cls(spec=full_spec, fw_id=fw_id or 0, name=name or "Unnamed FW")
        if parents is not None:
            fw.parents = [parents] if isinstance(parents, Firework) else list(parents)
        return fw

    parents: list[Firework] = field(default_factory=list, repr=False, compare=False)

    @property
    def tasks(self) -> list[dict[str, Any]]:
        """The task dicts, in run order."""
        tasks: list[dict[str, Any]] = self.spec.get("_tasks", [])
        return tasks

    @property
    def launch_ids(self) -> list[int]:
        return [launch.launch_id for launch in self.launches]

    def touch(self, when: str | None = None) -> None:
        self.updated_on = when or now_iso()

    def set_state(self, state: str, when: str | None = None) -> None:
        if state not in STATE_RANKS:
            raise ValueError(f"invalid Firework state {state!r}")
        self.state = state
        self.touch(when)

    def archive_launches(self) -> None:
        """Move every current launch to the archive and reset to WAITING (FireWorks ``_rerun``)."""
        for launch_id in self.launch_ids:
            if launch_id not in self.archived_launch_ids:
                self.archived_launch_ids.append(launch_id)
        self.launches = []
        self.spec.pop("_exception_details", None)
        self.set_state("WAITING")

    def to_dict(self, archived: Iterable[Launch] = ()) -> dict[str, Any]:
        """FireWorks file format (``Firework.to_dict``): launches inline, state unless WAITING."""
        doc: dict[str, Any] = {
            "spec": self.spec,
            "fw_id": self.fw_id,
            "created_on": self.created_on,
            "updated_on": self.updated_on,
            "name": self.name,
        }
        if self.launches:
            doc["launches"] = [launch.to_dict() for launch in self.launches]
        archived_docs = [launch.to_dict() for launch in archived]
        if archived_docs:
            doc["archived_launches"] = archived_docs
        if self.state != "WAITING":
            doc["state"] = self.state
        return doc

    def to_db_dict(self) -> dict[str, Any]:
        """The ``fireworks`` document: launches by id, state always present."""
        return {
            "spec": self.spec,
            "fw_id": self.fw_id,
            "created_on": self.created_on,
            "updated_on": self.updated_on,
            "launches": self.launch_ids,
            "archived_launches": self.archived_launch_ids,
            "state": self.state,
            "name": self.name,
        }

    @classmethod
    def from_dict(
        cls, doc: Mapping[str, Any], launches: Iterable[Launch] | None = None
    ) -> Firework:
        """Build from a file dict (launches inline) or a db document (ids + ``launches`` given)."""
        raw_launches = doc.get("launches") or []
        if launches is None:
            launches = [
                Launch.from_dict(item) for item in raw_launches if isinstance(item, Mapping)
            ]
        archived = [
            int(item["launch_id"]) if isinstance(item, Mapping) else int(item)
            for item in doc.get("archived_launches") or []
        ]
        return cls(
            spec=dict(doc.get("spec") or {}),
            fw_id=int(doc.get("fw_id", -1)),
            name=str(doc.get("name") or "Unnamed FW"),
            state=str(doc.get("state") or "WAITING"),
            created_on=_as_text(doc.get("created_on")),
            updated_on=_as_text(doc.get("updated_on")),
            launches=list(launches),
            archived_launch_ids=archived,
        )


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    isoformat = getattr(value, "isoformat", None)
    return str(isoformat()) if callable(isoformat) else str(value)
