"""afw's filesystem layer: the ``FileSystem`` interface, its implementations, launch-dir files.

Implementations are picked by name with :func:`get_filesystem` and imported only then, so that
``import afw.fs`` never imports asyncssh.

* :mod:`afw.fs.base`: ``FileSystem`` protocol, ``FileStat``, ``DirSnapshot``;
* :mod:`afw.fs.local`: ``LocalFileSystem`` (worker threads); :mod:`afw.fs.atomic`: sync primitives;
* :mod:`afw.fs.formats`: file names and formats; :mod:`afw.fs.status`: decoding a launch dir;
  :mod:`afw.fs.writer`: ``OfflineRunWriter``; :mod:`afw.fs.launchdir`: helpers over a filesystem.
"""

from __future__ import annotations

import importlib
from typing import Any

from afw.errors import ConfigError
from afw.fs.atomic import write_atomic_sync
from afw.fs.base import DirSnapshot, FileStat, FileSystem, Fingerprint, translate_os_error
from afw.fs.formats import (
    FW_ACTION_JSON,
    FW_JSON,
    FW_OFFLINE_JSON,
    FW_PING_JSON,
    FW_SUBMIT_SCRIPT,
    Timestamp,
    decode_json,
    encode_action_file,
    encode_json,
    encode_offline,
    encode_ping,
    encode_reservation,
    format_time,
    make_checkpoint,
    normalize_action,
    parse_time,
    utcnow_iso,
)
from afw.fs.launchdir import (
    STATUS_FILES,
    read_fw_json,
    read_launch_snapshots,
    read_offline_statuses,
    write_reservation,
    write_submit_script,
)
from afw.fs.local import LocalFileSystem
from afw.fs.status import OfflineStatus, read_offline_status
from afw.fs.writer import OfflineRunWriter

__all__ = [
    "FILESYSTEMS",
    "FW_ACTION_JSON",
    "FW_JSON",
    "FW_OFFLINE_JSON",
    "FW_PING_JSON",
    "FW_SUBMIT_SCRIPT",
    "STATUS_FILES",
    "DirSnapshot",
    "FileStat",
    "FileSystem",
    "Fingerprint",
    "LocalFileSystem",
    "OfflineRunWriter",
    "OfflineStatus",
    "Timestamp",
    "decode_json",
    "encode_action_file",
    "encode_json",
    "encode_offline",
    "encode_ping",
    "encode_reservation",
    "format_time",
    "get_filesystem",
    "make_checkpoint",
    "normalize_action",
    "parse_time",
    "read_fw_json",
    "read_launch_snapshots",
    "read_offline_status",
    "read_offline_statuses",
    "translate_os_error",
    "utcnow_iso",
    "write_atomic_sync",
    "write_reservation",
    "write_submit_script",
]

FILESYSTEMS: dict[str, str] = {
    "local": "afw.fs.local:LocalFileSystem",
    "sftp": "afw.fs.sftp:SFTPFileSystem",
}
"""Implementation name → ``module:class``; imported on first use."""


def get_filesystem(name: str, /, **options: Any) -> FileSystem:
    """Create the filesystem implementation registered as ``name`` with ``options``.

    ``get_filesystem("local")`` needs no options; remote implementations take their connection
    settings. Unknown or not installed implementations raise :class:`~afw.errors.ConfigError`.
    """
    target = FILESYSTEMS.get(name)
    if target is None:
        known = ", ".join(sorted(FILESYSTEMS))
        raise ConfigError(f"unknown filesystem {name!r} (known: {known})", filesystem=name)
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        message = f"filesystem {name!r} is not available: {exc}"
        raise ConfigError(message, filesystem=name) from exc
    factory = getattr(module, class_name)
    instance: FileSystem = factory(**options)
    return instance
