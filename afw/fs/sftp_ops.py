"""The file operations behind :class:`afw.fs.sftp.SFTPFileSystem`, on one asyncssh SFTP client.

Each coroutine is idempotent, so the pool can re-run it after a dropped connection. SFTP status
codes become ``OSError``\\ s with the matching ``errno`` (:func:`os_error`), which the filesystem
then translates like local errors. Connection losses are let through untouched: they are the
pool's business (reconnect and retry), not a property of one file.
"""

from __future__ import annotations

import contextlib
import errno
import fnmatch
import os
import posixpath
from collections.abc import Sequence

import asyncssh

from afw.fs.base import DirSnapshot, FileStat

__all__ = [
    "copytree",
    "is_missing",
    "listdir",
    "makedirs",
    "os_error",
    "read_dir_snapshot",
    "read_file",
    "remove",
    "rmtree",
    "stat",
    "write_atomic",
]

_ERRNO = {
    asyncssh.FX_NO_SUCH_FILE: errno.ENOENT,
    asyncssh.FX_NO_SUCH_PATH: errno.ENOENT,
    asyncssh.FX_PERMISSION_DENIED: errno.EACCES,
    asyncssh.FX_OP_UNSUPPORTED: errno.ENOTSUP,
    asyncssh.FX_FILE_ALREADY_EXISTS: errno.EEXIST,
    asyncssh.FX_WRITE_PROTECT: errno.EROFS,
    asyncssh.FX_NO_SPACE_ON_FILESYSTEM: errno.ENOSPC,
    asyncssh.FX_QUOTA_EXCEEDED: errno.EDQUOT,
    asyncssh.FX_DIR_NOT_EMPTY: errno.ENOTEMPTY,
    asyncssh.FX_NOT_A_DIRECTORY: errno.ENOTDIR,
    asyncssh.FX_INVALID_FILENAME: errno.EINVAL,
    asyncssh.FX_LINK_LOOP: errno.ELOOP,
    asyncssh.FX_FILE_IS_A_DIRECTORY: errno.EISDIR,
}
_MISSING = {asyncssh.FX_NO_SUCH_FILE, asyncssh.FX_NO_SUCH_PATH}
# The connection or the SFTP session is gone: let the pool reconnect instead of blaming a file.
_TRANSPORT = (asyncssh.SFTPConnectionLost, asyncssh.SFTPNoConnection)


def os_error(exc: asyncssh.SFTPError) -> OSError:
    """The ``OSError`` (subclass chosen by errno) an SFTP status stands for."""
    code = _ERRNO.get(exc.code)
    if code is None:
        return OSError(f"{exc.reason} (SFTP status {exc.code})")
    return OSError(code, os.strerror(code))


def is_missing(exc: asyncssh.SFTPError) -> bool:
    """Whether ``exc`` says the path does not exist."""
    return exc.code in _MISSING


def _file_stat(attrs: asyncssh.SFTPAttrs) -> FileStat:
    # SFTP v3 (OpenSSH) has whole-second mtimes only.
    mtime_ns = attrs.mtime_ns if attrs.mtime_ns is not None else (attrs.mtime or 0) * 10**9
    return FileStat(attrs.size or 0, mtime_ns)


async def read_file(sftp: asyncssh.SFTPClient, path: str) -> tuple[FileStat, bytes]:
    """Open once, then fstat and read that handle, so stat and bytes always match."""
    async with sftp.open(path, "rb") as handle:
        attrs = await handle.stat()
        if attrs.type == asyncssh.FILEXFER_TYPE_DIRECTORY:
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR))
        size = attrs.size
        data = b"" if size == 0 else await handle.read(-1 if size is None else size, 0)
    return _file_stat(attrs), data if isinstance(data, bytes) else data.encode()


async def stat(sftp: asyncssh.SFTPClient, path: str) -> FileStat | None:
    """Size and mtime of ``path`` (following symlinks), ``None`` if it does not exist."""
    try:
        return _file_stat(await sftp.stat(path))
    except asyncssh.SFTPError as exc:
        if is_missing(exc):
            return None
        raise


async def _replace(sftp: asyncssh.SFTPClient, temp: str, path: str) -> None:
    try:
        await sftp.posix_rename(temp, path)
    except asyncssh.SFTPOpUnsupported:
        # No atomic rename on this server: readers may briefly see no file (which they take as
        # "not ready yet"), never a torn one.
        with contextlib.suppress(asyncssh.SFTPNoSuchFile):
            await sftp.remove(path)
        await sftp.rename(temp, path)


async def write_atomic(sftp: asyncssh.SFTPClient, path: str, data: bytes, temp: str) -> None:
    """Write ``temp`` (same dir), fsync it where the server can, rename it over ``path``.

    Re-running it with the same ``temp`` after a drop is safe: the temp file is truncated and
    the rename repeated. The directory itself cannot be fsynced over SFTP.
    """
    try:
        async with sftp.open(temp, "wb") as handle:
            await handle.write(data, 0)
            with contextlib.suppress(asyncssh.SFTPOpUnsupported):
                await handle.fsync()
        await _replace(sftp, temp, path)
    except asyncssh.SFTPError as exc:
        if not isinstance(exc, _TRANSPORT):
            with contextlib.suppress(asyncssh.SFTPError):
                await sftp.remove(temp)
        raise


async def makedirs(sftp: asyncssh.SFTPClient, path: str) -> None:
    """Create ``path`` and its parents; an existing directory is fine."""
    await sftp.makedirs(path, exist_ok=True)


async def listdir(sftp: asyncssh.SFTPClient, path: str) -> list[str]:
    """Sorted entry names of ``path``, without ``.`` and ``..``."""
    return sorted(name for name in await sftp.listdir(path) if name not in (".", ".."))


async def remove(sftp: asyncssh.SFTPClient, path: str) -> None:
    """Delete file ``path``; a missing one is fine."""
    try:
        await sftp.remove(path)
    except asyncssh.SFTPError as exc:
        if not is_missing(exc):
            raise


async def rmtree(sftp: asyncssh.SFTPClient, path: str) -> None:
    """Delete directory ``path`` recursively (links are removed, not followed); missing is fine."""
    try:
        await sftp.rmtree(path)
    except asyncssh.SFTPError as exc:
        if not is_missing(exc):
            raise


async def copytree(
    sftp: asyncssh.SFTPClient, src: str, dst: str, ignore: Sequence[str] = ()
) -> None:
    """Copy ``src`` into ``dst`` like the local filesystem does: links stay links, files and
    directories keep their mode and times, existing files are overwritten, ``ignore`` globs skip
    entries. File data is copied on the server when it offers ``copy-data``."""
    await sftp.makedirs(dst, exist_ok=True)
    existing = {str(entry.filename): entry.attrs for entry in await sftp.readdir(dst)}
    for entry in await sftp.readdir(src):
        name = str(entry.filename)
        if name in (".", "..") or any(fnmatch.fnmatch(name, pattern) for pattern in ignore):
            continue
        source, target = posixpath.join(src, name), posixpath.join(dst, name)
        if name in existing and existing[name].type == asyncssh.FILEXFER_TYPE_SYMLINK:
            await sftp.remove(target)
        kind = entry.attrs.type
        if kind == asyncssh.FILEXFER_TYPE_SYMLINK:
            await sftp.symlink(await sftp.readlink(source), target)
        elif kind == asyncssh.FILEXFER_TYPE_DIRECTORY:
            await copytree(sftp, source, target, ignore)
        else:
            await sftp.copy(source, target, preserve=True)
    attrs = await sftp.stat(src)
    if attrs.permissions is not None:
        await sftp.chmod(dst, attrs.permissions & 0o7777)
    if attrs.atime is not None and attrs.mtime is not None:
        await sftp.utime(dst, (attrs.atime, attrs.mtime))


async def _read_entry(sftp: asyncssh.SFTPClient, path: str) -> tuple[FileStat, bytes] | str | None:
    """The file, ``None`` if missing, or why it could not be read."""
    try:
        return await read_file(sftp, path)
    except _TRANSPORT:
        raise
    except asyncssh.SFTPError as exc:
        return None if is_missing(exc) else (os_error(exc).strerror or exc.reason)
    except IsADirectoryError as exc:
        return exc.strerror or str(exc)


async def _dir_problem(sftp: asyncssh.SFTPClient, path: str) -> tuple[bool, str | None]:
    try:
        attrs = await sftp.stat(path)
    except _TRANSPORT:
        raise
    except asyncssh.SFTPError as exc:
        if is_missing(exc):
            return False, f"launch dir {path} does not exist"
        return True, f"cannot stat {path}: {os_error(exc).strerror or exc.reason}"
    if attrs.type != asyncssh.FILEXFER_TYPE_DIRECTORY:
        return False, f"launch dir {path} is not a directory"
    return True, None


async def read_dir_snapshot(
    sftp: asyncssh.SFTPClient, path: str, names: Sequence[str]
) -> DirSnapshot:
    """Read ``names`` in ``path``; file problems go to ``DirSnapshot.error``.

    The names are read one after the other (concurrency comes from reading many directories at
    once). Only a lost connection raises, for the pool to retry the whole directory.
    """
    files: dict[str, bytes | None] = {}
    stats: dict[str, FileStat | None] = {}
    errors: list[str] = []
    for name in names:
        entry = await _read_entry(sftp, posixpath.join(path, name))
        if isinstance(entry, str):
            errors.append(f"cannot read {name}: {entry}")
            entry = None
        stats[name], files[name] = entry if entry else (None, None)
    exists = True
    if not any(stats.values()) and not errors:
        exists, problem = await _dir_problem(sftp, path)
        if problem:
            errors.append(problem)
    error = "; ".join(errors) if errors else None
    return DirSnapshot(path=path, files=files, stats=stats, exists=exists, error=error)
