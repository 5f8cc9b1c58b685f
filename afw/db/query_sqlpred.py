"""SQL for predicates on one JSON value, for hot columns, and the ``afw_match`` fallback.

A value is reached either by a JSON path into some JSON text (:class:`Loc`) or as a
``json_each`` row.  ``json_type`` names the type bracket (``'true'`` is not ``1``); a missing
value has type NULL.  Predicates here are false for a missing value; the caller adds the
missing case.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from afw.db.query_ast import (
    COMPARISONS,
    And,
    Cmp,
    Const,
    ElemMatchDoc,
    ElemMatchValue,
    Eq,
    Exists,
    Field,
    In,
    Node,
    Not,
    Or,
    Pred,
    Regex,
    Size,
)
from afw.db.query_sqlfrag import (
    EXISTS_DEPTH,
    GROUP_DEPTH,
    Param,
    Sql,
    any_of,
    cat,
    nest,
    sql_literal,
)
from afw.db.query_values import BOOL, NULL, NUMBER, STRING, is_number, rank

__all__ = [
    "Loc",
    "Ref",
    "compare_sql",
    "dumps",
    "element_ref",
    "equals_sql",
    "hot_ok",
    "hot_sql",
    "one_of_sql",
    "regexp_sql",
    "unparse",
]

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_OPS = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}
_NUMERIC = "IN ('integer','real')"
_JSON_LIST = "SELECT value FROM json_each("


@dataclass(frozen=True, slots=True)
class Loc:
    """The value at JSON path ``path`` (a literal) in the JSON text SQL expression ``src``."""

    src: str
    path: str = "$"

    @property
    def args(self) -> str:
        """Arguments for json_type / json_extract / json_each / json_array_length."""
        return f"{self.src}, {sql_literal(self.path)}"

    def as_array(self) -> str:
        """The path when the value is an array, else NULL (json_each then yields no rows)."""
        return f"CASE WHEN json_type({self.args}) = 'array' THEN {sql_literal(self.path)} END"


@dataclass(frozen=True, slots=True)
class Ref:
    """A JSON value in SQL: its json_type (NULL when missing), its SQL value (JSON text for
    objects and arrays) and, unless it is a hot column, where it lives."""

    type: str
    value: str
    loc: Loc | None

    @staticmethod
    def at(loc: Loc) -> Ref:
        """The value at ``loc``."""
        return Ref(f"json_type({loc.args})", f"json_extract({loc.args})", loc)


def element_ref(alias: str) -> Ref:
    """The current row of ``json_each(...) AS alias``; its value is parsed as JSON only when
    it is an object or an array (a string is not JSON text)."""
    src = f"CASE WHEN {alias}.type IN ('object','array') THEN {alias}.value END"
    return Ref(f"{alias}.type", f"{alias}.value", Loc(src))


def dumps(value: Any) -> str:
    """JSON text of a query value."""
    return orjson.dumps(value).decode()


def _number(value: float) -> float:
    """A bindable number: SQLite integers are 64-bit, MongoDB reads larger ones as doubles."""
    if isinstance(value, int) and not _INT64_MIN <= value <= _INT64_MAX:
        return float(value)
    return value


def equals_sql(ref: Ref, value: Any) -> Sql:
    """``ref`` equals ``value`` (a null value is matched here only when present)."""
    bracket = rank(value)
    if bracket == NULL:
        return Sql(f"{ref.type} = 'null'")
    if bracket == BOOL:
        return Sql(f"{ref.type} = '{'true' if value else 'false'}'")
    if bracket == NUMBER:
        return _typed(ref, _NUMERIC, "=", _number(value))
    if bracket == STRING:
        return _typed(ref, "= 'text'", "=", value)
    return _container_cmp(ref, "=", value)


def _typed(ref: Ref, type_test: str, symbol: str, value: Any) -> Sql:
    sql = cat(f"({ref.type} {type_test} AND {ref.value} {symbol} ", Param(value), ")")
    return nest(sql, GROUP_DEPTH)


def compare_sql(ref: Ref, op: str, value: Any) -> Sql:
    """``ref op value`` within ``value``'s type bracket (``value`` is not null)."""
    bracket, symbol = rank(value), _OPS[op]
    if bracket == NUMBER:
        return _typed(ref, _NUMERIC, symbol, _number(value))
    if bracket == STRING:
        return _typed(ref, "= 'text'", symbol, value)
    if bracket == BOOL:
        names = [n for b, n in ((False, "'false'"), (True, "'true'")) if COMPARISONS[op](b, value)]
        return Sql(f"{ref.type} IN ({','.join(names)})") if names else Sql("0")
    return _container_cmp(ref, symbol, value)


def _container_cmp(ref: Ref, symbol: str, value: Any) -> Sql:
    kind = "object" if isinstance(value, dict) else "array"
    test = cat(f"afw_json_cmp({ref.value}, ", Param(dumps(value)), f") {symbol} 0")
    return nest(cat(f"({ref.type} = '{kind}' AND ", test, ")"), 2 * GROUP_DEPTH)


def one_of_sql(ref: Ref, values: Sequence[Any]) -> Sql:
    """``ref`` equals one of ``values``; numbers and strings are looked up in one go."""
    numbers = [_number(v) for v in values if is_number(v)]
    strings = [v for v in values if isinstance(v, str)]
    others = _dedupe([v for v in values if not is_number(v) and not isinstance(v, str)])
    terms = [equals_sql(ref, v) for v in others]
    if numbers:
        terms.append(_in_list(ref, _NUMERIC, numbers))
    if strings:
        terms.append(_in_list(ref, "= 'text'", strings))
    return any_of(terms)


def _in_list(ref: Ref, type_test: str, values: list[Any]) -> Sql:
    if len(values) == 1:
        return _typed(ref, type_test, "=", values[0])
    listed = cat(f"{ref.value} IN (", _JSON_LIST, Param(dumps(values)), "))")
    return nest(cat(f"({ref.type} {type_test} AND ", listed, ")"), GROUP_DEPTH + EXISTS_DEPTH)


def _dedupe(values: Sequence[Any]) -> list[Any]:
    seen: list[Any] = []
    for value in values:
        if not any(rank(value) == rank(s) and value == s for s in seen):
            seen.append(value)
    return seen


def regexp_sql(ref: Ref, pattern: str, options: str) -> Sql:
    """``ref`` is a string matching the regular expression."""
    regexp = cat("afw_regexp(", Param(pattern), ", ", Param(options), f", {ref.value})")
    return nest(cat(f"({ref.type} = 'text' AND ", regexp, ")"), 2 * GROUP_DEPTH)


# ---- hot columns ------------------------------------------------------------------------------


def _hot_value(value: Any) -> bool:
    return value is None or isinstance(value, str) or is_number(value)


def hot_ok(pred: Pred) -> bool:
    """Whether an indexed column (holding the field's string or number, NULL when the field is
    missing or null) answers ``pred`` exactly."""
    match pred:
        case Eq(value=value) | Cmp(value=value):
            return _hot_value(value)
        case In(values=values):
            return all(_hot_value(v) for v in values)
        case Regex():
            return True
        case _:
            return False


def hot_sql(column: str, pred: Pred) -> Sql:
    """``pred`` on an indexed column; type checks keep SQLite's affinity from turning ``'1'``
    into ``1`` (MongoDB never equates them)."""
    ref = Ref(f"typeof({column})", column, None)
    match pred:
        case Eq(value=None):
            return Sql(f"{column} IS NULL")
        case Eq(value=value):
            return equals_sql(ref, value)
        case Cmp(op=op, value=value):
            return compare_sql(ref, op, value)
        case In(values=values):
            is_null = [Sql(f"{column} IS NULL")] if None in values else []
            return any_of([*is_null, one_of_sql(ref, [v for v in values if v is not None])])
        case Regex(pattern=pattern, options=options):
            return regexp_sql(ref, pattern, options)
        case _:
            raise AssertionError(f"not a hot-column predicate: {pred!r}")


# ---- back to a filter, for afw_match ----------------------------------------------------------


def unparse(node: Node) -> dict[str, Any]:
    """A filter equivalent to ``node``."""
    match node:
        case And(children=children):
            return {"$and": [unparse(c) for c in children]} if children else {}
        case Or(children=children):
            return {"$or": [unparse(c) for c in children]}
        case Not(child=child):
            return {"$nor": [unparse(child)]}
        case Const(value=value):
            return {} if value else {"$nor": [{}]}
        case Field(dotted=dotted, pred=pred):
            return {dotted: _operator_object(pred)}


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
