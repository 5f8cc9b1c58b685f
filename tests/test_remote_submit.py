"""Remote qlaunch submissions over SSH: dropped connections and hostile names.

An in-process asyncssh server (tests/helpers/shellserver.py) runs the commands for real with
``sh -c`` and drops the connection on demand, before or after the submit command ran. After the
fault both sides are checked: the jobs the (fake) scheduler received, and the reservations,
job ids and offline runs in the store.
"""

from __future__ import annotations

import posixpath
import shlex
from pathlib import Path

import pytest
from helpers.shellserver import shell_server
from remhelp import fake_sbatch, jobs, reservations, slurm_config

from afw import FWorker, LaunchPad
from afw.errors import QueueError, RemoteError
from afw.queue import CommandResult, LocalCommandRunner, QueueClient
from afw.queue.launcher import QlaunchOptions, launch_to_queue, rapidfire
from afw.queue.once import ONCE_PREFIX, once_result
from afw.ssh import RemoteHost, RemoteSession, SSHPool

pytestmark = pytest.mark.anyio

ONE_FW = {"fws": [{"fw_id": 1, "name": "one", "spec": {"_tasks": []}}]}


def lp_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'lp.sqlite'}"


@pytest.mark.parametrize("when", ["before", "during", "after"])
async def test_drop_during_submission_submits_once_and_records_the_job(
    tmp_path: Path, when: str
) -> None:
    """The connection drops before / while / after sbatch runs: one job, its id recorded.

    "during": the first attempt is still running when the re-run arrives, which waits for it."""
    program, log = fake_sbatch(tmp_path, delay=1.5 if when == "during" else 0)
    config = slurm_config(program)
    async with LaunchPad(lp_url(tmp_path)) as lp:
        await lp.add_wf(ONE_FW)
        async with shell_server(tmp_path) as server:
            server.state.drop_on_exec, server.state.drop_when = program.name, when
            async with RemoteSession(RemoteHost(server.target)) as session:
                root = await session.launch_root(str(tmp_path / "cluster"))
                job_id = await launch_to_queue(
                    lp, FWorker(), config, session.client(config), session.fs,
                    launch_dir=root, reserve=True,
                )  # fmt: skip
            assert (server.state.drops, server.state.connections) == (1, 2)
        info = await reservations(lp)
    assert jobs(log) == [f"{root}|FW_submit.script"]
    assert job_id == "1001"
    (launch,) = info[1]["launches"]
    assert info[1]["state"] == "RESERVED"
    assert launch["job_ids"] == ["1001"]
    assert launch["remote_host"] == f"tester@127.0.0.1:{server.port}"
    assert info[1]["runs"] == [(launch["launch_id"], False, False)]


@pytest.mark.parametrize("when", ["before", "after"])
async def test_unrestorable_drop_keeps_the_reservation(tmp_path: Path, when: str) -> None:
    """No reconnect possible: the outcome is unknown, so the reservation and run are kept."""
    program, log = fake_sbatch(tmp_path)
    config = slurm_config(program)
    async with LaunchPad(lp_url(tmp_path)) as lp:
        await lp.add_wf(ONE_FW)
        async with shell_server(tmp_path) as server:
            pool = SSHPool(reconnect_attempts=2, backoff=0.01)
            async with pool, RemoteSession(RemoteHost(server.target), pool) as session:
                root = await session.launch_root(str(tmp_path / "cluster"))
                server.close_listener()
                server.state.drop_on_exec, server.state.drop_when = program.name, when
                with pytest.raises(RemoteError) as error:
                    await launch_to_queue(
                        lp, FWorker(), config, session.client(config), session.fs,
                        launch_dir=root, reserve=True,
                    )  # fmt: skip
        info = await reservations(lp)
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith("Firework 1 (launch 1) may or may not be queued, so its reservation")
    assert "afw lpad rerun_fws -i 1" in message
    (launch,) = info[1]["launches"]
    assert (info[1]["state"], launch["job_ids"]) == ("RESERVED", [])
    assert info[1]["runs"] == [(launch["launch_id"], False, False)]
    record = Path(root, f"{ONCE_PREFIX}launch-1")
    if when == "after":
        assert len(jobs(log)) == 1
        assert (record / "returncode").read_text() == "0\n"
        assert (record / "stdout").read_text() == "Submitted batch job 1001\n"
    else:
        assert jobs(log) == []
        assert not record.exists()


async def test_hostile_names_and_dirs_reach_the_scheduler_literally(tmp_path: Path) -> None:
    pwned = tmp_path / "pwned"
    odd_dir = "run; $(touch PWNED1) `touch PWNED2` 'q' \"d\" && touch PWNED3"
    spec = {
        "_tasks": [],
        "_launch_dir": odd_dir,
        "_queueadapter": {"job_name": f"j'; touch {pwned}3; '$(touch {pwned}4)"},
    }
    wf = {"fws": [{"fw_id": 1, "name": f"n; $(touch {pwned}5)", "spec": spec}]}
    program, log = fake_sbatch(tmp_path)
    config = slurm_config(program)
    async with LaunchPad(lp_url(tmp_path)) as lp, shell_server(tmp_path) as server:
        await lp.add_wf(wf)
        async with RemoteSession(RemoteHost(server.target)) as session:
            root = await session.launch_root(str(tmp_path / "cluster"))
            report = await rapidfire(
                lp, FWorker(), config, session.client(config), session.fs, launch_dir=root,
                reserve=True, options=QlaunchOptions(sleep_time=0, max_loops=1),
                user=session.user, remote_host=session.spec,
            )  # fmt: skip
        info = await reservations(lp)
    ((cwd, args),) = [line.split("|", 1) for line in jobs(log)]
    assert posixpath.basename(cwd) == odd_dir
    assert args == "FW_submit.script"
    assert info[1]["launches"][0]["dir"] == cwd == report.launch_dirs[0]
    (submit_line,) = [c for c in server.state.commands if program.name in c]
    assert cwd in shlex.split(submit_line)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("pwned")) == []
    assert list(tmp_path.rglob("PWNED*")) == list(Path.cwd().glob("PWNED*")) == []


async def test_guarded_submission_is_idempotent_locally_too(tmp_path: Path) -> None:
    """The wrapper itself: the same key twice submits once and answers the same job id."""
    program, log = fake_sbatch(tmp_path)
    client = QueueClient.from_config(slurm_config(program), LocalCommandRunner(), submit_once=True)
    script = tmp_path / "FW_submit.script"
    script.write_text("#!/bin/sh\n")
    first = await client.submit(str(script), once_key="launch-7")
    again = await client.submit(str(script), once_key="launch-7")
    other = await client.submit(str(script), once_key="launch-8")
    assert (first, again, other) == ("1001", "1001", "1002")
    assert len(jobs(log)) == 2


def test_wrapper_results_are_decoded() -> None:
    argv = ["sbatch", "FW_submit.script"]
    ok = CommandResult(0, "Submitted batch job 5\n", "warn\nafw-submit: returncode 0\n")
    assert once_result(ok, argv) == CommandResult(0, "Submitted batch job 5\n", "warn\n")
    refused = CommandResult(0, "", "sbatch: error: QOSMaxSubmitJobPerUserLimit\n"
                            "afw-submit: returncode 1\n")  # fmt: skip
    assert once_result(refused, argv).returncode == 1
    missing = CommandResult(0, "", "sh: 1: sbatch: not found\nafw-submit: returncode 127\n")
    with pytest.raises(QueueError, match="^command not found on the remote host: sbatch$"):
        once_result(missing, argv)
    with pytest.raises(QueueError, match="cannot create"):
        once_result(CommandResult(73, "", "afw-submit: cannot create .afw-submit-x\n"), argv)
    for pending in (CommandResult(75, "", "afw-submit: pending\n"), CommandResult(-9, "", "")):
        with pytest.raises(RemoteError) as error:
            once_result(pending, argv, "/d/.afw-submit-x")
        assert error.value.context["outcome"] == "unknown"
        assert error.value.context["record"] == "/d/.afw-submit-x"
