"""Shared pieces of the remote (``--remote-host``) tests: a fake sbatch, configs, store reads."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

from afw import LaunchPad
from afw.queue import QueueConfig
from afw.ssh import RemoteHost, Remotes, SSHTarget

OFFLINE = "afw rlaunch singleshot --offline"


def fake_sbatch(tmp_path: Path, delay: float = 0) -> tuple[Path, Path]:
    """An ``sbatch`` stand-in logging ``cwd|args`` per submission, after ``delay`` seconds:
    (program, log)."""
    log = tmp_path / "jobs.log"
    program = tmp_path / "fake_sbatch"
    program.write_text(
        "#!/bin/sh\n"
        f"sleep {delay}\n"
        f'echo "$(pwd)|$*" >> "{log}"\n'
        f'n=$(wc -l < "{log}")\n'
        'echo "Submitted batch job $((1000 + n))"\n'
    )
    program.chmod(program.stat().st_mode | stat.S_IXUSR)
    return program, log


def jobs(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def slurm_config(submit: Path | None = None, **extra: Any) -> QueueConfig:
    doc: dict[str, Any] = {"_fw_q_type": "SLURM", "rocket_launch": OFFLINE, **extra}
    if submit is not None:
        doc["_q_commands_override"] = {"submit_cmd": str(submit)}
    return QueueConfig.from_dict(doc)


def remotes_for(target: SSHTarget, name: str = "cluster") -> Remotes:
    return Remotes({name: RemoteHost(target, name)})


async def reservations(lp: LaunchPad) -> dict[int, dict[str, Any]]:
    """Per fw_id: state, its launches (dir, remote host, reservation ids), its offline runs."""
    ids = await lp.get_fw_ids({})
    assert isinstance(ids, list)
    out: dict[int, dict[str, Any]] = {}
    for fw_id in ids:
        fw = await lp.get_fw_by_id(fw_id)
        runs = await lp.store.offline_runs([la.launch_id for la in fw.launches])
        out[fw_id] = {
            "state": fw.state,
            "launches": [
                {
                    "launch_id": la.launch_id,
                    "dir": la.launch_dir,
                    "remote_host": la.remote_host,
                    "job_ids": [
                        h["reservation_id"] for h in la.state_history if "reservation_id" in h
                    ],
                }
                for la in fw.launches
            ],
            "runs": [(r.launch_id, r.completed, r.deprecated) for r in runs],
        }
    return out
