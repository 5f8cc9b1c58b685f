"""Shared pieces of the qlaunch tests: environments, queue adapter files, store inspection."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import yaml
from clihelp import Result, afw

from afw import LaunchPad

VENV_BIN = str(Path(sys.executable).parent)
OFFLINE = "afw rlaunch singleshot --offline"
# The job scripts start login shells (#!/bin/bash -l), which reset PATH: put afw back first.
PRE_ROCKET = f'export PATH="{VENV_BIN}:$PATH"'


def store_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'lp.sqlite'}"


def qenv(tmp_path: Path, **extra: str) -> dict[str, str]:
    """Environment for ``afw``: the test store, an empty AFW_HOME, the venv's afw on PATH."""
    return {
        "AFW_LAUNCHPAD": store_url(tmp_path),
        "AFW_HOME": str(tmp_path / "home"),
        "PATH": os.pathsep.join([VENV_BIN, os.environ.get("PATH", "")]),
        **extra,
    }


def offline_env(tmp_path: Path) -> dict[str, str]:
    """:func:`qenv` for offline jobs, which inherit it: a database they cannot open."""
    return qenv(tmp_path, AFW_LAUNCHPAD=f"sqlite:///{tmp_path}/missing/dir/lp.sqlite")


def write_lp_file(tmp_path: Path) -> Path:
    """``lp.yaml`` naming the test store (for ``-l``, which overrides :func:`offline_env`)."""
    path = tmp_path / "lp.yaml"
    path.write_text(f"url: {store_url(tmp_path)}\n")
    return path


@contextmanager
def store_away(tmp_path: Path) -> Iterator[None]:
    """The test store (and its WAL files) moved aside meanwhile: jobs run with no database."""
    names = [n for n in ("lp.sqlite", "lp.sqlite-wal", "lp.sqlite-shm") if (tmp_path / n).exists()]
    for name in names:
        (tmp_path / name).rename(tmp_path / f"{name}.away")
    try:
        yield
    finally:
        for name in names:
            (tmp_path / f"{name}.away").rename(tmp_path / name)


def write_qadapter(path: Path, **doc: Any) -> Path:
    """A my_qadapter.yaml with ``doc`` (``None`` values are left out)."""
    path.write_text(yaml.safe_dump({k: v for k, v in doc.items() if v is not None}))
    return path


def slurm_qadapter(partition: str, **extra: Any) -> dict[str, Any]:
    """A one-node SLURM queue adapter for offline jobs on the test cluster's ``partition``."""
    return {
        "_fw_q_type": "SLURM",
        "rocket_launch": OFFLINE,
        "pre_rocket": PRE_ROCKET,
        "queue": partition,
        "nodes": 1,
        "ntasks": 1,
        "walltime": "00:05:00",
        **extra,
    }


def script_task(command: str) -> dict[str, Any]:
    return {"_fw_name": "ScriptTask", "script": command}


def three_fw_workflow(child_name: str = "child_a", child_dir: str | None = None) -> dict[str, Any]:
    """A parent and two children, each writing a line into out.txt of its launch dir."""
    child_spec: dict[str, Any] = {"_tasks": [script_task("echo a > out.txt")]}
    if child_dir is not None:
        child_spec["_launch_dir"] = child_dir
    return {
        "fws": [
            {"fw_id": 1, "name": "parent", "spec": {"_tasks": [script_task("echo p > out.txt")]}},
            {"fw_id": 2, "name": child_name, "spec": child_spec},
            {"fw_id": 3, "name": "child_b", "spec": {"_tasks": [script_task("echo b > out.txt")]}},
        ],
        "links": {"1": [2, 3]},
        "name": "qlaunch-e2e",
    }


def add_wf(url: str, wf: dict[str, Any]) -> list[int]:
    async def go() -> list[int]:
        async with LaunchPad(url) as lp:
            return sorted((await lp.add_wf(wf)).values())

    return anyio.run(go)


def add_singles(url: str, names: Iterable[str]) -> list[int]:
    """One single-Firework workflow per name."""
    ids: list[int] = []
    for name in names:
        ids += add_wf(url, {"fws": [{"fw_id": 1, "name": name, "spec": {"_tasks": []}}]})
    return ids


def fw_states(url: str) -> dict[int, str]:
    async def go() -> dict[int, str]:
        async with LaunchPad(url) as lp:
            ids = await lp.get_fw_ids({})
            assert isinstance(ids, list)
            return {i: (await lp.get_fw_by_id(i)).state for i in ids}

    return anyio.run(go)


def wf_state(url: str, fw_id: int) -> str:
    async def go() -> str:
        async with LaunchPad(url) as lp:
            return (await lp.get_wf_by_fw_id(fw_id)).state

    return anyio.run(go)


def launch_info(url: str) -> dict[int, dict[str, Any]]:
    """Per fw_id: current launch dirs and ids, archived launch ids, offline runs by launch id."""

    async def go() -> dict[int, dict[str, Any]]:
        async with LaunchPad(url) as lp:
            ids = await lp.get_fw_ids({})
            assert isinstance(ids, list)
            info: dict[int, dict[str, Any]] = {}
            for fw_id in ids:
                fw = await lp.get_fw_by_id(fw_id)
                launch_ids = [la.launch_id for la in fw.launches] + list(fw.archived_launch_ids)
                runs = await lp.store.offline_runs(launch_ids)
                info[fw_id] = {
                    "state": fw.state,
                    "dirs": [la.launch_dir for la in fw.launches],
                    "launch_ids": [la.launch_id for la in fw.launches],
                    "archived": list(fw.archived_launch_ids),
                    "history": [h for la in fw.launches for h in la.state_history],
                    "runs": {r.launch_id: r for r in runs},
                }
            return info

    return anyio.run(go)


def pending_offline(url: str) -> list[int]:
    async def go() -> list[int]:
        async with LaunchPad(url) as lp:
            return [r.launch_id for r in await lp.store.pending_offline_runs(0, 1000)]

    return anyio.run(go)


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.2)


def wait_for_actions(dirs: Iterable[str], timeout: float) -> None:
    """Wait until every dir holds FW_action.json (the compute node's last write)."""
    paths = [Path(d) / "FW_action.json" for d in dirs]
    wait_for(lambda: all(p.exists() for p in paths), timeout, f"FW_action.json in {dirs}")


def ok(result: Result) -> Result:
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    return result


def recover(tmp_path: Path, env: dict[str, str]) -> Result:
    return ok(afw("lpad", "recover_offline", env=env, cwd=tmp_path))
