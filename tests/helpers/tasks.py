"""Firetasks used by the tests (loaded by ``{{helpers.tasks.Name}}``)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import anyio

from afw.action import FWAction
from afw.tasks.base import Firetask
from afw.tasks.context import launch_dir


class StoreTask(Firetask):
    """Stores ``{key: value}`` and writes a file named after the key."""

    required_params = ("key", "value")
    optional_params = ("update",)

    def run_task(self, fw_spec: dict[str, Any]) -> FWAction:
        (launch_dir() / f"{self['key']}.txt").write_text(str(self["value"]))
        update = {self["key"]: self["value"]} if self.get("update") else {}
        return FWAction(stored_data={self["key"]: self["value"]}, update_spec=update)


class MyError(RuntimeError):
    pass


class FailTask(Firetask):
    """Raises MyError (unless the marker file named by ``unless_file`` exists)."""

    optional_params = ("message", "unless_file")

    def run_task(self, fw_spec: dict[str, Any]) -> None:
        marker = self.get("unless_file")
        if marker and Path(marker).exists():
            return
        raise MyError(self.get("message", "boom"))


class RecordTask(Firetask):
    """Appends ``fw_id pid`` to a shared log file (O_APPEND: one line per write)."""

    required_params = ("log",)

    async def run_task(self, fw_spec: dict[str, Any]) -> None:
        line = f"{fw_spec.get('tag', '?')} {os.getpid()}\n".encode()
        fd = os.open(self["log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
        await anyio.sleep(0)


class SleepTask(Firetask):
    required_params = ("seconds",)

    def run_task(self, fw_spec: dict[str, Any]) -> None:
        time.sleep(float(self["seconds"]))
