"""ScriptTask: shell and argv forms, streams, return codes, cancellation, loading."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from helpers.taskrun import run

from afw.action import FWAction
from afw.errors import TaskError, TaskParamError
from afw.tasks import load_task
from afw.tasks.script import ScriptTask

pytestmark = pytest.mark.anyio


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting for its parent counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


async def wait_gone(pid: int, timeout: float = 3.0) -> bool:
    with anyio.move_on_after(timeout):
        while alive(pid):
            await anyio.sleep(0.02)
    return not alive(pid)


async def wait_for_file(path: Path, timeout: float = 5.0) -> str:
    with anyio.fail_after(timeout):
        while not (path.exists() and path.read_text().strip()):
            await anyio.sleep(0.02)
    return path.read_text().strip()


# --- shell form ---------------------------------------------------------------------------


async def test_shell_runs_in_launch_dir(tmp_path: Path) -> None:
    action = await run(ScriptTask(script="echo hello > out.txt; pwd", store_stdout=True), tmp_path)
    assert isinstance(action, FWAction)
    assert (tmp_path / "out.txt").read_text() == "hello\n"
    assert Path(action.stored_data["stdout"].strip()).resolve() == tmp_path.resolve()
    assert action.stored_data["returncode"] == 0
    assert action.stored_data["all_returncodes"] == [0]
    assert "stderr" not in action.stored_data
    assert not action.defuse_children


async def test_concurrent_tasks_use_their_own_launch_dirs(tmp_path: Path) -> None:
    dirs = [tmp_path / "one", tmp_path / "two"]
    task = ScriptTask(script="sleep 0.1; pwd > where.txt")
    async with anyio.create_task_group() as tg:
        for launch_dir in dirs:
            launch_dir.mkdir()
            tg.start_soon(run, task, launch_dir)
    for launch_dir in dirs:
        assert (
            Path((launch_dir / "where.txt").read_text().strip()).resolve() == launch_dir.resolve()
        )


async def test_list_stops_at_first_failure(tmp_path: Path) -> None:
    task = ScriptTask(script=["true", "exit 3", "touch never"], defuse_bad_rc=True)
    action = await run(task, tmp_path)
    assert action.stored_data == {"returncode": 3, "all_returncodes": [0, 3]}
    assert action.defuse_children
    assert not (tmp_path / "never").exists()


async def test_bad_rc_fizzles_by_default(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(TaskError) as info:
        await run(ScriptTask(script="echo oops >&2; exit 4"), tmp_path)
    assert "return code 4" in str(info.value)
    assert "oops" in str(info.value)
    assert info.value.context["returncode"] == 4
    # stderr neither stored nor redirected still reaches the Rocket's stderr.
    assert "oops" in capfd.readouterr().err


async def test_bad_rc_tail_from_stderr_file(tmp_path: Path) -> None:
    task = ScriptTask(script="echo broken >&2; exit 2", stderr_file="err.txt")
    with pytest.raises(TaskError, match="broken"):
        await run(task, tmp_path)
    assert (tmp_path / "err.txt").read_text() == "broken\n"


async def test_bad_rc_neither_fizzle_nor_defuse(tmp_path: Path) -> None:
    action = await run(ScriptTask(script="exit 5", fizzle_bad_rc=False), tmp_path)
    assert action.stored_data["returncode"] == 5
    assert not action.defuse_children


async def test_fizzle_wins_over_defuse(tmp_path: Path) -> None:
    task = ScriptTask(script="exit 1", defuse_bad_rc=True, fizzle_bad_rc=True)
    with pytest.raises(TaskError):
        await run(task, tmp_path)


@pytest.mark.skipif(not Path("/bin/bash").exists(), reason="needs bash")
async def test_shell_exe(tmp_path: Path) -> None:
    task = ScriptTask(script="echo ${BASH_VERSION:+bash}", shell_exe="/bin/bash", store_stdout=True)
    action = await run(task, tmp_path)
    assert action.stored_data["stdout"] == "bash\n"


async def test_shell_list_command_is_quoted(tmp_path: Path) -> None:
    task = ScriptTask(script=[["printf", "%s", "a;b"]], store_stdout=True)
    action = await run(task, tmp_path)
    assert action.stored_data["stdout"] == "a;b"


# --- argv form ----------------------------------------------------------------------------


async def test_argv_string_is_split(tmp_path: Path) -> None:
    task = ScriptTask(script="printf '%s|' 'a b' c", use_shell=False, store_stdout=True)
    action = await run(task, tmp_path)
    assert action.stored_data["stdout"] == "a b|c|"


async def test_argv_hostile_argument_is_literal(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    hostile = f"$(touch {marker})"
    task = ScriptTask(script=[["printf", "%s", hostile]], use_shell=False, store_stdout=True)
    action = await run(task, tmp_path)
    assert action.stored_data["stdout"] == hostile
    assert not marker.exists()


async def test_argv_several_commands(tmp_path: Path) -> None:
    task = ScriptTask(script=["touch a", ["touch", "b c"]], use_shell=False)
    action = await run(task, tmp_path)
    assert action.stored_data["all_returncodes"] == [0, 0]
    assert (tmp_path / "a").exists()
    assert (tmp_path / "b c").exists()


async def test_argv_missing_program(tmp_path: Path) -> None:
    task = ScriptTask(script="no-such-program-afw --x", use_shell=False, defuse_bad_rc=True)
    action = await run(task, tmp_path)
    assert action.stored_data["returncode"] == 127
    with pytest.raises(TaskError, match="127"):
        await run(ScriptTask(script="no-such-program-afw", use_shell=False), tmp_path)


async def test_missing_launch_dir_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(TaskError, match="cannot start"):
        await run(ScriptTask(script="true", use_shell=False), tmp_path / "absent")


# --- streams ------------------------------------------------------------------------------


async def test_stdin_file(tmp_path: Path) -> None:
    (tmp_path / "in.txt").write_text("line\n")
    task = ScriptTask(script=["cat", "cat"], stdin_file="in.txt", store_stdout=True)
    action = await run(task, tmp_path)
    assert action.stored_data["stdout"] == "line\nline\n"


async def test_stdin_key(tmp_path: Path) -> None:
    task = ScriptTask(script="cat", stdin_key="data", store_stdout=True)
    action = await run(task, tmp_path, {"data": "from the spec"})
    assert action.stored_data["stdout"] == "from the spec"
    with pytest.raises(TaskError, match="stdin_key"):
        await run(task, tmp_path, {})


async def test_stdin_key_unread_by_script(tmp_path: Path) -> None:
    task = ScriptTask(script="true", stdin_key="data")
    action = await run(task, tmp_path, {"data": "x" * 1_000_000})
    assert action.stored_data["returncode"] == 0


async def test_no_stdin_reads_nothing(tmp_path: Path) -> None:
    action = await run(ScriptTask(script="cat", store_stdout=True), tmp_path)
    assert action.stored_data["stdout"] == ""


async def test_stdout_stderr_files(tmp_path: Path) -> None:
    (tmp_path / "err.txt").write_text("old\n")
    task = ScriptTask(
        script=["echo out1; echo err1 >&2", "echo out2; echo err2 >&2"],
        stdout_file="out.txt",
        stderr_file="err.txt",
    )
    action = await run(task, tmp_path)
    assert (tmp_path / "out.txt").read_text() == "out1\nout2\n"
    assert (tmp_path / "err.txt").read_text() == "old\nerr1\nerr2\n"
    assert "stdout" not in action.stored_data
    assert "stderr" not in action.stored_data


async def test_stored_and_written(tmp_path: Path) -> None:
    task = ScriptTask(
        script="echo out; echo err >&2",
        stdout_file="o.txt",
        stderr_file="e.txt",
        store_stdout=True,
        store_stderr=True,
    )
    action = await run(task, tmp_path)
    assert action.stored_data["stdout"] == "out\n"
    assert action.stored_data["stderr"] == "err\n"
    assert (tmp_path / "o.txt").read_text() == "out\n"
    assert (tmp_path / "e.txt").read_text() == "err\n"


async def test_unwritable_output_file(tmp_path: Path) -> None:
    with pytest.raises(TaskError, match="cannot open"):
        await run(ScriptTask(script="true", stdout_file="no/such/dir/out"), tmp_path)


async def test_use_global_spec(tmp_path: Path) -> None:
    task = ScriptTask(script="echo from-task", use_global_spec=True)
    spec = {"script": "echo from-spec", "store_stdout": True}
    action = await run(task, tmp_path, spec)
    assert action.stored_data["stdout"] == "from-spec\n"


# --- cancellation -------------------------------------------------------------------------


async def test_cancel_kills_script_and_children(tmp_path: Path) -> None:
    task = ScriptTask(script="sleep 60 & echo $! > bg.pid; echo $$ > sh.pid; wait")
    async with anyio.create_task_group() as tg:
        tg.start_soon(run, task, tmp_path)
        shell_pid = int(await wait_for_file(tmp_path / "sh.pid"))
        sleep_pid = int(await wait_for_file(tmp_path / "bg.pid"))
        assert alive(sleep_pid)
        tg.cancel_scope.cancel()
    assert await wait_gone(shell_pid)
    assert await wait_gone(sleep_pid)


async def test_cancel_plain_sleep(tmp_path: Path) -> None:
    task = ScriptTask(script="echo $$ > pid; exec sleep 60")
    started = time.monotonic()
    with anyio.move_on_after(0.5):
        await run(task, tmp_path)
    pid = int(await wait_for_file(tmp_path / "pid"))
    assert await wait_gone(pid)
    assert time.monotonic() - started < 10


async def test_cancel_escalates_to_kill(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ScriptTask, "terminate_grace", 0.2)
    task = ScriptTask(script="trap '' TERM; echo $$ > pid; sleep 60 & echo $! > bg.pid; wait")
    async with anyio.create_task_group() as tg:
        tg.start_soon(run, task, tmp_path)
        pid = int(await wait_for_file(tmp_path / "pid"))
        bg_pid = int(await wait_for_file(tmp_path / "bg.pid"))
        tg.cancel_scope.cancel()
    assert await wait_gone(pid)
    assert await wait_gone(bg_pid)


_CTRL_C_PROGRAM = """
import sys, anyio
from pathlib import Path
from afw.tasks.context import TaskContext, task_context
from afw.tasks.script import ScriptTask

async def main():
    task_context.set(TaskContext(launch_dir=Path(sys.argv[1])))
    await ScriptTask(script="sleep 60 & echo $! > bg.pid; wait").run_task({})

anyio.run(main)
"""


async def test_ctrl_c_kills_script(tmp_path: Path) -> None:
    async with await anyio.open_process(
        [sys.executable, "-c", _CTRL_C_PROGRAM, str(tmp_path)]
    ) as proc:
        sleep_pid = int(await wait_for_file(tmp_path / "bg.pid"))
        proc.send_signal(signal.SIGINT)
        with anyio.fail_after(10):
            await proc.wait()
    assert await wait_gone(sleep_pid)


# --- parameters and loading ---------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"script": "true", "bogus": 1},
        {"script": 42},
        {"script": []},
        {"script": ["true", 3]},
        {"script": "echo 'unbalanced", "use_shell": False},
        {"script": "", "use_shell": False},
        {"script": "cat", "stdin_file": "a", "stdin_key": "b"},
        {"script": "true", "stdout_file": 3},
    ],
)
def test_bad_parameters(params: dict[str, Any]) -> None:
    with pytest.raises(TaskParamError):
        ScriptTask(params)


def test_documented_parameters_accepted() -> None:
    ScriptTask(
        script=["echo a"],
        use_shell=True,
        shell_exe="/bin/sh",
        stdin_file="in",
        stdout_file="out",
        stderr_file="err",
        store_stdout=True,
        store_stderr=True,
        defuse_bad_rc=False,
        fizzle_bad_rc=True,
        use_global_spec=False,
    )
    ScriptTask(script="cat", stdin_key="k")


def test_from_str() -> None:
    task = ScriptTask.from_str("echo hi", {"store_stdout": True})
    assert task == {"script": "echo hi", "store_stdout": True}
    assert task.to_dict()["_fw_name"] == "ScriptTask"


@pytest.mark.parametrize(
    "name",
    [
        "ScriptTask",
        "Script Task",
        "{{fireworks.user_objects.firetasks.script_task.ScriptTask}}",
        "{{afw.tasks.script.ScriptTask}}",
    ],
)
async def test_load_from_fireworks_dict(tmp_path: Path, name: str) -> None:
    task = load_task({"_fw_name": name, "script": "echo loaded", "store_stdout": True})
    assert isinstance(task, ScriptTask)
    action = await run(task, tmp_path)
    assert action.stored_data["stdout"] == "loaded\n"


def test_load_rejects_bad_parameters() -> None:
    with pytest.raises(TaskParamError):
        load_task({"_fw_name": "ScriptTask", "script": "true", "shell": "bash"})
