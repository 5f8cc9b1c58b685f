"""Launch-dir file contents of a planned run, in afw's format and in FireWorks 2.1.4's (pure).

afw format: the bytes :class:`afw.fs.writer.OfflineRunWriter` and the afw Rocket leave behind
(``FW.json`` re-written indented at start, ``FW_offline.json`` with the result, ``FW_ping.json``,
``FW_action.json``); a smoke test checks that they are byte for byte what the writer produces.
FireWorks format: what 2.1.4's ``qlaunch -r`` and ``rlaunch singleshot --offline`` write
(behaviour file section 5.3): ``json.dumps`` with its default separators, no ``FW_action.json``.

Files are written plainly here (no temp file, no fsync): the content is what matters for a
benchmark of the reader, and 100,000 runs would otherwise take minutes of fsyncs to generate.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from afw.fs.formats import (
    encode_action_file,
    encode_json,
    encode_ping,
    encode_reservation,
    format_time,
    offline_doc,
)
from afw.serialize import dump_json
from benchmarks.plan import RunPlan

__all__ = [
    "FORMATS",
    "RunFiles",
    "RunTimes",
    "action_for",
    "checkpoint_for",
    "files_for",
    "run_dir",
    "run_times",
    "tasks_for",
    "write_files",
]

FORMATS = ("afw", "fireworks")
LARGE_POINTS = 5000
"""Floats in a large ``stored_data`` (about 100 kB of JSON)."""


@dataclass(frozen=True)
class RunTimes:
    """When a run was reserved, started, finished and last pinged (aware UTC datetimes)."""

    reserved: datetime
    started: datetime
    completed: datetime
    ping: datetime


def run_times(run: RunPlan, reserved: datetime) -> RunTimes:
    """Deterministic times: started about a day after the reservation, ran 1 min to 2 h."""
    started = reserved + timedelta(hours=20, seconds=run.index % 3600, microseconds=250_001)
    completed = started + timedelta(seconds=60 + (run.index * 7919) % 7200, microseconds=3)
    ping = completed if run.status in ("completed", "fizzled") else started + timedelta(hours=1)
    return RunTimes(reserved, started, completed, ping)


def run_dir(root: str, index: int) -> str:
    """Launch dir of run ``index``: 1,000 per parent dir, as qlaunch blocks would spread them."""
    return os.path.join(root, f"block_{index // 1000:04d}", f"launcher_{index:07d}")


def tasks_for(index: int) -> list[dict[str, Any]]:
    """Two FireWorks ScriptTasks (built into both afw and FireWorks)."""
    return [
        {"_fw_name": "ScriptTask", "script": [f"prepare --input in_{index}.json"]},
        {"_fw_name": "ScriptTask", "script": ["compute --threads 4"], "use_shell": True},
    ]


def checkpoint_for(run: RunPlan) -> dict[str, Any]:
    """The checkpoint written before the second task (the last one any run got to)."""
    return {
        "_task_n": 1,
        "_all_stored_data": {"prepared": True, "input_size": 100 + run.index % 900},
        "_all_update_spec": {},
        "_all_mod_spec": [],
    }


def action_for(run: RunPlan) -> dict[str, Any]:
    """The final FWAction dict (FireWorks' full shape) of a finished run."""
    base = {
        "stored_data": {},
        "exit": False,
        "update_spec": {},
        "mod_spec": [],
        "additions": [],
        "detours": [],
        "append_wfs": [],
        "defuse_children": False,
        "defuse_workflow": False,
        "propagate": False,
    }
    if run.status == "fizzled":
        trace = "Traceback (most recent call last):\n  ...\nRuntimeError: SCF did not converge\n"
        base["stored_data"] = {
            "_message": "runtime error during task",
            "_task": tasks_for(run.index)[1],
            "_exception": {"_stacktrace": trace, "_details": None},
        }
        base["exit"] = True
        return base
    energy = -100.0 - (run.index % 997) / 7.0
    data: dict[str, Any] = {"prepared": True, "input_size": 100 + run.index % 900}
    data |= {"energy": energy, "converged": True, "n_steps": 10 + run.index % 50}
    if run.large:
        data["trajectory"] = [energy + k * 1e-6 for k in range(LARGE_POINTS)]
    base["stored_data"] = data
    base["update_spec"] = {"parent_energy": energy}
    return base


RunFiles = dict[str, bytes]


def _afw_files(run: RunPlan, fw_doc: Mapping[str, Any], launch_id: int, t: RunTimes) -> RunFiles:
    if run.status == "queued":
        return {"FW.json": dump_json(fw_doc), "FW_offline.json": encode_reservation(launch_id)}
    check = checkpoint_for(run)
    base = {"launch_id": launch_id}
    files = {"FW.json": dump_json(fw_doc, indent=True)}
    if run.status == "running":
        doc = offline_doc(launch_id, started_on=t.started, checkpoint=check, base=base)
        files["FW_offline.json"] = encode_json(doc)
        files["FW_ping.json"] = encode_ping(t.ping)
        return files
    state = "COMPLETED" if run.status == "completed" else "FIZZLED"
    action = action_for(run)
    doc = offline_doc(
        launch_id,
        started_on=t.started,
        checkpoint=check,
        action=action,
        state=state,
        completed_on=t.completed,
        base=base,
    )
    files["FW_offline.json"] = encode_json(doc)
    files["FW_ping.json"] = encode_ping(t.ping)
    files["FW_action.json"] = encode_action_file(
        launch_id=launch_id,
        fw_id=int(fw_doc["fw_id"]),
        state=state,
        action=action,
        started_on=format_time(t.started),
        completed_on=format_time(t.completed),
        checkpoint=check,
        ping_time=format_time(t.ping),
    )
    return files


def _fireworks_files(
    run: RunPlan, fw_doc: Mapping[str, Any], launch_id: int, t: RunTimes
) -> RunFiles:
    if run.status == "queued":
        return {
            "FW.json": json.dumps(fw_doc).encode(),
            "FW_offline.json": b'{"launch_id":%d}' % launch_id,
        }
    doc: dict[str, Any] = {
        "launch_id": launch_id,
        "started_on": t.started.isoformat(),
        "checkpoint": checkpoint_for(run),
    }
    if run.status in ("completed", "fizzled"):
        doc["fwaction"] = action_for(run)
        doc["state"] = "COMPLETED" if run.status == "completed" else "FIZZLED"
        doc["completed_on"] = t.completed.isoformat()
    return {
        "FW.json": json.dumps(fw_doc, indent=4).encode(),
        "FW_offline.json": json.dumps(doc, ensure_ascii=False).encode(),
        "FW_ping.json": json.dumps({"ping_time": t.ping.isoformat()}).encode(),
    }


def files_for(
    fmt: str, run: RunPlan, fw_doc: Mapping[str, Any], launch_id: int, times: RunTimes
) -> RunFiles:
    """The files of ``run``'s launch dir in format ``fmt`` (``afw`` or ``fireworks``)."""
    if fmt == "afw":
        return _afw_files(run, fw_doc, launch_id, times)
    if fmt == "fireworks":
        return _fireworks_files(run, fw_doc, launch_id, times)
    raise ValueError(f"unknown launch-dir format {fmt!r}: use one of {FORMATS}")


def write_files(path: str, files: RunFiles) -> None:
    """Create ``path`` and write ``files`` into it (plain writes; see the module docstring)."""
    os.makedirs(path, exist_ok=True)
    for name, data in files.items():
        with open(os.path.join(path, name), "wb") as handle:
            handle.write(data)
