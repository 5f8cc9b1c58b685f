"""Evaluate a parsed filter in Python: the reference semantics the SQL translation must match.

Path traversal follows MongoDB's (legacy, up to 8.x) path iterator.  Walking ``a.b.c`` through
objects yields the value found, or :data:`MISSING` as soon as a step finds no such field or a
non-object.  An array in the middle of the path is entered: each *object* element is walked with
the rest of the path (so an element without the field yields MISSING), and when the next
component is a number ``k`` the element at index ``k`` is also walked with the rest after it.
Scalars and nested arrays inside that array yield nothing.  An array at the end of the path
yields its elements and then itself, except for ``$size``/``$elemMatch``/``$exists``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from afw.db.query_ast import (
    COMPARISONS,
    And,
    AndP,
    Cmp,
    Const,
    ConstP,
    ElemMatchDoc,
    ElemMatchValue,
    Eq,
    Exists,
    Field,
    In,
    Node,
    Not,
    NotP,
    Or,
    Pred,
    Regex,
    Size,
    expands_leaf_arrays,
)
from afw.db.query_values import ARRAY, MISSING, OBJECT, compare, compile_regex, rank

__all__ = ["DocTest", "array_offset", "compile_node", "iter_path"]

DocTest = Callable[[Mapping[str, Any]], bool]
_ValueTest = Callable[[Any], bool]


def array_offset(component: str) -> int | None:
    """The array index a path component names (``"0"``, ``"12"``; not ``"01"``), if any."""
    if component.isascii() and component.isdigit() and str(int(component)) == component:
        return int(component)
    return None


def iter_path(doc: Mapping[str, Any], path: tuple[str, ...], expand: bool) -> Iterator[Any]:
    """Every value MongoDB finds at ``path`` in ``doc`` (``MISSING`` where a walk dead-ends)."""
    current: Any = doc
    last = len(path) - 1
    for i, component in enumerate(path):
        if not isinstance(current, Mapping) or component not in current:
            yield MISSING
            return
        current = current[component]
        if isinstance(current, list) and i < last:
            yield from _iter_array(current, path[i + 1 :], expand)
            return
    if expand and isinstance(current, list):
        yield from current
    yield current


def _iter_array(array: list[Any], rest: tuple[str, ...], expand: bool) -> Iterator[Any]:
    offset = array_offset(rest[0])
    for index, element in enumerate(array):
        if isinstance(element, dict):
            yield from iter_path(element, rest, expand)
        if index != offset:
            continue
        if len(rest) == 1:
            yield element
        elif isinstance(element, dict):
            yield from iter_path(element, rest[1:], expand)
        elif isinstance(element, list):
            yield from _iter_array(element, rest[1:], expand)


def compile_node(node: Node) -> DocTest:
    """A function telling whether a document matches ``node``."""
    match node:
        case And(children=children):
            tests = [compile_node(c) for c in children]
            return lambda doc: all(t(doc) for t in tests)
        case Or(children=children):
            tests = [compile_node(c) for c in children]
            return lambda doc: any(t(doc) for t in tests)
        case Not(child=child):
            test = compile_node(child)
            return lambda doc: not test(doc)
        case Const(value=value):
            return lambda doc: value
        case Field():
            return _compile_field(node)


def _compile_field(node: Field) -> DocTest:
    test = compile_pred(node.pred)
    path, expand = node.path, expands_leaf_arrays(node.pred)
    return lambda doc: any(test(v) for v in iter_path(doc, path, expand))


def compile_pred(pred: Pred) -> _ValueTest:
    """A function telling whether one value (possibly ``MISSING``) satisfies ``pred``."""
    match pred:
        case Eq(value=value):
            return _eq_test(value)
        case Cmp(op=op, value=value):
            return _cmp_test(op, value)
        case In(values=values):
            return _in_test(values)
        case Regex(pattern=pattern, options=options):
            search = compile_regex(pattern, options).search
            return lambda v: isinstance(v, str) and search(v) is not None
        case Exists():
            return lambda v: v is not MISSING
        case Size(n=n):
            return lambda v: isinstance(v, list) and len(v) == n
        case ElemMatchValue(pred=inner):
            element_test = compile_pred(inner)
            return lambda v: isinstance(v, list) and any(element_test(e) for e in v)
        case ElemMatchDoc(node=inner):
            return _elem_match_doc_test(compile_node(inner))
        case _:
            return _compile_combinator(pred)


def _compile_combinator(pred: NotP | AndP | ConstP) -> _ValueTest:
    match pred:
        case NotP(pred=inner):
            test = compile_pred(inner)
            return lambda v: not test(v)
        case AndP(preds=preds):
            tests = [compile_pred(p) for p in preds]
            return lambda v: all(t(v) for t in tests)
        case ConstP(value=value):
            return lambda v: value


def _eq_test(expected: Any) -> _ValueTest:
    if expected is None:
        return lambda v: v is None or v is MISSING
    bracket = rank(expected)
    if bracket in (OBJECT, ARRAY):
        return lambda v: rank(v) == bracket and compare(v, expected) == 0
    return lambda v: rank(v) == bracket and v == expected


def _cmp_test(op: str, bound: Any) -> _ValueTest:
    order, bracket = COMPARISONS[op], rank(bound)
    if bracket in (OBJECT, ARRAY):
        return lambda v: rank(v) == bracket and order(compare(v, bound), 0)
    return lambda v: rank(v) == bracket and order(v, bound)


def _in_test(values: tuple[Any, ...]) -> _ValueTest:
    scalars = {(rank(v), v) for v in values if rank(v) not in (OBJECT, ARRAY)}
    containers = [v for v in values if rank(v) in (OBJECT, ARRAY)]
    wants_missing = any(v is None for v in values)

    def test(v: Any) -> bool:
        if v is MISSING:
            return wants_missing
        bracket = rank(v)
        if bracket in (OBJECT, ARRAY):
            return any(rank(c) == bracket and compare(v, c) == 0 for c in containers)
        return (bracket, v) in scalars

    return test


def _elem_match_doc_test(test: DocTest) -> _ValueTest:
    def element_matches(element: Any) -> bool:
        if isinstance(element, list):  # MongoDB treats it as an object keyed "0", "1", ...
            return test({str(i): e for i, e in enumerate(element)})
        return isinstance(element, dict) and test(element)

    return lambda v: isinstance(v, list) and any(element_matches(e) for e in v)
