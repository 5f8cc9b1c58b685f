"""The ``afw`` program on MongoDB: a whole run from the command line, and a stopped server."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import yaml

AFW = [sys.executable, "-m", "afw"]
WORKFLOW = {
    "name": "cli run",
    "fws": [
        {"fw_id": 1, "name": "first", "spec": {"_priority": 5, "_tasks": [
            {"_fw_name": "PyTask", "func": "math.pow", "args": [3, 2], "outputs": ["nine"]}]}},
        {"fw_id": 2, "name": "second", "spec": {"_tasks": [
            {"_fw_name": "ScriptTask", "script": "echo second > out.txt"}]}},
    ],
    "links": {"1": [2]},
}  # fmt: skip


def afw(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*AFW, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def test_cli_run_on_mongodb(fresh_mongo_db: tuple[str, str], tmp_path: Path) -> None:
    uri, dbname = fresh_mongo_db
    lp_file = tmp_path / "my_launchpad.yaml"
    lp_file.write_text(yaml.safe_dump({"host": uri, "name": dbname, "uri_mode": True}))
    (tmp_path / "wf.json").write_text(json.dumps(WORKFLOW))
    assert afw("lpad", "-l", str(lp_file), "add", "wf.json", cwd=tmp_path).returncode == 0
    ids = afw("lpad", "-l", str(lp_file), "get_fws", "-q", '{"spec._priority": {"$gte": 5}}',
              "-d", "ids", cwd=tmp_path)  # fmt: skip
    assert json.loads(ids.stdout) == [1], ids.stderr
    run = afw("rlaunch", "-l", str(lp_file), "rapidfire", "--sleep", "0.2", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    fws = json.loads(afw("lpad", "-l", str(lp_file), "get_fws", "-d", "all", cwd=tmp_path).stdout)
    assert [fw["state"] for fw in fws] == ["COMPLETED", "COMPLETED"]
    assert fws[1]["spec"]["nine"] == 9.0
    assert list(tmp_path.glob("launcher_*/out.txt"))
    bad = afw("lpad", "-l", str(lp_file), "get_fws", "-q", '{"state": {"$bogus": 1}}', cwd=tmp_path)
    assert bad.returncode != 0 and len(bad.stderr.strip().splitlines()) == 1, bad.stderr


def test_stopped_server_fails_fast_with_one_line(tmp_path: Path) -> None:
    """Nothing listens: ``afw lpad get_fws`` fails in < 10 s, one clear line, no password."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "AFW_LAUNCHPAD": f"mongodb://alice:s3cret@127.0.0.1:{port}/fireworks"}
    env.pop("AFW_MONGO_TIMEOUT_MS", None)
    started = time.monotonic()
    proc = afw("lpad", "get_fws", cwd=tmp_path, env=env)
    elapsed = time.monotonic() - started
    assert proc.returncode == 1
    assert elapsed < 10, elapsed
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"afw: error: cannot reach MongoDB at 127.0.0.1:{port}/fireworks")
    assert "s3cret" not in proc.stderr and "alice" not in proc.stderr
