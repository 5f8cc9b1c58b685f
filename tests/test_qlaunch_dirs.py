"""Where qlaunch puts jobs (block/launcher dirs, _launch_dir) and what their scripts say.

A stand-in sbatch (a tiny script that only answers with a job id) keeps these tests independent
of Slurm: nothing runs, only the launch dirs and the store are checked.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

from clihelp import afw
from qlhelp import OFFLINE, add_singles, add_wf, launch_info, ok, qenv, store_url, write_qadapter


def _setup(tmp_path: Path) -> dict[str, str]:
    sbatch = tmp_path / "sbatch"
    sbatch.write_text('#!/bin/sh\necho "Submitted batch job $$"\n')
    sbatch.chmod(sbatch.stat().st_mode | stat.S_IXUSR)
    write_qadapter(
        tmp_path / "my_qadapter.yaml",
        _fw_q_type="SLURM",
        rocket_launch=OFFLINE,
        walltime="01:00:00",
        _q_commands_override={"submit_cmd": str(sbatch)},
    )
    return qenv(tmp_path, AFW_TEST_SCRATCH=str(tmp_path / "scratch"))


def test_blocks_fill_up_and_are_reused(tmp_path: Path) -> None:
    env = _setup(tmp_path)
    url = store_url(tmp_path)
    add_singles(url, [f"fw{i}" for i in range(3)])
    args = ["qlaunch", "-r", "--launch-dir", "runs", "rapidfire", "-b", "2", "--sleep", "0"]
    assert "submitted 3 job(s)" in ok(afw(*args, env=env, cwd=tmp_path)).stderr
    blocks = sorted((tmp_path / "runs").glob("block_*"))
    assert [len(list(b.glob("launcher_*"))) for b in blocks] == [2, 1]

    add_singles(url, ["fw3", "fw4"])
    ok(afw(*args, env=env, cwd=tmp_path))
    blocks = sorted((tmp_path / "runs").glob("block_*"))
    assert [len(list(b.glob("launcher_*"))) for b in blocks] == [2, 2, 1], "newest block reused"


def test_spec_queueadapter_and_launch_dir_are_honoured(tmp_path: Path) -> None:
    env = _setup(tmp_path)
    url = store_url(tmp_path)
    spec = {
        "_tasks": [],
        "_launch_dir": "$AFW_TEST_SCRATCH/fixed",
        "_queueadapter": {"walltime": "00:10:00", "job_name": "custom name", "mem": "1G"},
    }
    (fw_id,) = sorted(add_wf(url, {"fws": [{"fw_id": 1, "name": "fw", "spec": spec}]}))
    ok(afw("qlaunch", "-r", "rapidfire", "--sleep", "0", env=env, cwd=tmp_path))
    launch_dir = tmp_path / "scratch" / "fixed"
    assert launch_info(url)[fw_id]["dirs"] == [str(launch_dir)]
    script = (launch_dir / "FW_submit.script").read_text()
    assert "#SBATCH --time=00:10:00" in script and "#SBATCH --mem=1G" in script
    assert "#SBATCH --job-name=custom_name" in script
    assert f"{OFFLINE} --fw-id {fw_id}" in script
    assert json.loads((launch_dir / "FW.json").read_text())["fw_id"] == fw_id
    assert not list(tmp_path.glob("block_*/launcher_*")), "no empty launcher dir left behind"


def test_singleshot_reserves_the_given_firework_in_the_launch_dir(tmp_path: Path) -> None:
    env = _setup(tmp_path)
    url = store_url(tmp_path)
    ids = add_singles(url, ["first", "second"])
    where = tmp_path / "here"
    args = ["qlaunch", "singleshot", "-r", "-f", str(ids[1]), "--launch-dir", str(where)]
    assert "submitted job" in ok(afw(*args, env=env, cwd=tmp_path)).stderr
    info = launch_info(url)
    assert info[ids[0]]["state"] == "READY"
    assert info[ids[1]]["state"] == "RESERVED" and info[ids[1]]["dirs"] == [str(where)]
    assert json.loads((where / "FW_offline.json").read_text()) == {
        "launch_id": info[ids[1]]["launch_ids"][0]
    }
    assert "#SBATCH --job-name=second" in (where / "FW_submit.script").read_text()
