"""FileWriteTask, FileDeleteTask, FileTransferTask: launch-dir paths, modes, errors, loading."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import anyio
import pytest
from helpers.taskrun import run

from afw.errors import TaskError, TaskParamError
from afw.tasks import load_task
from afw.tasks.fileio import FileDeleteTask, FileTransferTask, FileWriteTask

pytestmark = pytest.mark.anyio


# --- FileWriteTask ------------------------------------------------------------------------


async def test_write_in_launch_dir(tmp_path: Path) -> None:
    assert Path.cwd() != tmp_path
    files = [{"filename": "a.txt", "contents": "A"}, {"filename": "b.txt", "contents": "B\n"}]
    assert await run(FileWriteTask(files_to_write=files), tmp_path) is None
    assert (tmp_path / "a.txt").read_text() == "A"
    assert (tmp_path / "b.txt").read_text() == "B\n"


async def test_write_to_dest(tmp_path: Path) -> None:
    task = FileWriteTask(files_to_write=[{"filename": "x", "contents": "1"}], dest="sub/dir")
    await run(task, tmp_path)
    assert (tmp_path / "sub" / "dir" / "x").read_text() == "1"


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"files_to_write": [], "bogus": 1},
        {"files_to_write": {"filename": "a", "contents": "b"}},
        {"files_to_write": [{"filename": "a"}]},
        {"files_to_write": [{"filename": "a", "contents": 3}]},
    ],
)
def test_write_bad_parameters(params: dict[str, Any]) -> None:
    with pytest.raises(TaskParamError):
        FileWriteTask(params)


# --- FileDeleteTask -----------------------------------------------------------------------


async def test_delete(tmp_path: Path) -> None:
    (tmp_path / "a").write_text("")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b").write_text("")
    await run(FileDeleteTask(files_to_delete=["a", "missing"]), tmp_path)
    await run(FileDeleteTask(files_to_delete=["b"], dest="sub"), tmp_path)
    assert not (tmp_path / "a").exists()
    assert not (tmp_path / "sub" / "b").exists()


async def test_delete_errors_when_asked(tmp_path: Path) -> None:
    with pytest.raises(TaskError, match="missing"):
        await run(FileDeleteTask(files_to_delete=["missing"], ignore_errors=False), tmp_path)


@pytest.mark.parametrize(
    "params",
    [{}, {"files_to_delete": ["a"], "bogus": 1}, {"files_to_delete": "a"}],
)
def test_delete_bad_parameters(params: dict[str, Any]) -> None:
    with pytest.raises(TaskParamError):
        FileDeleteTask(params)


# --- FileTransferTask ---------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["copy", "cp", "copy2"])
async def test_copy_into_dest_dir(tmp_path: Path, mode: str) -> None:
    (tmp_path / "a.txt").write_text("A")
    (tmp_path / "out").mkdir()
    await run(FileTransferTask(mode=mode, files=["a.txt"], dest="out"), tmp_path)
    assert (tmp_path / "out" / "a.txt").read_text() == "A"
    assert (tmp_path / "a.txt").exists()


@pytest.mark.parametrize("mode", ["move", "mv"])
async def test_move_src_dest_pairs(tmp_path: Path, mode: str) -> None:
    (tmp_path / "a.txt").write_text("A")
    task = FileTransferTask(mode=mode, files=[{"src": "a.txt", "dest": "b.txt"}])
    await run(task, tmp_path)
    assert (tmp_path / "b.txt").read_text() == "A"
    assert not (tmp_path / "a.txt").exists()


async def test_copytree_and_copyfile(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f").write_text("F")
    await run(FileTransferTask(mode="copytree", files=[{"src": "d", "dest": "e"}]), tmp_path)
    assert (tmp_path / "e" / "f").read_text() == "F"
    await run(FileTransferTask(mode="copyfile", files=["d/f"], dest="g"), tmp_path)
    assert (tmp_path / "g").read_text() == "F"


async def test_absolute_paths(tmp_path: Path) -> None:
    src = tmp_path / "abs.txt"
    src.write_text("x")
    other = tmp_path / "launch"
    other.mkdir()
    await run(FileTransferTask(mode="copy", files=[str(src)], dest="copied.txt"), other)
    assert (other / "copied.txt").read_text() == "x"


async def test_shell_interpret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AFW_TEST_SUB", "sub")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a").write_text("A")
    await run(FileTransferTask(mode="copy", files=["$AFW_TEST_SUB/a"], dest="b"), tmp_path)
    assert (tmp_path / "b").read_text() == "A"
    literal = FileTransferTask(
        mode="copy", files=["$AFW_TEST_SUB/a"], dest="c", shell_interpret=False
    )
    with pytest.raises(TaskError, match="AFW_TEST_SUB"):
        await run(literal, tmp_path)


async def test_transfer_failure(tmp_path: Path) -> None:
    task = FileTransferTask(mode="copy", files=["missing"], dest="x")
    with pytest.raises(TaskError, match="copy failed"):
        await run(task, tmp_path)
    ignored = FileTransferTask(mode="copy", files=["missing"], dest="x", ignore_errors=True)
    assert await run(ignored, tmp_path) is None


async def test_transfer_retries_only_failures(tmp_path: Path) -> None:
    (tmp_path / "first").write_text("1")
    task = FileTransferTask(
        mode="move", files=["first", "late"], dest="out", max_retry=20, retry_delay=0.05
    )
    (tmp_path / "out").mkdir()

    async def create_late() -> None:
        await anyio.sleep(0.2)
        (tmp_path / "late").write_text("2")

    async with anyio.create_task_group() as tg:
        tg.start_soon(create_late)
        await run(task, tmp_path)
    assert sorted(os.listdir(tmp_path / "out")) == ["first", "late"]


async def test_transfer_retries_exhausted(tmp_path: Path) -> None:
    task = FileTransferTask(mode="copy", files=["never"], dest="x", max_retry=2, retry_delay=0)
    with pytest.raises(TaskError, match="never"):
        await run(task, tmp_path)


def test_rtransfer_is_refused_clearly() -> None:
    with pytest.raises(TaskParamError, match="remote transfers are not supported"):
        FileTransferTask(
            mode="rtransfer", files=["a"], dest="/x", server="host", user="me", key_filename="k"
        )


@pytest.mark.parametrize(
    "params",
    [
        {"mode": "copy"},
        {"files": ["a"], "dest": "b"},
        {"mode": "copy", "files": ["a"], "dest": "b", "bogus": 1},
        {"mode": "teleport", "files": ["a"], "dest": "b"},
        {"mode": "copy", "files": ["a"]},
        {"mode": "copy", "files": "a", "dest": "b"},
        {"mode": "copy", "files": [{"src": "a"}]},
        {"mode": "copy", "files": [3], "dest": "b"},
        {"mode": "copy", "files": ["a"], "dest": "b", "max_retry": -1},
        {"mode": "copy", "files": ["a"], "dest": "b", "retry_delay": "soon"},
    ],
)
def test_transfer_bad_parameters(params: dict[str, Any]) -> None:
    with pytest.raises(TaskParamError):
        FileTransferTask(params)


def test_documented_parameters_accepted() -> None:
    FileTransferTask(
        mode="copy",
        files=["a", {"src": "b", "dest": "c"}],
        dest="d",
        ignore_errors=True,
        max_retry=1,
        retry_delay=0.5,
        shell_interpret=True,
    )
    FileDeleteTask(files_to_delete=["a"], dest="d", ignore_errors=False)
    FileWriteTask(files_to_write=[{"filename": "a", "contents": ""}], dest="d")


# --- loading ------------------------------------------------------------------------------

_FW_MODULE = "fireworks.user_objects.firetasks.fileio_tasks"
_DICTS: list[dict[str, Any]] = [
    {"_fw_name": "FileWriteTask", "files_to_write": [{"filename": "a", "contents": "x"}]},
    {"_fw_name": "FileDeleteTask", "files_to_delete": ["a"]},
    {"_fw_name": "FileTransferTask", "mode": "copy", "files": ["a"], "dest": "b"},
]


@pytest.mark.parametrize("data", _DICTS, ids=lambda d: d["_fw_name"])
def test_load_from_fireworks_dict(data: dict[str, Any]) -> None:
    name = data["_fw_name"]
    task = load_task(data)
    assert type(task).__name__ == name
    assert task.to_dict() == data
    explicit = load_task({**data, "_fw_name": f"{{{{{_FW_MODULE}.{name}}}}}"})
    assert type(explicit) is type(task)


async def test_loaded_tasks_run_in_order(tmp_path: Path) -> None:
    for data in _DICTS[0], _DICTS[2], _DICTS[1]:
        await run(load_task(data), tmp_path)
    assert not (tmp_path / "a").exists()
    assert (tmp_path / "b").read_text() == "x"


def test_transfer_task_old_name() -> None:
    task = load_task({"_fw_name": "Transfer Task", "mode": "cp", "files": ["a"], "dest": "b"})
    assert isinstance(task, FileTransferTask)
