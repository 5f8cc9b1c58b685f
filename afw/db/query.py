"""MongoDB-style filters (``lpad get_fws -q``, FWorker queries, checkout filters) for any store.

One filter language, two engines that agree on every document:

* :func:`compile_filter` / :func:`matches` evaluate a filter in Python (the reference);
* :func:`to_sql` translates it into a SQLite ``WHERE`` clause over a JSON ``doc`` column,
  using indexed "hot" columns where it can.  Run :func:`register_sqlite_functions` on the
  connection first.

Supported: ``$and $or $nor`` at the top; per field ``$eq $ne $gt $gte $lt $lte $in $nin
$exists $regex``/``$options`` (i, m, s, x), ``$not $all $size $elemMatch``; dotted paths with
numeric components indexing arrays.  Semantics are MongoDB's (releases up to 8.x): implicit
array traversal, ``null`` matching missing fields, comparisons only within a type bracket.

Known differences from MongoDB:

* ``$regex`` uses Python's :mod:`re` syntax, not PCRE (the common subset behaves the same);
* MongoDB 9.0's change (SERVER-36681) that lets ``{"a.b": null}`` also match ``a: [1]`` or
  ``a: []`` is not followed;
* ``$type``, ``$mod``, ``$expr``, ``$where``, ``$text``, ``$comment`` and geo operators are
  rejected, and ``$exists`` takes a boolean or a number only;
* there is no date type: dates are the ISO strings the store writes, compared as strings;
* in SQL, integers beyond 64 bits are compared as doubles and strings containing U+0000 only
  up to that character; documents must be written by orjson (raw UTF-8 keys).

Hot columns passed to :func:`to_sql` must hold the field's string or number unchanged (BINARY
collation, no type conversion), and NULL when the field is missing or null; fields that can hold
booleans, arrays or objects must not be hot.  ``$exists`` and non-scalar values are always read
from ``doc``.  The clause may be NULL instead of 0 for a non-matching row: use it as a
condition, and wrap it in ``IFNULL(..., 0)`` before negating it.
"""

from __future__ import annotations

import ast
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from types import MappingProxyType
from typing import Any

import orjson

from afw.db.query_eval import compile_node
from afw.db.query_parse import parse_filter
from afw.db.query_sql import node_to_sql, sort_to_sql
from afw.db.query_sqlfrag import check_column
from afw.db.query_values import compare, compile_regex
from afw.errors import QueryError

__all__ = [
    "compile_filter",
    "matches",
    "parse_query",
    "register_sqlite_functions",
    "sort_clause",
    "to_sql",
    "validate",
]

_NO_COLUMNS: Mapping[str, str] = MappingProxyType({})


def parse_query(text: str) -> dict[str, Any]:
    """Parse a ``-q`` argument: JSON, or a Python dict literal as FireWorks accepts.

    The result is validated (:func:`validate`); anything else raises :class:`QueryError`.
    """
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        value = _python_literal(text, str(exc).splitlines()[0])
    if not isinstance(value, dict):
        raise QueryError(f"query must be a JSON object, not {type(value).__name__}", query=text)
    validate(value)
    return value


def _python_literal(text: str, json_error: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise QueryError(f"query is not valid JSON: {json_error}", query=text) from None


def validate(query: Mapping[str, Any]) -> None:
    """Raise :class:`QueryError` if ``query`` is not a filter afw can evaluate."""
    parse_filter(query)


def compile_filter(query: Mapping[str, Any]) -> Callable[[Mapping[str, Any]], bool]:
    """Validate ``query`` once and return a fast ``doc -> bool`` matcher."""
    return compile_node(parse_filter(query))


def matches(doc: Mapping[str, Any], query: Mapping[str, Any]) -> bool:
    """Whether ``doc`` (plain JSON data) matches ``query``; compile once for many documents."""
    return compile_filter(query)(doc)


def to_sql(
    query: Mapping[str, Any],
    *,
    doc_column: str = "doc",
    columns: Mapping[str, str] = _NO_COLUMNS,
) -> tuple[str, list[Any]]:
    """A SQLite ``WHERE`` condition and its parameters selecting the rows whose ``doc_column``
    matches ``query``; ``columns`` maps dotted paths to indexed columns holding them."""
    node = parse_filter(query)
    check_column(doc_column)
    for column in columns.values():
        check_column(column)
    sql = node_to_sql(node, doc_column, columns)
    return sql.text, list(sql.params)


def sort_clause(
    sort: Sequence[tuple[str, int]],
    columns: Mapping[str, str] = _NO_COLUMNS,
    *,
    doc_column: str = "doc",
) -> str:
    """``ORDER BY ...`` for MongoDB-style ``[(path, 1 | -1), ...]``, or ``""`` when empty.

    Missing and null values sort first ascending (last descending), then numbers, strings,
    objects, arrays, booleans.  Numeric path components index arrays; unlike MongoDB, an array
    value sorts as a whole rather than by its smallest or largest element.
    """
    check_column(doc_column)
    for column in columns.values():
        check_column(column)
    terms = sort_to_sql(sort, doc_column, columns)
    return f"ORDER BY {terms}" if terms else ""


def register_sqlite_functions(conn: sqlite3.Connection) -> None:
    """Add the deterministic functions :func:`to_sql` clauses call to ``conn``.

    ``afw_regexp(pattern, options, value)`` (1 if the string ``value`` matches),
    ``afw_json_cmp(a_json, b_json)`` (MongoDB order of two JSON values: -1, 0, 1) and
    ``afw_match(filter_json, doc_json)`` (the Python matcher, filters cached in an LRU).
    """
    conn.create_function("afw_regexp", 3, _sql_regexp, deterministic=True)
    conn.create_function("afw_json_cmp", 2, _sql_json_cmp, deterministic=True)
    conn.create_function("afw_match", 2, _sql_match, deterministic=True)


def _sql_regexp(pattern: str, options: str, value: object) -> int:
    if not isinstance(value, str):
        return 0
    return int(compile_regex(pattern, options).search(value) is not None)


def _sql_json_cmp(left: object, right: str) -> int | None:
    # SQLite may call this before the type test that guards it: any non-JSON is "no order".
    if not isinstance(left, str):
        return None
    try:
        return compare(orjson.loads(left), _cached_json(right))
    except orjson.JSONDecodeError:
        return None


def _sql_match(query: str, doc: str | None) -> int:
    if not isinstance(doc, str):
        return 0
    value = orjson.loads(doc)
    if isinstance(value, list):  # an array element under $elemMatch: keys are its indexes
        value = {str(i): v for i, v in enumerate(value)}
    return int(isinstance(value, dict) and _cached_filter(query)(value))


@lru_cache(maxsize=256)
def _cached_filter(query: str) -> Callable[[Mapping[str, Any]], bool]:
    return compile_filter(orjson.loads(query))


@lru_cache(maxsize=256)
def _cached_json(text: str) -> Any:
    return orjson.loads(text)
