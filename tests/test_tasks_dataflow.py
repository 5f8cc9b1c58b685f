"""JoinDictTask, JoinListTask, ImportDataTask."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers.taskrun import run

from afw.errors import TaskError, TaskParamError
from afw.tasks import load_task
from afw.tasks.dataflow import ImportDataTask, JoinDictTask, JoinListTask, spec_value

pytestmark = pytest.mark.anyio


def test_spec_value() -> None:
    spec = {"a": {"b": {"c": 1}}, "x->y": 2}
    assert spec_value(spec, "a->b->c") == 1
    assert spec_value(spec, "a") == {"b": {"c": 1}}
    assert spec_value(spec, "a->z", None) is None
    with pytest.raises(TaskError, match="no key"):
        spec_value(spec, "a->b->c->d")


async def test_join_dict(tmp_path: Path) -> None:
    spec = {"a": 1, "b": {"c": 2}, "d": 3, "out": {"kept": True}}
    before = copy.deepcopy(spec)
    task = JoinDictTask(inputs=["a", "b->c", "d"], output="out", rename={"d": "e->f"})
    action = await run(task, tmp_path, spec)
    assert action.update_spec == {
        "out": {"kept": True, "a": 1, "b": {"c": 2}, "e": {"f": 3}},
    }
    assert spec == before


async def test_join_dict_errors(tmp_path: Path) -> None:
    with pytest.raises(TaskError, match="not a dict"):
        await run(JoinDictTask(inputs=["a"], output="out"), tmp_path, {"a": 1, "out": [1]})
    with pytest.raises(TaskError, match="no key 'a'"):
        await run(JoinDictTask(inputs=["a"], output="out"), tmp_path, {})


async def test_join_list(tmp_path: Path) -> None:
    spec = {"a": 1, "b": [2], "out": [0]}
    action = await run(JoinListTask(inputs=["a", "b"], output="out"), tmp_path, spec)
    assert action.update_spec == {"out": [0, 1, [2]]}
    assert spec["out"] == [0]
    fresh = await run(JoinListTask(inputs=["a"], output="new"), tmp_path, spec)
    assert fresh.update_spec == {"new": [1]}
    with pytest.raises(TaskError, match="not a list"):
        await run(JoinListTask(inputs=["a"], output="a"), tmp_path, spec)


async def test_import_json_into_nested_path(tmp_path: Path) -> None:
    (tmp_path / "data.json").write_text(json.dumps({"x": 1, "y": [1, 2]}))
    spec = {"a": {"b": {"c": {"old": 0}}, "other": 5}}
    before = copy.deepcopy(spec)
    action = await run(ImportDataTask(filename="data.json", mapstring="a/b/c"), tmp_path, spec)
    assert action.update_spec == {"a": {"b": {"c": {"old": 0, "x": 1, "y": [1, 2]}}, "other": 5}}
    assert spec == before


async def test_import_yaml_creates_path(tmp_path: Path) -> None:
    (tmp_path / "d.yaml").write_text(yaml.safe_dump([1, 2, 3]))
    action = await run(ImportDataTask(filename="d.yaml", mapstring="p/q"), tmp_path, {})
    assert action.update_spec == {"p": {"q": [1, 2, 3]}}
    (tmp_path / "e.yml").write_text("k: v\n")
    action = await run(ImportDataTask(filename="e.yml", mapstring="top"), tmp_path, {"top": 1})
    assert action.update_spec == {"top": {"k": "v"}}


async def test_import_errors(tmp_path: Path) -> None:
    with pytest.raises(TaskError, match="cannot read"):
        await run(ImportDataTask(filename="missing.json", mapstring="a"), tmp_path, {})
    (tmp_path / "bad.json").write_text("{nope")
    with pytest.raises(TaskError, match="cannot parse"):
        await run(ImportDataTask(filename="bad.json", mapstring="a"), tmp_path, {})
    (tmp_path / "ok.json").write_text("1")
    with pytest.raises(TaskError, match="not a dict"):
        await run(ImportDataTask(filename="ok.json", mapstring="a/b"), tmp_path, {"a": 3})


@pytest.mark.parametrize(
    ("cls", "params"),
    [
        (JoinDictTask, {"inputs": ["a"]}),
        (JoinDictTask, {"output": "o"}),
        (JoinDictTask, {"inputs": "a", "output": "o"}),
        (JoinDictTask, {"inputs": ["a"], "output": 3}),
        (JoinDictTask, {"inputs": ["a"], "output": "o", "rename": ["a"]}),
        (JoinDictTask, {"inputs": ["a"], "output": "o", "bogus": 1}),
        (JoinListTask, {"inputs": ["a"]}),
        (JoinListTask, {"inputs": [1], "output": "o"}),
        (JoinListTask, {"inputs": ["a"], "output": "o", "rename": {}}),
        (ImportDataTask, {"filename": "a.json"}),
        (ImportDataTask, {"mapstring": "a"}),
        (ImportDataTask, {"filename": "a.txt", "mapstring": "a"}),
        (ImportDataTask, {"filename": "a.json", "mapstring": "a//b"}),
        (ImportDataTask, {"filename": "a.json", "mapstring": "a", "bogus": 1}),
    ],
)
def test_bad_parameters(cls: type[Any], params: dict[str, Any]) -> None:
    with pytest.raises(TaskParamError):
        cls(params)


@pytest.mark.parametrize(
    "data",
    [
        {"_fw_name": "JoinDictTask", "inputs": ["a"], "output": "o", "rename": {"a": "b"}},
        {"_fw_name": "JoinListTask", "inputs": ["a"], "output": "o"},
        {"_fw_name": "ImportDataTask", "filename": "d.json", "mapstring": "a/b"},
    ],
    ids=lambda d: d["_fw_name"],
)
def test_load_from_fireworks_dict(data: dict[str, Any]) -> None:
    name = data["_fw_name"]
    task = load_task(data)
    assert type(task).__name__ == name
    assert task.to_dict() == data
    explicit = {
        **data,
        "_fw_name": f"{{{{fireworks.user_objects.firetasks.dataflow_tasks.{name}}}}}",
    }
    assert type(load_task(explicit)) is type(task)
