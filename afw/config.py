"""Where the LaunchPad and the FWorker come from.

LaunchPad: ``-l FILE`` (a launchpad YAML: FireWorks ``my_launchpad.yaml`` keys, or
``url: sqlite:///PATH`` / ``url: mongodb://...``), else ``$AFW_LAUNCHPAD`` (a URL or a YAML path),
else ``my_launchpad.yaml`` in the current directory or ``~/.afw/``, else the embedded SQLite
file ``~/.afw/launchpad.sqlite``. The FWorker likewise: ``-w``, ``$AFW_FWORKER``,
``my_fworker.yaml``, else the default worker.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

from afw.errors import ConfigError, SerializationError
from afw.fworker import FWorker
from afw.serialize import load_document

__all__ = [
    "PING_TIME_SECS",
    "RESERVATION_EXPIRATION_SECS",
    "RUN_EXPIRATION_SECS",
    "StoreConfig",
    "afw_home",
    "load_fworker",
    "locate_launchpad",
    "store_config_from_dict",
]

PING_TIME_SECS = float(os.environ.get("AFW_PING_TIME_SECS", "3600"))
RUN_EXPIRATION_SECS = 4 * 3600
RESERVATION_EXPIRATION_SECS = 14 * 24 * 3600
_MONGO_KEYS = {
    "host", "port", "name", "username", "password", "authsource", "uri_mode",
    "mongoclient_kwargs", "logdir", "strm_lvl", "user_indices", "wf_user_indices",
}  # fmt: skip


@dataclass(frozen=True)
class StoreConfig:
    """A store URL plus options for its constructor."""

    url: str
    options: Mapping[str, Any] = field(default_factory=dict)
    source: str = "default"


def afw_home() -> Path:
    return Path(os.environ.get("AFW_HOME", Path.home() / ".afw"))


def _mongo_url(doc: Mapping[str, Any]) -> str:
    host = str(doc.get("host") or "localhost")
    if doc.get("uri_mode") or host.startswith(("mongodb://", "mongodb+srv://")):
        return host
    auth = ""
    if doc.get("username"):
        auth = f"{quote_plus(str(doc['username']))}:{quote_plus(str(doc.get('password') or ''))}@"
    return (
        f"mongodb://{auth}{host}:{int(doc.get('port') or 27017)}/{doc.get('name') or 'fireworks'}"
    )


def store_config_from_dict(doc: Any, source: str) -> StoreConfig:
    """Interpret a launchpad YAML document (afw ``url:`` or FireWorks keys)."""
    if not isinstance(doc, Mapping):
        raise ConfigError(f"{source}: a launchpad file must be a mapping")
    unknown = sorted(set(doc) - _MONGO_KEYS - {"url", "server_selection_timeout_ms"})
    if unknown:
        raise ConfigError(f"{source}: unknown launchpad key(s) {', '.join(unknown)}")
    options = {
        k: doc[k]
        for k in ("authsource", "mongoclient_kwargs", "user_indices", "wf_user_indices", "name")
        if doc.get(k) is not None
    }
    if doc.get("server_selection_timeout_ms") is not None:
        options["server_selection_timeout_ms"] = int(doc["server_selection_timeout_ms"])
    url = doc.get("url")
    if url is None:
        url = _mongo_url(doc)  # with uri_mode, FireWorks takes the database from ``name``
    else:
        options.pop("name", None)
    return StoreConfig(url=_expand_sqlite(str(url), source), options=options, source=source)


def _expand_sqlite(url: str, source: str) -> str:
    """Normalise ``sqlite:///PATH`` to ``sqlite:///`` + an absolute path.

    After ``sqlite:///`` a path is absolute if written with its own leading ``/`` (or ``~``,
    ``$VAR``), or if its first directory exists at the root (``sqlite:///tmp/lp.sqlite``);
    otherwise it is relative to the current directory.
    """
    if not url.startswith("sqlite:"):
        return url
    if not url.startswith("sqlite:///") or len(url) == len("sqlite:///"):
        raise ConfigError(f"{source}: a SQLite URL needs a path: sqlite:///PATH")
    rest, sep, query = url.removeprefix("sqlite:///").partition("?")
    rest = os.path.expandvars(os.path.expanduser(rest))
    path = Path(rest)
    if not path.is_absolute():
        first = Path("/") / path.parts[0]
        path = Path("/") / path if len(path.parts) > 1 and first.is_dir() else Path.cwd() / path
    return f"sqlite:///{path}{sep}{query}"


def _from_file(path: Path) -> StoreConfig:
    try:
        doc = load_document(path)
    except SerializationError as exc:
        raise ConfigError(str(exc)) from exc
    return store_config_from_dict(doc, str(path))


def locate_launchpad(launchpad_file: str | None = None) -> StoreConfig:
    """Resolve the LaunchPad's store following the documented order."""
    if launchpad_file:
        path = Path(launchpad_file)
        if not path.is_file():
            raise ConfigError(f"launchpad file not found: {launchpad_file}")
        return _from_file(path)
    env = os.environ.get("AFW_LAUNCHPAD", "").strip()
    if env:
        if "://" in env:
            return StoreConfig(url=_expand_sqlite(env, "AFW_LAUNCHPAD"), source="AFW_LAUNCHPAD")
        if not Path(env).is_file():
            raise ConfigError(f"AFW_LAUNCHPAD names a file that does not exist: {env}")
        return _from_file(Path(env))
    for candidate in (Path.cwd() / "my_launchpad.yaml", afw_home() / "my_launchpad.yaml"):
        if candidate.is_file():
            return _from_file(candidate)
    return StoreConfig(url=f"sqlite:///{afw_home() / 'launchpad.sqlite'}", source="default")


def load_fworker(fworker_file: str | None = None) -> FWorker:
    """Resolve the FWorker: ``-w``, ``$AFW_FWORKER``, ``my_fworker.yaml``, else the default."""
    candidates: list[Path] = []
    explicit = fworker_file or os.environ.get("AFW_FWORKER", "").strip() or None
    if explicit:
        if not Path(explicit).is_file():
            raise ConfigError(f"fworker file not found: {explicit}")
        candidates.append(Path(explicit))
    else:
        candidates += [Path.cwd() / "my_fworker.yaml", afw_home() / "my_fworker.yaml"]
    for path in candidates:
        if path.is_file():
            try:
                doc = load_document(path)
            except SerializationError as exc:
                raise ConfigError(str(exc)) from exc
            if not isinstance(doc, Mapping):
                raise ConfigError(f"{path}: an fworker file must be a mapping")
            return FWorker.from_dict(doc)
    return FWorker()
