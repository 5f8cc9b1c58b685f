"""The FileSystem contract, one suite run against every implementation.

``local`` runs everywhere; ``sftp`` runs against the loopback OpenSSH sshd of the test services
(same machine, so the remote paths are this test's ``tmp_path``). Tests specific to one
implementation live in ``test_fs_local.py`` and ``test_ssh_*.py``.
"""

from __future__ import annotations

import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest
from helpers.sshserver import sshd_target
from services import SshdService

from afw.errors import AfwError, FileFormatError
from afw.fs import FileSystem, get_filesystem
from afw.ssh import SSHCommandRunner, SSHPool

pytestmark = pytest.mark.anyio

FS_KINDS = ["local", "sftp"]


async def remote_umask(sshd: SshdService) -> int:
    async with SSHPool() as pool:
        result = await SSHCommandRunner(sshd_target(sshd), pool).run(
            ["sh", "-c", "umask"], timeout=30
        )
    return int(result.stdout.strip(), 8)


@pytest.fixture(params=FS_KINDS)
def fs_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def fs(fs_kind: str, request: pytest.FixtureRequest) -> AsyncIterator[FileSystem]:
    options = {}
    if fs_kind == "sftp":
        options["target"] = sshd_target(request.getfixturevalue("sshd"))
    async with get_filesystem(fs_kind, **options) as filesystem:
        yield filesystem


async def test_is_a_filesystem(fs: FileSystem, fs_kind: str) -> None:
    assert isinstance(fs, FileSystem)
    assert fs.name == fs_kind


async def test_write_atomic_round_trip_leaves_no_temp_files(fs: FileSystem, tmp_path: Path) -> None:
    target = str(tmp_path / "FW_offline.json")
    for payload in (b'{"launch_id": 1}', b"x" * 200_000, b""):
        await fs.write_atomic(target, payload)
        assert await fs.read_bytes(target) == payload
    assert await fs.listdir(str(tmp_path)) == ["FW_offline.json"]


async def test_write_atomic_honours_umask(
    fs: FileSystem, fs_kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    old = os.umask(0o022)
    try:
        await fs.write_atomic(str(tmp_path / "FW.json"), b"{}")
    finally:
        os.umask(old)
    # The umask of the process that creates the file applies: ours, or the remote SFTP server's.
    umask = 0o022 if fs_kind == "local" else await remote_umask(request.getfixturevalue("sshd"))
    assert stat.S_IMODE((tmp_path / "FW.json").stat().st_mode) == 0o666 & ~umask


async def test_write_atomic_into_missing_dir_fails_cleanly(fs: FileSystem, tmp_path: Path) -> None:
    with pytest.raises(AfwError) as info:
        await fs.write_atomic(str(tmp_path / "nope" / "FW.json"), b"{}")
    assert info.value.context["path"].endswith("FW.json")


async def test_write_files_atomic_makes_the_dir_and_replaces_every_file(
    fs: FileSystem, tmp_path: Path
) -> None:
    launch = tmp_path / "block_1" / "launcher_1"
    stale = ("FW_action.json", "FW_ping.json")
    await fs.write_files_atomic(
        str(launch), [("FW.json", b'{"fw_id": 1}'), ("FW_offline.json", b"{}")], remove=stale
    )
    assert sorted(os.listdir(launch)) == ["FW.json", "FW_offline.json"]
    assert (launch / "FW.json").read_bytes() == b'{"fw_id": 1}'
    # A reused dir: the stale result files go, the others are replaced or kept.
    for name in stale:
        (launch / name).write_bytes(b"old")
    await fs.write_files_atomic(str(launch), [("FW.json", b"2"), ("x", b"")], remove=stale)
    assert sorted(os.listdir(launch)) == ["FW.json", "FW_offline.json", "x"]
    assert (launch / "FW.json").read_bytes() == b"2"
    assert (launch / "FW_offline.json").read_bytes() == b"{}"


async def test_write_files_atomic_fails_cleanly(fs: FileSystem, tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_bytes(b"")
    for target in (blocker, blocker / "launcher"):
        with pytest.raises(AfwError):
            await fs.write_files_atomic(str(target), [("FW.json", b"{}")])
    (tmp_path / "d" / "FW.json").mkdir(parents=True)  # a file name taken by a directory
    with pytest.raises(AfwError):
        await fs.write_files_atomic(str(tmp_path / "d"), [("a", b"1"), ("FW.json", b"{}")])
    assert sorted(os.listdir(tmp_path)) == ["blocker", "d"]
    assert os.listdir(tmp_path / "d") in (["FW.json"], sorted(["FW.json", "a"]))
    assert not [n for n in os.listdir(tmp_path / "d") if n.endswith(".tmp")]


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
    assert st is not None and st.size == 5
    # SFTP v3 carries whole seconds only: compare at that resolution.
    assert st.mtime_ns // 10**9 == (tmp_path / "a").stat().st_mtime_ns // 10**9
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


async def test_readers_never_see_a_torn_file(fs: FileSystem, tmp_path: Path) -> None:
    path = str(tmp_path / "FW_action.json")
    old, new = b"a" * 300_000, b"b" * 200_000
    await fs.write_atomic(path, old)
    seen: set[bytes] = set()

    async def read_many() -> None:
        for _ in range(30):
            seen.add(await fs.read_bytes(path))

    async with anyio.create_task_group() as group:
        group.start_soon(read_many)
        for i in range(10):
            await fs.write_atomic(path, new if i % 2 == 0 else old)
    assert seen <= {old, new}
    assert await fs.listdir(str(tmp_path)) == ["FW_action.json"]


async def test_read_launch_dirs_keeps_order_across_a_large_batch(
    fs: FileSystem, tmp_path: Path
) -> None:
    dirs = []
    for i in range(300):
        path = tmp_path / f"launcher_{i:04d}"
        path.mkdir()
        if i % 3:
            (path / "FW_offline.json").write_text(f'{{"launch_id": {i}}}')
        dirs.append(str(path))
    snaps = await fs.read_launch_dirs(dirs, ["FW_action.json", "FW_offline.json"])
    assert [s.path for s in snaps] == dirs
    for i, snap in enumerate(snaps):
        expected = f'{{"launch_id": {i}}}'.encode() if i % 3 else None
        assert (snap.data("FW_offline.json"), snap.data("FW_action.json"), snap.error) == (
            expected,
            None,
            None,
        )
