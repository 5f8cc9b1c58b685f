"""Where the benchmarks find their MongoDB-wire server and FireWorks 2.1.4.

MongoDB, first match wins: ``--mongo URL``; ``$AFW_BENCH_MONGODB_URI`` (a real mongod, if you
have one); a private SecantusDB server started here from ``.services/secantus-venv`` on a spare
loopback port with its data in the work dir (stopped at exit), so that no test run shares it;
``$AFW_TEST_MONGODB_URI``. FireWorks: ``$AFW_TEST_FIREWORKS_PYTHON``, else
``.services/fireworks-venv/bin/python``. When a venv is missing, ``bash scripts/services
install`` creates both (it also installs the other test services' packages, with apt).
"""

from __future__ import annotations

import atexit
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

__all__ = [
    "REPO",
    "BenchError",
    "drop_database",
    "fireworks_python",
    "install_services",
    "mongo_server",
    "server_kind",
    "with_db",
]

REPO = Path(__file__).resolve().parent.parent
SERVICES = REPO / ".services"
_cleanups: list[Callable[[], None]] = []


class BenchError(RuntimeError):
    """A benchmark could not run (a missing service, a failed side); the message says why."""


def install_services() -> None:
    """``bash scripts/services install`` (creates the SecantusDB and FireWorks venvs)."""
    print("[bench] installing the tool venvs: bash scripts/services install", file=sys.stderr)
    done = subprocess.run(["bash", str(REPO / "scripts" / "services"), "install"], check=False)
    if done.returncode != 0:
        raise BenchError("bash scripts/services install failed (see above)")


def fireworks_python(install: bool = True) -> Path:
    """The python of a venv with FireWorks 2.1.4 (installed on first use when ``install``)."""
    name = os.environ.get("AFW_TEST_FIREWORKS_PYTHON")
    python = Path(name) if name else SERVICES / "fireworks-venv" / "bin" / "python"
    if not python.exists() and install and not name:
        install_services()
    if not python.exists():
        raise BenchError(f"no FireWorks venv python at {python}: run bash scripts/services install")
    return python


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_port(port: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.1)
    return False


def _start_secantus(workdir: Path, install: bool) -> str:
    exe = SERVICES / "secantus-venv" / "bin" / "secantusd-py"
    if not exe.exists() and install:
        install_services()
    if not exe.exists():
        raise BenchError(f"no {exe}: run bash scripts/services install")
    data = workdir / f"secantus-{uuid.uuid4().hex[:8]}"
    data.mkdir(parents=True)
    port = _free_port()
    log = (workdir / "secantusd.log").open("ab")
    proc = subprocess.Popen(
        [str(exe), "--host", "127.0.0.1", "--port", str(port), "--storage-path", str(data)],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )

    def stop() -> None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        subprocess.run(["rm", "-rf", str(data)], check=False)

    atexit.register(stop)
    if not _wait_port(port, 180):
        stop()
        raise BenchError(f"SecantusDB did not listen on port {port} (see {workdir}/secantusd.log)")
    print(f"[bench] started SecantusDB on 127.0.0.1:{port} (pid {proc.pid})", file=sys.stderr)
    return f"mongodb://127.0.0.1:{port}/"


_server: dict[str, str] = {}


def mongo_server(explicit: str | None, workdir: Path, install: bool = True) -> tuple[str, str]:
    """``(uri, kind)``: the server to use and a label (``mongod``, ``secantusdb``)."""
    if "uri" not in _server:
        uri = explicit or os.environ.get("AFW_BENCH_MONGODB_URI")
        if uri:
            _server.update(uri=uri, kind=server_kind(uri))
        else:
            try:
                uri = _start_secantus(workdir, install)
                _server.update(uri=uri, kind=server_kind(uri))
            except BenchError:
                test_uri = os.environ.get("AFW_TEST_MONGODB_URI")
                if not test_uri:
                    raise
                _server.update(uri=test_uri, kind=server_kind(test_uri))
    return _server["uri"], _server["kind"]


def server_kind(uri: str) -> str:
    """``mongod X.Y`` or ``secantusdb X.Y`` (from ``buildInfo``)."""
    import pymongo

    client: pymongo.MongoClient[dict[str, object]] = pymongo.MongoClient(
        uri, serverSelectionTimeoutMS=60_000
    )
    try:
        info = client.admin.command("buildInfo")
    except pymongo.errors.PyMongoError as exc:
        raise BenchError(f"no MongoDB server answers at {uri}: {exc}") from exc
    finally:
        client.close()
    if "secantusVersion" in info:
        return f"secantusdb {info['secantusVersion']}"
    return f"mongod {info.get('version', '?')}"


def with_db(uri: str, dbname: str) -> str:
    """``uri`` pointing at database ``dbname`` (query options kept)."""
    head, _, query = uri.partition("?")
    scheme, _, rest = head.partition("://")
    hosts = rest.split("/", 1)[0]
    return f"{scheme}://{hosts}/{dbname}" + (f"?{query}" if query else "")


def drop_database(uri: str, dbname: str) -> None:
    import pymongo

    client: pymongo.MongoClient[dict[str, object]] = pymongo.MongoClient(
        uri, serverSelectionTimeoutMS=60_000
    )
    try:
        client.drop_database(dbname)
    finally:
        client.close()
