"""FWorker: who is asking for work, and which Fireworks it may run (FireWorks semantics)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from afw.errors import ConfigError

__all__ = ["FWorker"]


@dataclass(frozen=True)
class FWorker:
    """A worker: its ``name``, ``category`` (a string or a list), ``query`` and ``env``."""

    name: str = "Automatically generated Worker"
    category: str | tuple[str, ...] = ""
    query: Mapping[str, Any] = field(default_factory=dict)
    env: Mapping[str, Any] = field(default_factory=dict)

    def checkout_query(self) -> dict[str, Any]:
        """The filter a Firework must match to run here (state not included)."""
        clauses: list[dict[str, Any]] = []
        query = dict(self.query)
        user_or = query.pop("$or", None)
        if query:
            clauses.append(query)
        if user_or is not None:
            clauses.append({"$or": user_or})
        # null matches a missing key too (MongoDB semantics); this form uses the indexed column.
        clauses.append({"spec._fworker": {"$in": [None, self.name]}})
        category = self.category
        if category == "__none__":
            clauses.append({"spec._category": {"$exists": False}})
        elif isinstance(category, tuple) and category:
            clauses.append({"spec._category": {"$in": list(category)}})
        elif isinstance(category, str) and category:
            clauses.append({"spec._category": category})
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}

    def to_dict(self) -> dict[str, Any]:
        """FireWorks shape: ``query`` as a JSON string."""
        category: Any = list(self.category) if isinstance(self.category, tuple) else self.category
        return {
            "name": self.name,
            "category": category,
            "query": orjson.dumps(dict(self.query)).decode(),
            "env": dict(self.env),
        }

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> FWorker:
        query = doc.get("query") or {}
        if isinstance(query, str):
            try:
                query = orjson.loads(query) if query.strip() else {}
            except orjson.JSONDecodeError as exc:
                raise ConfigError(f"FWorker query is not valid JSON: {exc}") from exc
        if not isinstance(query, Mapping):
            raise ConfigError("FWorker query must be a mapping")
        category = doc.get("category") or ""
        if isinstance(category, list):
            category = tuple(str(c) for c in category)
        return cls(
            name=str(doc.get("name") or cls.name),
            category=category,
            query=dict(query),
            env=dict(doc.get("env") or {}),
        )
