"""qlaunch against the real single-node Slurm (``slurm`` fixture; fails under CI=true if absent)."""

from __future__ import annotations

import json
import stat
import uuid
from pathlib import Path

from clihelp import afw
from qlhelp import (
    add_wf,
    fw_states,
    launch_info,
    offline_env,
    ok,
    pending_offline,
    qenv,
    script_task,
    slurm_qadapter,
    store_away,
    store_url,
    three_fw_workflow,
    wait_for_actions,
    wf_state,
    write_lp_file,
    write_qadapter,
)
from services import SlurmCluster

JOB_TIMEOUT = 60


def _qadapter(tmp_path: Path, slurm: SlurmCluster, **extra: object) -> None:
    write_qadapter(tmp_path / "my_qadapter.yaml", **slurm_qadapter(slurm.partition, **extra))


def test_offline_workflow_end_to_end_on_slurm(tmp_path: Path, slurm: SlurmCluster) -> None:
    """qlaunch -r → Slurm runs the jobs with no database → recover_offline → COMPLETED."""
    url = store_url(tmp_path)
    pwned = tmp_path / "pwned"
    add_wf(url, three_fw_workflow(child_name=f"c; $(touch {pwned})", child_dir="run; $(id)"))
    _qadapter(tmp_path, slurm)
    lp_file = write_lp_file(tmp_path)
    env = offline_env(tmp_path)

    def qlaunch(*args: str) -> str:
        return ok(afw("qlaunch", "-l", str(lp_file), *args, env=env, cwd=tmp_path)).stderr

    def recover() -> None:
        ok(afw("lpad", "-l", str(lp_file), "recover_offline", env=env, cwd=tmp_path))

    assert "submitted 1 job(s)" in qlaunch("-r", "rapidfire", "--nlaunches", "1", "--sleep", "0")
    parent = launch_info(url)[1]
    (parent_dir,) = parent["dirs"]
    (reserved,) = [h for h in parent["history"] if h["state"] == "RESERVED"]
    job_id = reserved["reservation_id"]
    with store_away(tmp_path):
        wait_for_actions([parent_dir], JOB_TIMEOUT)
    assert Path(parent_dir, f"parent-{job_id}.out").is_file(), "Slurm output in the launch dir"

    recover()
    assert fw_states(url) == {1: "COMPLETED", 2: "READY", 3: "READY"}
    assert "submitted 2 job(s)" in qlaunch("-r", "rapidfire", "--sleep", "0")
    info = launch_info(url)
    wait_for_actions([d for i in (2, 3) for d in info[i]["dirs"]], JOB_TIMEOUT)
    recover()
    assert wf_state(url, 1) == "COMPLETED"
    assert pending_offline(url) == []
    (odd_dir,) = info[2]["dirs"]
    assert odd_dir == str(Path(parent_dir).parent / "run; $(id)")
    assert Path(odd_dir, "out.txt").read_text() == "a\n"
    assert not pwned.exists()


def test_maxjobs_queue_on_slurm(tmp_path: Path, slurm: SlurmCluster) -> None:
    """-m 2: never more than 2 unfinished jobs, and squeue is run exactly once per round."""
    token = uuid.uuid4().hex[:8]
    names = [f"mq{token}_{i}" for i in range(4)]
    url = store_url(tmp_path)
    for name in names:
        fw = {"fw_id": 1, "name": name, "spec": {"_tasks": [script_task("sleep 2")]}}
        add_wf(url, {"fws": [fw]})
    # A real squeue, limited to this test's jobs (other tests may use the cluster meanwhile),
    # that logs each call and what it saw.
    seen = tmp_path / "seen.log"
    wrapper = tmp_path / "squeue-logged"
    wrapper.write_text(
        "#!/bin/bash\nset -o pipefail\n"
        f'echo "=== $*" >> {seen}\n'
        f'squeue "$@" --name={",".join(names)} | tee -a {seen}\n'
    )
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    _qadapter(tmp_path, slurm, _q_commands_override={"status_cmd": str(wrapper)})

    args = ["qlaunch", "--json", "-r", "rapidfire", "-m", "2", "--sleep", "1", "--timeout", "60"]
    result = ok(afw(*args, env=qenv(tmp_path), cwd=tmp_path))
    report = result.json()
    assert len(report["job_ids"]) == 4
    calls = seen.read_text().split("=== ")[1:]
    assert len(calls) == report["rounds"], "one squeue per round"
    for call in calls:
        unfinished = [ln for ln in call.splitlines()[1:] if ln and "COMPLETED" not in ln]
        assert len(unfinished) <= 2, call
    info = launch_info(url)
    wait_for_actions([d for v in info.values() for d in v["dirs"]], JOB_TIMEOUT)
    ids = {h.get("reservation_id") for v in info.values() for h in v["history"]}
    assert set(report["job_ids"]) <= ids
    assert (
        json.loads(Path(info[1]["dirs"][0], "FW_action.json").read_text())["state"] == "COMPLETED"
    )
