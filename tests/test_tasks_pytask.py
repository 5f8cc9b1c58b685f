"""PyTask: import paths, args/inputs/kwargs, outputs, async and thread execution, loading."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from helpers.taskrun import run

from afw.action import FWAction
from afw.errors import TaskError, TaskParamError
from afw.tasks import load_task
from afw.tasks.pytask import PyTask, import_callable

pytestmark = pytest.mark.anyio


async def test_dotted_function_with_one_output(tmp_path: Path) -> None:
    task = PyTask(func="math.pow", args=[2, 3], outputs=["p"], stored_data_varname="power")
    action = await run(task, tmp_path)
    assert action.update_spec == {"p": 8.0}
    assert action.stored_data == {"power": 8.0}
    assert action.mod_spec == []


async def test_builtin_with_inputs(tmp_path: Path) -> None:
    task = PyTask(func="len", inputs=["items"], outputs=["n"])
    action = await run(task, tmp_path, {"items": [1, 2, 3]})
    assert action.update_spec == {"n": 3}


async def test_nested_input_key(tmp_path: Path) -> None:
    task = PyTask(func="max", args=[1], inputs=["a->b"], outputs=["m"])
    action = await run(task, tmp_path, {"a": {"b": 7}})
    assert action.update_spec == {"m": 7}


async def test_missing_input_key(tmp_path: Path) -> None:
    with pytest.raises(TaskError, match="no key 'absent'"):
        await run(PyTask(func="len", inputs=["absent"]), tmp_path, {})


async def test_several_outputs_unpack(tmp_path: Path) -> None:
    action = await run(PyTask(func="divmod", args=[7, 2], outputs=["q", "r"]), tmp_path)
    assert action.update_spec == {"q": 3, "r": 1}
    with pytest.raises(TaskError, match="3 values"):
        await run(PyTask(func="divmod", args=[7, 2], outputs=["a", "b", "c"]), tmp_path)


async def test_chunk_number_pushes(tmp_path: Path) -> None:
    task = PyTask(func="math.pow", args=[2, 2], outputs=["results"], chunk_number=0)
    action = await run(task, tmp_path)
    assert action.update_spec == {}
    assert action.mod_spec == [{"_push": {"results": 4.0}}]


async def test_kwargs(tmp_path: Path) -> None:
    task = PyTask(func="sorted", args=[[3, 1, 2]], kwargs={"reverse": True}, outputs=["s"])
    assert (await run(task, tmp_path)).update_spec == {"s": [3, 2, 1]}


async def test_auto_kwargs(tmp_path: Path) -> None:
    task = PyTask(func="dict", auto_kwargs=True, a=1, b="x", outputs=["d"])
    assert (await run(task, tmp_path)).update_spec == {"d": {"a": 1, "b": "x"}}


async def test_no_outputs_returns_none(tmp_path: Path) -> None:
    assert await run(PyTask(func="print", args=["hello"]), tmp_path) is None


async def test_fwaction_passes_through(tmp_path: Path) -> None:
    task = PyTask(func="afw.action.FWAction", kwargs={"stored_data": {"x": 1}}, outputs=["ignored"])
    action = await run(task, tmp_path)
    assert isinstance(action, FWAction)
    assert action.stored_data == {"x": 1}
    assert action.update_spec == {}


async def test_coroutine_function_is_awaited(tmp_path: Path) -> None:
    action = await run(PyTask(func="asyncio.sleep", args=[0, "done"], outputs=["r"]), tmp_path)
    assert action.update_spec == {"r": "done"}


async def test_sync_function_runs_in_worker_thread(tmp_path: Path) -> None:
    action = await run(PyTask(func="threading.get_ident", outputs=["tid"]), tmp_path)
    assert action.update_spec["tid"] != threading.get_ident()


async def test_worker_thread_sees_launch_dir(tmp_path: Path) -> None:
    task = PyTask(func="afw.tasks.context.launch_dir", outputs=["where"])
    assert (await run(task, tmp_path)).update_spec == {"where": tmp_path}


async def test_colon_path(tmp_path: Path) -> None:
    task = PyTask(func="os.path:join", args=["a", "b"], outputs=["p"])
    assert (await run(task, tmp_path)).update_spec == {"p": "a/b"}


def test_import_callable_forms() -> None:
    import math
    import os.path

    assert import_callable("math.pow") is math.pow
    assert import_callable("os.path.join") is os.path.join
    assert import_callable("pathlib.Path.cwd") == Path.cwd
    assert import_callable("len") is len


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "missing"),
        ({"auto_kwargs": True}, "missing"),
        ({"func": "len", "bogus": 1}, "unknown"),
        ({"func": "no_such_module_afw.f"}, "cannot import"),
        ({"func": "no_such_module_afw:f"}, "cannot import"),
        ({"func": "math.no_such_function"}, "cannot find"),
        ({"func": "no_such_builtin_afw"}, "cannot find"),
        ({"func": "os.sep"}, "not callable"),
        ({"func": ""}, "dotted path"),
        ({"func": 3}, "dotted path"),
        ({"func": "len", "args": "abc"}, "args"),
        ({"func": "len", "kwargs": []}, "kwargs"),
        ({"func": "len", "inputs": "x"}, "inputs"),
        ({"func": "len", "outputs": [1]}, "outputs"),
    ],
)
def test_bad_parameters(params: dict[str, Any], message: str) -> None:
    with pytest.raises(TaskParamError, match=message):
        PyTask(params)


def test_documented_parameters_accepted() -> None:
    PyTask(
        func="math.pow",
        args=[1, 2],
        kwargs={},
        auto_kwargs=False,
        stored_data_varname="v",
        inputs=["a"],
        outputs=["b"],
        chunk_number=1,
    )


@pytest.mark.parametrize(
    "name",
    ["PyTask", "{{fireworks.user_objects.firetasks.script_task.PyTask}}"],
)
async def test_load_from_fireworks_dict(tmp_path: Path, name: str) -> None:
    task = load_task({"_fw_name": name, "func": "math.sqrt", "args": [16], "outputs": ["r"]})
    assert isinstance(task, PyTask)
    assert (await run(task, tmp_path)).update_spec == {"r": 4.0}
    assert task.to_dict()["_fw_name"] == "PyTask"


def test_load_with_bad_func_fails_at_load_time() -> None:
    with pytest.raises(TaskParamError, match="cannot import"):
        load_task({"_fw_name": "PyTask", "func": "no_such_module_afw.run"})
