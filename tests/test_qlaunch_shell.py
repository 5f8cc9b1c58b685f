"""qlaunch end to end on the ``shell`` adapter: offline reservations, and plain (online) jobs."""

from __future__ import annotations

import json
from pathlib import Path

from clihelp import afw
from qlhelp import (
    OFFLINE,
    add_wf,
    fw_states,
    launch_info,
    offline_env,
    ok,
    pending_offline,
    qenv,
    store_away,
    store_url,
    three_fw_workflow,
    wait_for,
    wait_for_actions,
    wf_state,
    write_lp_file,
    write_qadapter,
)

JOB_TIMEOUT = 60


def test_offline_reservations_end_to_end(tmp_path: Path) -> None:
    """qlaunch -r → jobs run with no database → recover_offline → children → COMPLETED."""
    pwned = tmp_path / "pwned"
    name = f"x; $(touch {pwned}1) `touch {pwned}2`"
    url = store_url(tmp_path)
    add_wf(url, three_fw_workflow(child_name=name, child_dir=f"run; $(touch {pwned}3)"))
    write_qadapter(tmp_path / "my_qadapter.yaml", _fw_q_type="shell", rocket_launch=OFFLINE)
    lp_file = str(write_lp_file(tmp_path))
    env = offline_env(tmp_path)

    # One round: the parent is submitted; waiting for its children would need recover_offline.
    first = afw(
        "qlaunch", "-l", lp_file, "-r", "rapidfire", "--max-loops", "1", env=env, cwd=tmp_path
    )
    assert "submitted 1 job(s)" in ok(first).stderr
    parent = launch_info(url)[1]
    assert parent["state"] == "RESERVED"
    (parent_dir,) = parent["dirs"]
    assert Path(parent_dir).parent.name.startswith("block_")
    assert Path(parent_dir).name.startswith("launcher_")
    assert json.loads(Path(parent_dir, "FW_offline.json").read_text()).keys() >= {"launch_id"}

    with store_away(tmp_path):
        wait_for_actions([parent_dir], JOB_TIMEOUT)

    ok(afw("lpad", "-l", lp_file, "recover_offline", env=env, cwd=tmp_path))
    assert fw_states(url) == {1: "COMPLETED", 2: "READY", 3: "READY"}

    second = afw("qlaunch", "-l", lp_file, "rapidfire", "-r", "--sleep", "0", env=env, cwd=tmp_path)
    assert "submitted 2 job(s)" in ok(second).stderr
    info = launch_info(url)
    child_dirs = [d for fw_id in (2, 3) for d in info[fw_id]["dirs"]]
    wait_for_actions(child_dirs, JOB_TIMEOUT)
    ok(afw("lpad", "-l", lp_file, "recover_offline", env=env, cwd=tmp_path))
    assert wf_state(url, 1) == "COMPLETED"
    assert pending_offline(url) == []

    # Names and paths with shell syntax reached the scheduler and the job literally.
    (odd_dir,) = info[2]["dirs"]
    assert odd_dir == str(Path(parent_dir).parent / f"run; $(touch {pwned}3)")
    assert Path(odd_dir, "out.txt").read_text() == "a\n"
    fw_json = json.loads(Path(odd_dir, "FW.json").read_text())
    assert fw_json["name"] == name and fw_json["launches"][0]["launch_dir"] == odd_dir
    assert not list(tmp_path.glob("pwned*")), "shell syntax in a name or path was executed"


def test_plain_jobs_check_out_their_own_fireworks(tmp_path: Path) -> None:
    """Without -r the job's own `afw rlaunch singleshot` picks a READY Firework."""
    url = store_url(tmp_path)
    add_wf(url, three_fw_workflow())
    write_qadapter(
        tmp_path / "my_qadapter.yaml", _fw_q_type="shell", rocket_launch="afw rlaunch singleshot"
    )
    env = qenv(tmp_path)

    ok(afw("qlaunch", "singleshot", env=env, cwd=tmp_path))
    wait_for(lambda: fw_states(url)[1] == "COMPLETED", JOB_TIMEOUT, "the parent to complete")
    assert launch_info(url)[1]["dirs"] == [str(tmp_path)]
    assert fw_states(url) == {1: "COMPLETED", 2: "READY", 3: "READY"}

    result = afw("qlaunch", "rapidfire", "--nlaunches", "2", "--sleep", "0", env=env, cwd=tmp_path)
    assert "submitted 2 job(s)" in ok(result).stderr
    wait_for(lambda: wf_state(url, 1) == "COMPLETED", JOB_TIMEOUT, "the workflow to complete")
    info = launch_info(url)
    for fw_id in (2, 3):
        (launch_dir,) = info[fw_id]["dirs"]
        assert Path(launch_dir).name.startswith("launcher_")
        assert Path(launch_dir, "FW_submit.script").is_file()
        assert info[fw_id]["runs"] == {}, "online jobs are no offline runs"
