"""CompressDirTask, DecompressDirTask, ArchiveDirTask."""

from __future__ import annotations

import bz2
import gzip
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pytest
from helpers.taskrun import run

from afw.errors import TaskError, TaskParamError
from afw.tasks import load_task
from afw.tasks.archive import ArchiveDirTask, CompressDirTask, DecompressDirTask

pytestmark = pytest.mark.anyio


def populate(root: Path) -> None:
    (root / "sub").mkdir(parents=True)
    (root / "a.txt").write_text("A" * 1000)
    (root / "sub" / "b.dat").write_text("B")
    (root / "FW.json").write_text("{}")
    (root / "FW_offline.json").write_text('{"launch_id": 1}')
    (root / "link").symlink_to(root / "a.txt")


def names(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if not p.is_dir())


async def test_compress_gz(tmp_path: Path) -> None:
    populate(tmp_path)
    (tmp_path / "a.txt").chmod(0o640)
    await run(CompressDirTask(), tmp_path)
    assert names(tmp_path) == [
        "FW.json",
        "FW_offline.json",
        "a.txt.gz",
        "link",
        "sub/b.dat.gz",
    ]
    assert gzip.decompress((tmp_path / "a.txt.gz").read_bytes()) == b"A" * 1000
    assert (tmp_path / "a.txt.gz").stat().st_mode & 0o777 == 0o640


async def test_compress_bz2_dest_and_idempotent(tmp_path: Path) -> None:
    populate(tmp_path)
    task = CompressDirTask(compression="bz2", dest="sub")
    await run(task, tmp_path)
    await run(task, tmp_path)
    assert (tmp_path / "a.txt").exists()
    assert bz2.decompress((tmp_path / "sub" / "b.dat.bz2").read_bytes()) == b"B"


async def test_decompress_round_trip(tmp_path: Path) -> None:
    populate(tmp_path)
    await run(CompressDirTask(), tmp_path)
    (tmp_path / "FW_offline.json.gz").write_bytes(gzip.compress(b"old"))
    await run(DecompressDirTask(), tmp_path)
    assert (tmp_path / "a.txt").read_text() == "A" * 1000
    assert (tmp_path / "sub" / "b.dat").read_text() == "B"
    # a compressed control file must not overwrite the live one
    assert (tmp_path / "FW_offline.json").read_text() == '{"launch_id": 1}'
    assert (tmp_path / "FW_offline.json.gz").exists()


async def test_decompress_bz2_in_dest(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x.BZ2").write_bytes(bz2.compress(b"X"))
    await run(DecompressDirTask(dest="d"), tmp_path)
    assert (tmp_path / "d" / "x").read_bytes() == b"X"


async def test_decompress_corrupt_file(tmp_path: Path) -> None:
    (tmp_path / "bad.gz").write_bytes(b"not gzip at all")
    with pytest.raises(TaskError, match=r"bad\.gz"):
        await run(DecompressDirTask(), tmp_path)
    assert (tmp_path / "bad.gz").exists()
    await run(DecompressDirTask(ignore_errors=True), tmp_path)


async def test_archive_gztar(tmp_path: Path) -> None:
    populate(tmp_path)
    assert await run(ArchiveDirTask(base_name="arch"), tmp_path) is None
    with tarfile.open(tmp_path / "arch.tar.gz") as tar:
        members = {m.name.removeprefix("./") for m in tar.getmembers()}
    assert {"a.txt", "sub/b.dat", "FW.json"} <= members
    assert not any("arch" in m for m in members)


async def test_archive_zip_elsewhere(tmp_path: Path) -> None:
    launch = tmp_path / "launch"
    populate(launch)
    await run(ArchiveDirTask(base_name=str(tmp_path / "out" / "run1"), format="zip"), launch)
    with zipfile.ZipFile(tmp_path / "out" / "run1.zip") as zf:
        assert "sub/b.dat" in zf.namelist()


@pytest.mark.parametrize(
    ("cls", "params"),
    [
        (CompressDirTask, {"compression": "zip"}),
        (CompressDirTask, {"bogus": 1}),
        (DecompressDirTask, {"compression": "gz"}),
        (ArchiveDirTask, {}),
        (ArchiveDirTask, {"base_name": "a", "format": "rar"}),
        (ArchiveDirTask, {"base_name": 3}),
        (ArchiveDirTask, {"base_name": "a", "bogus": 1}),
    ],
)
def test_bad_parameters(cls: type[Any], params: dict[str, Any]) -> None:
    with pytest.raises(TaskParamError):
        cls(params)


def test_documented_parameters_accepted() -> None:
    CompressDirTask(compression="bz2", dest="d", ignore_errors=True)
    DecompressDirTask(dest="d", ignore_errors=True)
    ArchiveDirTask(base_name="a", format="gztar")


@pytest.mark.parametrize(
    "data",
    [
        {"_fw_name": "CompressDirTask", "compression": "gz"},
        {"_fw_name": "DecompressDirTask"},
        {"_fw_name": "ArchiveDirTask", "base_name": "a"},
    ],
    ids=lambda d: d["_fw_name"],
)
def test_load_from_fireworks_dict(data: dict[str, Any]) -> None:
    name = data["_fw_name"]
    task = load_task(data)
    assert type(task).__name__ == name
    assert task.to_dict() == data
    explicit = {**data, "_fw_name": f"{{{{fireworks.user_objects.firetasks.fileio_tasks.{name}}}}}"}
    assert type(load_task(explicit)) is type(task)
