"""qlaunch rapidfire against stand-in scheduler commands (small real scripts, no Slurm needed).

The scripts play sbatch/squeue through ``_q_commands_override``: a barrier that only answers once
N submissions wait at once, a queue that fills up, a scheduler that refuses the first job.
"""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import anyio
from clihelp import afw
from qlhelp import OFFLINE, add_singles, launch_info, ok, qenv, store_url, write_qadapter

from afw import LaunchPad
from afw.fs.local import LocalFileSystem
from afw.fworker import FWorker
from afw.queue import LocalCommandRunner, QueueClient, QueueConfig
from afw.queue.launcher import QlaunchOptions, QlaunchReport, rapidfire

LIMIT_MESSAGE = (
    "sbatch: error: Batch job submission failed: Job violates accounting/QOS policy "
    "(job submit limit, user's size and/or time limits)"
)


def _script(path: Path, body: str) -> str:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def _fake_queue(tmp_path: Path, sbatch_body: str | None = None) -> dict[str, str]:
    """sbatch appends ``pid|PENDING`` to a queue file; squeue logs its call and prints it."""
    state = tmp_path / "state"
    state.mkdir()
    (state / "queue").touch()
    submit = sbatch_body or f'echo "$$|PENDING" >> {state}/queue\necho "Submitted batch job $$"\n'
    return {
        "submit_cmd": _script(tmp_path / "sbatch", submit),
        "status_cmd": _script(
            tmp_path / "squeue", f'echo "$@" >> {state}/count.log\ncat {state}/queue\n'
        ),
    }


async def _rapidfire(
    tmp_path: Path, overrides: dict[str, str], options: QlaunchOptions
) -> QlaunchReport:
    config = QueueConfig.from_dict(
        {"_fw_q_type": "SLURM", "rocket_launch": OFFLINE, "_q_commands_override": overrides}
    )
    client = QueueClient.from_config(config, LocalCommandRunner())
    async with LaunchPad(store_url(tmp_path)) as lp, LocalFileSystem() as fs:
        return await rapidfire(
            lp,
            FWorker(),
            config,
            client,
            fs,
            launch_dir=str(tmp_path / "runs"),
            reserve=True,
            options=options,
        )


def _reserved(tmp_path: Path) -> dict[int, dict[str, Any]]:
    return {i: v for i, v in launch_info(store_url(tmp_path)).items() if v["state"] == "RESERVED"}


def test_maxjobs_queue_is_respected_and_counted_once_per_round(tmp_path: Path) -> None:
    add_singles(store_url(tmp_path), [f"fw{i}" for i in range(5)])
    overrides = _fake_queue(tmp_path)
    options = QlaunchOptions(maxjobs_queue=3, sleep_time=0.1, timeout=1.0)
    report = anyio.run(_rapidfire, tmp_path, overrides, options)
    assert len(report.job_ids) == 3, "the queue holds 3 jobs: no more may be submitted"
    assert len(_reserved(tmp_path)) == 3
    counts = (tmp_path / "state" / "count.log").read_text().splitlines()
    assert report.rounds >= 3
    assert len(counts) == report.rounds, "one queue count per round, not per job"
    assert all("--user=" in line for line in counts)


def test_limit_refusal_is_waiting_and_retried_next_round(tmp_path: Path) -> None:
    ids = add_singles(store_url(tmp_path), ["a", "b"])
    refused = tmp_path / "state" / "refused"
    sbatch = (
        f"if [ ! -e {refused} ]; then touch {refused}; echo {LIMIT_MESSAGE!r} >&2; exit 1; fi\n"
        'echo "Submitted batch job $$"\n'
    )
    overrides = _fake_queue(tmp_path, sbatch)
    options = QlaunchOptions(sleep_time=0.05, concurrency=1)
    report = anyio.run(_rapidfire, tmp_path, overrides, options)
    assert report.limited_rounds == 1 and report.rounds == 2
    assert len(report.job_ids) == 2
    info = launch_info(store_url(tmp_path))
    assert {info[i]["state"] for i in ids} == {"RESERVED"}
    archived = [(i, a) for i in ids for a in info[i]["archived"]]
    assert len(archived) == 1, "the refused reservation was cancelled (launch archived)"
    fw_id, launch_id = archived[0]
    assert info[fw_id]["runs"][launch_id].deprecated, "and its offline run forgotten"
    jobs = {h.get("reservation_id") for i in ids for h in info[i]["history"]}
    assert set(report.job_ids) <= jobs
    launchers = list((tmp_path / "runs").glob("block_*/launcher_*"))
    assert len(launchers) == 2, "the refused job's launcher dir is not left behind"


def test_limit_refusal_in_singleshot_is_not_a_failure(tmp_path: Path) -> None:
    (fw_id,) = add_singles(store_url(tmp_path), ["a"])
    sbatch = f"echo {LIMIT_MESSAGE!r} >&2\nexit 1\n"
    write_qadapter(
        tmp_path / "my_qadapter.yaml",
        _fw_q_type="SLURM",
        rocket_launch=OFFLINE,
        _q_commands_override=_fake_queue(tmp_path, sbatch),
    )
    result = ok(afw("qlaunch", "-r", "singleshot", env=qenv(tmp_path), cwd=tmp_path))
    assert "waiting" in result.stderr
    assert launch_info(store_url(tmp_path))[fw_id]["state"] == "READY"


def test_reservations_proceed_concurrently(tmp_path: Path) -> None:
    """The stand-in sbatch answers only once 6 submissions wait at once (else it times out)."""
    count = 6
    add_singles(store_url(tmp_path), [f"fw{i}" for i in range(count)])
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    sbatch = (
        f'touch {barrier}/$$\nn=0\nwhile [ "$(ls {barrier} | wc -l)" -lt {count} ]; do\n'
        '  n=$((n+1)); if [ $n -gt 300 ]; then echo "barrier timeout" >&2; exit 1; fi\n'
        "  sleep 0.05\ndone\n"
        'echo "Submitted batch job $$"\n'
    )
    write_qadapter(
        tmp_path / "my_qadapter.yaml",
        _fw_q_type="SLURM",
        rocket_launch=OFFLINE,
        _q_commands_override=_fake_queue(tmp_path, sbatch),
    )
    result = ok(afw("qlaunch", "-r", "rapidfire", "--sleep", "0", env=qenv(tmp_path), cwd=tmp_path))
    assert f"submitted {count} job(s)" in result.stderr
    reserved = _reserved(tmp_path)
    assert len(reserved) == count
    for info in reserved.values():
        (entry,) = [h for h in info["history"] if h["state"] == "RESERVED"]
        assert entry["reservation_id"].isdigit()
        (launch_dir,) = info["dirs"]
        assert (
            Path(launch_dir, "FW.json").is_file() and Path(launch_dir, "FW_offline.json").is_file()
        )
