"""File tasks: write, delete and transfer (move/copy) files, relative to the launch dir."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import anyio

from afw.errors import TaskError, TaskParamError
from afw.tasks.base import Firetask
from afw.tasks.context import launch_dir, resolve

__all__ = ["FileDeleteTask", "FileTransferTask", "FileWriteTask"]


def _write_all(entries: list[tuple[Path, str]]) -> None:
    for path, contents in entries:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(contents, encoding="utf-8")
        except OSError as exc:
            raise TaskError(f"FileWriteTask: cannot write {path}: {exc.strerror}") from exc


class FileWriteTask(Firetask):
    """Write ``files_to_write`` (``[{filename, contents}]``) into ``dest`` (the launch dir)."""

    _fw_name = "FileWriteTask"
    required_params = ("files_to_write",)
    optional_params = ("dest",)

    def validate(self) -> None:
        super().validate()
        entries = self["files_to_write"]
        if not isinstance(entries, list) or not all(
            isinstance(e, Mapping)
            and isinstance(e.get("filename"), str)
            and isinstance(e.get("contents"), str)
            for e in entries
        ):
            raise TaskParamError(
                "FileWriteTask: files_to_write must be a list of {filename, contents} strings"
            )

    async def run_task(self, fw_spec: dict[str, Any]) -> None:
        dest = resolve(self.get("dest") or ".")
        entries = [(dest / e["filename"], e["contents"]) for e in self["files_to_write"]]
        await anyio.to_thread.run_sync(_write_all, entries)


def _delete_all(paths: list[Path], ignore_errors: bool) -> None:
    for path in paths:
        try:
            path.unlink()
        except OSError as exc:
            if not ignore_errors:
                raise TaskError(f"FileDeleteTask: cannot delete {path}: {exc.strerror}") from exc


def _check_str_list(task: Firetask, name: str) -> None:
    value = task[name]
    if not (isinstance(value, list) and all(isinstance(item, str) for item in value)):
        raise TaskParamError(f"{type(task).__name__}: {name} must be a list of paths")


class FileDeleteTask(Firetask):
    """Delete ``files_to_delete`` in ``dest`` (the launch dir).

    Errors (a missing file, a directory) are ignored unless ``ignore_errors`` is false.
    """

    _fw_name = "FileDeleteTask"
    required_params = ("files_to_delete",)
    optional_params = ("dest", "ignore_errors")

    def validate(self) -> None:
        super().validate()
        _check_str_list(self, "files_to_delete")

    async def run_task(self, fw_spec: dict[str, Any]) -> None:
        dest = resolve(self.get("dest") or ".")
        paths = [dest / name for name in self["files_to_delete"]]
        await anyio.to_thread.run_sync(_delete_all, paths, bool(self.get("ignore_errors", True)))


_MODES: dict[str, Callable[[Any, Any], Any]] = {
    "move": shutil.move,
    "mv": shutil.move,
    "copy": shutil.copy,
    "cp": shutil.copy,
    "copy2": shutil.copy2,
    "copytree": shutil.copytree,
    "copyfile": shutil.copyfile,
}

_Pair = tuple[Path, Path]


def _transfer_all(op: Callable[[Any, Any], Any], pairs: list[_Pair]) -> list[tuple[_Pair, str]]:
    failures: list[tuple[_Pair, str]] = []
    for src, dest in pairs:
        try:
            op(src, dest)
        except (OSError, shutil.Error) as exc:
            failures.append(((src, dest), str(exc)))
    return failures


class FileTransferTask(Firetask):
    """Move or copy ``files`` (paths, or ``{src, dest}`` dicts) with a local ``shutil`` mode.

    Files that fail are retried ``max_retry`` times, ``retry_delay`` seconds apart; then the task
    fails unless ``ignore_errors``. FireWorks' ``rtransfer`` (SFTP upload) is not supported.
    """

    _fw_name = "FileTransferTask"
    required_params = ("mode", "files")
    optional_params = ("dest", "ignore_errors", "max_retry", "retry_delay", "shell_interpret")

    def validate(self) -> None:
        mode = self.get("mode")
        if mode == "rtransfer":
            raise TaskParamError(
                "FileTransferTask: mode 'rtransfer': remote transfers are not supported by "
                "this task; copy files remotely from a ScriptTask (scp, rsync) instead"
            )
        super().validate()
        if mode not in _MODES:
            raise TaskParamError(f"FileTransferTask: mode must be one of {', '.join(_MODES)}")
        for entry in self["files"] if isinstance(self["files"], list) else [None]:
            self._check_entry(entry)
        for name in ("max_retry", "retry_delay"):
            value = self.get(name, 0)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise TaskParamError(f"FileTransferTask: {name} must be a number >= 0")

    def _check_entry(self, entry: Any) -> None:
        if isinstance(entry, str) and isinstance(self.get("dest"), str):
            return
        if isinstance(entry, Mapping) and all(
            isinstance(entry.get(k), str) for k in ("src", "dest")
        ):
            return
        raise TaskParamError(
            "FileTransferTask: files must be a list of paths (with dest) or {src, dest} dicts"
        )

    def _path(self, value: str) -> Path:
        if self.get("shell_interpret", True):
            return resolve(value)
        return launch_dir() / value

    def _pairs(self) -> list[_Pair]:
        return [
            (self._path(f), self._path(self["dest"]))
            if isinstance(f, str)
            else (self._path(f["src"]), self._path(f["dest"]))
            for f in self["files"]
        ]

    async def run_task(self, fw_spec: dict[str, Any]) -> None:
        op = _MODES[self["mode"]]
        pending = self._pairs()
        retries = int(self.get("max_retry", 0))
        for attempt in range(retries + 1):
            failures = await anyio.to_thread.run_sync(_transfer_all, op, pending)
            if not failures:
                return
            pending = [pair for pair, _ in failures]
            if attempt < retries:
                await anyio.sleep(float(self.get("retry_delay", 10)))
        if not self.get("ignore_errors", False):
            detail = "; ".join(f"{os.fspath(src)}: {why}" for (src, _), why in failures)
            raise TaskError(f"FileTransferTask: {self['mode']} failed: {detail}", failures=detail)
