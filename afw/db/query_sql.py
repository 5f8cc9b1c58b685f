"""Translate a parsed filter into a SQLite WHERE clause over a JSON ``doc`` column.

The clause reproduces :mod:`afw.db.query_eval` exactly, path traversal included.  A path like
``a.b.c`` can cross arrays in several ways (``a`` an array of objects, ``a.b`` an array, both,
...); each way is one *pattern*: a flat ``EXISTS (SELECT 1 FROM json_each(..) AS je1,
json_each(je1.value, ..) AS je2 WHERE ...)`` over the arrays it crosses, ending in the value
test, the test of the elements of an array found at the end, or the missing-value test.  The
field matches when any pattern does.  ``json_each`` gets a path only when it points at an
array, and an element is read as JSON only when it is an object or an array, so no row can
make SQLite parse non-JSON text, whatever order it evaluates conditions in.

Fields on hot columns use the column.  Paths with keys a JSON path cannot name (``"``, ``\\``,
control characters), very long paths and sub-filters nested too deep for SQLite's parser are
evaluated by ``afw_match`` (the Python matcher) instead.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from afw.db.query_ast import (
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
    matches_missing,
)
from afw.db.query_eval import array_offset
from afw.db.query_sqlfrag import (
    EXISTS_DEPTH,
    GROUP_DEPTH,
    NOT_DEPTH,
    Param,
    Sql,
    addressable,
    all_of,
    any_of,
    cat,
    json_path,
    nest,
)
from afw.db.query_sqlpred import (
    Loc,
    Ref,
    compare_sql,
    dumps,
    element_ref,
    equals_sql,
    hot_ok,
    hot_sql,
    one_of_sql,
    regexp_sql,
    unparse,
)
from afw.errors import QueryError

__all__ = ["MAX_DEPTH", "node_to_sql", "sort_to_sql"]

MAX_DEPTH = 70
"""Parser stack the clause may use, leaving room for the statement around it."""

_MAX_PATH = 7  # a path of n components has up to 2**(n-1) patterns
_MAX_FIELD_SQL = 60_000
_UNTRANSLATABLE = Sql("", depth=1_000_000)  # node() then falls back to afw_match
_ElementTest = Callable[[Ref], Sql]


@dataclass(frozen=True, slots=True)
class _Pattern:
    """One way through the arrays along a path: the json_each joins, the conditions on their
    rows, and where it ends (a value with the prefixes that must not be arrays for it to be
    missing, or an array element picked by index)."""

    gate: Loc | None  # the first array crossed: a cheap test before json_each parses
    joins: tuple[str, ...]
    conditions: tuple[str, ...]
    end: Loc | str
    prefixes: tuple[Loc, ...] = ()


class _Translator:
    def __init__(self, doc_column: str, columns: Mapping[str, str]) -> None:
        self.doc = Loc(doc_column)
        self.columns = columns
        self._aliases = itertools.count(1)

    # ---- document-level nodes -----------------------------------------------------------------

    def node(self, node: Node, root: Loc, budget: int) -> Sql:
        """``node`` on the object at ``root``; ``afw_match`` if it would nest too deep."""
        sql = self._node(node, root, budget)
        if sql.depth <= budget:
            return sql
        fallback = cat("afw_match(", Param(dumps(unparse(node))), f", {root.src})")
        return nest(fallback, GROUP_DEPTH)

    def _node(self, node: Node, root: Loc, budget: int) -> Sql:
        match node:
            case And(children=children):
                return all_of([self.node(c, root, budget - GROUP_DEPTH) for c in children])
            case Or(children=children):
                return any_of([self.node(c, root, budget - GROUP_DEPTH) for c in children])
            case Not(child=child):
                return _negate(self.node(child, root, budget - NOT_DEPTH))
            case Const(value=value):
                return Sql("1" if value else "0")
            case Field():
                return self.field(node, root, budget)

    def field(self, node: Field, root: Loc, budget: int) -> Sql:
        column = self.columns.get(node.dotted) if root == self.doc else None
        if column is not None and hot_ok(node.pred):
            return hot_sql(column, node.pred)
        if len(node.path) > _MAX_PATH or not all(addressable(k) for k in node.path):
            return _UNTRANSLATABLE
        inner = budget - 3 * GROUP_DEPTH - EXISTS_DEPTH
        patterns = self.walk(root, node.path, _Pattern(None, (), (), root))
        terms = [self.pattern(p, node.pred, inner) for p in patterns]
        sql = any_of(terms)
        return _UNTRANSLATABLE if len(sql.text) > _MAX_FIELD_SQL else sql

    # ---- patterns -----------------------------------------------------------------------------

    def walk(self, start: Loc, path: tuple[str, ...], way: _Pattern) -> Iterator[_Pattern]:
        """Every pattern for ``path`` below the object at ``start``, continuing ``way``
        (the cheapest, crossing no further array, first)."""
        for length in range(len(path), 0, -1):
            node = Loc(start.src, json_path(start.path, path[:length]))
            if length < len(path):
                yield from self.through_array(node, path[length:], way)
                continue
            prefixes = [Loc(start.src, json_path(start.path, path[:i])) for i in range(1, length)]
            yield _Pattern(way.gate, way.joins, way.conditions, node, tuple(prefixes))

    def through_array(self, array: Loc, rest: tuple[str, ...], way: _Pattern) -> Iterator[_Pattern]:
        """Patterns continuing through the elements of the array at ``array``."""
        alias = f"je{next(self._aliases)}"
        join = f"json_each({array.src}, {array.as_array()}) AS {alias}"
        way = _Pattern(way.gate or array, (*way.joins, join), way.conditions, alias)
        element = _loc(element_ref(alias))
        as_object = _with(way, f"{alias}.type = 'object'")
        yield from self.walk(element, rest, as_object)
        offset = array_offset(rest[0])
        if offset is None:
            return
        way = _with(way, f"{alias}.key = {offset}")
        if len(rest) == 1:
            yield way
            return
        yield from self.walk(element, rest[1:], _with(way, f"{alias}.type = 'object'"))
        yield from self.through_array(element, rest[1:], way)

    def pattern(self, pattern: _Pattern, pred: Pred, budget: int) -> Sql:
        if isinstance(pattern.end, str):
            test = self.pred(element_ref(pattern.end), pred, budget)
        else:
            test = self.at_end(pattern.end, pattern.prefixes, pred, budget)
        if pattern.gate is None or test.text == "0":
            return test
        exists = _exists(pattern.joins, all_of([*(Sql(c) for c in pattern.conditions), test]))
        return all_of([Sql(f"json_type({pattern.gate.args}) = 'array'"), exists])

    def at_end(self, loc: Loc, prefixes: tuple[Loc, ...], pred: Pred, budget: int) -> Sql:
        """A value at ``loc``, or one of its elements, satisfies ``pred`` or it is missing."""
        inner = budget - GROUP_DEPTH
        terms = [self.pred(Ref.at(loc), pred, inner)]
        if expands_leaf_arrays(pred):
            terms.append(self.elements(loc, lambda ref: self.pred(ref, pred, inner - EXISTS_DEPTH)))
        if matches_missing(pred):
            missing = [f"json_type({loc.args}) IS NULL"]
            missing += [f"json_type({p.args}) IS NOT 'array'" for p in prefixes]
            terms.append(Sql(f"({' AND '.join(missing)})", depth=GROUP_DEPTH))
        return any_of(terms)

    def elements(self, array: Loc, test: _ElementTest) -> Sql:
        """Some element of the array at ``array`` (if it is one) passes ``test``."""
        alias = f"je{next(self._aliases)}"
        where = test(element_ref(alias))
        if where.text == "0":
            return where
        return _exists([f"json_each({array.src}, {array.as_array()}) AS {alias}"], where)

    # ---- predicates on one value --------------------------------------------------------------

    def pred(self, ref: Ref, pred: Pred, budget: int) -> Sql:
        """``ref`` exists and satisfies ``pred``."""
        match pred:
            case Eq(value=value):
                return equals_sql(ref, value)
            case Cmp(op=op, value=value):
                return compare_sql(ref, op, value)
            case In(values=values):
                return one_of_sql(ref, values)
            case Regex(pattern=pattern, options=options):
                return regexp_sql(ref, pattern, options)
            case Exists():
                return Sql(f"{ref.type} IS NOT NULL")
            case Size(n=n):
                return self.size(ref, n)
            case ElemMatchValue(pred=inner):
                return self.elements(
                    _loc(ref), lambda e: self.pred(e, inner, budget - EXISTS_DEPTH)
                )
            case ElemMatchDoc():
                return self.elements(_loc(ref), lambda e: self.elem_match_doc(e, pred, budget))
            case NotP(pred=inner):
                return _negate(self.pred(ref, inner, budget - NOT_DEPTH))
            case AndP(preds=preds):
                return all_of([self.pred(ref, p, budget - GROUP_DEPTH) for p in preds])
            case ConstP(value=value):
                return Sql("1" if value else "0")

    def size(self, ref: Ref, n: int) -> Sql:
        sql = f"({ref.type} = 'array' AND json_array_length({_loc(ref).args}) = {n})"
        return Sql(sql, depth=2 * GROUP_DEPTH)

    def elem_match_doc(self, element: Ref, pred: ElemMatchDoc, budget: int) -> Sql:
        """An object element matching the sub-filter, or an array element, which MongoDB reads
        as an object keyed "0", "1", ... (left to Python)."""
        inner = budget - EXISTS_DEPTH - 2 * GROUP_DEPTH
        as_object = self.node(pred.node, _loc(element), inner)
        as_array = cat("afw_match(", Param(dumps(pred.raw)), f", {element.value})")
        return any_of(
            [
                nest(cat(f"({element.type} = 'object' AND ", as_object, ")"), GROUP_DEPTH),
                nest(cat(f"({element.type} = 'array' AND ", as_array, ")"), 2 * GROUP_DEPTH),
            ]
        )


def _exists(joins: Sequence[str], where: Sql) -> Sql:
    # The joins hold checked column names, generated aliases and quoted literals only.
    select = f"SELECT 1 FROM {', '.join(joins)} WHERE "  # noqa: S608
    return nest(cat("EXISTS (", select, where, ")"), EXISTS_DEPTH)


def _with(way: _Pattern, condition: str) -> _Pattern:
    return _Pattern(way.gate, way.joins, (*way.conditions, condition), way.end)


def _loc(ref: Ref) -> Loc:
    assert ref.loc is not None  # hot columns never reach container predicates
    return ref.loc


def _negate(sql: Sql) -> Sql:
    if sql.text in ("0", "1"):
        return Sql("1" if sql.text == "0" else "0")
    return nest(cat("NOT IFNULL(", sql, ", 0)"), NOT_DEPTH)


def node_to_sql(node: Node, doc_column: str, columns: Mapping[str, str]) -> Sql:
    """The WHERE clause for ``node``; see the module docstring."""
    translator = _Translator(doc_column, columns)
    return translator.node(node, translator.doc, MAX_DEPTH)


# ---- sorting ----------------------------------------------------------------------------------


def sort_to_sql(
    sort: Sequence[tuple[str, int]], doc_column: str, columns: Mapping[str, str]
) -> str:
    """``ORDER BY`` terms: hot columns directly, other paths by type bracket then value."""
    terms = []
    for dotted, direction in sort:
        order = _direction(dotted, direction)
        column = columns.get(dotted)
        if column is not None:
            terms.append(f"{column} {order}")
            continue
        ref = Ref.at(Loc(doc_column, _sort_path(dotted)))
        terms.append(f"{_bracket_sql(ref)} {order}, {ref.value} {order}")
    return ", ".join(terms)


def _direction(dotted: str, direction: int) -> str:
    if isinstance(direction, bool) or direction not in (1, -1):
        raise QueryError(f"sort direction for {dotted!r} must be 1 or -1, not {direction!r}")
    return "ASC" if direction == 1 else "DESC"


def _sort_path(dotted: str) -> str:
    keys = dotted.split(".")
    if "" in keys or not all(addressable(k) for k in keys):
        raise QueryError(f"cannot sort by {dotted!r}: not a plain field path")
    path = "$"
    for key in keys:
        offset = array_offset(key)
        path = f"{path}[{offset}]" if offset is not None else json_path(path, [key])
    return path


def _bracket_sql(ref: Ref) -> str:
    return (
        f"CASE {ref.type} WHEN 'integer' THEN 1 WHEN 'real' THEN 1 WHEN 'text' THEN 2 "
        "WHEN 'object' THEN 3 WHEN 'array' THEN 4 WHEN 'false' THEN 5 WHEN 'true' THEN 5 "
        "ELSE 0 END"
    )
