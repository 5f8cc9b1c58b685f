"""Pytest plugin: fixtures for the real test services started by ``scripts/services``.

Load it with ``pytest_plugins = ["services"]`` (tests/ is on ``sys.path``) or ``-p services``.

The services are described by environment variables, as printed by ``scripts/services env``:

* ``AFW_TEST_MONGODB_URI``: a MongoDB-wire server (a real mongod, or SecantusDB on loopback).
* ``AFW_TEST_SSH_HOST`` / ``_PORT`` / ``_USER`` / ``_KEY`` / ``_KNOWN_HOSTS``: OpenSSH sshd on
  loopback.
* ``AFW_TEST_SLURM=1`` and ``SLURM_CONF``: single-node Slurm on localhost.
* ``AFW_TEST_FIREWORKS_PYTHON``: the python of a venv holding FireWorks 2.1.4.

Variables left unset are filled in from ``scripts/services env`` at configure time, so that
``scripts/services start`` followed by a plain ``pytest`` works too.

A test that needs a missing service is skipped with the reason, except under ``CI=true``, where it
fails: CI must not go green by skipping everything.
"""

from __future__ import annotations

import functools
import os
import shlex
import shutil
import socket
import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest

REPO = Path(__file__).resolve().parent.parent
SERVICES_SCRIPT = REPO / "scripts" / "services"
FIREWORKS_VERSION = "2.1.4"
HINT = "run: bash scripts/services install && bash scripts/services start"

ENV_VARS = (
    "AFW_TEST_MONGODB_URI",
    "AFW_TEST_SSH_HOST",
    "AFW_TEST_SSH_PORT",
    "AFW_TEST_SSH_USER",
    "AFW_TEST_SSH_KEY",
    "AFW_TEST_SSH_KNOWN_HOSTS",
    "AFW_TEST_SLURM",
    "SLURM_CONF",
    "AFW_TEST_FIREWORKS_PYTHON",
)


class ServiceUnavailable(Exception):
    """A test service is not there; the message says which and why."""


@dataclass(frozen=True)
class SshdService:
    """The loopback OpenSSH server: log in as ``user`` with ``key_path``, check ``known_hosts``."""

    host: str
    port: int
    user: str
    key_path: Path
    known_hosts: Path


@dataclass(frozen=True)
class SlurmCluster:
    """The single-node Slurm cluster: its default partition and node name."""

    partition: str
    node: str
    conf: Path | None


def in_ci() -> bool:
    return os.environ.get("CI") == "true"


def unavailable(reason: str) -> NoReturn:
    """Skip the current test for ``reason``; under ``CI=true`` fail it instead."""
    if in_ci():
        pytest.fail(f"service unavailable under CI=true: {reason}", pytrace=False)
    pytest.skip(reason)


# -------------------------------------------------------------------------------------------------
# discovery


def _load_env_from_script() -> None:
    """Fill in unset service variables from ``scripts/services env`` (for the services that run)."""
    if not SERVICES_SCRIPT.exists():
        return
    try:
        out = subprocess.run(
            ["bash", str(SERVICES_SCRIPT), "env"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return
    for line in out.splitlines():
        words = shlex.split(line)
        if len(words) == 2 and words[0] == "export" and "=" in words[1]:
            name, _, value = words[1].partition("=")
            if name in ENV_VARS:
                os.environ.setdefault(name, value)


def pytest_configure(config: pytest.Config) -> None:
    _load_env_from_script()


def _env(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise ServiceUnavailable(f'{name} is not set; {HINT}, then eval "$(scripts/services env)"')
    return value


def _run(argv: list[str], timeout: float) -> str:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError as exc:
        raise ServiceUnavailable(f"{argv[0]} not found; {HINT}") from exc
    except subprocess.TimeoutExpired as exc:
        raise ServiceUnavailable(f"{shlex.join(argv)} did not answer in {timeout} s") from exc
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip()[-500:]
        raise ServiceUnavailable(f"{shlex.join(argv)} exited {proc.returncode}: {detail}")
    return proc.stdout


def _probe_mongodb() -> str:
    uri = _env("AFW_TEST_MONGODB_URI")
    try:
        import pymongo
    except ImportError as exc:
        raise ServiceUnavailable("pymongo is not installed in this environment") from exc
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(
        uri, serverSelectionTimeoutMS=5000, connectTimeoutMS=5000
    )
    try:
        client.admin.command("ping")
    except pymongo.errors.PyMongoError as exc:
        raise ServiceUnavailable(f"no MongoDB server answers at {uri}: {exc}") from exc
    finally:
        client.close()
    return uri


def _probe_sshd() -> SshdService:
    host = os.environ.get("AFW_TEST_SSH_HOST") or "127.0.0.1"
    port = int(_env("AFW_TEST_SSH_PORT"))
    user = os.environ.get("AFW_TEST_SSH_USER") or "root"
    key = Path(_env("AFW_TEST_SSH_KEY"))
    known_hosts = Path(_env("AFW_TEST_SSH_KNOWN_HOSTS"))
    for path in (key, known_hosts):
        if not path.is_file():
            raise ServiceUnavailable(f"{path} does not exist; {HINT}")
    try:
        with socket.create_connection((host, port), timeout=5) as sock:
            banner = sock.recv(64)
    except OSError as exc:
        raise ServiceUnavailable(f"no sshd listens on {host}:{port}: {exc}") from exc
    if not banner.startswith(b"SSH-2.0-"):
        raise ServiceUnavailable(f"{host}:{port} is not an SSH server (sent {banner!r})")
    return SshdService(host=host, port=port, user=user, key_path=key, known_hosts=known_hosts)


_SLURM_READY = ("idle", "mixed", "allocated", "completing")


def _probe_slurm() -> SlurmCluster:
    # Without the flag, do not even ask: sinfo takes ~10 s to give up on an absent controller.
    if _env("AFW_TEST_SLURM") != "1":
        raise ServiceUnavailable("AFW_TEST_SLURM is not 1")
    if shutil.which("sinfo") is None:
        raise ServiceUnavailable(f"sinfo not found (Slurm is not installed); {HINT}")
    out = _run(["sinfo", "-h", "-N", "-o", "%P %N %T"], timeout=20)
    rows = [line.split() for line in out.splitlines() if len(line.split()) == 3]
    ready = [row for row in rows if row[2] in _SLURM_READY]
    if not ready:
        raise ServiceUnavailable(f"no Slurm node is idle: sinfo says {out.strip()!r}")
    default = [row for row in ready if row[0].endswith("*")]
    partition, node, _ = (default or ready)[0]
    conf = os.environ.get("SLURM_CONF")
    return SlurmCluster(
        partition=partition.rstrip("*"), node=node, conf=Path(conf) if conf else None
    )


def _probe_fireworks() -> Path:
    name = os.environ.get("AFW_TEST_FIREWORKS_PYTHON")
    python = Path(name) if name else REPO / ".services" / "fireworks-venv" / "bin" / "python"
    if not python.exists():
        raise ServiceUnavailable(f"no FireWorks venv python at {python}; {HINT}")
    version = _run(
        [str(python), "-c", "import fireworks; print(fireworks.__version__)"], timeout=120
    ).strip()
    if version != FIREWORKS_VERSION:
        raise ServiceUnavailable(f"{python} has FireWorks {version}, not {FIREWORKS_VERSION}")
    return python


_PROBES: dict[str, Callable[[], Any]] = {
    "mongodb": _probe_mongodb,
    "sshd": _probe_sshd,
    "slurm": _probe_slurm,
    "fireworks": _probe_fireworks,
}


@functools.cache
def _probe(name: str) -> tuple[Any, str | None]:
    """Probe a service once per session: (its description, None) or (None, why it is missing)."""
    try:
        return _PROBES[name](), None
    except ServiceUnavailable as exc:
        return None, str(exc)


def require_service(name: str) -> Any:
    """Return the description of service ``name`` or skip (fail under CI=true) the current test.

    Names: ``mongodb`` (URI str), ``sshd`` (SshdService), ``slurm`` (SlurmCluster),
    ``fireworks`` (Path of the FireWorks venv python).
    """
    if name not in _PROBES:
        raise ValueError(f"unknown service {name!r}; known: {', '.join(sorted(_PROBES))}")
    value, reason = _probe(name)
    if reason is not None:
        unavailable(f"{name}: {reason}")
    return value


# -------------------------------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def mongodb_uri() -> str:
    uri: str = require_service("mongodb")
    return uri


@pytest.fixture
def fresh_mongo_db(mongodb_uri: str) -> Iterator[tuple[str, str]]:
    """A database name unique to this test on the test server; dropped afterwards."""
    import pymongo

    dbname = f"afwtest_{uuid.uuid4().hex[:16]}"
    yield mongodb_uri, dbname
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(
        mongodb_uri, serverSelectionTimeoutMS=5000
    )
    try:
        client.drop_database(dbname)
    finally:
        client.close()


@pytest.fixture(scope="session")
def slurm() -> SlurmCluster:
    cluster: SlurmCluster = require_service("slurm")
    return cluster


@pytest.fixture(scope="session")
def sshd() -> SshdService:
    service: SshdService = require_service("sshd")
    return service


@pytest.fixture(scope="session")
def fireworks_python() -> Path:
    python: Path = require_service("fireworks")
    return python
