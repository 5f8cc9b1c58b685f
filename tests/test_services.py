"""The test services themselves work: each test proves one service end to end."""

from __future__ import annotations

import shlex
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from services import SlurmCluster, SshdService


def test_mongodb_ping_insert_find(fresh_mongo_db: tuple[str, str]) -> None:
    import pymongo

    uri, dbname = fresh_mongo_db
    client: pymongo.MongoClient[dict[str, object]] = pymongo.MongoClient(
        uri, serverSelectionTimeoutMS=5000
    )
    try:
        assert client.admin.command("ping")["ok"] == 1
        coll = client[dbname]["things"]
        coll.insert_many([{"_id": i, "square": i * i} for i in range(10)])
        assert coll.find_one({"_id": 3}) == {"_id": 3, "square": 9}
        assert coll.count_documents({"square": {"$gt": 10}}) == 6
        doc = coll.find_one_and_update(
            {"_id": 4}, {"$set": {"seen": True}}, return_document=pymongo.ReturnDocument.AFTER
        )
        assert doc == {"_id": 4, "square": 16, "seen": True}
        assert dbname in client.list_database_names()
    finally:
        client.close()


def test_slurm_sbatch_runs_repo_python(slurm: SlurmCluster, tmp_path: Path) -> None:
    """A batch job runs, sees the submitting environment and can use this venv's python."""
    marker = tmp_path / "marker.txt"
    code = f"import pathlib, sys; pathlib.Path({str(marker)!r}).write_text(sys.prefix)"
    wrap = f"{shlex.quote(sys.executable)} -c {shlex.quote(code)}"
    out = subprocess.run(
        [
            "sbatch",
            "--parsable",
            "-J",
            "afw-services-test",
            "-p",
            slurm.partition,
            "-D",
            str(tmp_path),
            "-o",
            str(tmp_path / "slurm-%j.out"),
            "--wrap",
            wrap,
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    job_id = out.strip().split(";")[0]
    assert job_id.isdigit(), out

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        active = subprocess.run(
            ["squeue", "-h", "-j", job_id, "-t", "PD,R,CG", "-o", "%T"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        ).stdout.strip()
        if marker.exists() and not active:
            break
        time.sleep(0.5)
    else:
        out_file = tmp_path / f"slurm-{job_id}.out"
        log = out_file.read_text(errors="replace") if out_file.exists() else "<no output>"
        pytest.fail(f"slurm job {job_id} did not finish in 60 s; output: {log}")
    assert marker.read_text() == sys.prefix


@pytest.mark.anyio
async def test_sshd_exec_and_sftp(sshd: SshdService, tmp_path: Path) -> None:
    import asyncssh

    async with asyncssh.connect(
        sshd.host,
        port=sshd.port,
        username=sshd.user,
        client_keys=[str(sshd.key_path)],
        known_hosts=str(sshd.known_hosts),
        config=[],
    ) as conn:
        result = await conn.run("echo ok", check=True)
        assert result.stdout == "ok\n"
        remote = tmp_path / "via-sftp.txt"
        async with conn.start_sftp_client() as sftp:
            async with sftp.open(str(remote), "w") as f:
                await f.write("hello over sftp\n")
            assert await sftp.exists(str(remote))
        assert remote.read_text() == "hello over sftp\n"


FIREWORKS_SCRIPT = textwrap.dedent(
    """
    import sys

    from fireworks import Firework, FWorker, LaunchPad, ScriptTask, Workflow
    from fireworks.core.rocket_launcher import rapidfire

    uri, name = sys.argv[1], sys.argv[2]
    lp = LaunchPad(host=uri, name=name, uri_mode=True, strm_lvl="ERROR")
    lp.reset("", require_password=False)
    fw = Firework(ScriptTask.from_str("echo hi"), name="hello")
    ids = lp.add_wf(Workflow([fw], name="services-test"))
    rapidfire(lp, FWorker(), nlaunches=0, strm_lvl="ERROR")
    (fw_id,) = ids.values()
    print("STATE", lp.get_fw_by_id(fw_id).state)
    """
)


def test_fireworks_rapidfire_completes(
    fireworks_python: Path, fresh_mongo_db: tuple[str, str], tmp_path: Path
) -> None:
    uri, dbname = fresh_mongo_db
    script = tmp_path / "fw_roundtrip.py"
    script.write_text(FIREWORKS_SCRIPT)
    proc = subprocess.run(
        [str(fireworks_python), str(script), uri, dbname],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "STATE COMPLETED" in proc.stdout, proc.stdout + proc.stderr[-3000:]
    assert list(tmp_path.glob("launcher_*/FW.json")), "rapidfire made no launcher directory"
