"""Translate a parsed filter into a SQLite WHERE clause over a JSON ``doc`` column.

The clause reproduces :mod:`afw.db.query_eval` exactly, path traversal included: for a path
``a.b`` it tests the value at ``$.a.b``, the elements of an array found there, a missing value
(when the predicate matches one), and, when ``$.a`` is an array, every object element of it
(``json_each``).  Type brackets come from ``json_type`` (so ``true`` is not ``1``).

Regular expressions call ``afw_regexp``, object/array comparisons ``afw_json_cmp``, and what a
JSON path cannot name (keys with ``"``, ``\\`` or control characters, very long paths) falls back
to ``afw_match`` on that sub-filter: see :func:`afw.db.query.register_sqlite_functions`.

Every sub-expression is two-valued once wrapped in ``IFNULL(x, 0)``: we only negate such
wrapped expressions, so SQL's NULL logic never flips a result.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

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
    Param,
    Sql,
    addressable,
    all_of,
    any_of,
    cat,
    json_path,
    sql_literal,
)
from afw.db.query_values import BOOL, NULL, NUMBER, STRING, is_number, rank
from afw.errors import QueryError

__all__ = ["check_column", "node_to_sql", "sort_to_sql"]

_MAX_PATH = 8  # the translation of a path grows as 2**len(path)
_MAX_FIELD_SQL = 40_000
_INT64 = 2**63
_OPS = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}
_NUMERIC = "IN ('integer','real')"
_IN_LIST = "SELECT value FROM json_each("
_JSON_EACH_COLUMNS = {"key", "value", "type", "atom", "id", "parent", "fullkey", "path"}
_COLUMN = re.compile(r"(?:[A-Za-z_][A-Za-z0-9_]*\.)?[A-Za-z_][A-Za-z0-9_]*")


def check_column(name: str) -> str:
    """Accept a plain or table-qualified column name that json_each cannot shadow."""
    if not _COLUMN.fullmatch(name) or name.lower() in _JSON_EACH_COLUMNS | {"json", "root"}:
        raise ValueError(f"unusable SQL column name {name!r} (qualify it: table.{name})")
    return name


@dataclass(frozen=True, slots=True)
class _Ref:
    """A JSON value as SQL: its json_type name (NULL when missing), SQL value, and the
    arguments that give json_each / json_array_length the value itself."""

    type: str
    value: str
    args: str


def _path_ref(root: str, path: str) -> _Ref:
    args = f"{root}, {sql_literal(path)}"
    return _Ref(f"json_type({args})", f"json_extract({args})", args)


def _element_ref(alias: str) -> _Ref:
    return _Ref(f"{alias}.type", f"{alias}.value", f"{alias}.value")


class _Translator:
    def __init__(self, doc_column: str, columns: Mapping[str, str]) -> None:
        self.doc = doc_column
        self.columns = columns
        self._aliases = itertools.count(1)

    def alias(self) -> str:
        return f"je{next(self._aliases)}"

    # ---- document-level nodes -----------------------------------------------------------------

    def node(self, node: Node, root: str) -> Sql:
        match node:
            case And(children=children):
                return all_of([self.node(c, root) for c in children])
            case Or(children=children):
                return any_of([self.node(c, root) for c in children])
            case Not(child=child):
                return _negate(self.node(child, root))
            case Const(value=value):
                return Sql("1" if value else "0")
            case Field():
                return self.field(node, root)

    def field(self, node: Field, root: str) -> Sql:
        column = self.columns.get(node.dotted) if root == self.doc else None
        if column is not None and _hot_ok(node.pred):
            return _hot(column, node.pred)
        if len(node.path) > _MAX_PATH or not all(addressable(k) for k in node.path):
            return _fallback(node, root)
        sql = self.any_value(root, "$", node.path, node.pred)
        return _fallback(node, root) if len(sql.text) > _MAX_FIELD_SQL else sql

    # ---- path traversal -----------------------------------------------------------------------

    def any_value(self, root: str, base: str, path: tuple[str, ...], pred: Pred) -> Sql:
        """Some value at ``path`` below the object at ``base`` in ``root`` satisfies ``pred``."""
        ref = _path_ref(root, json_path(base, path))
        terms = [self.pred(ref, pred)]
        if expands_leaf_arrays(pred):
            terms.append(self.elements(ref, pred))
        prefixes = [json_path(base, path[:i]) for i in range(1, len(path))]
        if matches_missing(pred):
            missing = [f"{ref.type} IS NULL"]
            missing += [f"json_type({root}, {sql_literal(p)}) IS NOT 'array'" for p in prefixes]
            terms.append(Sql(f"({' AND '.join(missing)})"))
        for i, prefix in enumerate(prefixes, start=1):
            inner = self.in_array(root, prefix, path[i:], pred)
            terms.append(_when(f"json_type({root}, {sql_literal(prefix)}) = 'array'", inner))
        return any_of(terms)

    def in_array(self, root: str, array: str, rest: tuple[str, ...], pred: Pred) -> Sql:
        """Values at ``rest`` reached through the array at path ``array``."""
        alias = self.alias()
        inner = _when(f"{alias}.type = 'object'", self.any_value(f"{alias}.value", "$", rest, pred))
        terms = [_exists_in(f"{root}, {sql_literal(array)}", alias, inner)]
        offset = array_offset(rest[0])
        if offset is not None and offset < 2**31:
            terms.append(self.at_offset(root, f"{array}[{offset}]", rest[1:], pred))
        return any_of(terms)

    def at_offset(self, root: str, element: str, rest: tuple[str, ...], pred: Pred) -> Sql:
        ref = _path_ref(root, element)
        if not rest:
            return self.pred(ref, pred)
        return cat(
            f"CASE {ref.type} WHEN 'object' THEN ",
            self.any_value(root, element, rest, pred),
            " WHEN 'array' THEN ",
            self.in_array(root, element, rest, pred),
            " ELSE 0 END",
        )

    def elements(self, ref: _Ref, pred: Pred) -> Sql:
        """Some element of the array ``ref`` (if it is one) satisfies ``pred``."""
        alias = self.alias()
        inner = self.pred(_element_ref(alias), pred)
        if inner.text == "0":
            return inner
        return _when(f"{ref.type} = 'array'", _exists_in(ref.args, alias, inner))

    # ---- predicates on one value --------------------------------------------------------------

    def pred(self, ref: _Ref, pred: Pred) -> Sql:
        """``ref`` exists and satisfies ``pred``."""
        match pred:
            case Eq(value=value):
                return _equals(ref, value)
            case Cmp(op=op, value=value):
                return _compare(ref, op, value)
            case In(values=values):
                return _one_of(ref, values)
            case Regex(pattern=pattern, options=options):
                return _regexp(ref, pattern, options)
            case Exists():
                return Sql(f"{ref.type} IS NOT NULL")
            case Size(n=n):
                return _when(f"{ref.type} = 'array'", Sql(f"json_array_length({ref.args}) = {n}"))
            case ElemMatchValue(pred=inner):
                alias = self.alias()
                test = self.pred(_element_ref(alias), inner)
                return _when(f"{ref.type} = 'array'", _exists_in(ref.args, alias, test))
            case ElemMatchDoc():
                return self.elem_match_doc(ref, pred)
            case _:
                return self.combinator(ref, pred)

    def combinator(self, ref: _Ref, pred: NotP | AndP | ConstP) -> Sql:
        match pred:
            case NotP(pred=inner):
                return _negate(self.pred(ref, inner))
            case AndP(preds=preds):
                return all_of([self.pred(ref, p) for p in preds])
            case ConstP(value=value):
                return Sql("1" if value else "0")

    def elem_match_doc(self, ref: _Ref, pred: ElemMatchDoc) -> Sql:
        alias = self.alias()
        element = f"{alias}.value"
        as_object = self.node(pred.node, element)
        # An array element counts as an object keyed "0", "1", ...: left to Python.
        as_array = cat("afw_match(", Param(_dumps(pred.raw)), f", {element})")
        test = cat(
            f"CASE {alias}.type WHEN 'object' THEN ", as_object, " WHEN 'array' THEN ", as_array,
            " ELSE 0 END",
        )  # fmt: skip
        return _when(f"{ref.type} = 'array'", _exists_in(ref.args, alias, test))


# ---- helpers ----------------------------------------------------------------------------------


def _exists_in(json_args: str, alias: str, test: Sql) -> Sql:
    """Some member of the JSON array (or object) ``json_args`` passes ``test``."""
    # json_args holds checked column names, generated aliases and quoted literals only.
    select = f"SELECT 1 FROM json_each({json_args}) AS {alias} WHERE "  # noqa: S608
    return cat("EXISTS (", select, test, ")")


def _when(condition: str, then: Sql) -> Sql:
    """``then`` evaluated only when ``condition`` holds (CASE keeps SQLite from parsing
    non-JSON text as JSON, which AND does not promise)."""
    if then.text == "0":
        return then
    return cat(f"CASE WHEN {condition} THEN ", then, " ELSE 0 END")


def _negate(sql: Sql) -> Sql:
    if sql.text in ("0", "1"):
        return Sql("1" if sql.text == "0" else "0")
    return cat("NOT IFNULL(", sql, ", 0)")


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _number(value: float) -> float:
    """A bindable number: SQLite integers are 64-bit, MongoDB reads larger ones as doubles."""
    if isinstance(value, int) and not -_INT64 <= value < _INT64:
        return float(value)
    return value


def _equals(ref: _Ref, value: Any) -> Sql:
    bracket = rank(value)
    if bracket == NULL:
        return Sql(f"{ref.type} = 'null'")
    if bracket == BOOL:
        return Sql(f"{ref.type} = '{'true' if value else 'false'}'")
    if bracket == NUMBER:
        return cat(f"({ref.type} {_NUMERIC} AND {ref.value} = ", Param(_number(value)), ")")
    if bracket == STRING:
        return cat(f"({ref.type} = 'text' AND {ref.value} = ", Param(value), ")")
    return _container_cmp(ref, "=", value)


def _compare(ref: _Ref, op: str, value: Any) -> Sql:
    bracket, symbol = rank(value), _OPS[op]
    if bracket == NUMBER:
        return cat(f"({ref.type} {_NUMERIC} AND {ref.value} {symbol} ", Param(_number(value)), ")")
    if bracket == STRING:
        return cat(f"({ref.type} = 'text' AND {ref.value} {symbol} ", Param(value), ")")
    if bracket == BOOL:
        names = [n for b, n in ((False, "'false'"), (True, "'true'")) if _holds(op, b, value)]
        return Sql(f"{ref.type} IN ({','.join(names)})") if names else Sql("0")
    return _container_cmp(ref, symbol, value)


def _regexp(ref: _Ref, pattern: str, options: str) -> Sql:
    regexp = cat("afw_regexp(", Param(pattern), ", ", Param(options), f", {ref.value})")
    return cat(f"({ref.type} = 'text' AND ", regexp, ")")


def _holds(op: str, left: bool, right: bool) -> bool:
    return {"$gt": left > right, "$gte": left >= right, "$lt": left < right}.get(op, left <= right)


def _container_cmp(ref: _Ref, symbol: str, value: Any) -> Sql:
    kind = "object" if isinstance(value, dict) else "array"
    test = cat(f"afw_json_cmp({ref.value}, ", Param(_dumps(value)), f") {symbol} 0")
    return _when(f"{ref.type} = '{kind}'", test)


def _one_of(ref: _Ref, values: tuple[Any, ...]) -> Sql:
    numbers = [_number(v) for v in values if is_number(v)]
    strings = [v for v in values if isinstance(v, str)]
    others = [v for v in _dedupe(values) if not is_number(v) and not isinstance(v, str)]
    terms = [_equals(ref, v) for v in others]
    if numbers:
        terms.append(_in_json(ref, _NUMERIC, numbers))
    if strings:
        terms.append(_in_json(ref, "= 'text'", strings))
    return any_of(terms)


def _in_json(ref: _Ref, type_test: str, values: list[Any]) -> Sql:
    if len(values) == 1:
        return cat(f"({ref.type} {type_test} AND {ref.value} = ", Param(values[0]), ")")
    listed = cat(f"{ref.value} IN (", _IN_LIST, Param(_dumps(values)), "))")
    return cat(f"({ref.type} {type_test} AND ", listed, ")")


def _dedupe(values: Sequence[Any]) -> list[Any]:
    seen: list[Any] = []
    for value in values:
        if not any(rank(value) == rank(s) and value == s for s in seen):
            seen.append(value)
    return seen


# ---- hot columns ------------------------------------------------------------------------------


def _hot_value(value: Any) -> bool:
    return value is None or isinstance(value, str) or is_number(value)


def _hot_ok(pred: Pred) -> bool:
    """Whether an indexed column (holding the field's string/number, NULL when missing or
    null) answers ``pred`` exactly."""
    match pred:
        case Eq(value=value) | Cmp(value=value):
            return _hot_value(value)
        case In(values=values):
            return all(_hot_value(v) for v in values)
        case Regex():
            return True
        case _:
            return False


def _hot(column: str, pred: Pred) -> Sql:
    ref = _Ref(f"typeof({column})", column, column)
    match pred:
        case Eq(value=None):
            return Sql(f"{column} IS NULL")
        case Eq(value=value):
            return _equals(ref, value)
        case Cmp(op=op, value=value):
            return _compare(ref, op, value)
        case In(values=values):
            is_null = [Sql(f"{column} IS NULL")] if any(v is None for v in values) else []
            return any_of([*is_null, _one_of(ref, tuple(v for v in values if v is not None))])
        case Regex(pattern=pattern, options=options):
            return _regexp(ref, pattern, options)
        case _:
            raise AssertionError(f"not a hot-column predicate: {pred!r}")


def _fallback(node: Field, root: str) -> Sql:
    spec = {node.dotted: _operator_object(node.pred)}
    return cat("afw_match(", Param(_dumps(spec)), f", {root})")


def _operator_object(pred: Pred) -> dict[str, Any]:
    match pred:
        case Eq(value=value):
            return {"$eq": value}
        case Cmp(op=op, value=value):
            return {op: value}
        case In(values=values):
            return {"$in": list(values)}
        case Regex(pattern=pattern, options=options):
            return {"$regex": pattern, "$options": options}
        case Exists():
            return {"$exists": True}
        case Size(n=n):
            return {"$size": n}
        case ElemMatchValue(raw=raw) | ElemMatchDoc(raw=raw):
            return {"$elemMatch": raw}
        case _:
            raise AssertionError(f"not a field predicate: {pred!r}")


def node_to_sql(node: Node, doc_column: str, columns: Mapping[str, str]) -> Sql:
    """The WHERE clause for ``node``; see the module docstring."""
    return _Translator(doc_column, columns).node(node, doc_column)


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
        ref = _path_ref(doc_column, _sort_path(dotted))
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


def _bracket_sql(ref: _Ref) -> str:
    return (
        f"CASE {ref.type} WHEN 'integer' THEN 1 WHEN 'real' THEN 1 WHEN 'text' THEN 2 "
        "WHEN 'object' THEN 3 WHEN 'array' THEN 4 WHEN 'false' THEN 5 WHEN 'true' THEN 5 "
        "ELSE 0 END"
    )
