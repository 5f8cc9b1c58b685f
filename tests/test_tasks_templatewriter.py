"""TemplateWriterTask: rendering, autoescape, append, template_dir, use_global_spec."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from helpers.taskrun import run

from afw.errors import TaskError, TaskParamError
from afw.tasks import load_task
from afw.tasks.templatewriter import TemplateWriterTask

pytestmark = pytest.mark.anyio


@pytest.fixture
def launch(tmp_path: Path) -> Path:
    (tmp_path / "t.txt").write_text("n={{ n }} name={{ name }}\n")
    return tmp_path


async def test_render(launch: Path) -> None:
    task = TemplateWriterTask(
        template_file="t.txt", context={"n": 3, "name": "x"}, output_file="out.txt"
    )
    assert await run(task, launch) is None
    # FireWorks renders without keep_trailing_newline
    assert (launch / "out.txt").read_text() == "n=3 name=x"


async def test_autoescape(launch: Path) -> None:
    task = TemplateWriterTask(
        template_file="t.txt", context={"n": 1, "name": "<a&b>"}, output_file="o"
    )
    await run(task, launch)
    assert (launch / "o").read_text() == "n=1 name=&lt;a&amp;b&gt;"


async def test_append(launch: Path) -> None:
    (launch / "o").write_text("head\n")
    task = TemplateWriterTask(
        template_file="t.txt", context={"n": 1, "name": "y"}, output_file="o", append=True
    )
    await run(task, launch)
    await run(task, launch)
    assert (launch / "o").read_text() == "head\nn=1 name=yn=1 name=y"


async def test_template_dir_and_include(tmp_path: Path) -> None:
    tdir = tmp_path / "templates"
    tdir.mkdir()
    (tdir / "part.txt").write_text("[{{ v }}]")
    (tdir / "main.txt").write_text("{% include 'part.txt' %}!")
    task = TemplateWriterTask(
        template_file="main.txt", template_dir="templates", context={"v": 5}, output_file="o"
    )
    await run(task, tmp_path)
    assert (tmp_path / "o").read_text() == "[5]!"


async def test_missing_template(tmp_path: Path) -> None:
    task = TemplateWriterTask(template_file="nope.txt", context={}, output_file="o")
    with pytest.raises(TaskError, match="not found"):
        await run(task, tmp_path)


async def test_syntax_error(tmp_path: Path) -> None:
    (tmp_path / "bad.txt").write_text("{% if %}")
    task = TemplateWriterTask(template_file="bad.txt", context={}, output_file="o")
    with pytest.raises(TaskError, match="cannot render"):
        await run(task, tmp_path)


async def test_use_global_spec(launch: Path) -> None:
    task = TemplateWriterTask(use_global_spec=True)
    spec = {"template_file": "t.txt", "context": {"n": 9, "name": "s"}, "output_file": "g"}
    await run(task, launch, spec)
    assert (launch / "g").read_text() == "n=9 name=s"
    with pytest.raises(TaskParamError, match="output_file"):
        await run(task, launch, {"template_file": "t.txt", "context": {}})


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"context": {}, "output_file": "o"},
        {"template_file": "t", "output_file": "o"},
        {"template_file": "t", "context": {}},
        {"template_file": "t", "context": [], "output_file": "o"},
        {"template_file": "t", "context": {}, "output_file": "o", "template_dir": 1},
        {"template_file": "t", "context": {}, "output_file": "o", "bogus": 1},
    ],
)
def test_bad_parameters(params: dict[str, Any]) -> None:
    with pytest.raises(TaskParamError):
        TemplateWriterTask(params)


def test_documented_parameters_accepted() -> None:
    TemplateWriterTask(
        template_file="t",
        context={},
        output_file="o",
        append=False,
        template_dir="d",
        use_global_spec=False,
    )


@pytest.mark.parametrize(
    "name",
    [
        "TemplateWriterTask",
        "Template Writer Task",
        "{{fireworks.user_objects.firetasks.templatewriter_task.TemplateWriterTask}}",
    ],
)
async def test_load_from_fireworks_dict(launch: Path, name: str) -> None:
    data = {
        "_fw_name": name,
        "template_file": "t.txt",
        "context": {"n": 2, "name": "l"},
        "output_file": "o",
    }
    task = load_task(data)
    assert isinstance(task, TemplateWriterTask)
    await run(task, launch)
    assert (launch / "o").read_text() == "n=2 name=l"
