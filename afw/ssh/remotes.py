"""Remote login nodes by name: the ``remotes.yaml`` file and ``--remote-host`` resolution.

::

    # ~/.afw/remotes.yaml (or --remotes FILE, or $AFW_REMOTES)
    cluster:                                # afw qlaunch --remote-host cluster ...
      host: login.cluster.org               # or alice@login.cluster.org:2222
      user: alice
      port: 22
      jump: gateway.cluster.org             # or a list of hops, outermost first
      remote_dir: /scratch/alice/afw        # launch root; relative: from the remote home
      key_files: [~/.ssh/id_ed25519]
      known_hosts: ~/.ssh/known_hosts
      accept_new_host_key: false
      connect_timeout: 20
      qadapter: ~/.afw/cluster_qadapter.yaml   # or an inline my_qadapter.yaml mapping

``--remote-host VALUE`` is first looked up as a name; otherwise it is ``[user@]host[:port]``,
which takes the settings of the entry for the same host (and user and port, where both give
them), else ``~/.ssh/config`` and OpenSSH's defaults. Launches record the host as
``[user@]host[:port]`` (:attr:`RemoteHost.spec`), and ``recover_offline`` resolves that the
same way. This module does not import asyncssh.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from afw.config import afw_home
from afw.errors import ConfigError
from afw.ssh.target import SSHTarget, split_host_spec

__all__ = ["DEFAULT_REMOTE_DIR", "RemoteHost", "Remotes", "host_spec", "load_remotes"]

DEFAULT_REMOTE_DIR = "afw-launches"
"""The launch root when neither ``--remote-dir`` nor the entry gives one (in the remote home)."""

_TARGET_KEYS = frozenset(
    {"jump", "key_files", "known_hosts", "accept_new_host_key", "use_agent", "config_files"}
    | {"keepalive_interval", "keepalive_count_max", "connect_timeout"}
)
_KEYS = _TARGET_KEYS | {"host", "user", "port", "remote_dir", "qadapter"}
_PATHS = ("key_files", "known_hosts", "config_files")


def host_spec(target: SSHTarget) -> str:
    """``[user@]host[:port]`` of ``target`` (jump hosts left out), as launches record it."""
    user = f"{target.user}@" if target.user else ""
    host = f"[{target.host}]" if ":" in target.host else target.host
    port = f":{target.port}" if target.port else ""
    return f"{user}{host}{port}"


@dataclass(frozen=True)
class RemoteHost:
    """A remote login node: how to reach it, where launches go, which queue adapter to use.

    ``qadapter`` is a local file path or an inline ``my_qadapter.yaml`` mapping.
    """

    target: SSHTarget
    name: str | None = None
    remote_dir: str | None = None
    qadapter: str | Mapping[str, Any] | None = None

    @property
    def spec(self) -> str:
        """What launches record: ``[user@]host[:port]``."""
        return host_spec(self.target)


def _expand(value: Any) -> Any:
    if isinstance(value, str):
        return os.path.expanduser(value)
    if isinstance(value, list | tuple):
        return tuple(os.path.expanduser(str(v)) for v in value)
    return value


def _port(value: Any, name: str, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
        raise ConfigError(f"{where}: remote {name!r}: port must be a number, not {value!r}")
    return int(value)


def _entry(name: str, doc: Any, where: str) -> RemoteHost:
    if not isinstance(doc, Mapping):
        raise ConfigError(f"{where}: remote {name!r} must be a mapping of settings")
    unknown = sorted(set(doc) - _KEYS)
    if unknown:
        known = ", ".join(sorted(_KEYS))
        raise ConfigError(f"{where}: remote {name!r}: unknown key {unknown[0]!r} (known: {known})")
    if not doc.get("host"):
        raise ConfigError(f"{where}: remote {name!r} has no host")
    settings = {k: _expand(v) if k in _PATHS else v for k, v in doc.items() if k in _TARGET_KEYS}
    for key in ("user", "port"):
        if doc.get(key) is not None:
            settings[key] = str(doc[key]) if key == "user" else _port(doc[key], name, where)
    try:
        target = SSHTarget.parse(str(doc["host"]), **settings)
    except ConfigError as exc:
        raise ConfigError(f"{where}: remote {name!r}: {exc}") from exc
    qadapter = doc.get("qadapter")
    if qadapter is not None and not isinstance(qadapter, str | Mapping):
        raise ConfigError(f"{where}: remote {name!r}: qadapter must be a path or a mapping")
    remote_dir = doc.get("remote_dir")
    return RemoteHost(target, name, None if remote_dir is None else str(remote_dir), qadapter)


@dataclass(frozen=True)
class Remotes:
    """The named remote hosts of one ``remotes.yaml`` (possibly none)."""

    hosts: Mapping[str, RemoteHost] = field(default_factory=dict)
    path: str | None = None

    def resolve(self, value: str, **settings: Any) -> RemoteHost:
        """The remote named ``value``, else the host ``[user@]host[:port]`` (see module doc).

        ``settings`` (:class:`SSHTarget` fields, e.g. ``accept_new_host_key=True``) override.
        """
        found = self.hosts.get(value)
        if found is None:
            user, host, port = split_host_spec(value)
            found = self._by_host(user, host, port)
            if found is None:
                found = RemoteHost(SSHTarget(host, user=user, port=port))
            else:
                target = replace(found.target, user=user or found.target.user)
                found = replace(found, target=replace(target, port=port or target.port))
        if settings:
            found = replace(found, target=replace(found.target, **settings))
        return found

    def _by_host(self, user: str | None, host: str, port: int | None) -> RemoteHost | None:
        for entry in self.hosts.values():
            t = entry.target
            if t.host != host:
                continue
            if user and t.user and user != t.user:
                continue
            if port and t.port and port != t.port:
                continue
            return entry
        return None


def locate_remotes(path: str | None = None) -> Path | None:
    """``path``, else ``$AFW_REMOTES``, else ``~/.afw/remotes.yaml`` if it exists."""
    explicit = path or os.environ.get("AFW_REMOTES", "").strip() or None
    if explicit:
        found = Path(explicit).expanduser()
        if not found.is_file():
            raise ConfigError(f"remotes file not found: {explicit}")
        return found
    default = afw_home() / "remotes.yaml"
    return default if default.is_file() else None


def load_remotes(path: str | None = None) -> Remotes:
    """Read the remotes file (see :func:`locate_remotes`); none at all gives empty ``Remotes``."""
    where = locate_remotes(path)
    if where is None:
        return Remotes()
    try:
        doc = yaml.safe_load(where.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {where}: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"malformed YAML in {where}: {' '.join(str(exc).split())}") from exc
    if doc is None:
        doc = {}
    if not isinstance(doc, Mapping):
        raise ConfigError(f"{where}: a remotes file maps names to host settings")
    hosts = {str(name): _entry(str(name), entry, str(where)) for name, entry in doc.items()}
    return Remotes(hosts, str(where))
