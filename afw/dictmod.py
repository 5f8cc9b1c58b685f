"""The DictMod language used by ``FWAction.mod_spec`` (FireWorks compatible).

A modification is a one-key dict ``{"_op": {path: value, ...}}``; a path is a key or a nested path
written ``a->b->c``. Missing intermediate dicts are created. The operators are those of FireWorks:
``_set _unset _push _push_all _inc _rename _add_to_set _pull _pull_all _pop``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ["OPERATORS", "apply_mod", "apply_mods"]

_Op = Callable[[dict[str, Any], str, Any], None]


def _parent(doc: dict[str, Any], path: str) -> tuple[dict[str, Any], str]:
    *heads, last = path.split("->")
    node = doc
    for key in heads:
        if key not in node:
            node[key] = {}
        child = node[key]
        if not isinstance(child, dict):
            # Only *missing* intermediates are created; never overwrite existing data.
            raise TypeError(f"mod_spec: {key!r} in path {path!r} is not a dict")
        node = child
    return node, last


def _list_at(node: dict[str, Any], key: str, path: str) -> list[Any]:
    value = node.setdefault(key, [])
    if not isinstance(value, list):
        raise TypeError(f"mod_spec: {path!r} is not a list")
    return value


def _set(doc: dict[str, Any], path: str, value: Any) -> None:
    node, key = _parent(doc, path)
    node[key] = value


def _unset(doc: dict[str, Any], path: str, _value: Any) -> None:
    node, key = _parent(doc, path)
    node.pop(key, None)


def _push(doc: dict[str, Any], path: str, value: Any) -> None:
    node, key = _parent(doc, path)
    _list_at(node, key, path).append(value)


def _push_all(doc: dict[str, Any], path: str, value: Any) -> None:
    node, key = _parent(doc, path)
    _list_at(node, key, path).extend(value)


def _inc(doc: dict[str, Any], path: str, value: Any) -> None:
    node, key = _parent(doc, path)
    node[key] = node.get(key, 0) + value


def _rename(doc: dict[str, Any], path: str, value: Any) -> None:
    # FireWorks renames top-level keys only.
    if path in doc:
        doc[str(value)] = doc.pop(path)


def _add_to_set(doc: dict[str, Any], path: str, value: Any) -> None:
    node, key = _parent(doc, path)
    items = _list_at(node, key, path)
    if value not in items:
        items.append(value)


def _pull(doc: dict[str, Any], path: str, value: Any) -> None:
    node, key = _parent(doc, path)
    if key in node:
        node[key] = [item for item in _list_at(node, key, path) if item != value]


def _pull_all(doc: dict[str, Any], path: str, value: Any) -> None:
    node, key = _parent(doc, path)
    if key in node:
        node[key] = [item for item in _list_at(node, key, path) if item not in value]


def _pop(doc: dict[str, Any], path: str, value: Any) -> None:
    node, key = _parent(doc, path)
    items = _list_at(node, key, path)
    if items:
        items.pop(-1 if value > 0 else 0)


OPERATORS: dict[str, _Op] = {
    "_set": _set,
    "_unset": _unset,
    "_push": _push,
    "_push_all": _push_all,
    "_inc": _inc,
    "_rename": _rename,
    "_add_to_set": _add_to_set,
    "_pull": _pull,
    "_pull_all": _pull_all,
    "_pop": _pop,
}


def apply_mod(mod: Mapping[str, Any], doc: dict[str, Any]) -> None:
    """Apply one modification to ``doc`` in place; unknown operators raise ``ValueError``."""
    for op_name, changes in mod.items():
        op = OPERATORS.get(op_name)
        if op is None:
            raise ValueError(f"mod_spec: unknown operator {op_name!r}")
        if not isinstance(changes, Mapping):
            raise TypeError(f"mod_spec: {op_name} expects a mapping of paths to values")
        for path, value in changes.items():
            # A copy: the same mod is applied to several specs and must not alias them.
            op(doc, str(path), copy.deepcopy(value))


def apply_mods(mods: Iterable[Mapping[str, Any]], doc: dict[str, Any]) -> None:
    """Apply a list of modifications in order."""
    for mod in mods:
        apply_mod(mod, doc)
