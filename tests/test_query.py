"""The MongoDB-style filter language: Python matcher, SQLite translation, parsing, errors.

Every table case runs through both engines (``matches`` and ``to_sql`` in a real in-memory
SQLite database); a hypothesis property checks they agree on random documents and filters.
"""

from __future__ import annotations

import datetime
import functools
import sqlite3
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from afw.db.query import (
    compile_filter,
    matches,
    parse_query,
    register_sqlite_functions,
    sort_clause,
    to_sql,
    validate,
)
from afw.db.query_values import compare
from afw.errors import QueryError

HOT = {"h": "h", "s.p": "sp"}
_MODULE_FIXTURE = [HealthCheck.function_scoped_fixture]  # db is module-scoped; rows are reset


@pytest.fixture(scope="module")
def db() -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(":memory:")
    register_sqlite_functions(conn)
    conn.execute("CREATE TABLE docs (id INTEGER PRIMARY KEY, doc TEXT NOT NULL, h, sp)")
    conn.execute("CREATE INDEX docs_h ON docs (h)")
    yield conn
    conn.close()


def _insert(conn: sqlite3.Connection, docs: list[dict[str, Any]]) -> None:
    conn.execute("DELETE FROM docs")
    for i, doc in enumerate(docs):
        text = orjson.dumps(doc).decode()
        conn.execute(
            "INSERT INTO docs VALUES (?, ?, json_extract(?, '$.h'), json_extract(?, '$.s.p'))",
            (i, text, text, text),
        )


def sql_ids(
    conn: sqlite3.Connection, query: Mapping[str, Any], columns: Mapping[str, str]
) -> list[int]:
    where, params = to_sql(query, columns=columns)
    rows = conn.execute(f"SELECT id FROM docs WHERE {where} ORDER BY id", params)
    return [r[0] for r in rows]


def both(conn: sqlite3.Connection, doc: dict[str, Any], query: Mapping[str, Any]) -> bool:
    """``matches`` and the SQL translation (with and without hot columns) must agree."""
    expected = matches(doc, query)
    _insert(conn, [doc])
    for columns in ({}, HOT):
        assert sql_ids(conn, query, columns) == ([0] if expected else []), (doc, query, columns)
    return expected


# ---- table tests: (filter, document, expected) ------------------------------------------------

NULL2_DOCS = [  # MongoDB jstests/core/null2.js: {"a.b": null} matches 2 and 4 (1-based)
    {"a": [{"b": 5}]},
    {"a": [{}]},
    {"a": []},
    {"a": [{}, {"b": 5}]},
    {"a": [5, {"b": 5}]},
]

EQUALITY = [
    ({"a": 1}, {"a": 1}, True),
    ({"a": 1}, {"a": 1.0}, True),
    ({"a": 1.5}, {"a": 1.5}, True),
    ({"a": 1}, {"a": True}, False),
    ({"a": True}, {"a": 1}, False),
    ({"a": True}, {"a": True}, True),
    ({"a": False}, {"a": 0}, False),
    ({"a": False}, {"a": False}, True),
    ({"a": 0}, {"a": False}, False),
    ({"a": 1}, {"a": "1"}, False),
    ({"a": "1"}, {"a": 1}, False),
    ({"a": "x"}, {"a": "x"}, True),
    ({"a": "x"}, {"a": "X"}, False),
    ({"a": 1}, {}, False),
    ({"a": 1}, {"b": 1}, False),
    ({"a": 10**20}, {"a": 1e20}, True),
    ({"a": "é"}, {"a": "é"}, True),
]

ARRAYS = [
    ({"a": "x"}, {"a": ["x", "y"]}, True),
    ({"a": "z"}, {"a": ["x", "y"]}, False),
    ({"a": ["x", "y"]}, {"a": ["x", "y"]}, True),
    ({"a": ["x"]}, {"a": ["x", "y"]}, False),
    ({"a": ["y", "x"]}, {"a": ["x", "y"]}, False),
    ({"a": [1]}, {"a": [[1], 2]}, True),
    ({"a": 1}, {"a": [[1]]}, False),
    ({"a": []}, {"a": []}, True),
    ({"a": []}, {"a": [[]]}, True),
    ({"a": [1.0, 2]}, {"a": [1, 2.0]}, True),
    ({"a": True}, {"a": [1, 0]}, False),
    ({"launches": 12}, {"launches": [11, 12]}, True),
    ({"a.b": 1}, {"a": [{"b": 1}]}, True),
    ({"a.b": 1}, {"a": [{"b": 2}, {"b": 1}]}, True),
    ({"a.b": 1}, {"a": [{"b": [0, 1]}]}, True),
    ({"a.b": 1}, {"a": [[{"b": 1}]]}, False),
    ({"a.b": 1}, {"a": [1, {"c": 1}]}, False),
    ({"a.b.c": 1}, {"a": [{"b": [{"c": 1}]}]}, True),
    ({"a.b.c": 1}, {"a": {"b": [{"c": 2}, {"c": 1}]}}, True),
    (
        {"state_history.reservation_id": "123"},
        {"state_history": [{"state": "RESERVED", "reservation_id": "123"}]},
        True,
    ),
]

OBJECTS = [
    ({"a": {"b": 1}}, {"a": {"b": 1}}, True),
    ({"a": {"b": 1}}, {"a": {"b": 1.0}}, True),
    ({"a": {"b": 1, "c": 2}}, {"a": {"c": 2, "b": 1}}, False),
    ({"a": {"b": 1}}, {"a": {"b": 1, "c": 2}}, False),
    ({"a": {"b": 1}}, {"a": [{"b": 1}, 3]}, True),
    ({"a": {}}, {"a": {}}, True),
    ({"a": {}}, {"a": []}, False),
    ({"a.b": 1}, {"a": {"b": 1}}, True),
    ({"a.b": 1}, {"a": 5}, False),
    ({"a.b": {"c": [1, {"d": True}]}}, {"a": {"b": {"c": [1, {"d": True}]}}}, True),
    ({"a.b": {"c": [1, {"d": True}]}}, {"a": {"b": {"c": [1, {"d": 1}]}}}, False),
]

NULLS = [
    ({"a": None}, {}, True),
    ({"a": None}, {"a": None}, True),
    ({"a": None}, {"a": 0}, False),
    ({"a": None}, {"a": False}, False),
    ({"a": None}, {"a": ""}, False),
    ({"a": None}, {"a": [None]}, True),
    ({"a": None}, {"a": [1]}, False),
    ({"a": None}, {"a": []}, False),
    ({"a.b": None}, {}, True),
    ({"a.b": None}, {"a": 4}, True),
    ({"a.b": None}, {"a": {}}, True),
    ({"a.b": None}, {"a": {"b": None}}, True),
    ({"a.b": None}, {"a": {"b": "hi"}}, False),
    ({"a.b": None}, {"a": [{"b": None}, {"b": 3}]}, True),
    ({"a.b": None}, {"a": [{"b": 3}, {}]}, True),
    ({"a.b": None}, {"a": [{"b": 1}, {"b": 3}]}, False),
    ({"a.b": None}, {"a": [None, None]}, False),  # legacy (<= 8.x) semantics
    ({"a.b": None}, {"a": [[]]}, False),
    *[({"a.b": None}, d, i in (1, 3)) for i, d in enumerate(NULL2_DOCS)],
    *[({"a.b": {"$in": [None]}}, d, i in (1, 3)) for i, d in enumerate(NULL2_DOCS)],
    ({"a.b.c": None}, {"a": [{"b": []}, {"b": {"c": 1}}]}, False),  # jstests indexv.js
]

NE = [
    ({"a": {"$ne": 1}}, {}, True),
    ({"a": {"$ne": 1}}, {"a": 1}, False),
    ({"a": {"$ne": 1}}, {"a": [1, 2]}, False),
    ({"a": {"$ne": 1}}, {"a": [2]}, True),
    ({"a": {"$ne": 1}}, {"a": True}, True),
    ({"a": {"$ne": None}}, {}, False),
    ({"a": {"$ne": None}}, {"a": None}, False),
    ({"a": {"$ne": None}}, {"a": 0}, True),
    ({"a": {"$ne": None}}, {"a": [None, 1]}, False),
    ({"a": {"$ne": None}}, {"a": []}, True),
    ({"a.b": {"$ne": None}}, {"a": [1]}, True),
    ({"a.b": {"$ne": None}}, {"a": [{"b": 1}, {}]}, False),
    ({"a": {"$eq": 1}}, {"a": [0, 1]}, True),
    ({"a": {"$eq": [0, 1]}}, {"a": [0, 1]}, True),
]

COMPARISONS = [
    ({"a": {"$gt": 1}}, {"a": 2}, True),
    ({"a": {"$gt": 1}}, {"a": 1}, False),
    ({"a": {"$gt": 1}}, {"a": 1.5}, True),
    ({"a": {"$gt": 1}}, {"a": "2"}, False),
    ({"a": {"$gt": 1}}, {"a": True}, False),
    ({"a": {"$gt": 0}}, {"a": None}, False),
    ({"a": {"$gt": 0}}, {}, False),
    ({"a": {"$gt": 0}}, {"a": {}}, False),
    ({"a": {"$gt": 1}}, {"a": [0, 5]}, True),
    ({"a": {"$gt": 1}}, {"a": [0]}, False),
    ({"a": {"$gte": 1}}, {"a": 1.0}, True),
    ({"a": {"$lt": 1}}, {"a": -2.5}, True),
    ({"a": {"$lte": 1}}, {"a": 1}, True),
    ({"a": {"$lte": 1}}, {"a": 2}, False),
    ({"a": {"$lt": "b"}}, {"a": "a"}, True),
    ({"a": {"$lt": "b"}}, {"a": "B"}, True),
    ({"a": {"$lt": "b"}}, {"a": "ba"}, False),
    ({"a": {"$lt": "b"}}, {"a": 1}, False),
    ({"a": {"$gt": "é"}}, {"a": "z"}, False),
    ({"a": {"$gt": "é"}}, {"a": "ö"}, True),
    ({"created_on": {"$gte": "2026-01-01"}}, {"created_on": "2026-03-01T00:00:00+00:00"}, True),
    ({"a": {"$gt": False}}, {"a": True}, True),
    ({"a": {"$gt": False}}, {"a": 1}, False),
    ({"a": {"$gte": False}}, {"a": False}, True),
    ({"a": {"$lt": True}}, {"a": False}, True),
    ({"a": {"$lte": True}}, {"a": True}, True),
    ({"a": {"$gt": True}}, {"a": True}, False),
    ({"a": {"$gte": None}}, {"a": None}, True),
    ({"a": {"$gte": None}}, {}, True),
    ({"a": {"$gte": None}}, {"a": 0}, False),
    ({"a": {"$lte": None}}, {}, True),
    ({"a": {"$gt": None}}, {"a": None}, False),
    ({"a": {"$lt": None}}, {}, False),
    ({"a": {"$gt": [1]}}, {"a": [2]}, True),
    ({"a": {"$gt": [1]}}, {"a": [1, 0]}, True),
    ({"a": {"$gt": [1]}}, {"a": [0]}, False),
    ({"a": {"$lt": [1]}}, {"a": [[0]]}, True),
    ({"a": {"$gt": {"b": 1}}}, {"a": {"b": 2}}, True),
    ({"a": {"$gt": {"b": 1}}}, {"a": {"c": 0}}, True),
    ({"a": {"$gt": {"b": 1}}}, {"a": {"b": "x"}}, True),
    ({"a": {"$gt": {"b": 1}}}, {"a": {"b": 0}}, False),
    ({"a": {"$gt": {"b": 1}}}, {"a": 5}, False),
    ({"a": {"$gt": 1, "$lt": 3}}, {"a": [0, 5]}, True),  # each operator on any element
    ({"a": {"$gt": 1, "$lt": 3}}, {"a": [2]}, True),
    ({"a": {"$gt": 1, "$lt": 3}}, {"a": 5}, False),
    ({"a.b": {"$gt": 1}}, {"a": [{"b": 0}, {"b": 2}]}, True),
    ({"spec._priority": {"$gt": 2}}, {"spec": {"_priority": 5}}, True),
    ({"spec._priority": {"$gt": 2}}, {"spec": {}}, False),
]

IN_NIN = [
    ({"a": {"$in": [1, 2]}}, {"a": 2}, True),
    ({"a": {"$in": [1, 2]}}, {"a": 2.0}, True),
    ({"a": {"$in": [1, 2]}}, {"a": [3, 2]}, True),
    ({"a": {"$in": [1, 2]}}, {"a": 3}, False),
    ({"a": {"$in": [1, 2]}}, {"a": True}, False),
    ({"a": {"$in": [1, "2"]}}, {"a": 2}, False),
    ({"a": {"$in": [1, "2"]}}, {"a": "2"}, True),
    ({"a": {"$in": [True]}}, {"a": 1}, False),
    ({"a": {"$in": [True]}}, {"a": True}, True),
    ({"a": {"$in": [False, None]}}, {"a": False}, True),
    ({"a": {"$in": [None]}}, {}, True),
    ({"a": {"$in": [None]}}, {"a": None}, True),
    ({"a": {"$in": [None, 75]}}, {"a": 4}, False),
    ({"a": {"$in": []}}, {"a": 1}, False),
    ({"a": {"$in": [[1, 2]]}}, {"a": [1, 2]}, True),
    ({"a": {"$in": [[1, 2]]}}, {"a": [[1, 2]]}, True),
    ({"a": {"$in": [[1, 2]]}}, {"a": 1}, False),
    ({"a": {"$in": [{"b": 1}]}}, {"a": {"b": 1}}, True),
    ({"a": {"$in": [{"b": 1}]}}, {"a": [{"b": 1.0}]}, True),
    ({"fw_id": {"$in": list(range(0, 3000, 3))}}, {"fw_id": 2997}, True),
    ({"fw_id": {"$in": list(range(0, 3000, 3))}}, {"fw_id": 2998}, False),
    ({"a": {"$nin": [1, 2]}}, {"a": 3}, True),
    ({"a": {"$nin": [1, 2]}}, {}, True),
    ({"a": {"$nin": [1, 2]}}, {"a": [3, 1]}, False),
    ({"a": {"$nin": [None]}}, {}, False),
    ({"a": {"$nin": [None]}}, {"a": 1}, True),
    ({"a": {"$nin": []}}, {"a": 1}, True),
    ({"a.b": {"$nin": [None, 75]}}, {"a": [{"b": 1}, {"b": 3}]}, True),
    ({"a.b": {"$nin": [None, 75]}}, {"a": [{"b": 3}, {}]}, False),
]

EXISTS = [
    ({"a": {"$exists": True}}, {"a": None}, True),
    ({"a": {"$exists": True}}, {}, False),
    ({"a": {"$exists": True}}, {"a": []}, True),
    ({"a": {"$exists": False}}, {}, True),
    ({"a": {"$exists": False}}, {"a": None}, False),
    ({"a": {"$exists": 1}}, {"a": 0}, True),
    ({"a": {"$exists": 0}}, {"a": 0}, False),
    ({"a.b": {"$exists": True}}, {"a": [{"c": 1}, {"b": None}]}, True),
    ({"a.b": {"$exists": True}}, {"a": [{"c": 1}]}, False),
    ({"a.b": {"$exists": True}}, {"a": [1]}, False),
    ({"a.b": {"$exists": False}}, {"a": [1]}, True),
    ({"a.b": {"$exists": False}}, {"a": {"b": 1}}, False),
    ({"a.1": {"$exists": True}}, {"a": [1]}, False),
    ({"a.1": {"$exists": True}}, {"a": [1, 2]}, True),
    ({"a.0": {"$exists": False}}, {"a": []}, True),
    ({"spec._fworker": {"$exists": False}}, {"spec": {"_fworker": None}}, False),
]

REGEX = [
    ({"a": {"$regex": "^ab"}}, {"a": "abc"}, True),
    ({"a": {"$regex": "^ab"}}, {"a": "xab"}, False),
    ({"a": {"$regex": "b"}}, {"a": "abc"}, True),
    ({"a": {"$regex": "^ab"}}, {"a": ["x", "abz"]}, True),
    ({"a": {"$regex": "5"}}, {"a": 5}, False),
    ({"a": {"$regex": "."}}, {}, False),
    ({"a": {"$regex": "."}}, {"a": None}, False),
    ({"a": {"$regex": "AB"}}, {"a": "xaby"}, False),
    ({"a": {"$regex": "AB", "$options": "i"}}, {"a": "xaby"}, True),
    ({"a": {"$regex": "^b"}}, {"a": "a\nb"}, False),
    ({"a": {"$regex": "^b", "$options": "m"}}, {"a": "a\nb"}, True),
    ({"a": {"$regex": "a.b"}}, {"a": "a\nb"}, False),
    ({"a": {"$regex": "a.b", "$options": "s"}}, {"a": "a\nb"}, True),
    ({"a": {"$regex": "a b # comment"}}, {"a": "ab"}, False),
    ({"a": {"$regex": "a b # comment", "$options": "x"}}, {"a": "ab"}, True),
    ({"a": {"$regex": "^B", "$options": "mi"}}, {"a": "a\nb"}, True),
    ({"a": {"$options": "i", "$regex": "X"}}, {"a": "x"}, True),
    ({"a": {"$not": {"$regex": "^a"}}}, {"a": "b"}, True),
    ({"a": {"$not": {"$regex": "^a"}}}, {"a": "a"}, False),
    ({"a": {"$not": {"$regex": "^a"}}}, {}, True),
    (
        {"action.stored_data._exception._stacktrace": {"$regex": "ValueError"}},
        {"action": {"stored_data": {"_exception": {"_stacktrace": "Traceback\nValueError: x"}}}},
        True,
    ),
    ({"name": {"$regex": "^fw-\\d+$"}}, {"name": "fw-12"}, True),
]

NOT_ALL_SIZE = [
    ({"a": {"$not": {"$gt": 5}}}, {"a": 3}, True),
    ({"a": {"$not": {"$gt": 5}}}, {"a": 6}, False),
    ({"a": {"$not": {"$gt": 5}}}, {}, True),
    ({"a": {"$not": {"$gt": 5}}}, {"a": "x"}, True),
    ({"a": {"$not": {"$gt": 5}}}, {"a": [3, 6]}, False),
    ({"a": {"$not": {"$gt": 1, "$lt": 5}}}, {"a": 7}, True),
    ({"a": {"$not": {"$gte": None}}}, {"a": []}, True),
    ({"a": {"$not": {"$in": [1]}}}, {"a": 2}, True),
    ({"a": {"$not": {"$not": {"$eq": 1}}}}, {"a": 1}, True),
    ({"a": {"$all": [1, 2]}}, {"a": [1, 2, 3]}, True),
    ({"a": {"$all": [1, 2]}}, {"a": [1]}, False),
    ({"a": {"$all": [1, 2]}}, {"a": [[1, 2]]}, False),
    ({"a": {"$all": [1]}}, {"a": 1}, True),
    ({"a": {"$all": [[1, 2]]}}, {"a": [1, 2]}, True),
    ({"a": {"$all": [[1, 2]]}}, {"a": [[1, 2], 3]}, True),
    ({"a": {"$all": []}}, {"a": []}, False),
    (
        {"a": {"$all": [{"$elemMatch": {"b": 1}}, {"$elemMatch": {"c": 2}}]}},
        {"a": [{"b": 1}, {"c": 2}]},
        True,
    ),
    (
        {"a": {"$all": [{"$elemMatch": {"b": 1}}, {"$elemMatch": {"c": 2}}]}},
        {"a": [{"b": 1}]},
        False,
    ),
    ({"a": {"$size": 2}}, {"a": [1, 2]}, True),
    ({"a": {"$size": 2}}, {"a": [1]}, False),
    ({"a": {"$size": 2}}, {"a": "ab"}, False),
    ({"a": {"$size": 2}}, {"a": {"x": 1, "y": 2}}, False),
    ({"a": {"$size": 2}}, {}, False),
    ({"a": {"$size": 2}}, {"a": [[1, 2]]}, False),
    ({"a": {"$size": 1}}, {"a": [[1, 2]]}, True),
    ({"a": {"$size": 0}}, {"a": []}, True),
    ({"a": {"$size": 2.0}}, {"a": [1, 2]}, True),
    ({"a.b": {"$size": 2}}, {"a": [{"b": [1]}, {"b": [1, 2]}]}, True),
    ({"launches": {"$size": 0}}, {"launches": []}, True),
    ({"a": {"$not": {"$size": 0}}}, {"a": []}, False),
]

ELEM_MATCH = [
    ({"a": {"$elemMatch": {"$gt": 1, "$lt": 3}}}, {"a": [0, 5]}, False),
    ({"a": {"$elemMatch": {"$gt": 1, "$lt": 3}}}, {"a": [0, 2]}, True),
    ({"a": {"$elemMatch": {"$gt": 1, "$lt": 3}}}, {"a": 2}, False),
    ({"a": {"$elemMatch": {"b": 1, "c": 2}}}, {"a": [{"b": 1}, {"c": 2}]}, False),
    ({"a": {"$elemMatch": {"b": 1, "c": 2}}}, {"a": [{"b": 1, "c": 2}]}, True),
    ({"a": {"$elemMatch": {"b": None}}}, {"a": [[]]}, True),  # an array element is an object
    ({"a": {"$elemMatch": {"0": 5}}}, {"a": [[5]]}, True),
    ({"a": {"$elemMatch": {"b": None}}}, {"a": [1]}, False),
    ({"a": {"$elemMatch": {"b": None}}}, {"a": [{}]}, True),
    ({"a": {"$elemMatch": {"b": {"$ne": None}}}}, {"a": [{"b": 3}, {}]}, True),
    ({"a": {"$elemMatch": {"$eq": None}}}, {"a": [None]}, True),
    ({"a": {"$elemMatch": {"$eq": None}}}, {"a": []}, False),
    ({"a": {"$elemMatch": {"$eq": None}}}, {"a": None}, False),
    ({"a": {"$elemMatch": {"$ne": None}}}, {"a": [[]]}, True),
    ({"a": {"$elemMatch": {"$ne": None}}}, {"a": [None]}, False),
    ({"a": {"$elemMatch": {"$eq": 1}}}, {"a": [[1]]}, False),
    ({"a": {"$elemMatch": {"$elemMatch": {"$eq": 1}}}}, {"a": [[1]]}, True),
    ({"a": {"$elemMatch": {"$in": [1, "x"]}}}, {"a": [2, "x"]}, True),
    ({"a": {"$elemMatch": {"$nin": [1, 2]}}}, {"a": [1, 2]}, False),
    ({"a": {"$elemMatch": {"$exists": True}}}, {"a": [1]}, True),
    ({"a": {"$elemMatch": {"$exists": False}}}, {"a": [1]}, False),
    ({"a": {"$elemMatch": {"$regex": "^x", "$options": "i"}}}, {"a": [1, "Xy"]}, True),
    ({"a": {"$elemMatch": {"$size": 1}}}, {"a": [[1], 2]}, True),
    ({"a": {"$elemMatch": {"$not": {"$gt": 1}}}}, {"a": [5, 0]}, True),
    ({"a": {"$elemMatch": {"$not": {"$gt": 1}}}}, {"a": [5]}, False),
    ({"a": {"$elemMatch": {"$all": [1]}}}, {"a": [1]}, True),
    ({"a": {"$elemMatch": {"$all": []}}}, {"a": [1]}, False),
    ({"a": {"$elemMatch": {"$eq": {"b": 1}}}}, {"a": [{"b": 1}]}, True),
    ({"a": {"$elemMatch": {"$gt": True}}}, {"a": [True]}, False),
    ({"a": {"$elemMatch": {"$lt": None}}}, {"a": [None]}, False),
    ({"a": {"$elemMatch": {"$or": [{"b": 1}, {"c": 1}]}}}, {"a": [{"c": 1}]}, True),
    ({"a": {"$elemMatch": {"b.c": 1}}}, {"a": [{"b": [{"c": 1}]}]}, True),
    ({"a": {"$elemMatch": {}}}, {"a": [{}]}, True),
    ({"a": {"$elemMatch": {}}}, {"a": [1]}, False),
    ({"a": {"$elemMatch": {}}}, {"a": []}, False),
    ({"a.b": {"$elemMatch": {"$eq": 2}}}, {"a": [{"b": [1]}, {"b": [2]}]}, True),
    ({"a": {"$elemMatch": {'q"k': 1}}}, {"a": [{'q"k': 1}]}, True),
]

LOGICAL = [
    ({}, {}, True),
    ({}, {"a": 1}, True),
    ({"$and": [{"a": 1}, {"b": 2}]}, {"a": 1, "b": 2}, True),
    ({"$and": [{"a": 1}, {"b": 2}]}, {"a": 1}, False),
    ({"$or": [{"a": 1}, {"b": 2}]}, {"b": 2}, True),
    ({"$or": [{"a": 1}, {"b": 2}]}, {}, False),
    ({"$nor": [{"a": 1}]}, {}, True),
    ({"$nor": [{"a": 1}, {"b": 1}]}, {"b": 1}, False),
    ({"a": 1, "b": 2}, {"a": 1, "b": 3}, False),
    ({"$and": [{"$or": [{"a": 1}, {"a": 2}]}, {"$nor": [{"b": 1}]}]}, {"a": 2, "b": 2}, True),
    (
        {
            "$or": [
                {"spec._fworker": {"$exists": False}},
                {"spec._fworker": None},
                {"spec._fworker": "w"},
            ]
        },
        {"spec": {"_fworker": "other"}},
        False,
    ),
    (
        {
            "$or": [
                {"spec._fworker": {"$exists": False}},
                {"spec._fworker": None},
                {"spec._fworker": "w"},
            ]
        },
        {"spec": {"_fworker": ["w", "v"]}},
        True,
    ),
]

NUMERIC_PATHS = [
    ({"launches.0": 12}, {"launches": [12, 13]}, True),
    ({"launches.0": 12}, {"launches": [13, 12]}, False),
    ({"launches.1": 12}, {"launches": [13, 12]}, True),
    ({"a.0": 1}, {"a": {"0": 1}}, True),
    ({"a.0": 1}, {"a": [{"0": 1}]}, True),
    ({"a.0.b": 1}, {"a": [{"b": 1}]}, True),
    ({"a.1.b": 1}, {"a": [{"b": 1}]}, False),
    ({"a.0.b": 1}, {"a": [[{"b": 1}]]}, True),
    ({"a.0.0": 1}, {"a": [[1]]}, True),
    ({"a.0": 1}, {"a": [[1]]}, False),
    ({"a.0": [1]}, {"a": [[1]]}, True),
    ({"a.01": 1}, {"a": [1]}, False),
    ({"a.01": 1}, {"a": {"01": 1}}, True),
    ({"a.0": None}, {"a": []}, False),
    ({"a.5": None}, {"a": [1]}, False),
    ({"a.b.0": "x"}, {"a": [{"b": ["x"]}]}, True),
    ({"a.0.b.1": 2}, {"a": [{"b": [1, 2]}]}, True),
    ({"a.99999999999999999999": 1}, {"a": [1]}, False),
    ({"a.0": {"$gt": 0}}, {"a": [5]}, True),
]

SPECIAL_KEYS = [
    ({"a b": 1}, {"a b": 1}, True),
    ({"x.a b": 1}, {"x": {"a b": 1}}, True),
    ({"x.$k": 1}, {"x": {"$k": 1}}, True),
    ({"it's": 1}, {"it's": 1}, True),
    ({'q"k': 1}, {'q"k': 1}, True),
    ({'q"k': 1}, {'q"k': 2}, False),
    ({"back\\slash": {"$exists": False}}, {"back\\slash": 2}, False),
    ({"new\nline.x": 1}, {"new\nline": [{"x": 1}]}, True),
    ({"é": "ü"}, {"é": "ü"}, True),
    ({"[0]": 1}, {"[0]": 1}, True),
    (
        {".".join("abcdefghij"): 1},
        {"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": {"i": {"j": [1]}}}}}}}}}},
        True,
    ),
]

TABLE = [
    *EQUALITY,
    *ARRAYS,
    *OBJECTS,
    *NULLS,
    *NE,
    *COMPARISONS,
    *IN_NIN,
    *EXISTS,
    *REGEX,
    *NOT_ALL_SIZE,
    *ELEM_MATCH,
    *LOGICAL,
    *NUMERIC_PATHS,
    *SPECIAL_KEYS,
]


@pytest.mark.parametrize(
    ("query", "doc", "expected"), TABLE, ids=[str(i) for i in range(len(TABLE))]
)
def test_table(
    db: sqlite3.Connection, query: dict[str, Any], doc: dict[str, Any], expected: bool
) -> None:
    assert matches(doc, query) is expected
    both(db, doc, query)


HOT_TABLE = [
    ({"h": "x"}, {"h": "x"}, True),
    ({"h": "x"}, {"h": 1}, False),
    ({"h": 1}, {"h": "1"}, False),
    ({"h": "1"}, {"h": 1}, False),
    ({"h": 1}, {"h": 1.0}, True),
    ({"h": None}, {}, True),
    ({"h": None}, {"h": None}, True),
    ({"h": None}, {"h": 0}, False),
    ({"h": {"$exists": True}}, {"h": None}, True),
    ({"h": {"$exists": False}}, {"h": None}, False),
    ({"h": {"$gt": 1}}, {"h": "2"}, False),
    ({"h": {"$gt": "1"}}, {"h": 2}, False),
    ({"h": {"$gt": 1}}, {"h": 2}, True),
    ({"h": {"$gte": None}}, {}, True),
    ({"h": {"$in": ["a", 2, None]}}, {"h": 2}, True),
    ({"h": {"$in": ["a", 2, None]}}, {}, True),
    ({"h": {"$in": ["a", 2]}}, {"h": "2"}, False),
    ({"h": {"$in": ["a", 2]}}, {"h": "a"}, True),
    ({"h": {"$nin": ["a", 2]}}, {}, True),
    ({"h": {"$ne": "a"}}, {}, True),
    ({"h": {"$ne": "a"}}, {"h": "a"}, False),
    ({"h": {"$regex": "^A", "$options": "i"}}, {"h": "abc"}, True),
    ({"h": {"$regex": "1"}}, {"h": 1}, False),
    ({"s.p": {"$lt": 3}}, {"s": {"p": 2}}, True),
    ({"s.p": {"$lt": 3}}, {"s": {}}, False),
    ({"s.p": None}, {}, True),
]


@pytest.mark.parametrize(("query", "doc", "expected"), HOT_TABLE)
def test_hot_columns(
    db: sqlite3.Connection, query: dict[str, Any], doc: dict[str, Any], expected: bool
) -> None:
    assert both(db, doc, query) is expected


def test_hot_columns_replace_json_extract() -> None:
    where, params = to_sql(
        {"state": {"$in": ["READY", "WAITING"]}, "spec._priority": {"$gte": 2}, "fw_id": 7},
        columns={"state": "state", "spec._priority": "priority", "fw_id": "f.fw_id"},
    )
    assert "json_" not in where.replace("json_each(?)", "")
    assert "state IN" in where and "priority >= ?" in where and "f.fw_id = ?" in where
    assert params == ['["READY","WAITING"]', 2, 7]


def test_hot_columns_use_indexes(db: sqlite3.Connection) -> None:
    where, params = to_sql({"h": {"$in": ["a", "b"]}}, columns=HOT)
    plan = " ".join(
        r[3] for r in db.execute(f"EXPLAIN QUERY PLAN SELECT id FROM docs WHERE {where}", params)
    )
    assert "INDEX docs_h (h=?)" in plan


def test_json_paths_are_quoted() -> None:
    where, _ = to_sql({"a b.c": 1, "x.0": 2})
    assert """'$."a b".c'""" in where
    assert """'$.x."0"'""" in where and ".key = 0" in where
    assert "'$.x[0]'" in sort_clause([("x.0", 1)])


def test_unaddressable_keys_fall_back_to_python() -> None:
    where, params = to_sql({'we"ird': 1})
    assert where == "afw_match(?, doc)"
    assert orjson.loads(params[0]) == {'we"ird': {"$eq": 1}}


def test_doc_column_can_be_renamed(db: sqlite3.Connection) -> None:
    _insert(db, [{"a": [1, 2]}, {"a": 3}])
    where, params = to_sql({"a": 2, "z": {"$exists": False}}, doc_column="docs.doc")
    assert "docs.doc" in where
    assert [r[0] for r in db.execute(f"SELECT id FROM docs WHERE {where}", params)] == [0]


@pytest.mark.parametrize("name", ["value", "key", "json", "doc; DROP TABLE x", "1doc", "a.b.c"])
def test_bad_column_names(name: str) -> None:
    with pytest.raises(ValueError, match="column"):
        to_sql({"a": 1}, doc_column=name)
    with pytest.raises(ValueError, match="column"):
        to_sql({"a": 1}, columns={"a": name})


def test_negated_clause_stays_two_valued(db: sqlite3.Connection) -> None:
    docs = [{"a": 1}, {"a": None}, {}, {"a": [1, None]}, {"a": "x"}]
    _insert(db, docs)
    for query in ({"a": {"$ne": 1}}, {"$nor": [{"a": {"$gt": 0}}]}, {"a": {"$not": {"$lt": 5}}}):
        expected = [i for i, d in enumerate(docs) if matches(d, query)]
        assert sql_ids(db, query, {}) == expected


def _deep_filters() -> list[dict[str, Any]]:
    logic: dict[str, Any] = {"a": 1}
    for i in range(40):
        logic = {"$or" if i % 2 else "$and": [logic, {"b": {"$ne": i}}]}
    elem: dict[str, Any] = {"x": 1}
    for _ in range(12):
        elem = {"a.b": {"$elemMatch": elem}}
    negations: dict[str, Any] = {"$gt": 0}
    for _ in range(30):
        negations = {"$not": negations}
    wide = {"$or": [{f"k{i}.a.b": i} for i in range(300)]}
    return [logic, elem, {"a": negations}, wide, {".".join("abcdefghijk"): 1}]


@pytest.mark.parametrize(
    "query", _deep_filters(), ids=["logic", "elemMatch", "not", "wide", "path"]
)
def test_deep_filters_fit_sqlites_parser(db: sqlite3.Connection, query: dict[str, Any]) -> None:
    docs = [{"a": 1, "b": 3}, {"a": [{"b": [{"x": 1}]}]}, {"a": 5}, {"k7": {"a": {"b": 7}}}, {}]
    _insert(db, docs)
    where, params = to_sql(query)
    wrapped = "(" * 25 + where + ")" * 25  # room for the statement around the clause
    rows = db.execute(f"SELECT id FROM docs WHERE {wrapped} ORDER BY id", params)
    assert [r[0] for r in rows] == [i for i, d in enumerate(docs) if matches(d, query)]


def test_empty_filter() -> None:
    assert to_sql({}) == ("1", [])
    assert matches({}, {})


def test_compile_filter_is_reusable() -> None:
    test = compile_filter({"state": {"$in": ["READY", "RESERVED"]}, "spec._category": "cpu"})
    fws = [
        {"state": "READY", "spec": {"_category": "cpu"}},
        {"state": "READY", "spec": {"_category": "gpu"}},
        {"state": "RUNNING", "spec": {"_category": "cpu"}},
        {"state": "RESERVED", "spec": {"_category": ["gpu", "cpu"]}},
    ]
    assert [test(fw) for fw in fws] == [True, False, False, True]


def test_sql_functions_directly(db: sqlite3.Connection) -> None:
    row = db.execute(
        "SELECT afw_regexp('^a', 'i', 'Abc'), afw_regexp('^a', '', 5), afw_json_cmp('[1,2]', '[1]'),"
        ' afw_json_cmp(\'{"a":1}\', \'{"a":1.0}\'), afw_match(\'{"a":{"$gt":1}}\', \'{"a":[0,2]}\'),'
        " afw_match('{\"a\":1}', NULL), afw_match('{\"0\":1}', '[1]')"
    ).fetchone()
    assert row == (1, 0, 1, 0, 1, 0, 1)


# ---- sorting ----------------------------------------------------------------------------------


def _mongo_sort_key(path: str, direction: int) -> Any:
    def key(item: tuple[int, dict[str, Any]]) -> Any:
        return item[1].get(path)

    def cmp(x: tuple[int, dict[str, Any]], y: tuple[int, dict[str, Any]]) -> int:
        return compare(key(x), key(y)) * direction or (x[0] > y[0]) - (x[0] < y[0])

    return functools.cmp_to_key(cmp)


SORT_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.floats(-5, 5, allow_nan=False),
    st.text(alphabet="aAbé", max_size=3),
)


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=_MODULE_FIXTURE)
@given(
    docs=st.lists(st.dictionaries(st.sampled_from(["v"]), SORT_VALUES), max_size=8),
    direction=st.sampled_from([1, -1]),
)
def test_sort_clause_orders_like_mongodb(
    db: sqlite3.Connection, docs: list[dict[str, Any]], direction: int
) -> None:
    _insert(db, docs)
    order = sort_clause([("v", direction)])
    got = [r[0] for r in db.execute(f"SELECT id FROM docs {order}, id ASC")]
    expected = [i for i, _ in sorted(enumerate(docs), key=_mongo_sort_key("v", direction))]
    assert got == expected


def test_sort_clause_uses_hot_columns() -> None:
    assert sort_clause([]) == ""
    clause = sort_clause(
        [("spec._priority", -1), ("created_on", 1)], {"spec._priority": "priority"}
    )
    assert clause.startswith("ORDER BY priority DESC, ")
    assert "json_extract(doc, '$.created_on') ASC" in clause
    assert "'$.launches[0]'" in sort_clause([("launches.0", 1)])


@pytest.mark.parametrize(
    "sort", [[("a", 0)], [("a", True)], [("a", "asc")], [("a..b", 1)], [('q"', 1)]]
)
def test_bad_sort(sort: Any) -> None:
    with pytest.raises(QueryError):
        sort_clause(sort)


# ---- parsing and validation -------------------------------------------------------------------


def test_parse_query_json_and_python_literals() -> None:
    assert parse_query('{"state": "READY", "spec._priority": {"$gt": 1}}') == {
        "state": "READY",
        "spec._priority": {"$gt": 1},
    }
    assert parse_query("{'a': True, 'b': None, 'c': (1, 2)}") == {"a": True, "b": None, "c": (1, 2)}
    assert matches({"c": [1, 2]}, parse_query("{'c': (1, 2)}"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{bad", "query is not valid JSON: "),
        ("", "query is not valid JSON: "),
        ("state=READY", "query is not valid JSON: "),
        ("[1, 2]", "query must be a JSON object, not list"),
        ('"x"', "query must be a JSON object, not str"),
        ("{'a': {1, 2}}", "set is not a JSON value"),
        ("{1: 2}", "field names must be strings"),
        ('{"a": {"$foo": 1}}', "unknown operator $foo"),
        ("{'a': float('nan')}", "query is not valid JSON"),
    ],
)
def test_parse_query_errors(text: str, message: str) -> None:
    with pytest.raises(QueryError, match=message.replace("$", r"\$").replace("[", r"\[")) as info:
        parse_query(text)
    assert "\n" not in str(info.value)


BAD_FILTERS = [
    ({"a": {"$foo": 1}}, "unknown operator $foo"),
    ({"a": {"$type": "string"}}, "unknown operator $type"),
    ({"a": {"$gt": 1, "b": 2}}, "cannot mix operators and field names"),
    ({"$where": "1"}, "unknown top-level operator $where"),
    ({"$expr": {}}, "unknown top-level operator $expr"),
    ({"$not": {"a": 1}}, "$not applies to a field"),
    ({"$and": []}, "non-empty array"),
    ({"$or": {"a": 1}}, "non-empty array"),
    ({"$or": [1]}, "a filter must be an object"),
    ({"a": {"$in": 1}}, "$in needs an array"),
    ({"a": {"$nin": "ab"}}, "$nin needs an array"),
    ({"a": {"$in": [{"$gt": 1}]}}, "cannot be operator objects"),
    ({"a": {"$all": 1}}, "$all needs an array"),
    ({"a": {"$all": [1, {"$elemMatch": {"b": 1}}]}}, "cannot mix"),
    ({"a": {"$size": -1}}, "$size needs"),
    ({"a": {"$size": 1.5}}, "$size needs"),
    ({"a": {"$size": True}}, "$size needs"),
    ({"a": {"$size": "1"}}, "$size needs"),
    ({"a": {"$exists": "yes"}}, "$exists needs"),
    ({"a": {"$regex": 5}}, "$regex needs a string"),
    ({"a": {"$regex": "("}}, "invalid $regex"),
    ({"a": {"$regex": "a", "$options": "z"}}, "unknown $options flag"),
    ({"a": {"$regex": "a", "$options": 1}}, "$options needs a string"),
    ({"a": {"$options": "i"}}, "$options needs a $regex"),
    ({"a": {"$elemMatch": 1}}, "$elemMatch needs an object"),
    ({"a": {"$elemMatch": {"$gt": 1, "b": 1}}}, "cannot mix"),
    ({"a": {"$elemMatch": {"b": {"$bad": 1}}}}, "unknown operator"),
    ({"a": {"$not": {}}}, "$not needs"),
    ({"a": {"$not": 5}}, "$not needs"),
    ({"a": {"$not": {"b": 1}}}, "$not needs"),
    ({"a..b": 1}, "empty path component"),
    ({"": 1}, "empty path component"),
    ({"a": float("nan")}, "not a finite number"),
    ({"a": {"$gt": float("inf")}}, "not a finite number"),
    ({"a": datetime.datetime(2026, 1, 1)}, "datetime is not a JSON value"),
    ({"a": {1: 2}}, "object keys must be strings"),
    ({"a": {"$in": [{1, 2}]}}, "set is not a JSON value"),
]


@pytest.mark.parametrize(("query", "message"), BAD_FILTERS)
def test_bad_filters(query: Any, message: str) -> None:
    for check in (validate, compile_filter, lambda q: to_sql(q)):
        with pytest.raises(QueryError) as info:
            check(query)
        assert message in str(info.value)


def test_filter_must_be_a_mapping() -> None:
    with pytest.raises(QueryError, match="a filter must be an object"):
        validate([("a", 1)])  # type: ignore[arg-type]


# ---- property: SQL translation == Python matcher ----------------------------------------------

KEYS = st.sampled_from(["a", "a", "b", "b", "0", "1", 'x"y'])  # 'x"y' needs afw_match
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-2, 2),
    st.sampled_from([0.5, -1.5, 2.0, 1e20, 2**62]),
    st.sampled_from(["", "a", "b", "ab", "B", "é", "a\nb", "1"]),
)
VALUES = st.recursive(
    SCALARS,
    lambda kids: st.one_of(st.lists(kids, max_size=3), st.dictionaries(KEYS, kids, max_size=3)),
    max_leaves=8,
)
QUERY_VALUES = st.one_of(  # mostly scalars, so that filters often split the documents
    SCALARS,
    SCALARS,
    st.lists(SCALARS, max_size=2),
    st.dictionaries(KEYS, SCALARS, max_size=2),
)
HOT_SCALARS = st.one_of(st.none(), st.integers(-2, 2), st.sampled_from([0.5, "a", "b", "1"]))


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    doc: dict[str, Any] = draw(st.dictionaries(KEYS, VALUES, min_size=1, max_size=4))
    if draw(st.booleans()):
        doc["h"] = draw(HOT_SCALARS)
    if draw(st.booleans()):
        doc["s"] = {"p": draw(HOT_SCALARS)} if draw(st.booleans()) else {}
    return doc


PATHS = st.one_of(
    KEYS,
    st.lists(KEYS, min_size=2, max_size=3).map(".".join),
    st.sampled_from(["h", "s.p", "s"]),
)
REGEXES = st.tuples(
    st.sampled_from(["^a", "b$", "A", ".", "^$", "a.b"]), st.sampled_from(["", "i", "m", "s", "ms"])
)


def filters(
    paths: st.SearchStrategy[str], values: st.SearchStrategy[Any]
) -> st.SearchStrategy[dict[str, Any]]:
    """Random filters over ``paths`` comparing with ``values``."""

    def leaves() -> st.SearchStrategy[dict[str, Any]]:
        condition = st.one_of(values, operators(values, strategy))
        return st.one_of(st.dictionaries(paths, condition, min_size=1, max_size=2), _PAIRED)

    strategy: st.SearchStrategy[dict[str, Any]] = st.deferred(
        lambda: st.recursive(leaves(), _combined, max_leaves=3)
    )
    return strategy


def operators(
    values: st.SearchStrategy[Any], subfilters: st.SearchStrategy[dict[str, Any]]
) -> st.SearchStrategy[dict[str, Any]]:
    """Random operator objects (``{"$gt": 1, "$ne": null}``), $elemMatch using ``subfilters``."""
    single = st.one_of(
        st.tuples(st.sampled_from(["$eq", "$ne", "$gt", "$gte", "$lt", "$lte"]), values),
        st.tuples(st.sampled_from(["$in", "$nin", "$all"]), st.lists(values, max_size=3)),
        st.tuples(st.just("$exists"), st.booleans()),
        st.tuples(st.just("$size"), st.integers(0, 2)),
        st.tuples(st.just("$regex"), REGEXES),
        st.tuples(st.just("$elemMatch"), subfilters),
    )
    ops = st.lists(single, min_size=1, max_size=2, unique_by=lambda t: t[0]).map(_operator_object)
    return st.one_of(ops, ops.map(lambda o: {"$not": o}), ops.map(lambda o: {"$elemMatch": o}))


def _operator_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for op, arg in pairs:
        if op == "$regex":
            out["$regex"], out["$options"] = arg
        else:
            out[op] = arg
    return out


def _combined(kids: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    logical = st.sampled_from(["$and", "$or", "$nor"])
    return st.builds(lambda op, items: {op: items}, logical, st.lists(kids, min_size=1, max_size=3))


def _contents(value: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, Any]]:
    """(dotted path, value) pairs MongoDB can reach in a document, array indexes included."""
    if prefix:
        yield ".".join(prefix), value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _contents(item, (*prefix, key))
    elif isinstance(value, list) and prefix:
        for index, item in enumerate(value):
            yield from _contents(item, (*prefix, str(index)))
            if isinstance(item, dict):
                yield from _contents(item, prefix)


@dataclass(frozen=True)
class _Pick:
    """A placeholder for the path (or value) of the n-th thing found in the documents."""

    n: int
    path: bool


def _resolve(query: Any, found: list[tuple[str, Any]]) -> Any:
    if isinstance(query, _Pick):
        path, value = found[query.n % len(found)] if found else ("a", None)
        return path if query.path else value
    if isinstance(query, dict):
        return {_resolve(k, found): _resolve(v, found) for k, v in query.items()}
    if isinstance(query, list):
        return [_resolve(v, found) for v in query]
    return query


def _paired(n: int, op: str) -> dict[Any, Any]:
    value: Any = _Pick(n, path=False)
    if op in ("$in", "$nin", "$all"):
        value = [value]
    return {_Pick(n, path=True): value if op == "=" else {op: value}}


_PAIRED = st.builds(  # a path found in a document with the value found there
    _paired,
    st.integers(0, 10_000),
    st.sampled_from(["=", "$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$all"]),
)
_PICKED_PATHS = st.integers(0, 10_000).map(lambda n: _Pick(n, path=True))
_PICKED_VALUES = st.integers(0, 10_000).map(lambda n: _Pick(n, path=False))
FILTERS = filters(st.one_of(PATHS, _PICKED_PATHS), st.one_of(QUERY_VALUES, _PICKED_VALUES))


@st.composite
def cases(draw: st.DrawFn) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Documents, and a filter that often uses their paths and values."""
    docs = draw(st.lists(documents(), min_size=1, max_size=10))
    found = [pair for doc in docs for pair in _contents(doc)]
    return docs, _resolve(draw(FILTERS), found)


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=_MODULE_FIXTURE)
@given(case=cases())
def test_sql_agrees_with_matches(
    db: sqlite3.Connection, case: tuple[list[dict[str, Any]], dict[str, Any]]
) -> None:
    docs, query = case
    _insert(db, docs)
    expected = [i for i, doc in enumerate(docs) if matches(doc, query)]
    assert sql_ids(db, query, {}) == expected
    assert sql_ids(db, query, HOT) == expected
