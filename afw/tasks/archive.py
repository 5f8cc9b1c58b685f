"""Compress, decompress and archive a directory (the launch dir by default).

Like monty's ``compress_dir``/``decompress_dir``, every file is (de)compressed on its own, in
place. afw's launch-dir control files (``FW.json``, ``FW_offline.json``, ...) are left alone:
the Rocket and ``recover_offline`` still need them after the task.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio

from afw.errors import TaskError, TaskParamError
from afw.fs.formats import FW_ACTION_JSON, FW_JSON, FW_OFFLINE_JSON, FW_PING_JSON
from afw.tasks.base import Firetask
from afw.tasks.context import launch_dir, resolve

__all__ = ["ArchiveDirTask", "CompressDirTask", "DecompressDirTask"]

_CONTROL_FILES = frozenset({FW_JSON, FW_OFFLINE_JSON, FW_PING_JSON, FW_ACTION_JSON})
_Opener = Callable[[Path, str], Any]
_Job = tuple[Path, Path, _Opener, _Opener]
_COMPRESSORS: dict[str, _Opener] = {"gz": gzip.open, "bz2": bz2.open}
_DECOMPRESSORS: dict[str, _Opener] = {
    ".gz": gzip.open,
    ".z": gzip.open,
    ".bz2": bz2.open,
    ".xz": lzma.open,
    ".lzma": lzma.open,
}


def _files(root: Path) -> Iterator[Path]:
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            path = Path(dirpath, name)
            if not path.is_symlink():
                yield path


def _convert(src: Path, dest: Path, read: _Opener, write: _Opener) -> None:
    """Rewrite ``src`` as ``dest`` through the openers, atomically, then remove ``src``."""
    part = dest.with_name(dest.name + ".afw-part")
    with read(src, "rb") as fin, write(part, "wb") as fout:
        shutil.copyfileobj(fin, fout, 1 << 20)
    shutil.copymode(src, part)
    part.replace(dest)
    src.unlink()


def _run_each(task: str, jobs: list[_Job], ignore: bool) -> None:
    for src, dest, read, write in jobs:
        try:
            _convert(src, dest, read, write)
        except (OSError, EOFError, lzma.LZMAError) as exc:
            if not ignore:
                raise TaskError(f"{task}: cannot convert {src}: {exc}", path=str(src)) from exc


def _compress_dir(root: Path, compression: str, ignore: bool) -> None:
    suffix = "." + compression
    jobs: list[_Job] = [
        (path, path.with_name(path.name + suffix), open, _COMPRESSORS[compression])
        for path in _files(root)
        if path.name not in _CONTROL_FILES and not path.name.endswith(suffix)
    ]
    _run_each("CompressDirTask", jobs, ignore)


def _decompress_dir(root: Path, ignore: bool) -> None:
    jobs: list[_Job] = []
    for path in _files(root):
        opener = _DECOMPRESSORS.get(path.suffix.lower())
        if opener is not None and path.stem not in _CONTROL_FILES:
            jobs.append((path, path.with_name(path.stem), opener, open))
    _run_each("DecompressDirTask", jobs, ignore)


class CompressDirTask(Firetask):
    """Compress every file under ``dest`` (the launch dir) with ``compression`` (gz or bz2)."""

    _fw_name = "CompressDirTask"
    required_params = ()
    optional_params = ("compression", "dest", "ignore_errors")

    def validate(self) -> None:
        super().validate()
        if self.get("compression", "gz") not in _COMPRESSORS:
            raise TaskParamError("CompressDirTask: compression must be 'gz' or 'bz2'")

    async def run_task(self, fw_spec: dict[str, Any]) -> None:
        root = resolve(self.get("dest") or ".")
        compression = self.get("compression", "gz")
        ignore = bool(self.get("ignore_errors", False))
        await anyio.to_thread.run_sync(_compress_dir, root, compression, ignore)


class DecompressDirTask(Firetask):
    """Decompress every ``.gz``/``.bz2``/``.z``/``.xz``/``.lzma`` file under ``dest``."""

    _fw_name = "DecompressDirTask"
    required_params = ()
    optional_params = ("dest", "ignore_errors")

    async def run_task(self, fw_spec: dict[str, Any]) -> None:
        root = resolve(self.get("dest") or ".")
        ignore = bool(self.get("ignore_errors", False))
        await anyio.to_thread.run_sync(_decompress_dir, root, ignore)


def _archive(root: Path, base: Path, fmt: str) -> None:
    # Built outside ``root``, because the archive usually lands inside the dir it archives.
    with tempfile.TemporaryDirectory(prefix="afw-archive-") as tmp:
        made = Path(shutil.make_archive(str(Path(tmp, base.name)), fmt, root_dir=root))
        base.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(made, base.parent / made.name)


class ArchiveDirTask(Firetask):
    """Archive the launch dir as ``base_name`` plus the format's extension (gztar by default)."""

    _fw_name = "ArchiveDirTask"
    required_params = ("base_name",)
    optional_params = ("format",)

    def validate(self) -> None:
        super().validate()
        if not isinstance(self["base_name"], str) or not self["base_name"]:
            raise TaskParamError("ArchiveDirTask: base_name must be a path")
        formats = [name for name, _ in shutil.get_archive_formats()]
        if self.get("format", "gztar") not in formats:
            raise TaskParamError(f"ArchiveDirTask: format must be one of {', '.join(formats)}")

    async def run_task(self, fw_spec: dict[str, Any]) -> None:
        base = resolve(self["base_name"])
        fmt = self.get("format", "gztar")
        try:
            await anyio.to_thread.run_sync(_archive, launch_dir(), base, fmt)
        except (OSError, shutil.Error) as exc:
            raise TaskError(f"ArchiveDirTask: cannot archive into {base}: {exc}") from exc
