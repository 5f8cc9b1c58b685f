"""SSHCommandRunner: literal arguments, working directories, timeouts, drops mid-command.

The real OpenSSH sshd runs the commands (its login shell parses what we send); the in-process
asyncssh server records command lines and drops the connection mid-command on demand.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest
from helpers.sshserver import fault_server, sshd_target
from services import SlurmCluster, SshdService

from afw.errors import QueueError, RemoteError
from afw.queue import JobState, QueueClient, QueueConfig, ShellAdapter
from afw.ssh import SSHCommandRunner, SSHPool, remote_command

pytestmark = pytest.mark.anyio

HOSTILE = "a;b $(touch pwned) `touch pwned2` 'q' \"dq\" * ~ \\ $HOME |x &y >z"


@pytest.fixture
async def runner(sshd: SshdService) -> AsyncIterator[SSHCommandRunner]:
    async with SSHPool() as pool:
        yield SSHCommandRunner(sshd_target(sshd), pool)


def test_remote_command_quotes_every_word() -> None:
    assert remote_command(["echo", "$(touch x)", "a;b"]) == "echo '$(touch x)' 'a;b'"
    line = remote_command(["sbatch", "FW_submit.script"], cwd="/work/d;rm -rf ~")
    assert shlex.split(line)[-3:] == ["/work/d;rm -rf ~", "sbatch", "FW_submit.script"]


async def test_hostile_arguments_arrive_literally(runner: SSHCommandRunner, tmp_path: Path) -> None:
    argv = ["printf", "%s\\n", f"$(touch {tmp_path}/pwned)", "a;b", HOSTILE, "", "two\nlines"]
    result = await runner.run(argv, cwd=str(tmp_path), timeout=30)
    assert result.returncode == 0
    assert result.stdout.split("\n")[:-1] == [*argv[2:6], "two", "lines"]
    assert not list(tmp_path.rglob("pwned*"))


async def test_hostile_working_directory(runner: SSHCommandRunner, tmp_path: Path) -> None:
    workdir = tmp_path / HOSTILE
    workdir.mkdir()
    dashed = tmp_path / "-n"
    dashed.mkdir()
    assert (await runner.run(["pwd"], cwd=str(workdir), timeout=30)).stdout == f"{workdir}\n"
    assert (await runner.run(["pwd"], cwd=str(dashed), timeout=30)).stdout == f"{dashed}\n"
    assert not list(tmp_path.rglob("pwned*"))


async def test_exit_code_output_and_stdin(runner: SSHCommandRunner) -> None:
    script = 'cat; echo "$1" >&2; exit 4'
    result = await runner.run(["sh", "-c", script, "sh", "$(x)"], stdin=b"in\n", timeout=30)
    assert (result.returncode, result.stdout, result.stderr) == (4, "in\n", "$(x)\n")
    with anyio.fail_after(20):
        closed = await runner.run(["cat"], timeout=30)  # stdin is closed, not left open
    assert closed.stdout == ""


async def test_missing_program_directory_and_timeout(
    runner: SSHCommandRunner, tmp_path: Path
) -> None:
    with pytest.raises(QueueError, match="^command not found on .*: no-such-program$"):
        await runner.run(["no-such-program", "x"], timeout=30)
    with pytest.raises(QueueError, match=f"^cannot run pwd in {tmp_path}/nope on "):
        await runner.run(["pwd"], cwd=str(tmp_path / "nope"), timeout=30)
    with pytest.raises(QueueError, match=r"^command timed out after 0.5 s: sleep 30$"):
        await runner.run(["sleep", "30"], timeout=0.5)
    assert (await runner.run(["true"], timeout=30)).returncode == 0
    with pytest.raises(QueueError, match="empty command"):
        await runner.run([], timeout=30)


async def test_shell_jobs_over_ssh_in_a_hostile_directory(
    runner: SSHCommandRunner, tmp_path: Path
) -> None:
    client = QueueClient(ShellAdapter(), runner)
    launch_dir = tmp_path / HOSTILE
    launch_dir.mkdir()
    config = QueueConfig.from_dict({"_fw_q_type": "shell", "rocket_launch": "pwd > where"})
    script = launch_dir / "FW_submit.script"
    script.write_text(config.render_script(str(launch_dir), job_name=HOSTILE))
    job_id = await client.submit(str(script))
    with anyio.fail_after(30):
        while (await client.status([job_id]))[job_id] is not JobState.DONE:
            await anyio.sleep(0.1)
    assert (launch_dir / "where").read_text() == f"{launch_dir}\n"
    assert not list(tmp_path.rglob("pwned*"))


async def test_slurm_job_name_and_path_reach_sbatch_literally(
    runner: SSHCommandRunner, slurm: SlurmCluster, tmp_path: Path
) -> None:
    config = QueueConfig.from_dict(
        {
            "_fw_q_type": "SLURM",
            "queue": slurm.partition,
            "nodes": 1,
            "ntasks": 1,
            "walltime": "00:02:00",
            "rocket_launch": 'echo "$SLURM_JOB_NAME" > name.txt; pwd > where',
        }
    )
    client = QueueClient.from_config(config, runner)
    # Slurm itself cannot write job output under a path holding a backslash: leave that out.
    launch_dir = tmp_path / "a;b $(touch pwned) `touch pwned2` 'q' |x &y"
    launch_dir.mkdir()
    script = launch_dir / "FW_submit.script"
    script.write_text(config.render_script(str(launch_dir), job_name="job;$(touch pwned)"))
    name = re.search("--job-name=(.*)", script.read_text()).group(1)  # type: ignore[union-attr]
    job_id = await client.submit(str(script))
    with anyio.fail_after(90):
        while (await client.status([job_id]))[job_id] not in (JobState.DONE, JobState.FAILED):
            await anyio.sleep(0.5)
    assert (launch_dir / "where").read_text() == f"{launch_dir}\n"
    assert (launch_dir / "name.txt").read_text().strip() == name
    assert not list(tmp_path.rglob("pwned*"))


# -- dropped connections (in-process server) ------------------------------------------------------


async def test_submission_is_not_retried_after_a_drop(tmp_path: Path) -> None:
    async with fault_server(tmp_path) as server, SSHPool() as pool:
        runner = SSHCommandRunner(server.target, pool)
        server.state.drop_on_exec = "submit"
        with pytest.raises(RemoteError) as info:
            await runner.run(["submit", "FW_submit.script"], timeout=10)
        assert "it may or may not have run" in str(info.value)
        assert info.value.context["outcome"] == "unknown"
        assert [c for c in server.state.commands if "submit" in c] == ["submit FW_submit.script"]
        # The next command reconnects by itself.
        result = await runner.run(["submit", "again"], timeout=10)
        assert result.stdout.startswith("Submitted batch job")
        assert server.state.connections == 2


async def test_idempotent_query_is_retried_after_a_drop(tmp_path: Path) -> None:
    async with fault_server(tmp_path) as server, SSHPool() as pool:
        runner = SSHCommandRunner(server.target, pool)
        await runner.run(["echo", "warm"], timeout=10)
        server.state.drop_on_exec = "squeue"
        result = await runner.run(["echo", "squeue", "$(x);y"], timeout=10, idempotent=True)
        assert result.stdout == "squeue $(x);y\n"
        assert server.state.commands[-2:] == ["echo squeue '$(x);y'"] * 2
        assert (server.state.drops, server.state.connections) == (1, 2)
