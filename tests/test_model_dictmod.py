"""Table tests pinning the DictMod language (reference §10.3, ``afw.dictmod``)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from afw.dictmod import OPERATORS, apply_mod, apply_mods

# (id, document before, modification, document after)
CASES: list[tuple[str, dict[str, Any], dict[str, Any], dict[str, Any]]] = [
    # _set
    ("set-new", {}, {"_set": {"a": 1}}, {"a": 1}),
    ("set-overwrite", {"a": 1, "b": 2}, {"_set": {"a": [3]}}, {"a": [3], "b": 2}),
    ("set-nested-creates", {}, {"_set": {"a->b->c": 1}}, {"a": {"b": {"c": 1}}}),
    (
        "set-nested-existing",
        {"a": {"x": 0, "b": {"y": 1}}},
        {"_set": {"a->b->c": 2}},
        {"a": {"x": 0, "b": {"y": 1, "c": 2}}},
    ),
    ("set-dict-value", {"a": 1}, {"_set": {"a": {"k": "v"}}}, {"a": {"k": "v"}}),
    # _unset
    ("unset", {"a": 1, "b": 2}, {"_unset": {"a": 1}}, {"b": 2}),
    ("unset-nested", {"a": {"b": 1, "c": 2}}, {"_unset": {"a->b": True}}, {"a": {"c": 2}}),
    # _push
    ("push-new", {}, {"_push": {"xs": 1}}, {"xs": [1]}),
    ("push-existing", {"xs": [1]}, {"_push": {"xs": 2}}, {"xs": [1, 2]}),
    ("push-duplicate", {"xs": [1]}, {"_push": {"xs": 1}}, {"xs": [1, 1]}),
    ("push-list-as-one-item", {"xs": [1]}, {"_push": {"xs": [2, 3]}}, {"xs": [1, [2, 3]]}),
    ("push-nested-creates", {}, {"_push": {"a->b->xs": "v"}}, {"a": {"b": {"xs": ["v"]}}}),
    # _push_all
    ("push_all-new", {}, {"_push_all": {"xs": [1, 2]}}, {"xs": [1, 2]}),
    ("push_all-existing", {"xs": [0]}, {"_push_all": {"xs": [1, 1]}}, {"xs": [0, 1, 1]}),
    ("push_all-nested", {"a": {}}, {"_push_all": {"a->xs": [1]}}, {"a": {"xs": [1]}}),
    # _inc
    ("inc-new", {}, {"_inc": {"n": 3}}, {"n": 3}),
    ("inc-existing", {"n": 3}, {"_inc": {"n": 2}}, {"n": 5}),
    ("inc-negative", {"n": 3}, {"_inc": {"n": -5}}, {"n": -2}),
    ("inc-float", {"n": 1}, {"_inc": {"n": 0.5}}, {"n": 1.5}),
    ("inc-nested", {}, {"_inc": {"a->b": 1}}, {"a": {"b": 1}}),
    # _rename (top level only)
    ("rename", {"a": 1, "b": 2}, {"_rename": {"a": "c"}}, {"b": 2, "c": 1}),
    ("rename-missing-noop", {"b": 2}, {"_rename": {"a": "c"}}, {"b": 2}),
    ("rename-overwrites-target", {"a": 1, "c": 9}, {"_rename": {"a": "c"}}, {"c": 1}),
    (
        "rename-arrow-is-a-literal-key",
        {"a": {"b": 1}},
        {"_rename": {"a->b": "c"}},
        {"a": {"b": 1}},
    ),
    # _add_to_set
    ("add_to_set-new", {}, {"_add_to_set": {"s": 1}}, {"s": [1]}),
    ("add_to_set-absent", {"s": [1]}, {"_add_to_set": {"s": 2}}, {"s": [1, 2]}),
    ("add_to_set-present", {"s": [1, 2]}, {"_add_to_set": {"s": 1}}, {"s": [1, 2]}),
    (
        "add_to_set-dict-item",
        {"s": [{"a": 1}]},
        {"_add_to_set": {"s": {"a": 1}}},
        {"s": [{"a": 1}]},
    ),
    ("add_to_set-nested", {}, {"_add_to_set": {"a->s": "x"}}, {"a": {"s": ["x"]}}),
    # _pull
    ("pull", {"xs": [1, 2, 1, 3]}, {"_pull": {"xs": 1}}, {"xs": [2, 3]}),
    ("pull-absent-value", {"xs": [1, 2]}, {"_pull": {"xs": 5}}, {"xs": [1, 2]}),
    ("pull-missing-key-noop", {"a": 1}, {"_pull": {"xs": 1}}, {"a": 1}),
    ("pull-nested", {"a": {"xs": ["p", "q"]}}, {"_pull": {"a->xs": "p"}}, {"a": {"xs": ["q"]}}),
    # _pull_all
    ("pull_all", {"xs": [1, 2, 3, 1]}, {"_pull_all": {"xs": [1, 3]}}, {"xs": [2]}),
    ("pull_all-none-present", {"xs": [1]}, {"_pull_all": {"xs": [7, 8]}}, {"xs": [1]}),
    ("pull_all-missing-key-noop", {}, {"_pull_all": {"xs": [1]}}, {}),
    ("pull_all-nested", {"a": {"xs": [1, 2]}}, {"_pull_all": {"a->xs": [2]}}, {"a": {"xs": [1]}}),
    # _pop: 1 = last, -1 = first
    ("pop-last", {"xs": [1, 2, 3]}, {"_pop": {"xs": 1}}, {"xs": [1, 2]}),
    ("pop-first", {"xs": [1, 2, 3]}, {"_pop": {"xs": -1}}, {"xs": [2, 3]}),
    ("pop-single", {"xs": [1]}, {"_pop": {"xs": 1}}, {"xs": []}),
    ("pop-empty-noop", {"xs": []}, {"_pop": {"xs": -1}}, {"xs": []}),
    ("pop-nested", {"a": {"xs": [1, 2]}}, {"_pop": {"a->xs": -1}}, {"a": {"xs": [2]}}),
]


@pytest.mark.parametrize(
    ("before", "mod", "after"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_operator_table(before: dict[str, Any], mod: dict[str, Any], after: dict[str, Any]) -> None:
    doc = copy.deepcopy(before)
    apply_mod(mod, doc)
    assert doc == after


def test_table_covers_every_operator() -> None:
    expected = {
        "_set",
        "_unset",
        "_push",
        "_push_all",
        "_inc",
        "_rename",
        "_add_to_set",
        "_pull",
        "_pull_all",
        "_pop",
    }
    assert set(OPERATORS) == expected
    assert {op for _, _, mod, _ in CASES for op in mod} == expected


def test_apply_mod_is_in_place_and_returns_none() -> None:
    doc: dict[str, Any] = {"a": 1}
    same = doc
    assert apply_mod({"_set": {"b": 2}}, doc) is None
    assert same is doc
    assert doc == {"a": 1, "b": 2}


@pytest.mark.parametrize("op", ["_bogus", "$set", "set", "_each", ""])
def test_unknown_operator_raises_value_error(op: str) -> None:
    doc = {"a": 1}
    with pytest.raises(ValueError, match="unknown operator"):
        apply_mod({op: {"a": 2}}, doc)
    assert doc == {"a": 1}


def test_unknown_operator_inside_a_list_of_mods() -> None:
    doc: dict[str, Any] = {}
    with pytest.raises(ValueError):
        apply_mods([{"_set": {"a": 1}}, {"_nope": {"a": 2}}], doc)
    # mods before the bad one were applied (in place, no rollback)
    assert doc == {"a": 1}


def test_several_paths_in_one_mod() -> None:
    doc: dict[str, Any] = {"xs": [1], "n": 1}
    apply_mod({"_set": {"a": 1, "b->c": 2, "d->e->f": 3}}, doc)
    assert doc == {"xs": [1], "n": 1, "a": 1, "b": {"c": 2}, "d": {"e": {"f": 3}}}
    apply_mod({"_push": {"xs": 2, "ys": 1, "b->zs": 0}}, doc)
    assert doc["xs"] == [1, 2]
    assert doc["ys"] == [1]
    assert doc["b"] == {"c": 2, "zs": [0]}
    apply_mod({"_inc": {"n": 10, "m": 1}}, doc)
    assert (doc["n"], doc["m"]) == (11, 1)


def test_several_paths_in_one_mod_apply_in_insertion_order() -> None:
    # the second path sees the effect of the first one
    doc: dict[str, Any] = {}
    apply_mod({"_set": {"a": {"x": 1}, "a->y": 2}}, doc)
    assert doc == {"a": {"x": 1, "y": 2}}
    doc = {}
    apply_mod({"_set": {"a->y": 2, "a": {"x": 1}}}, doc)
    assert doc == {"a": {"x": 1}}


def test_several_operators_in_one_mod() -> None:
    doc: dict[str, Any] = {"xs": [1, 2]}
    apply_mod({"_push": {"xs": 3}, "_set": {"k": "v"}}, doc)
    assert doc == {"xs": [1, 2, 3], "k": "v"}


@pytest.mark.parametrize(
    ("mods", "after"),
    [
        ([{"_set": {"a": 1}}, {"_inc": {"a": 2}}], {"a": 3}),
        ([{"_inc": {"a": 2}}, {"_set": {"a": 1}}], {"a": 1}),
        ([{"_push": {"xs": 1}}, {"_push": {"xs": 2}}, {"_pop": {"xs": -1}}], {"xs": [2]}),
        ([{"_push": {"xs": 1}}, {"_pop": {"xs": -1}}, {"_push": {"xs": 2}}], {"xs": [2]}),
        ([{"_set": {"a": 1}}, {"_rename": {"a": "b"}}, {"_set": {"a": 2}}], {"a": 2, "b": 1}),
        ([{"_set": {"a": 1}}, {"_unset": {"a": 1}}], {}),
        ([{"_add_to_set": {"s": 1}}, {"_add_to_set": {"s": 1}}, {"_pull": {"s": 1}}], {"s": []}),
        ([{"_push_all": {"xs": [1, 2, 3]}}, {"_pull_all": {"xs": [1, 3]}}], {"xs": [2]}),
    ],
)
def test_order_of_several_mods(mods: list[dict[str, Any]], after: dict[str, Any]) -> None:
    doc: dict[str, Any] = {}
    apply_mods(mods, doc)
    assert doc == after


def test_apply_mods_empty_list_is_noop() -> None:
    doc = {"a": 1}
    apply_mods([], doc)
    assert doc == {"a": 1}


def test_push_all_does_not_alias_the_value_list() -> None:
    value = [1, 2]
    doc: dict[str, Any] = {}
    apply_mod({"_push_all": {"xs": value}}, doc)
    doc["xs"].append(3)
    assert value == [1, 2]


@pytest.mark.parametrize("op", ["_push", "_push_all", "_add_to_set", "_pull", "_pull_all", "_pop"])
def test_list_operators_refuse_a_non_list(op: str) -> None:
    value: Any = [1] if op in ("_push_all", "_pull_all") else 1
    with pytest.raises(TypeError, match="not a list"):
        apply_mod({op: {"a": value}}, {"a": "not a list"})


@pytest.mark.parametrize(
    "mod",
    [
        {"_set": {"a->b": 1}},
        {"_unset": {"a->b": 1}},
        {"_push": {"a->b": 1}},
        {"_inc": {"a->b": 1}},
        {"_pull": {"a->b": 1}},
        {"_pop": {"a->b": 1}},
    ],
)
@pytest.mark.parametrize("existing", ["text", 5, [1, 2], None])
def test_existing_non_dict_intermediate_is_not_overwritten(
    mod: dict[str, Any], existing: Any
) -> None:
    # "missing intermediate dicts are created": an existing non-dict value is not missing and
    # must not be silently replaced by {} (FireWorks fails on it too).
    doc = {"a": copy.deepcopy(existing)}
    with pytest.raises(TypeError, match="not a dict"):
        apply_mod(mod, doc)
    assert doc == {"a": existing}


def test_mod_value_must_be_a_mapping() -> None:
    with pytest.raises(TypeError):
        apply_mod({"_set": ["a", 1]}, {})
