"""The Rocket's file work in the launch dir: FW.json, ``_files_in``/``_files_out``, the recovery
copy and resume dir, and the final action's decoration. Runs in worker threads (blocking I/O)."""

from __future__ import annotations

import bz2
import gzip
import os
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

__all__ = ["decorate", "prepare_launch_dir", "resume_dir", "write_fw_json"]

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
    """Create the dir and bring in the inputs.

    A task-level resume (``spec._recovery``) with ``_mode`` ``"cp"`` copies the previous launch
    dir in (it must be readable here: same filesystem); with ``"prev_dir"`` it runs in the
    previous dir, which must still hold the earlier run's files. Otherwise (a fresh run, or a
    resume in a new dir) the parents' ``_files_in`` are copied.
    """
    launch_dir.mkdir(parents=True, exist_ok=True)
    mode = recovery.get("_mode") if recovery else None
    prev = str(recovery.get("_prev_dir") or "") if recovery else ""
    if mode == "cp":
        _copy_previous(prev, launch_dir)
        return
    if mode == "prev_dir":
        if prev and _same_dir(prev, launch_dir) and not any(launch_dir.iterdir()):
            raise FileFormatError(f"cannot rerun in the previous launch dir: {prev} is gone")
        return
    files_prev: Mapping[str, str] = fw.spec.get("_files_prev") or {}
    for key, dest in (fw.spec.get("_files_in") or {}).items():
        if key not in files_prev:
            raise FileFormatError(f"_files_in: no parent published a file under {key!r}")
        _copy_decompressing(Path(files_prev[key]), launch_dir / dest)


def _same_dir(a: str | Path, b: str | Path) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)


def _copy_previous(prev: str, launch_dir: Path) -> None:
    if not prev:
        raise FileFormatError("cannot copy data from the previous run: its launch dir is unknown")
    if _same_dir(prev, launch_dir):
        return
    if not Path(prev).is_dir():
        raise FileFormatError(f"cannot copy data from the previous run: {prev} is gone")
    shutil.copytree(
        prev, launch_dir, dirs_exist_ok=True, ignore=shutil.ignore_patterns(*_RUN_FILES)
    )


def resume_dir(recovery: Mapping[str, Any] | None, launch_dir: Path) -> Path:
    """Where a resumed run's tasks start (FireWorks #269): the directory the interrupted task
    was working in (the checkpoint's ``_cwd``), mapped into ``launch_dir`` when it lay inside
    the previous launch dir (created if missing), kept as it is when it lay elsewhere and still
    exists; ``launch_dir`` when nothing else applies."""
    cwd = str((recovery or {}).get("_cwd") or "")
    prev = str((recovery or {}).get("_prev_dir") or "")
    if not cwd or not prev:
        return launch_dir
    rel = os.path.relpath(os.path.realpath(cwd), os.path.realpath(prev))
    if rel == os.curdir:
        return launch_dir
    if rel != os.pardir and not rel.startswith(os.pardir + os.sep):
        target = launch_dir / rel
        target.mkdir(parents=True, exist_ok=True)
        return target
    return Path(cwd) if Path(cwd).is_dir() else launch_dir


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
