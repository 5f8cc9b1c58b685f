"""Parse a MongoDB-style filter into the tree of :mod:`afw.db.query_ast`, rejecting what
MongoDB would reject (unknown operators, malformed arguments) with one clear line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
)
from afw.db.query_values import MISSING, check_number, compile_regex, is_number
from afw.errors import QueryError

__all__ = ["parse_filter"]

LOGICAL = ("$and", "$or", "$nor")


def parse_filter(query: Mapping[str, Any]) -> Node:
    """Parse and validate a whole filter; raise :class:`QueryError` naming the first problem."""
    if not isinstance(query, Mapping):
        raise QueryError(f"a filter must be an object, not {_kind(query)}")
    return _all([_parse_entry(key, value) for key, value in query.items()])


def _parse_entry(key: Any, value: Any) -> Node:
    if not isinstance(key, str):
        raise QueryError(f"field names must be strings, not {key!r}")
    if key.startswith("$"):
        return _parse_logical(key, value)
    path = _split_path(key)
    if _is_operator_object(value, key):
        return _lift(key, path, _parse_operators(key, value))
    return Field(key, path, Eq(_literal(value, key)))


def _parse_logical(op: str, value: Any) -> Node:
    if op not in LOGICAL:
        hint = " ($not applies to a field: {field: {$not: {...}}})" if op == "$not" else ""
        raise QueryError(f"unknown top-level operator {op} (supported: $and, $or, $nor){hint}")
    if not isinstance(value, list | tuple) or not value:
        raise QueryError(f"{op} needs a non-empty array of filters")
    children = tuple(parse_filter(item) for item in value)
    if op == "$and":
        return _all(children)
    return Or(children) if op == "$or" else Not(Or(children))


def _split_path(key: str) -> tuple[str, ...]:
    path = tuple(key.split("."))
    if "" in path:
        raise QueryError(f"invalid field path {key!r}: empty path component")
    return path


def _is_operator_object(value: Any, where: str) -> bool:
    if not isinstance(value, Mapping) or not value:
        return False
    dollars = [isinstance(k, str) and k.startswith("$") for k in value]
    if any(dollars) and not all(dollars):
        raise QueryError(f"cannot mix operators and field names in the filter for {where!r}")
    return all(dollars)


def _parse_operators(where: str, ops: Mapping[str, Any]) -> Pred:
    """The predicate of an operator object such as ``{"$gt": 1, "$lt": 5}``."""
    if "$options" in ops and "$regex" not in ops:
        raise QueryError(f"$options needs a $regex (in the filter for {where!r})")
    preds = [_parse_operator(where, op, arg, ops) for op, arg in ops.items() if op != "$options"]
    return preds[0] if len(preds) == 1 else AndP(tuple(preds))


def _parse_operator(where: str, op: str, arg: Any, ops: Mapping[str, Any]) -> Pred:
    if op in ("$eq", "$ne"):
        eq = Eq(_literal(arg, where))
        return eq if op == "$eq" else NotP(eq)
    if op in COMPARISONS:
        return _comparison(where, op, arg)
    if op in ("$in", "$nin"):
        values = In(tuple(_in_value(v, where, op) for v in _array(arg, op, where)))
        return values if op == "$in" else NotP(values)
    if op == "$exists":
        return Exists() if _truth(arg, where) else NotP(Exists())
    if op == "$regex":
        return _regex(where, arg, ops.get("$options", ""))
    parser = _OTHER_OPERATORS.get(op)
    if parser is None:
        raise QueryError(f"unknown operator {op} in the filter for {where!r}")
    return parser(where, arg)


def _comparison(where: str, op: str, arg: Any) -> Pred:
    value = _literal(arg, where)
    if value is not None:
        return Cmp(op, value)
    # MongoDB: $gte/$lte null mean "equal to null"; $gt/$lt null match nothing.
    return Eq(None) if op in ("$gte", "$lte") else ConstP(False)


def _regex(where: str, pattern: Any, options: Any) -> Pred:
    if not isinstance(pattern, str):
        raise QueryError(f"$regex needs a string (in the filter for {where!r})")
    if not isinstance(options, str):
        raise QueryError(f"$options needs a string (in the filter for {where!r})")
    compile_regex(pattern, options)
    return Regex(pattern, options)


def _size(where: str, arg: Any) -> Pred:
    whole = isinstance(arg, int) or (isinstance(arg, float) and arg.is_integer())
    if not is_number(arg) or not whole or arg < 0:
        raise QueryError(f"$size needs a non-negative whole number (in the filter for {where!r})")
    return Size(int(arg))


def _elem_match(where: str, arg: Any) -> Pred:
    if not isinstance(arg, Mapping):
        raise QueryError(f"$elemMatch needs an object (in the filter for {where!r})")
    keys = [k for k in arg if isinstance(k, str) and k.startswith("$") and k not in LOGICAL]
    if not keys:
        return ElemMatchDoc(parse_filter(arg), arg)
    if len(keys) != len(arg):
        raise QueryError(f"$elemMatch cannot mix operators and field names (in {where!r})")
    return ElemMatchValue(_parse_operators(where, arg), arg)


def _all_of(where: str, arg: Any) -> Pred:
    items = _array(arg, "$all", where)
    if not items:
        return ConstP(False)
    matchers = [_is_elem_match(item) for item in items]
    if any(matchers) and not all(matchers):
        raise QueryError(f"$all cannot mix $elemMatch and plain values (in {where!r})")
    if all(matchers):
        return AndP(tuple(_elem_match(where, item["$elemMatch"]) for item in items))
    return AndP(tuple(Eq(_literal(item, where)) for item in items))


def _not(where: str, arg: Any) -> Pred:
    if not _is_operator_object(arg, where):
        raise QueryError(f"$not needs a non-empty object of operators (in {where!r})")
    return NotP(_parse_operators(where, arg))


_OTHER_OPERATORS = {"$size": _size, "$elemMatch": _elem_match, "$all": _all_of, "$not": _not}


def _lift(dotted: str, path: tuple[str, ...], pred: Pred) -> Node:
    """Turn a predicate of a field's operator object into document-level nodes."""
    match pred:
        case NotP(pred=inner):
            return Not(_lift(dotted, path, inner))
        case AndP(preds=preds):
            return _all([_lift(dotted, path, p) for p in preds])
        case ConstP(value=value):
            return Const(value)
        case _:
            return Field(dotted, path, pred)


def _all(children: Sequence[Node]) -> Node:
    return children[0] if len(children) == 1 else And(tuple(children))


def _is_elem_match(item: Any) -> bool:
    return isinstance(item, Mapping) and len(item) == 1 and "$elemMatch" in item


def _array(arg: Any, op: str, where: str) -> list[Any]:
    if not isinstance(arg, list | tuple):
        raise QueryError(f"{op} needs an array (in the filter for {where!r})")
    return list(arg)


def _in_value(value: Any, where: str, op: str) -> Any:
    if _is_operator_object(value, where):
        raise QueryError(f"{op} values cannot be operator objects (in {where!r})")
    return _literal(value, where)


def _truth(arg: Any, where: str) -> bool:
    if not isinstance(arg, bool) and not is_number(arg):
        raise QueryError(f"$exists needs true or false (in the filter for {where!r})")
    return bool(arg)


def _literal(value: Any, where: str) -> Any:
    """A JSON value (tuples become lists); anything JSON cannot hold is a QueryError."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int | float):
        check_number(value)
        return value
    if isinstance(value, list | tuple):
        return [_literal(v, where) for v in value]
    if isinstance(value, Mapping):
        return {_key(k, where): _literal(v, where) for k, v in value.items()}
    if value is MISSING:
        raise QueryError(f"MISSING is not a query value (in the filter for {where!r})")
    raise QueryError(f"{_kind(value)} is not a JSON value (in the filter for {where!r})")


def _key(key: Any, where: str) -> str:
    if not isinstance(key, str):
        raise QueryError(f"object keys must be strings, not {key!r} (in {where!r})")
    return key


def _kind(value: object) -> str:
    return type(value).__name__
