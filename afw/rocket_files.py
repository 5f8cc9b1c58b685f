"""The Rocket's file work in the launch dir: FW.json, ``_files_in``/``_files_out``, recovery copy,
and the final action's decoration. Runs in worker threads (blocking I/O)."""

from __future__ import annotations

import bz2
import gzip
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from afw.action import FWAction
from afw.errors import FileFormatError
from afw.firework import Firework
from afw.fs.atomic import write_atomic_sync
from afw.fworker import FWorker
from afw.serialize import dump_json

__all__ = ["decorate", "prepare_launch_dir", "write_fw_json"]

# Files of an earlier run that must not be copied into a new run (a stale result would be read).
_RUN_FILES = ("FW_offline.json", "FW_ping.json", "FW_action.json", "FW.json", "FWAction.json")


def write_fw_json(fw: Firework, launch_dir: Path) -> None:
    """Write the Firework to ``FW.json`` atomically (as FireWorks does at the start of a run)."""
    write_atomic_sync(launch_dir / "FW.json", dump_json(fw.to_dict(), indent=True))


def _copy_decompressing(src: Path, dest: Path) -> None:
    opener: Any = {".gz": gzip.open, ".bz2": bz2.open}.get(src.suffix)
    if opener is None:
        shutil.copyfile(src, dest)
        return
    with opener(src, "rb") as fin, dest.open("wb") as fout:
        shutil.copyfileobj(fin, fout)


def prepare_launch_dir(fw: Firework, launch_dir: Path, recovery: Mapping[str, Any] | None) -> None:
    """Create the dir; copy the previous run's files (``_mode: cp``) or ``_files_in``."""
    launch_dir.mkdir(parents=True, exist_ok=True)
    if recovery:
        prev = recovery.get("_prev_dir")
        if recovery.get("_mode") == "cp" and prev and Path(prev).resolve() != launch_dir.resolve():
            if not Path(prev).is_dir():
                raise FileFormatError(f"cannot copy data from the previous run: {prev} is gone")
            shutil.copytree(
                prev, launch_dir, dirs_exist_ok=True, ignore=shutil.ignore_patterns(*_RUN_FILES)
            )
        return
    files_prev: Mapping[str, str] = fw.spec.get("_files_prev") or {}
    for key, dest in (fw.spec.get("_files_in") or {}).items():
        if key not in files_prev:
            raise FileFormatError(f"_files_in: no parent published a file under {key!r}")
        _copy_decompressing(Path(files_prev[key]), launch_dir / dest)


def decorate(
    action: FWAction,
    fw: Firework,
    spec: Mapping[str, Any],
    launch_dir: Path,
    fworker: FWorker,
    state: str,
) -> FWAction:
    """Add ``_pass_job_info``, ``_preserve_fworker`` and ``_files_out`` effects to the action."""
    if spec.get("_pass_job_info"):
        job_info = list(spec.get("_job_info") or [])
        mine = {"fw_id": fw.fw_id, "name": fw.name, "launch_dir": str(launch_dir), "state": state}
        if mine not in job_info:
            job_info.append(mine)
        action.mod_spec.append({"_push_all": {"_job_info": job_info}})
    if spec.get("_preserve_fworker"):
        action.update_spec["_fworker"] = fworker.name
    for key, pattern in (spec.get("_files_out") or {}).items():
        matches = sorted(str(p) for p in launch_dir.glob(str(pattern)))
        if matches:
            action.mod_spec.append({"_set": {f"_files_prev->{key}": matches[-1]}})
    return action
