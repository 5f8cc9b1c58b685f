"""End to end: the LaunchPad here, the "cluster" reached only through the real OpenSSH sshd.

``afw qlaunch --remote-host`` writes the launch dirs over SFTP under a separate directory root
and submits to the real Slurm over SSH; the jobs run offline (the database is moved away
meanwhile); ``afw lpad recover_offline`` reads the results back over SFTP and the children run
in a second round. Connection failures give one line and change nothing.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import asyncssh
import pytest
import yaml
from clihelp import afw, one_line_error
from qlhelp import (
    OFFLINE,
    add_wf,
    fw_states,
    launch_info,
    offline_env,
    ok,
    pending_offline,
    qenv,
    slurm_qadapter,
    store_away,
    store_url,
    three_fw_workflow,
    wait_for_actions,
    wf_state,
    write_lp_file,
)
from services import SlurmCluster, SshdService

JOB_TIMEOUT = 60


def write_remotes(tmp_path: Path, sshd: SshdService, name: str, **changes: Any) -> Path:
    """A remotes.yaml with one entry, ``cluster``, for the loopback sshd and Slurm."""
    entry: dict[str, Any] = {
        "host": f"{sshd.user}@{sshd.host}:{sshd.port}",
        "key_files": [str(sshd.key_path)],
        "known_hosts": str(sshd.known_hosts),
        "use_agent": False,
        "config_files": [],
        "remote_dir": str(tmp_path / "cluster"),
        "connect_timeout": 10,
        **changes,
    }
    path = tmp_path / name
    path.write_text(yaml.safe_dump({"cluster": entry}))
    return path


def remote_hosts(url: str) -> set[str]:
    return {la["remote_host"] for la in _launch_docs(url)}


def _launch_docs(url: str) -> list[dict[str, Any]]:
    import sqlite3

    with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
        return [json.loads(row[0]) for row in conn.execute("SELECT doc FROM launches")]


def test_remote_offline_workflow_over_sshd_and_slurm(
    tmp_path: Path, sshd: SshdService, slurm: SlurmCluster
) -> None:
    url = store_url(tmp_path)
    pwned = tmp_path / "pwned"
    add_wf(url, three_fw_workflow(child_name=f"c; $(touch {pwned})", child_dir="run; $(id)"))
    remotes = write_remotes(
        tmp_path, sshd, "remotes.yaml", qadapter=slurm_qadapter(slurm.partition)
    )
    untrusted = tmp_path / "empty_known_hosts"
    untrusted.write_text("")
    bad = write_remotes(tmp_path, sshd, "bad.yaml", known_hosts=str(untrusted))
    lp_file = write_lp_file(tmp_path)
    env = offline_env(tmp_path)
    cluster = tmp_path / "cluster"

    def qlaunch(*args: str) -> str:
        remote = ["--remotes", str(remotes), "--remote-host", "cluster"]
        return ok(afw("qlaunch", "-l", str(lp_file), *remote, *args, env=env)).stderr

    def recover(config: Path = remotes) -> Any:
        return afw("lpad", "-l", str(lp_file), "recover_offline", "--remotes", str(config), env=env)

    assert "submitted 1 job(s)" in qlaunch("-r", "rapidfire", "--nlaunches", "1", "--sleep", "0")
    (parent_dir,) = launch_info(url)[1]["dirs"]
    assert parent_dir.startswith(f"{cluster}/block_")
    assert remote_hosts(url) == {f"{sshd.user}@{sshd.host}:{sshd.port}"}
    with store_away(tmp_path):
        wait_for_actions([parent_dir], JOB_TIMEOUT)

    refused = recover(bad)  # read over SSH, not from the local disk: an untrusted key stops it
    assert refused.returncode == 1 and fw_states(url)[1] == "RESERVED"
    assert "host key for" in refused.stderr
    ok(recover())
    assert fw_states(url) == {1: "COMPLETED", 2: "READY", 3: "READY"}

    assert "submitted 2 job(s)" in qlaunch("-r", "rapidfire", "--sleep", "0")
    info = launch_info(url)
    wait_for_actions([d for i in (2, 3) for d in info[i]["dirs"]], JOB_TIMEOUT)
    ok(recover())
    assert wf_state(url, 1) == "COMPLETED"
    assert pending_offline(url) == []
    (odd_dir,) = info[2]["dirs"]
    assert odd_dir == str(Path(parent_dir).parent / "run; $(id)")
    assert Path(odd_dir, "out.txt").read_text() == "a\n"
    assert not pwned.exists()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.mark.parametrize("fault", ["host-key", "auth", "unreachable"])
def test_connection_failures_give_one_line_and_change_nothing(
    tmp_path: Path, sshd: SshdService, fault: str
) -> None:
    url = store_url(tmp_path)
    add_wf(url, three_fw_workflow())
    known = tmp_path / "known_hosts"
    known.write_text("" if fault == "host-key" else sshd.known_hosts.read_text())
    before = known.read_text()
    changes: dict[str, Any] = {"known_hosts": str(known)}
    expected = {
        "host-key": f"afw: error: host key for {sshd.host}:{sshd.port} is not trusted: ",
        "auth": f"afw: error: authentication to {sshd.user}@{sshd.host}:{sshd.port} failed",
        "unreachable": f"afw: error: cannot reach {sshd.host}:",
    }[fault]
    if fault == "auth":
        other = tmp_path / "id_other"
        asyncssh.generate_private_key("ssh-ed25519").write_private_key(str(other))
        changes["key_files"] = [str(other)]
    if fault == "unreachable":
        changes["host"] = f"{sshd.user}@{sshd.host}:{_closed_port()}"
    remotes = write_remotes(tmp_path, sshd, "remotes.yaml", **changes)
    qfile = tmp_path / "q.yaml"
    qfile.write_text(yaml.safe_dump({"_fw_q_type": "SLURM", "rocket_launch": OFFLINE}))
    args = ["qlaunch", "-q", str(qfile), "--remotes", str(remotes), "--remote-host", "cluster"]
    result = afw(*args, "-r", "rapidfire", "--sleep", "0", env=qenv(tmp_path), timeout=60)
    assert one_line_error(result).startswith(expected)
    assert fw_states(url) == {1: "READY", 2: "WAITING", 3: "WAITING"}
    assert all(not v["launch_ids"] for v in launch_info(url).values())
    assert not (tmp_path / "cluster").exists()
    assert known.read_text() == before
