"""Contract tests for the FileSystem interface, parametrized over its implementations."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from anyio import to_thread

from afw.errors import AfwError, ConfigError, FileFormatError, StateError
from afw.fs import FileStat, FileSystem, LocalFileSystem, get_filesystem

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=["local"])
async def fs(request: pytest.FixtureRequest) -> AsyncIterator[FileSystem]:
    async with get_filesystem(request.param) as filesystem:
        yield filesystem


pytestmark = pytest.mark.anyio


async def test_is_a_filesystem(fs: FileSystem) -> None:
    assert isinstance(fs, FileSystem)
    assert fs.name == "local"


async def test_write_atomic_round_trip_leaves_no_temp_files(fs: FileSystem, tmp_path: Path) -> None:
    target = str(tmp_path / "FW_offline.json")
    for payload in (b'{"launch_id": 1}', b"x" * 200_000, b""):
        await fs.write_atomic(target, payload)
        assert await fs.read_bytes(target) == payload
    assert await fs.listdir(str(tmp_path)) == ["FW_offline.json"]


async def test_write_atomic_honours_umask(fs: FileSystem, tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        await fs.write_atomic(str(tmp_path / "FW.json"), b"{}")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "FW.json").stat().st_mode) == 0o644


async def test_write_atomic_into_missing_dir_fails_cleanly(fs: FileSystem, tmp_path: Path) -> None:
    with pytest.raises(AfwError) as info:
        await fs.write_atomic(str(tmp_path / "nope" / "FW.json"), b"{}")
    assert info.value.context["path"].endswith("FW.json")


async def test_read_missing_file_is_a_file_format_error(fs: FileSystem, tmp_path: Path) -> None:
    with pytest.raises(FileFormatError) as info:
        await fs.read_bytes(str(tmp_path / "missing.json"))
    assert "missing.json" in str(info.value)
    assert isinstance(info.value.__cause__, FileNotFoundError)


async def test_stat_and_exists(fs: FileSystem, tmp_path: Path) -> None:
    path = str(tmp_path / "a")
    assert await fs.stat(path) is None
    assert not await fs.exists(path)
    await fs.write_atomic(path, b"12345")
    st = await fs.stat(path)
    assert st == FileStat(5, (tmp_path / "a").stat().st_mtime_ns)
    assert await fs.exists(path)
    assert await fs.exists(str(tmp_path))


async def test_makedirs_listdir_remove_rmtree(fs: FileSystem, tmp_path: Path) -> None:
    deep = str(tmp_path / "block" / "launcher_1")
    await fs.makedirs(deep)
    await fs.makedirs(deep)
    for name in ("b", "a", "c"):
        await fs.write_atomic(f"{deep}/{name}", name.encode())
    assert await fs.listdir(deep) == ["a", "b", "c"]
    await fs.remove(f"{deep}/a")
    await fs.remove(f"{deep}/a")
    assert await fs.listdir(deep) == ["b", "c"]
    await fs.rmtree(str(tmp_path / "block"))
    await fs.rmtree(str(tmp_path / "block"))
    assert not await fs.exists(deep)
    with pytest.raises(AfwError):
        await fs.listdir(deep)


async def test_copytree_ignores_patterns_and_keeps_symlinks(fs: FileSystem, tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    (src / "sub").mkdir(parents=True)
    (src / "OUTCAR").write_text("energy")
    (src / "sub" / "data.txt").write_text("d")
    (src / "FW_action.json").write_text("{}")
    (src / "link").symlink_to("OUTCAR")
    await fs.copytree(str(src), str(dst), ignore=["FW_*.json"])
    assert sorted(p.name for p in dst.iterdir()) == ["OUTCAR", "link", "sub"]
    assert (dst / "link").is_symlink()
    assert (dst / "sub" / "data.txt").read_text() == "d"
    await fs.copytree(str(src), str(dst))
    assert (dst / "FW_action.json").exists()


async def test_read_launch_dirs_reports_problems_per_dir(fs: FileSystem, tmp_path: Path) -> None:
    good, empty, missing = tmp_path / "good", tmp_path / "empty", tmp_path / "missing"
    good.mkdir()
    empty.mkdir()
    (good / "FW_offline.json").write_bytes(b'{"launch_id": 1}')
    (good / "FW_ping.json").mkdir()
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    dirs = [str(p) for p in (good, empty, missing, not_a_dir)]
    snaps = await fs.read_launch_dirs(dirs, ["FW_offline.json", "FW_ping.json"])
    assert [s.path for s in snaps] == dirs
    assert snaps[0].data("FW_offline.json") == b'{"launch_id": 1}'
    assert snaps[0].error is not None and "FW_ping.json" in snaps[0].error
    assert (snaps[1].exists, snaps[1].error, snaps[1].data("FW_offline.json")) == (True, None, None)
    assert not snaps[2].exists and "does not exist" in (snaps[2].error or "")
    assert not snaps[3].exists and "not a directory" in (snaps[3].error or "")


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
