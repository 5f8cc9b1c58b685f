"""LocalFileSystem specifics and the filesystem registry (the shared contract: test_fs_contract.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from anyio import to_thread

from afw.errors import ConfigError, StateError
from afw.fs import LocalFileSystem, get_filesystem

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


pytestmark = pytest.mark.anyio


async def test_read_launch_dirs_is_one_thread_hop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hops = 0
    real = to_thread.run_sync

    async def counting(*args: object, **kwargs: object) -> object:
        nonlocal hops
        hops += 1
        return await real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(to_thread, "run_sync", counting)
    dirs = []
    for i in range(200):
        (tmp_path / str(i)).mkdir()
        (tmp_path / str(i) / "FW_offline.json").write_text(f'{{"launch_id": {i}}}')
        dirs.append(str(tmp_path / str(i)))
    snaps = await LocalFileSystem().read_launch_dirs(dirs, ["FW_offline.json", "FW_ping.json"])
    assert hops == 1
    assert [s.data("FW_offline.json") for s in snaps] == [
        f'{{"launch_id": {i}}}'.encode() for i in range(200)
    ]


async def test_closed_filesystem_refuses_use(tmp_path: Path) -> None:
    fs = LocalFileSystem()
    async with fs:
        assert not await fs.exists(str(tmp_path / "x"))
    with pytest.raises(StateError):
        await fs.exists(str(tmp_path))
    with pytest.raises(StateError):
        await fs.read_launch_dirs([str(tmp_path)], ["FW.json"])


def test_unknown_filesystem_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown filesystem 'ftp'"):
        get_filesystem("ftp")


def test_importing_afw_fs_does_not_import_asyncssh() -> None:
    code = "import sys, afw.fs; assert 'asyncssh' not in sys.modules, 'asyncssh imported'"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=REPO)
