"""Firetasks for the rerun tests (``{{helpers.rerun_tasks.Name}}``): they log every run, so a
test can tell exactly which tasks a resumed Firework ran, and where."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from afw.action import FWAction
from afw.tasks.base import Firetask


class StepError(RuntimeError):
    pass


def _log(path: str, line: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{line}\n".encode())
    finally:
        os.close(fd)


class StepTask(Firetask):
    """One step: logs ``key``, then (in the working directory) checks that the files named in
    ``needs`` exist, sleeps ``sleep`` seconds or fails unless ``unless_file`` exists, writes
    ``<key>.txt`` holding the directory it ran in, and stores ``{key: value}``."""

    required_params = ("key", "log")
    optional_params = ("value", "unless_file", "needs", "sleep", "update")

    def run_task(self, fw_spec: dict[str, Any]) -> FWAction:
        key = self["key"]
        _log(self["log"], key)
        here = Path(os.getcwd())
        for name in self.get("needs") or []:
            if not (here / name).exists():
                raise StepError(f"{key}: {name} missing in {here}")
        marker = self.get("unless_file")
        if marker and not Path(marker).exists():
            if self.get("sleep"):
                time.sleep(float(self["sleep"]))
            raise StepError(f"{key} failed")
        (here / f"{key}.txt").write_text(str(here))
        value = self.get("value", key)
        update = {key: value} if self.get("update") else {}
        return FWAction(stored_data={key: value}, update_spec=update)


class ChdirTask(Firetask):
    """Moves the process into ``subdir`` (created under the working directory), as some
    FireWorks tasks do (FireWorks #269)."""

    required_params = ("subdir", "log")

    def run_task(self, fw_spec: dict[str, Any]) -> FWAction:
        _log(self["log"], f"chdir:{self['subdir']}")
        target = Path(os.getcwd()) / self["subdir"]
        target.mkdir(parents=True, exist_ok=True)
        os.chdir(target)
        return FWAction(stored_data={"moved_to": str(target)})


class AddChildTask(Firetask):
    """Adds a Firework below this one (a dynamic action a rerun does not undo)."""

    required_params = ("log",)

    def run_task(self, fw_spec: dict[str, Any]) -> FWAction:
        _log(self["log"], "add_child")
        task = {"_fw_name": "{{helpers.rerun_tasks.StepTask}}", "key": "added", "log": self["log"]}
        child = {"spec": {"_tasks": [task]}, "fw_id": -1, "name": "added"}
        return FWAction(additions=[child])
