"""SQL fragments with their parameters, and JSON-path literals, for :mod:`afw.db.query_sql`.

SQLite's parser has a fixed stack (100 entries in common builds) and fails with "parser stack
overflow" on deeply nested expressions, so every fragment carries a conservative estimate of
the stack it needs (:attr:`Sql.depth`), measured per construct on SQLite 3.40.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

__all__ = [
    "EXISTS_DEPTH",
    "GROUP_DEPTH",
    "NOT_DEPTH",
    "Param",
    "Sql",
    "addressable",
    "all_of",
    "any_of",
    "cat",
    "check_column",
    "json_path",
    "nest",
    "sql_literal",
]

GROUP_DEPTH = 4  # "(a OR b)": the parenthesis and a pending operator
NOT_DEPTH = 5  # "NOT IFNULL(x, 0)"
EXISTS_DEPTH = 11  # "EXISTS (SELECT 1 FROM ... WHERE a AND b AND x)"

_COLUMN = re.compile(r"(?:[A-Za-z_][A-Za-z0-9_]*\.)?[A-Za-z_][A-Za-z0-9_]*")
_JSON_EACH_COLUMNS = {"key", "value", "type", "atom", "id", "parent", "fullkey", "path"}
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_UNADDRESSABLE = re.compile(r'["\\\x00-\x1f]')


class Sql(NamedTuple):
    """A piece of SQL, the values of its ``?`` placeholders in order, and its parser depth."""

    text: str
    params: tuple[Any, ...] = ()
    depth: int = 1


@dataclass(frozen=True, slots=True)
class Param:
    """A value to bind to a ``?`` placeholder."""

    value: Any


def cat(*parts: str | Sql | Param) -> Sql:
    """Concatenate raw SQL text, fragments and parameters."""
    texts: list[str] = []
    params: list[Any] = []
    depth = 1
    for part in parts:
        if isinstance(part, str):
            texts.append(part)
        elif isinstance(part, Param):
            texts.append("?")
            params.append(part.value)
        else:
            texts.append(part.text)
            params.extend(part.params)
            depth = max(depth, part.depth)
    return Sql("".join(texts), tuple(params), depth)


def nest(sql: Sql, depth: int) -> Sql:
    """``sql`` wrapped in a construct that needs ``depth`` more parser stack."""
    return sql._replace(depth=sql.depth + depth)


def _join(operator: str, parts: Sequence[Sql], empty: str) -> Sql:
    parts = [p for p in parts if p.text != empty]
    if not parts:
        return Sql(empty)
    if len(parts) == 1:
        return parts[0]
    return nest(cat("(", *_interleave(parts, f" {operator} "), ")"), GROUP_DEPTH)


def _interleave(parts: Sequence[Sql], separator: str) -> list[str | Sql]:
    out: list[str | Sql] = []
    for i, part in enumerate(parts):
        if i:
            out.append(separator)
        out.append(part)
    return out


def all_of(parts: Sequence[Sql]) -> Sql:
    """``(a AND b ...)``; ``1`` when empty, ``0`` when any part is ``0``."""
    if any(p.text == "0" for p in parts):
        return Sql("0")
    return _join("AND", parts, "1")


def any_of(parts: Sequence[Sql]) -> Sql:
    """``(a OR b ...)``; ``0`` when empty, ``1`` when any part is ``1``."""
    if any(p.text == "1" for p in parts):
        return Sql("1")
    return _join("OR", parts, "0")


def sql_literal(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def addressable(component: str) -> bool:
    """Whether SQLite's JSON path syntax can name this object key (no quotes, backslashes or
    control characters: SQLite 3.40 neither unescapes keys nor lets a path escape a quote)."""
    return _UNADDRESSABLE.search(component) is None


def json_path(base: str, keys: Sequence[str]) -> str:
    """Extend the JSON path ``base`` by object ``keys``, quoting those that need it."""
    parts = [base]
    for key in keys:
        parts.append(f".{key}" if _IDENTIFIER.fullmatch(key) else f'."{key}"')
    return "".join(parts)


def check_column(name: str) -> str:
    """Accept a plain or table-qualified column name that json_each's columns cannot shadow."""
    if not _COLUMN.fullmatch(name) or name.lower() in _JSON_EACH_COLUMNS | {"json", "root"}:
        raise ValueError(f"unusable SQL column name {name!r} (qualify it: table.{name})")
    return name
