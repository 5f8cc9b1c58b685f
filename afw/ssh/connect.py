"""Opening one SSH connection (through its jump hosts) and translating why it failed.

The connection settings come from :class:`~afw.ssh.target.SSHTarget` merged with
``~/.ssh/config`` by asyncssh. Host keys are checked against the known-hosts file by default; a
host seen for the first time is trusted only with ``accept_new_host_key`` (its key is then
appended to the file), and a changed key is always refused. Every failure becomes one
:class:`~afw.errors.RemoteError` line whose ``kind`` context says whether retrying can help.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncssh
from anyio import to_thread
from asyncssh.encryption import get_default_encryption_algs

from afw.errors import AfwError, ConfigError, RemoteError
from afw.ssh.target import DEFAULT_KEEPALIVE, SSHTarget

__all__ = ["RETRYABLE_KINDS", "HostKeyPolicy", "close_all", "open_connection"]

log = logging.getLogger(__name__)

RETRYABLE_KINDS = frozenset({"unreachable", "lost", "protocol"})
"""``RemoteError.context["kind"]`` values worth a reconnect; host-key and auth failures are not."""

_DEFAULT_KNOWN_HOSTS = "~/.ssh/known_hosts"
# asyncssh's chacha20-poly1305 builds a cipher context per packet; AES-GCM (AES-NI) cuts the
# client CPU of a 1,000-dir SFTP sweep by about a third. Used only when nobody chose ciphers.
_FAST_CIPHERS = ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com")


@dataclass
class HostKeyPolicy:
    """Known-hosts lookups for one connection attempt; records what it saw for error messages."""

    known: asyncssh.SSHKnownHosts
    files: list[str]
    accept_new: bool
    consulted: bool = False
    changed: bool = False
    accepted: asyncssh.SSHKey | None = None

    def consider(self, host: str, addr: str, port: int, key: asyncssh.SSHKey) -> bool:
        """Called by asyncssh for a key the known-hosts file does not trust; True accepts it."""
        self.consulted = True
        matched = self.known.match(host, addr, port if port != 22 else None)
        self.changed = bool(matched[0] or matched[1])
        if self.changed or not self.accept_new:
            return False
        self.accepted = key
        return True


class _Client(asyncssh.SSHClient):
    def __init__(self, policy: HostKeyPolicy) -> None:
        self._policy = policy

    def validate_host_public_key(
        self, host: str, addr: str, port: int, key: asyncssh.SSHKey
    ) -> bool:
        return self._policy.consider(host, addr, port, key)


def _describe(options: asyncssh.SSHClientConnectionOptions) -> tuple[str, str]:
    """``(host[:port], user@host[:port])`` as OpenSSH users write them."""
    host, port = str(options.host), int(options.port or 22)
    where = host if port == 22 else f"{host}:{port}"
    return where, f"{options.username}@{where}"


def _option_kwargs(target: SSHTarget) -> dict[str, Any]:
    """asyncssh keyword arguments; ``()`` leaves a setting to ``~/.ssh/config`` or the default."""

    def given(value: Any) -> Any:
        return () if value is None else value

    return {
        "host": target.host,
        "port": given(target.port),
        "username": given(target.user),
        "config": given(target.config_files),
        "client_keys": list(target.key_files) if target.key_files else (),
        "agent_path": () if target.use_agent else None,
        "known_hosts": given(target.known_hosts),
        "connect_timeout": target.connect_timeout,
        "keepalive_interval": given(target.keepalive_interval),
        "keepalive_count_max": given(target.keepalive_count_max),
    }


def _known_hosts_files(options: asyncssh.SSHClientConnectionOptions) -> list[str] | None:
    configured: Any = options.known_hosts
    if configured is None:
        return None  # checking disabled on purpose in ~/.ssh/config (UserKnownHostsFile none)
    if configured == ():
        configured = [_DEFAULT_KNOWN_HOSTS]
    elif isinstance(configured, str | Path):
        configured = [configured]
    return [str(Path(name).expanduser()) for name in configured]


def _load_known_hosts(files: list[str]) -> asyncssh.SSHKnownHosts:
    known = asyncssh.import_known_hosts("")
    for name in files:
        if Path(name).is_file():
            known.load(Path(name).read_text())
    return known


def _record_host_key(path: str, pattern: str, key: asyncssh.SSHKey) -> None:
    kind, blob = key.export_public_key("openssh").decode().split()[:2]
    target = Path(path)
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with target.open("a") as handle:
        handle.write(f"{pattern} {kind} {blob}\n")


async def _prepare(target: SSHTarget) -> tuple[asyncssh.SSHClientConnectionOptions, Any]:
    try:
        options = await asyncssh.SSHClientConnectionOptions.construct(**_option_kwargs(target))
    except (OSError, ValueError, asyncssh.Error) as exc:
        raise ConfigError(f"bad SSH settings for {target}: {exc}", host=target.host) from exc
    files = _known_hosts_files(options)
    if files is None:
        return options, None
    known = await to_thread.run_sync(_load_known_hosts, files)
    return options, HostKeyPolicy(known, files, target.accept_new_host_key)


async def _connect_one(
    target: SSHTarget, tunnel: asyncssh.SSHClientConnection | None
) -> asyncssh.SSHClientConnection:
    options, policy = await _prepare(target)
    extra: dict[str, Any] = {}
    if policy is not None:
        extra = {"known_hosts": policy.known, "client_factory": lambda: _Client(policy)}
    if target.keepalive_interval is None and not options.keepalive_interval:
        extra["keepalive_interval"] = DEFAULT_KEEPALIVE
    ciphers = [alg.decode() for alg in options.encryption_algs]
    if ciphers == [alg.decode() for alg in get_default_encryption_algs()]:
        extra["encryption_algs"] = [
            *_FAST_CIPHERS,
            *(alg for alg in ciphers if alg not in _FAST_CIPHERS),
        ]
    if tunnel is not None:
        extra["tunnel"] = tunnel
    if target.config_files is not None:
        extra["config"] = list(target.config_files)  # also for a ProxyJump asyncssh opens itself
    try:
        conn = await asyncssh.connect(target.host, options=options, **extra)
    except Exception as exc:
        raise translate_connect_error(options, policy, exc) from exc
    if policy is not None and policy.accepted is not None:
        host = options.host_key_alias or str(options.host)
        port = int(options.port or 22)
        pattern = host if port == 22 else f"[{host}]:{port}"
        await to_thread.run_sync(_record_host_key, policy.files[0], pattern, policy.accepted)
        log.warning("trusted the new host key of %s (recorded in %s)", pattern, policy.files[0])
    return conn


def translate_connect_error(
    options: asyncssh.SSHClientConnectionOptions, policy: HostKeyPolicy | None, exc: Exception
) -> AfwError:
    """One clear line for a failed connection attempt; ``kind`` tells whether to retry."""
    if isinstance(exc, AfwError):
        return exc
    where, login = _describe(options)
    if isinstance(exc, asyncssh.HostKeyNotVerifiable):
        return RemoteError(_host_key_message(where, policy, exc), host=where, kind="host-key")
    if isinstance(exc, asyncssh.PermissionDenied):
        return RemoteError(f"authentication to {login} failed", host=where, kind="auth")
    if isinstance(exc, TimeoutError):
        reason = f"no answer within {options.connect_timeout:g} s"
        return RemoteError(f"cannot reach {where}: {reason}", host=where, kind="unreachable")
    if isinstance(exc, OSError | asyncssh.ChannelOpenError):
        reason = getattr(exc, "strerror", None) or getattr(exc, "reason", None) or str(exc)
        return RemoteError(f"cannot reach {where}: {reason}", host=where, kind="unreachable")
    if isinstance(exc, asyncssh.DisconnectError):
        message = f"SSH connection to {where} failed: {exc.reason}"
        return RemoteError(message, host=where, kind="protocol")
    return RemoteError(f"SSH connection to {where} failed: {exc!r}", host=where, kind="protocol")


def _host_key_message(
    where: str, policy: HostKeyPolicy | None, exc: asyncssh.DisconnectError
) -> str:
    files = " or ".join(policy.files) if policy else "the known-hosts file"
    head = f"host key for {where} is not trusted"
    if policy is None or not policy.consulted:
        return f"{head}: {exc.reason}"
    if policy.changed:
        return (
            f"{head}: it differs from the key recorded in {files} (the host was reinstalled or "
            f"the connection is intercepted; remove the old key with ssh-keygen -R if expected)"
        )
    return (
        f"{head}: it is not in {files} (use --accept-new-host-key to trust a host seen for the "
        f"first time, or add its key to {files})"
    )


async def close_all(conns: list[asyncssh.SSHClientConnection]) -> None:
    """Close connections innermost first (the target, then its jump hosts)."""
    for conn in reversed(conns):
        conn.close()
        with contextlib.suppress(Exception):
            await conn.wait_closed()


async def open_connection(target: SSHTarget) -> list[asyncssh.SSHClientConnection]:
    """Connect to the jump hosts in order, then the target; return them all, target last.

    Raises :class:`RemoteError` (host key, authentication, unreachable) or
    :class:`~afw.errors.ConfigError` (unreadable key file, bad option); nothing stays open.
    """
    conns: list[asyncssh.SSHClientConnection] = []
    try:
        for hop in [*target.hops(), target]:
            conns.append(await _connect_one(hop, conns[-1] if conns else None))
    except BaseException:
        await close_all(conns)
        raise
    return conns
