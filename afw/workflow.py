"""Workflow: Fireworks plus their links, the unit the LaunchPad loads and writes.

A Workflow loaded from a store may hold only some of its Fireworks (``fws``); ``links`` and
``fw_states`` always cover all of them. Logic that touches an unloaded Firework raises
:class:`NeedFireworks`, and the store loads those and runs the logic again (FireWorks'
``LazyFirework``, without I/O inside the model).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from afw.errors import WorkflowError
from afw.firework import Firework
from afw.launch import Launch
from afw.timeutil import now_iso

__all__ = ["NeedFireworks", "Workflow"]


class NeedFireworks(Exception):
    """Raised by the pure logic when it needs Fireworks that are not loaded."""

    def __init__(self, fw_ids: Iterable[int]) -> None:
        self.fw_ids = set(fw_ids)
        super().__init__(f"need Fireworks {sorted(self.fw_ids)}")


@dataclass
class Workflow:
    """A workflow: ``links`` maps each fw_id to its children; ``fw_states`` mirrors FW states."""

    links: dict[int, list[int]]
    fws: dict[int, Firework] = field(default_factory=dict)
    name: str = "unnamed WF"
    metadata: dict[str, Any] = field(default_factory=dict)
    created_on: str = ""
    updated_on: str = ""
    state: str = "READY"
    fw_states: dict[int, str] = field(default_factory=dict)
    wf_id: Any = None
    # Change tracking for the change set the store writes.
    touched_fws: set[int] = field(default_factory=set, repr=False)
    touched_launches: dict[int, Launch] = field(default_factory=dict, repr=False)
    new_fw_ids: list[int] = field(default_factory=list, repr=False)
    links_changed: bool = field(default=False, repr=False)
    _parents: dict[int, list[int]] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.created_on = self.created_on or now_iso()
        self.updated_on = self.updated_on or self.created_on
        for fw_id, fw in self.fws.items():
            self.fw_states.setdefault(fw_id, fw.state)

    # -- construction ---------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        fireworks: Iterable[Firework] | Firework,
        links: Mapping[Any, Any] | None = None,
        name: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Workflow:
        """Validate and build a new workflow (FireWorks' ``Workflow(fws, links_dict, ...)``)."""
        fw_list = [fireworks] if isinstance(fireworks, Firework) else list(fireworks)
        if not fw_list:
            raise WorkflowError("a workflow needs at least one Firework")
        fws: dict[int, Firework] = {}
        for fw in fw_list:
            if fw.fw_id in fws:
                raise WorkflowError(f"duplicate fw_id {fw.fw_id} in workflow")
            fws[fw.fw_id] = fw
        graph: dict[int, list[int]] = {fw_id: [] for fw_id in fws}
        for parent, children in (links or {}).items():
            graph[_fw_ref(parent)] = _children(children)
        for fw in fw_list:
            for parent in fw.parents:
                graph.setdefault(parent.fw_id, [])
                if fw.fw_id not in graph[parent.fw_id]:
                    graph[parent.fw_id].append(fw.fw_id)
        _validate(graph, fws)
        wf = cls(links=graph, fws=fws, name=name or "unnamed WF", metadata=dict(metadata or {}))
        for fw in fws.values():
            wf.fw_states[fw.fw_id] = fw.state
        return wf

    # -- graph ------------------------------------------------------------------------------------

    @property
    def parent_links(self) -> dict[int, list[int]]:
        if self._parents is None:
            parents: dict[int, list[int]] = {}
            for parent, children in self.links.items():
                for child in children:
                    parents.setdefault(child, []).append(parent)
            self._parents = parents
        return self._parents

    def invalidate_graph(self) -> None:
        self._parents = None
        self.links_changed = True

    @property
    def nodes(self) -> list[int]:
        return list(self.links)

    @property
    def root_fw_ids(self) -> list[int]:
        children = {c for cs in self.links.values() for c in cs}
        return [fw_id for fw_id in self.links if fw_id not in children]

    @property
    def leaf_fw_ids(self) -> list[int]:
        return [fw_id for fw_id, children in self.links.items() if not children]

    def descendants(self, fw_id: int) -> list[int]:
        """Every descendant of ``fw_id``, each once, depth first."""
        seen: list[int] = []
        stack = list(reversed(self.links.get(fw_id, [])))
        while stack:
            child = stack.pop()
            if child not in seen:
                seen.append(child)
                stack.extend(reversed(self.links.get(child, [])))
        return seen

    # -- access with lazy-load signal -----------------------------------------------------------

    def fw(self, fw_id: int) -> Firework:
        """The loaded Firework; raises :class:`NeedFireworks` when it is not loaded."""
        found = self.fws.get(fw_id)
        if found is None:
            if fw_id not in self.links:
                raise WorkflowError(f"Firework {fw_id} is not part of this workflow")
            raise NeedFireworks([fw_id])
        return found

    def need(self, fw_ids: Iterable[int]) -> None:
        """Ask for all of ``fw_ids`` at once (cheaper than one round trip per Firework)."""
        missing = {i for i in fw_ids if i not in self.fws}
        if missing:
            raise NeedFireworks(missing)

    def mark(self, fw: Firework) -> None:
        """Record that ``fw`` changed and must be written."""
        self.touched_fws.add(fw.fw_id)
        self.fw_states[fw.fw_id] = fw.state

    def mark_launch(self, launch: Launch) -> None:
        self.touched_launches[launch.launch_id] = launch

    # -- serialization ----------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """FireWorks workflow file format."""
        return {
            "fws": [fw.to_dict() for fw in self.fws.values()],
            "links": {str(k): list(v) for k, v in self.links.items()},
            "name": self.name,
            "metadata": self.metadata,
            "created_on": self.created_on,
            "updated_on": self.updated_on,
        }

    def to_db_dict(self) -> dict[str, Any]:
        """The ``workflows`` document (dates as ISO strings here; stores convert as needed)."""
        return {
            "links": {str(k): list(v) for k, v in self.links.items()},
            "parent_links": {str(k): list(v) for k, v in self.parent_links.items()},
            "nodes": list(self.links),
            "metadata": self.metadata,
            "state": self.state,
            "name": self.name,
            "created_on": self.created_on,
            "updated_on": self.updated_on,
            "fw_states": {str(k): v for k, v in self.fw_states.items()},
        }

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Workflow:
        """Build from a workflow file dict, or a bare Firework dict (a one-Firework workflow)."""
        if "fws" not in doc:
            if "spec" not in doc:
                raise WorkflowError("not a workflow or Firework document (no 'fws' and no 'spec')")
            fw = Firework.from_dict(doc)
            return cls.create([fw], name=fw.name)  # FireWorks' Workflow.from_Firework
        fws = [Firework.from_dict(item) for item in doc["fws"]]
        return cls.create(
            fws,
            links=doc.get("links") or {},
            name=doc.get("name"),
            metadata=doc.get("metadata") or {},
        )

    @classmethod
    def from_db_dict(cls, doc: Mapping[str, Any], fws: Iterable[Firework] = ()) -> Workflow:
        """Build from a ``workflows`` document plus whichever Fireworks were loaded."""
        links = {int(k): [int(c) for c in v] for k, v in (doc.get("links") or {}).items()}
        states = {int(k): str(v) for k, v in (doc.get("fw_states") or {}).items()}
        return cls(
            links=links,
            fws={fw.fw_id: fw for fw in fws},
            name=str(doc.get("name") or "unnamed WF"),
            metadata=dict(doc.get("metadata") or {}),
            created_on=_text(doc.get("created_on")),
            updated_on=_text(doc.get("updated_on")),
            state=str(doc.get("state") or "READY"),
            fw_states=states,
            wf_id=doc.get("_id"),
        )


def _text(value: Any) -> str:
    isoformat = getattr(value, "isoformat", None)
    if callable(isoformat):
        return str(isoformat())
    return "" if value is None else str(value)


def _fw_ref(value: Any) -> int:
    fw_id = getattr(value, "fw_id", value)
    try:
        return int(fw_id)
    except (TypeError, ValueError):
        raise WorkflowError(f"link key {value!r} is not a Firework id") from None


def _children(value: Any) -> list[int]:
    items = value if isinstance(value, list | tuple) else [value]
    return [_fw_ref(item) for item in items if item is not None]


def _validate(graph: dict[int, list[int]], fws: Mapping[int, Firework]) -> None:
    for parent, children in graph.items():
        if parent not in fws:
            raise WorkflowError(f"links name Firework {parent}, which is not in the workflow")
        for child in children:
            if child not in fws:
                raise WorkflowError(f"links name Firework {child}, which is not in the workflow")
    _check_acyclic(graph)


def _check_acyclic(graph: Mapping[int, list[int]]) -> None:
    indegree = dict.fromkeys(graph, 0)
    for children in graph.values():
        for child in children:
            indegree[child] += 1
    ready = [node for node, deg in indegree.items() if deg == 0]
    seen = 0
    while ready:
        node = ready.pop()
        seen += 1
        for child in graph[node]:
            indegree[child] -= 1
            if indegree[child] == 0:
                ready.append(child)
    if seen != len(graph):
        cyclic = sorted(node for node, deg in indegree.items() if deg > 0)
        raise WorkflowError(f"the workflow's links contain a cycle through Fireworks {cyclic}")
