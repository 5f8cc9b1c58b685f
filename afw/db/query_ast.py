"""The parsed form of a MongoDB-style filter (built by :mod:`afw.db.query_parse`).

Two kinds of nodes.  A :data:`Node` is a test on a whole document (``And``, ``Or``, ``Not``,
``Const`` and ``Field``).  A :data:`Pred` is a test on one value found at a field's path; a
``Field`` holds when *any* value found at its path satisfies its predicate (MongoDB's implicit
array traversal).  Negated operators (``$ne``, ``$nin``, ``$not``, ``$exists: false``) become a
``Not`` around the ``Field``, so ``{"a": {"$ne": 1}}`` is "no value at ``a`` equals 1".  Inside
``$elemMatch`` the same operators apply to each array element directly, hence the ``NotP``,
``AndP`` and ``ConstP`` predicates.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "COMPARISONS",
    "And",
    "AndP",
    "Cmp",
    "Const",
    "ConstP",
    "ElemMatchDoc",
    "ElemMatchValue",
    "Eq",
    "Exists",
    "Field",
    "In",
    "Node",
    "Not",
    "NotP",
    "Or",
    "Pred",
    "Regex",
    "Size",
    "expands_leaf_arrays",
    "matches_missing",
]


COMPARISONS: Mapping[str, Callable[[Any, Any], bool]] = {
    "$gt": operator.gt,
    "$gte": operator.ge,
    "$lt": operator.lt,
    "$lte": operator.le,
}
"""The ordering operators of :class:`Cmp`, each with the Python test it stands for."""


# ---- predicates on one value ------------------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class Eq:
    """Equal to ``value`` (``None`` also matches a missing value)."""

    value: Any


@dataclass(frozen=True, slots=True, eq=False)
class Cmp:
    """``op`` is one of :data:`COMPARISONS`; only values of ``value``'s type bracket match."""

    op: str
    value: Any


@dataclass(frozen=True, slots=True, eq=False)
class In:
    """Equal to one of ``values``."""

    values: tuple[Any, ...]


@dataclass(frozen=True, slots=True, eq=False)
class Regex:
    """A string matching ``pattern`` (searched, as MongoDB does) with ``options`` flags."""

    pattern: str
    options: str


@dataclass(frozen=True, slots=True, eq=False)
class Exists:
    """Any value at all."""


@dataclass(frozen=True, slots=True, eq=False)
class Size:
    """An array of exactly ``n`` elements."""

    n: int


@dataclass(frozen=True, slots=True, eq=False)
class ElemMatchValue:
    """An array with an element satisfying ``pred`` (``{"$elemMatch": {"$gt": 1}}``)."""

    pred: Pred
    raw: Mapping[str, Any]


@dataclass(frozen=True, slots=True, eq=False)
class ElemMatchDoc:
    """An array with an object (or array) element matching ``node`` (``{"x": 1}``)."""

    node: Node
    raw: Mapping[str, Any]


@dataclass(frozen=True, slots=True, eq=False)
class NotP:
    """The negation of ``pred`` (only inside ``$elemMatch``)."""

    pred: Pred


@dataclass(frozen=True, slots=True, eq=False)
class AndP:
    """All of ``preds`` (only inside ``$elemMatch``)."""

    preds: tuple[Pred, ...]


@dataclass(frozen=True, slots=True, eq=False)
class ConstP:
    """Always ``value``."""

    value: bool


Pred = Eq | Cmp | In | Regex | Exists | Size | ElemMatchValue | ElemMatchDoc | NotP | AndP | ConstP


# ---- nodes on a document ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class And:
    """All children hold (true when there are none)."""

    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True, eq=False)
class Or:
    """At least one child holds."""

    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True, eq=False)
class Not:
    """The child does not hold."""

    child: Node


@dataclass(frozen=True, slots=True, eq=False)
class Const:
    """Always ``value``."""

    value: bool


@dataclass(frozen=True, slots=True, eq=False)
class Field:
    """Some value found at ``path`` (``dotted`` split on dots) satisfies ``pred``."""

    dotted: str
    path: tuple[str, ...]
    pred: Pred


Node = And | Or | Not | Const | Field


def matches_missing(pred: Pred) -> bool:
    """Whether ``pred`` holds for a missing value (``{"a": null}`` matches documents without a)."""
    match pred:
        case Eq(value=value):
            return value is None
        case In(values=values):
            return any(v is None for v in values)
        case NotP(pred=inner):
            return not matches_missing(inner)
        case AndP(preds=preds):
            return all(matches_missing(p) for p in preds)
        case ConstP(value=value):
            return value
        case _:
            return False


def expands_leaf_arrays(pred: Pred) -> bool:
    """Whether an array at the end of the path is also tested element by element.

    ``$size`` and ``$elemMatch`` look at the array itself; ``$exists`` needs no elements.
    """
    return not isinstance(pred, Size | ElemMatchValue | ElemMatchDoc | Exists)
