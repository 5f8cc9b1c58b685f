"""QueueClient + LocalCommandRunner against real processes: the shell adapter and a real Slurm."""

from __future__ import annotations

import getpass
import shlex
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import anyio
import pytest

from afw.errors import QueueError
from afw.queue import (
    JobState,
    LocalCommandRunner,
    LSFAdapter,
    QueueClient,
    QueueConfig,
    ShellAdapter,
)

pytestmark = pytest.mark.anyio

HOSTILE = "a;b $(touch pwned) `touch pwned2` 'q'"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def shell_config(rocket_launch: str, **options: Any) -> QueueConfig:
    return QueueConfig.from_dict({"_fw_q_type": "shell", "rocket_launch": rocket_launch, **options})


def write_script(config: QueueConfig, launch_dir: Path, job_name: str = "job") -> str:
    path = launch_dir / "FW_submit.script"
    path.write_text(config.render_script(str(launch_dir), job_name=job_name))
    return str(path)


async def wait_for(
    client: QueueClient, job_id: str, states: Sequence[JobState], seconds: float = 30
) -> JobState:
    with anyio.fail_after(seconds):
        while (state := (await client.status([job_id]))[job_id]) not in states:
            await anyio.sleep(0.1)
    return state


@pytest.fixture
async def shell_client() -> AsyncIterator[QueueClient]:
    client = QueueClient(ShellAdapter(), LocalCommandRunner())
    yield client


async def test_shell_job_runs_in_a_hostile_directory(
    shell_client: QueueClient, tmp_path: Path
) -> None:
    launch_dir = tmp_path / HOSTILE
    launch_dir.mkdir()
    config = shell_config("pwd > where; echo done > result", pre_rocket="echo starting")
    job_id = await shell_client.submit(write_script(config, launch_dir, "my job"))
    assert job_id.isdigit()
    assert await wait_for(shell_client, job_id, [JobState.DONE]) is JobState.DONE
    assert (launch_dir / "result").read_text() == "done\n"
    assert (launch_dir / "where").read_text() == f"{launch_dir}\n"
    assert (launch_dir / "my_job.out").read_text() == "starting\n"
    assert not list(tmp_path.rglob("pwned*"))


async def test_shell_count_and_cancel(tmp_path: Path) -> None:
    # A script name of its own, so that other shell jobs of this user do not count.
    name = f"FW_submit_{uuid.uuid4().hex}.script"
    client = QueueClient(ShellAdapter(script_name=name), LocalCommandRunner())
    user = getpass.getuser()
    config = shell_config("sleep 60 & echo $! > sleep.pid; wait")
    script = tmp_path / name
    script.write_text(config.render_script(str(tmp_path)))
    assert await client.count_jobs(user) == 0
    job_id = await client.submit(str(script))
    try:
        assert await wait_for(client, job_id, [JobState.RUNNING]) is JobState.RUNNING
        assert await client.count_jobs(user) == 1
        with anyio.fail_after(10):
            while not (tmp_path / "sleep.pid").exists():
                await anyio.sleep(0.05)
    finally:
        await client.cancel([job_id])
    assert await wait_for(client, job_id, [JobState.DONE], 10) is JobState.DONE
    assert await client.count_jobs(user) == 0
    # The job's whole process group was signalled: its sleep is gone too.
    sleep_pid = (tmp_path / "sleep.pid").read_text().strip()
    assert await wait_for(client, sleep_pid, [JobState.DONE], 10) is JobState.DONE


async def test_submit_with_explicit_cwd(shell_client: QueueClient, tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    config = shell_config("echo hi > out")
    write_script(config, tmp_path / "sub")
    job_id = await shell_client.submit("sub/FW_submit.script", cwd=str(tmp_path))
    await wait_for(shell_client, job_id, [JobState.DONE])
    # The template's cd moved the job into the launch dir.
    assert (tmp_path / "sub" / "out").read_text() == "hi\n"


async def test_status_and_cancel_of_nothing(shell_client: QueueClient) -> None:
    assert await shell_client.status([]) == {}
    await shell_client.cancel([])


async def test_status_of_many_ids_in_batches(shell_client: QueueClient) -> None:
    ids = [str(n) for n in range(4_000_000, 4_000_450)]  # above any pid_max default
    states = await shell_client.status(ids)
    assert states == dict.fromkeys(ids, JobState.DONE)


async def test_failed_command_carries_command_and_output(tmp_path: Path) -> None:
    failing = ShellAdapter().with_commands({"status_cmd": "sh -c 'echo boom >&2; exit 3' sh"})
    client = QueueClient(failing, LocalCommandRunner())
    with pytest.raises(QueueError, match="shell job count failed: boom") as info:
        await client.count_jobs("someone")
    context = info.value.context
    assert context["command"].startswith("sh -c 'echo boom >&2; exit 3' sh -u someone")
    assert context["returncode"] == 3
    assert context["stderr"] == "boom\n"


async def test_submit_in_a_missing_directory(shell_client: QueueClient) -> None:
    with pytest.raises(QueueError, match="cannot run sh in /nonexistent/dir") as info:
        await shell_client.submit("FW_submit.script", cwd="/nonexistent/dir")
    assert info.value.context["cwd"] == "/nonexistent/dir"


async def test_lsf_submit_wrapper_feeds_the_script_on_stdin(tmp_path: Path) -> None:
    launch_dir = tmp_path / HOSTILE
    launch_dir.mkdir()
    script = launch_dir / "FW_submit.script"
    script.write_text("#BSUB -J x\necho hi\n")
    argv = LSFAdapter(submit_cmd=("cat",)).submit_command(str(script))
    result = await LocalCommandRunner().run(argv, timeout=10)
    assert (result.returncode, result.stdout, result.stderr) == (0, script.read_text(), "")
    assert not list(tmp_path.rglob("pwned*"))


# -------------------------------------------------------------------------------------------------
# LocalCommandRunner


async def test_runner_returns_exit_code_and_output(tmp_path: Path) -> None:
    result = await LocalCommandRunner().run(
        ["sh", "-c", 'pwd; cat; echo "$1" >&2; exit 4', "sh", "$(touch pwned)"],
        stdin=b"from stdin\n",
        cwd=str(tmp_path),
        timeout=10,
    )
    assert result.returncode == 4
    assert result.stdout == f"{tmp_path}\nfrom stdin\n"
    assert result.stderr == "$(touch pwned)\n"
    assert not (tmp_path / "pwned").exists()


async def test_runner_closes_stdin() -> None:
    result = await LocalCommandRunner().run(["cat"], timeout=10)
    assert (result.returncode, result.stdout) == (0, "")


async def test_runner_timeout_names_the_command() -> None:
    with pytest.raises(QueueError, match=r"timed out after 0.2 s: sleep 30") as info:
        await LocalCommandRunner().run(["sleep", "30"], timeout=0.2)
    assert info.value.context["command"] == "sleep 30"


async def test_runner_missing_program_and_directory(tmp_path: Path) -> None:
    with pytest.raises(QueueError, match="command not found: afw-no-such-program"):
        await LocalCommandRunner().run(["afw-no-such-program", "x"], timeout=10)
    with pytest.raises(QueueError, match="cannot run true in /nonexistent"):
        await LocalCommandRunner().run(["true"], cwd="/nonexistent", timeout=10)
    with pytest.raises(QueueError, match="empty command"):
        await LocalCommandRunner().run([], timeout=10)


# -------------------------------------------------------------------------------------------------
# real Slurm (scripts/services); skipped with the reason when it is not running


@pytest.fixture
def slurm_client(slurm: Any) -> QueueClient:
    config = QueueConfig.from_dict(
        {"_fw_q_type": "SLURM", "rocket_launch": "true", "_fw_timeout": 30}
    )
    client = QueueClient.from_config(config, LocalCommandRunner())
    assert client.timeout == 30
    return client


async def test_slurm_submit_status_count_cancel(
    slurm_client: QueueClient, slurm: Any, tmp_path: Path
) -> None:
    launch_dir = tmp_path / HOSTILE
    launch_dir.mkdir()
    config = QueueConfig.from_dict(
        {
            "_fw_q_type": "SLURM",
            "rocket_launch": "echo ran > result",
            "queue": slurm.partition,
            "walltime": "00:05:00",
            "ntasks": 1,
        }
    )
    job_id = await slurm_client.submit(write_script(config, launch_dir, "afw test $(x)"))
    state = await wait_for(slurm_client, job_id, [JobState.DONE, JobState.FAILED], 60)
    assert state is JobState.DONE
    assert (launch_dir / "result").read_text() == "ran\n"
    assert (launch_dir / f"afw_test_(x)-{job_id}.out").exists()
    assert not list(tmp_path.rglob("pwned*"))

    long_config = config.merge({"rocket_launch": "sleep 120"})
    user = getpass.getuser()
    long_id = await slurm_client.submit(write_script(long_config, launch_dir, "afw long"))
    try:
        # Other tests may share this cluster: the exact number is theirs too.
        assert await slurm_client.count_jobs(user, slurm.partition) >= 1
        assert await slurm_client.count_jobs(user, "nosuchpartition") == 0
        await wait_for(slurm_client, long_id, [JobState.QUEUED, JobState.RUNNING])
    finally:
        await slurm_client.cancel([long_id])
    assert await wait_for(slurm_client, long_id, [JobState.FAILED], 60) is JobState.FAILED
    # An id Slurm never knew: squeue refuses it, sacct is disabled here, so it stays UNKNOWN.
    states = await slurm_client.status([job_id, "999999"])
    assert states == {job_id: JobState.DONE, "999999": JobState.UNKNOWN}


async def test_slurm_submit_error(slurm_client: QueueClient, slurm: Any, tmp_path: Path) -> None:
    config = QueueConfig.from_dict(
        {"_fw_q_type": "SLURM", "rocket_launch": "true", "queue": "nosuchpartition"}
    )
    script = write_script(config, tmp_path)
    with pytest.raises(QueueError, match="invalid partition") as info:
        await slurm_client.submit(script)
    assert info.value.context["command"] == shlex.join(["sbatch", "FW_submit.script"])
