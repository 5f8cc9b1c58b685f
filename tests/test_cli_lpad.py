"""`afw lpad` end to end on a SQLite file: adding, querying, and bad input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from clihelp import afw, one_line_error

THREE_FW_YAML = """\
name: three
metadata: {owner: test}
fws:
- fw_id: 1
  name: first
  spec:
    _priority: 4
    _tasks:
    - {_fw_name: ScriptTask, script: echo first}
- fw_id: 2
  name: second
  spec:
    _tasks:
    - {_fw_name: ScriptTask, script: [echo a, echo b]}
- fw_id: 3
  name: third
  spec:
    _priority: 7
    _tasks:
    - {_fw_name: ScriptTask, script: echo third, use_shell: false}
links:
  1: [2, 3]
"""


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "AFW_LAUNCHPAD": f"sqlite:///{tmp_path / 'lp.sqlite'}",
        "AFW_HOME": str(tmp_path / "home"),
    }


def test_add_then_query_with_env_url(tmp_path: Path, env: dict[str, str]) -> None:
    wf = tmp_path / "wf.yaml"
    wf.write_text(THREE_FW_YAML)
    assert afw("lpad", "add", str(wf), env=env).returncode == 0
    count = afw("lpad", "get_fws", "-d", "count", env=env)
    assert count.stdout.strip() == "3"
    more = afw("lpad", "get_wflows", "-d", "more", env=env).json()
    assert more[0]["state"] == "READY"
    assert more[0]["states"] == {"first--1": "READY", "second--2": "WAITING", "third--3": "WAITING"}
    assert afw("lpad", "get-fws", "-s", "WAITING", "-d", "ids", env=env).json() == [2, 3]
    by_query = afw("lpad", "get_fws", "-q", '{"spec._priority": {"$gte": 5}}', "-d", "ids", env=env)
    assert by_query.json() == [3]
    assert (tmp_path / "lp.sqlite").exists()
    assert not (tmp_path / "home").exists()


def test_launchpad_yaml_with_url(tmp_path: Path) -> None:
    lp_file = tmp_path / "my_launchpad.yaml"
    lp_file.write_text(f"url: sqlite:///{tmp_path / 'other.sqlite'}\n")
    wf = tmp_path / "wf.yaml"
    wf.write_text(THREE_FW_YAML)
    env = {"AFW_HOME": str(tmp_path / "home")}
    assert afw("lpad", "-l", str(lp_file), "add", str(wf), env=env).returncode == 0
    assert afw("lpad", "-l", str(lp_file), "get_fws", "-d", "count", env=env).stdout.strip() == "3"
    # my_launchpad.yaml in the current directory is found without -l
    assert afw("lpad", "get_fws", "-d", "count", env=env, cwd=tmp_path).stdout.strip() == "3"


def test_state_commands(tmp_path: Path, env: dict[str, str]) -> None:
    wf = tmp_path / "wf.yaml"
    wf.write_text(THREE_FW_YAML)
    afw("lpad", "add", str(wf), env=env)
    assert afw("lpad", "pause_fws", "-i", "1", env=env).json() == [1]
    assert afw("lpad", "get_wflows", "-d", "less", env=env).json()[0]["state"] == "PAUSED"
    assert afw("lpad", "resume_fws", "-i", "1", env=env).json() == [1]
    assert afw("lpad", "defuse_fws", "-i", "2,3", env=env).json() == [2, 3]
    assert afw("lpad", "get_wflows", "-d", "less", env=env).json()[0]["state"] == "DEFUSED"
    assert afw("lpad", "reignite-fws", "-i", "2", "-i", "3", env=env).json() == [2, 3]
    afw("lpad", "set_priority", "9", "-i", "2", env=env)
    assert afw("lpad", "get_fws", "-q", '{"spec._priority": 9}', "-d", "ids", env=env).json() == [2]
    afw("lpad", "update_fws", "-i", "2", "-u", '{"param": 5}', env=env)
    fw = afw("lpad", "get_fws", "-i", "2", "-d", "all", env=env).json()[0]
    assert fw["spec"]["param"] == 5
    assert afw("lpad", "archive_wflows", "-i", "1", env=env).json() == [1]
    assert afw("lpad", "get_fws", "-s", "ARCHIVED", "-d", "count", env=env).stdout.strip() == "3"
    assert afw("lpad", "delete_wflows", "-i", "1", env=env).json() == [1]
    assert afw("lpad", "get_fws", "-d", "count", env=env).stdout.strip() == "0"


BAD_FILES = {
    "malformed.yaml": "fws: [\n  - name: x\n    spec: {",
    "malformed.json": '{"fws": [ {"name": "x", }',
    "unknown_task.yaml": "fws:\n- fw_id: 1\n  spec: {_tasks: [{_fw_name: NoSuchTask}]}\nlinks: {}\n",
    "missing_link.yaml": ("fws:\n- fw_id: 1\n  spec: {_tasks: []}\nlinks: {1: [7]}\n"),
    "cycle.yaml": (
        "fws:\n- {fw_id: 1, spec: {_tasks: []}}\n- {fw_id: 2, spec: {_tasks: []}}\n"
        "links: {1: [2], 2: [1]}\n"
    ),
    "bad_param.yaml": (
        "fws:\n- fw_id: 1\n  spec: {_tasks: [{_fw_name: ScriptTask, scrpt: echo}]}\nlinks: {}\n"
    ),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_workflow_files_write_nothing(tmp_path: Path, env: dict[str, str], name: str) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(THREE_FW_YAML)
    bad = tmp_path / name
    bad.write_text(BAD_FILES[name])
    # a good file next to a bad one: all or nothing
    line = one_line_error(afw("lpad", "add", str(good), str(bad), env=env))
    assert name in line
    assert afw("lpad", "get_fws", "-d", "count", env=env).stdout.strip() == "0"


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["get_fws", "-q", "{not json"], "query"),
        (["get_fws", "-q", '{"state": {"$bogus": 1}}'], "$bogus"),
        (["get_fws", "-s", "NOTASTATE"], "NOTASTATE"),
        (["get_fws", "-d", "everything"], "-d"),
        (["defuse_fws"], "select"),
        (["rerun_fws", "-s", "FIZZLED"], "no Fireworks"),
        (["get_fws", "-i", "x1"], "x1"),
    ],
)
def test_bad_arguments_one_line(env: dict[str, str], args: list[str], needle: str) -> None:
    line = one_line_error(afw("lpad", *args, env=env))
    assert needle in line


def test_unknown_launchpad_file(tmp_path: Path) -> None:
    line = one_line_error(afw("lpad", "-l", str(tmp_path / "nope.yaml"), "get_fws"))
    assert "nope.yaml" in line


def test_import_afw_is_light() -> None:
    code = (
        "import sys, afw, afw.launchpad, afw.cli.main\n"
        "heavy = [m for m in ('pymongo', 'asyncssh', 'matplotlib') if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_public_api_exports() -> None:
    import afw

    for name in afw.__all__:
        assert getattr(afw, name) is not None
