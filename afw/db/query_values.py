"""MongoDB's ordering of JSON values, for the filter evaluator in :mod:`afw.db.query`.

MongoDB compares values of different types by a fixed type order (its "type bracketing")::

    missing/null < numbers < strings < objects < arrays < booleans

Query comparisons (``$gt`` and friends) only ever match values of the query value's own
bracket; equality across brackets never holds (``true`` is not ``1``).  Objects compare field
by field in stored order (type of the value, then the name, then the value), arrays element by
element.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache
from typing import Any, Final

from afw.errors import QueryError

__all__ = [
    "ARRAY",
    "BOOL",
    "MISSING",
    "NULL",
    "NUMBER",
    "OBJECT",
    "OTHER",
    "STRING",
    "check_number",
    "compare",
    "compile_regex",
    "is_number",
    "rank",
]


class _Missing:
    """The value of a path that leads nowhere (distinct from JSON ``null``)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()

NULL, NUMBER, STRING, OBJECT, ARRAY, BOOL, OTHER = range(1, 8)

_REGEX_FLAGS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "x": re.VERBOSE, "u": 0}


def is_number(value: object) -> bool:
    """True for ints and floats, false for booleans (which Python counts as ints)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def rank(value: object) -> int:
    """The type bracket of a JSON value (see the module docstring)."""
    if value is None:
        return NULL
    if value is True or value is False:
        return BOOL
    if isinstance(value, int | float):
        return NUMBER
    if isinstance(value, str):
        return STRING
    if isinstance(value, dict):
        return OBJECT
    if isinstance(value, list):
        return ARRAY
    return OTHER


def compare(a: Any, b: Any) -> int:
    """-1, 0 or 1 as ``a`` sorts before, with or after ``b`` in MongoDB's total order."""
    ra, rb = rank(a), rank(b)
    if ra != rb:
        return -1 if ra < rb else 1
    if ra == OBJECT:
        return _compare_objects(a, b)
    if ra == ARRAY:
        return _compare_arrays(a, b)
    if ra in (NULL, OTHER):
        return 0
    return int(a > b) - int(a < b)


def _compare_objects(a: dict[str, Any], b: dict[str, Any]) -> int:
    for (ka, va), (kb, vb) in zip(a.items(), b.items(), strict=False):
        ra, rb = rank(va), rank(vb)
        if ra != rb:
            return -1 if ra < rb else 1
        if ka != kb:
            return -1 if ka < kb else 1
        order = compare(va, vb)
        if order:
            return order
    return int(len(a) > len(b)) - int(len(a) < len(b))


def _compare_arrays(a: list[Any], b: list[Any]) -> int:
    for va, vb in zip(a, b, strict=False):
        order = compare(va, vb)
        if order:
            return order
    return int(len(a) > len(b)) - int(len(a) < len(b))


def check_number(value: float) -> None:
    """Reject NaN and infinities, which JSON (and so the store) cannot hold."""
    if isinstance(value, float) and not math.isfinite(value):
        raise QueryError(f"query value {value!r} is not a finite number")


@lru_cache(maxsize=512)
def compile_regex(pattern: str, options: str) -> re.Pattern[str]:
    """Compile a ``$regex`` with MongoDB ``$options`` (i, m, s, x; u is accepted and ignored)."""
    flags = 0
    for letter in options:
        if letter not in _REGEX_FLAGS:
            raise QueryError(f"unknown $options flag {letter!r} (supported: i, m, s, x)")
        flags |= _REGEX_FLAGS[letter]
    try:
        return re.compile(pattern, flags)
    except re.error as exc:
        raise QueryError(f"invalid $regex {pattern!r}: {exc}") from None
