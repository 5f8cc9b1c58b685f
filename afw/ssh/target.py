"""Where to connect: :class:`SSHTarget`, one remote login node and how to reach it.

This module does not import asyncssh, so configuration and the CLI can parse targets cheaply.
Settings left as ``None`` fall back to ``~/.ssh/config`` (``User``, ``Port``, ``IdentityFile``,
``ProxyJump``, ``ServerAliveInterval``, ``UserKnownHostsFile``, ...) and then to OpenSSH's
defaults, through asyncssh's own config support.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from afw.errors import ConfigError

__all__ = ["DEFAULT_KEEPALIVE", "SSHTarget", "split_host_spec"]

DEFAULT_KEEPALIVE = 30.0
"""Seconds between keepalives when neither the target nor ``~/.ssh/config`` sets one."""


def split_host_spec(spec: str) -> tuple[str | None, str, int | None]:
    """Split ``[user@]host[:port]`` (IPv6 hosts in brackets: ``[::1]:22``) into its parts."""
    text = spec.strip()
    user, at, rest = text.rpartition("@")
    host, port_text = rest, ""
    if rest.startswith("["):
        host, _, tail = rest[1:].partition("]")
        port_text = tail.removeprefix(":")
    elif rest.count(":") == 1:
        host, _, port_text = rest.partition(":")
    if not host or (at and not user):
        raise ConfigError(f"bad SSH host {spec!r}: expected [user@]host[:port]", host=spec)
    try:
        port = int(port_text) if port_text else None
    except ValueError:
        raise ConfigError(f"bad port in SSH host {spec!r}", host=spec) from None
    if port is not None and not 0 < port < 65536:
        raise ConfigError(f"bad port in SSH host {spec!r}", host=spec)
    return (user or None), host, port


@dataclass(frozen=True, slots=True)
class SSHTarget:
    """One SSH destination plus the settings used to authenticate and verify it.

    * ``jump``: ``[user@]host[:port]`` hops, outermost first (like ``ssh -J``); each hop is
      reached with this target's keys, known-hosts file and host-key policy;
    * ``key_files``: private keys to offer (besides the agent, unless ``use_agent`` is false);
    * ``known_hosts``: the known-hosts file; ``None`` means ``~/.ssh/known_hosts`` (or the
      ``UserKnownHostsFile`` of ``~/.ssh/config``). Host keys are always checked;
    * ``accept_new_host_key``: trust a host seen for the first time and record its key (like
      ``StrictHostKeyChecking=accept-new``); a *changed* key is refused regardless;
    * ``config_files``: OpenSSH client config files; ``None`` means ``~/.ssh/config``, ``()``
      none at all;
    * ``connect_timeout``: bound, in seconds, on reaching and logging in to the host (all hops).
    """

    host: str
    user: str | None = None
    port: int | None = None
    jump: tuple[str, ...] = ()
    key_files: tuple[str, ...] = ()
    known_hosts: str | None = None
    accept_new_host_key: bool = False
    use_agent: bool = True
    config_files: tuple[str, ...] | None = None
    keepalive_interval: float | None = None
    keepalive_count_max: int | None = None
    connect_timeout: float = 20.0

    def __post_init__(self) -> None:
        if not self.host:
            raise ConfigError("an SSH target needs a host")
        if self.connect_timeout <= 0:
            raise ConfigError("connect_timeout must be positive", host=self.host)

    @classmethod
    def parse(cls, spec: str, **settings: Any) -> SSHTarget:
        """``SSHTarget.parse("user@host:port", key_files=(...,), ...)``.

        ``jump`` may also be given as one comma-separated string, as in ``ssh -J``.
        """
        user, host, port = split_host_spec(spec)
        jump = settings.pop("jump", ())
        if isinstance(jump, str):
            jump = tuple(hop for hop in jump.split(",") if hop.strip())
        for hop in jump:
            split_host_spec(hop)
        for name in ("key_files", "config_files"):
            if isinstance(settings.get(name), str):
                settings[name] = (settings[name],)
        base = cls(host=host, user=user, port=port, jump=tuple(jump))
        try:
            return replace(base, **settings)
        except TypeError as exc:
            raise ConfigError(f"bad SSH setting for {spec}: {exc}", host=spec) from None

    @property
    def key(self) -> tuple[str | None, str, int | None, tuple[str, ...]]:
        """What one shared connection is keyed by: (user, host, port, jump chain)."""
        return (self.user, self.host, self.port, self.jump)

    def hops(self) -> list[SSHTarget]:
        """The jump hosts as targets sharing this target's credentials, outermost first."""
        hops = []
        for spec in self.jump:
            user, host, port = split_host_spec(spec)
            hops.append(replace(self, host=host, user=user, port=port, jump=()))
        return hops

    def __str__(self) -> str:
        user = f"{self.user}@" if self.user else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = f":{self.port}" if self.port else ""
        via = f" via {','.join(self.jump)}" if self.jump else ""
        return f"{user}{host}{port}{via}"
