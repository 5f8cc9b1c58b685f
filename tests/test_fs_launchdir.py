"""Launch-dir files: afw round trips, FireWorks 2.1.4 dirs, torn files, batched reads."""

from __future__ import annotations

import bz2
import gzip
import json
import os
import threading
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest

from afw.errors import FileFormatError, SerializationError, StateError
from afw.fs import (
    FW_ACTION_JSON,
    FW_JSON,
    FW_OFFLINE_JSON,
    FW_PING_JSON,
    STATUS_FILES,
    LocalFileSystem,
    OfflineRunWriter,
    decode_json,
    encode_json,
    encode_offline,
    encode_reservation,
    format_time,
    make_checkpoint,
    normalize_action,
    read_fw_json,
    read_launch_snapshots,
    read_offline_status,
    read_offline_statuses,
    write_atomic_sync,
    write_reservation,
    write_submit_script,
)
from afw.fs.formats import ACTION_DEFAULTS

STARTED = "2026-11-22T13:01:36.604965+00:00"
PINGED = "2026-11-22T13:01:39.111909+00:00"
COMPLETED = "2026-11-22T13:01:39.112256+00:00"
FW_ACTION = {
    "stored_data": {"slept": 2.5},
    "exit": False,
    "update_spec": {"from_sleep": 1},
    "mod_spec": [],
    "additions": [],
    "detours": [],
    "append_wfs": [],
    "defuse_children": False,
    "defuse_workflow": False,
    "propagate": False,
}
CHECKPOINT = {"_task_n": 0, "_all_stored_data": {}, "_all_update_spec": {}, "_all_mod_spec": []}
FIREWORKS_COMPLETED = {
    "launch_id": 1,
    "started_on": STARTED,
    "checkpoint": CHECKPOINT,
    "fwaction": FW_ACTION,
    "state": "COMPLETED",
    "completed_on": COMPLETED,
}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def status_of(path: Path, launch_id: int | None = None) -> Any:
    statuses = await read_offline_statuses(LocalFileSystem(), [str(path)], [launch_id])
    return statuses[0]


def fireworks_dump(doc: dict[str, Any]) -> bytes:
    """Exactly how FireWorks 2.1.4 writes FW_offline.json / FW_ping.json."""
    return json.dumps(doc, ensure_ascii=False).encode()


# --- formats -------------------------------------------------------------------------------


def test_format_time_is_utc_with_microseconds() -> None:
    assert format_time(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == (
        "2026-01-02T03:04:05.000000+00:00"
    )
    plus_two = timezone(timedelta(hours=2))
    assert format_time(datetime(2026, 1, 2, 5, 4, 5, 7, tzinfo=plus_two)).endswith(
        "03:04:05.000007+00:00"
    )
    assert format_time(datetime(2026, 1, 2, 3, 4, 5)) == "2026-01-02T03:04:05.000000+00:00"
    assert format_time(STARTED) == STARTED


def test_normalize_action_fills_fireworks_keys_in_order_and_keeps_extras() -> None:
    full = normalize_action({"stored_data": {"a": 1}, "exit": True, "_afw": 2})
    assert list(full)[: len(ACTION_DEFAULTS)] == list(ACTION_DEFAULTS)
    assert (full["stored_data"], full["exit"], full["detours"], full["_afw"]) == (
        {"a": 1},
        True,
        [],
        2,
    )
    assert normalize_action({})["mod_spec"] is not normalize_action({})["mod_spec"]


def test_encode_offline_matches_fireworks_shapes() -> None:
    assert encode_offline(1) == b'{"launch_id":1}'
    done = encode_offline(
        1,
        started_on=STARTED,
        checkpoint=CHECKPOINT,
        action=FW_ACTION,
        state="COMPLETED",
        completed_on=COMPLETED,
    )
    assert orjson.loads(done) == FIREWORKS_COMPLETED
    assert list(orjson.loads(done)) == list(FIREWORKS_COMPLETED)


def test_encode_json_uses_to_dict_and_rejects_the_rest() -> None:
    class Action:
        def to_dict(self) -> dict[str, int]:
            return {"x": 1}

    assert orjson.loads(encode_json({"a": Action(), "b": {2}})) == {"a": {"x": 1}, "b": [2]}
    with pytest.raises(SerializationError):
        encode_json({"a": object()})


@pytest.mark.parametrize("data", [b"", b"  ", b'{"launch_id": 1', b"[1]", b"\xff"])
def test_decode_json_raises_file_format_error(data: bytes) -> None:
    with pytest.raises(FileFormatError):
        decode_json(data, FW_OFFLINE_JSON)


# --- afw round trips -----------------------------------------------------------------------


@pytest.mark.anyio
async def test_reservation_then_run_round_trip(tmp_path: Path) -> None:
    fs = LocalFileSystem()
    launch_dir = tmp_path / "launcher_1"
    fw_json = encode_json({"fw_id": 3, "spec": {"_tasks": []}, "state": "RESERVED"})
    await write_reservation(fs, str(launch_dir), fw_json, launch_id=7)
    assert (launch_dir / FW_OFFLINE_JSON).read_bytes() == b'{"launch_id":7}'
    assert await read_fw_json(fs, str(launch_dir)) == orjson.loads(fw_json)
    reserved = await status_of(launch_dir, 7)
    assert (reserved.error, reserved.launch_id, reserved.started, reserved.finished) == (
        None,
        7,
        False,
        False,
    )

    assert sorted(os.listdir(launch_dir)) == [FW_JSON, FW_OFFLINE_JSON]

    writer = OfflineRunWriter(launch_dir, fw_id=3)
    writer.start(STARTED)
    assert writer.launch_id == 7
    cp = make_checkpoint(1, {"a": 1}, {"b": 2}, [{"_set": {"c": 3}}], _cwd=str(launch_dir))
    writer.checkpoint(cp)
    writer.ping(PINGED)
    running = await status_of(launch_dir, 7)
    assert (running.started_on, running.checkpoint, running.ping_time) == (STARTED, cp, PINGED)
    assert not running.finished and running.source is None

    writer.finish("FIZZLED", {"stored_data": {"_message": "boom"}}, COMPLETED)
    done = await status_of(launch_dir, 7)
    assert done.finished and writer.finished
    assert (done.state, done.completed_on, done.source, done.fw_id) == (
        "FIZZLED",
        COMPLETED,
        FW_ACTION_JSON,
        3,
    )
    assert done.action == normalize_action({"stored_data": {"_message": "boom"}})
    assert (done.checkpoint, done.started_on, done.ping_time) == (cp, STARTED, COMPLETED)

    offline = orjson.loads((launch_dir / FW_OFFLINE_JSON).read_bytes())
    assert list(offline) == list(FIREWORKS_COMPLETED)
    assert offline["fwaction"] == done.action and offline["state"] == "FIZZLED"
    final = orjson.loads((launch_dir / FW_ACTION_JSON).read_bytes())
    assert list(final) == [
        "launch_id",
        "fw_id",
        "state",
        "action",
        "started_on",
        "completed_on",
        "checkpoint",
        "ping_time",
    ]
    assert orjson.loads((launch_dir / FW_PING_JSON).read_bytes()) == {"ping_time": COMPLETED}
    assert sorted(os.listdir(launch_dir)) == sorted([FW_JSON, *STATUS_FILES])


def test_writer_keeps_its_absolute_dir_when_a_task_chdirs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    launch_dir, elsewhere = tmp_path / "run", tmp_path / "elsewhere"
    launch_dir.mkdir()
    elsewhere.mkdir()
    (launch_dir / FW_OFFLINE_JSON).write_bytes(b'{"launch_id": 5, "_extra": 1}')
    monkeypatch.chdir(launch_dir)
    writer = OfflineRunWriter(".")
    writer.start()
    monkeypatch.chdir(elsewhere)
    writer.checkpoint(make_checkpoint(0))
    writer.finish("COMPLETED", {})
    assert list(elsewhere.iterdir()) == []
    offline = orjson.loads((launch_dir / FW_OFFLINE_JSON).read_bytes())
    assert (offline["launch_id"], offline["_extra"], offline["state"]) == (5, 1, "COMPLETED")
    assert orjson.loads((launch_dir / FW_ACTION_JSON).read_bytes())["launch_id"] == 5


def test_writer_after_finish(tmp_path: Path) -> None:
    writer = OfflineRunWriter(tmp_path, launch_id=1, fw_id=1)
    writer.finish("COMPLETED", {}, COMPLETED)  # an error before start() must still be recorded
    ping = (tmp_path / FW_PING_JSON).read_bytes()
    writer.ping(PINGED)
    assert (tmp_path / FW_PING_JSON).read_bytes() == ping
    with pytest.raises(StateError):
        writer.checkpoint(make_checkpoint(1))
    with pytest.raises(StateError):
        writer.finish("COMPLETED", {})


@pytest.mark.anyio
async def test_writer_is_thread_safe_with_a_heartbeat(tmp_path: Path) -> None:
    writer = OfflineRunWriter(tmp_path, launch_id=2, fw_id=2)
    writer.start()
    stop = threading.Event()
    errors: list[BaseException] = []

    def heartbeat() -> None:
        try:
            while not stop.is_set():
                writer.ping()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    thread = threading.Thread(target=heartbeat)
    thread.start()
    try:
        for task_n in range(30):
            writer.checkpoint(make_checkpoint(task_n, {"n": "x" * task_n * 100}))
        writer.finish("COMPLETED", {"stored_data": {"ok": True}})
    finally:
        stop.set()
        thread.join()
    assert errors == []
    status = await status_of(tmp_path, 2)
    assert status.finished and status.checkpoint["_task_n"] == 29
    ping = orjson.loads((tmp_path / FW_PING_JSON).read_bytes())["ping_time"]
    assert ping == status.ping_time == status.completed_on
    assert sorted(os.listdir(tmp_path)) == sorted(STATUS_FILES)


# --- FireWorks 2.1.4 dirs ------------------------------------------------------------------


@pytest.mark.anyio
async def test_fireworks_completed_dir(tmp_path: Path) -> None:
    (tmp_path / FW_JSON).write_text(json.dumps({"fw_id": 2, "state": "RESERVED"}, indent=4))
    (tmp_path / FW_OFFLINE_JSON).write_bytes(fireworks_dump(FIREWORKS_COMPLETED))
    (tmp_path / FW_PING_JSON).write_bytes(fireworks_dump({"ping_time": PINGED}))
    status = await status_of(tmp_path, 1)
    assert status.error is None
    assert (status.finished, status.state, status.source) == (True, "COMPLETED", FW_OFFLINE_JSON)
    assert (status.action, status.checkpoint) == (FW_ACTION, CHECKPOINT)
    assert (status.started_on, status.completed_on, status.ping_time) == (
        STARTED,
        COMPLETED,
        PINGED,
    )
    assert status.fw_id is None and status.fingerprint is not None


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("doc", "started", "checkpoint"),
    [
        ({"launch_id": 1}, False, None),
        ({"launch_id": 1, "started_on": STARTED}, True, None),
        ({"launch_id": 1, "started_on": STARTED, "checkpoint": CHECKPOINT}, True, CHECKPOINT),
    ],
)
async def test_fireworks_unfinished_dirs(
    tmp_path: Path, doc: dict[str, Any], started: bool, checkpoint: Any
) -> None:
    data = b'{"launch_id":1}' if len(doc) == 1 else fireworks_dump(doc)
    (tmp_path / FW_OFFLINE_JSON).write_bytes(data)
    status = await status_of(tmp_path)
    assert (status.error, status.launch_id, status.finished) == (None, 1, False)
    assert (status.started, status.checkpoint, status.ping_time) == (started, checkpoint, None)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("suffix", "compress"),
    [(".gz", gzip.compress), (".bz2", bz2.compress), (".GZ", gzip.compress)],
)
async def test_fireworks_compressed_dir(tmp_path: Path, suffix: str, compress: Any) -> None:
    (tmp_path / f"{FW_OFFLINE_JSON}{suffix}").write_bytes(
        compress(fireworks_dump(FIREWORKS_COMPLETED))
    )
    (tmp_path / f"{FW_PING_JSON}{suffix}").write_bytes(
        compress(fireworks_dump({"ping_time": PINGED}))
    )
    status = await status_of(tmp_path, 1)
    assert status.error is None
    assert (status.finished, status.source, status.action) == (
        True,
        FW_OFFLINE_JSON + suffix,
        FW_ACTION,
    )
    assert status.ping_time == PINGED


# --- torn, stale and missing ---------------------------------------------------------------

TORN = [
    (FW_OFFLINE_JSON, b""),
    (FW_OFFLINE_JSON, fireworks_dump(FIREWORKS_COMPLETED)[:57]),
    (FW_OFFLINE_JSON, b"[1, 2]"),
    (FW_OFFLINE_JSON, b'{"launch_id": "one"}'),
    (FW_OFFLINE_JSON, b'{"launch_id": 1, "fwaction": {}}'),
    (FW_OFFLINE_JSON, b'{"launch_id": 1, "checkpoint": 3}'),
    (FW_OFFLINE_JSON + ".gz", gzip.compress(b'{"launch_id": 1}', mtime=0)[:-9]),
    (FW_OFFLINE_JSON + ".gz", gzip.compress(b'{"launch_id": 1}', mtime=0)[:10] + b"\xff" * 30),
    (FW_OFFLINE_JSON + ".bz2", b"BZh9 not really"),
    (FW_ACTION_JSON, b'{"launch_id": 1, "state": "COMPL'),
    (FW_ACTION_JSON, b'{"launch_id": 1, "state": "COMPLETED"}'),
]


@pytest.mark.anyio
@pytest.mark.parametrize(("name", "data"), TORN, ids=[f"{n}-{i}" for i, (n, _) in enumerate(TORN)])
async def test_torn_files_give_an_error_status(tmp_path: Path, name: str, data: bytes) -> None:
    if name == FW_ACTION_JSON:
        (tmp_path / FW_OFFLINE_JSON).write_bytes(b'{"launch_id": 1, "started_on": "x"}')
    (tmp_path / name).write_bytes(data)
    status = await status_of(tmp_path)
    assert status.error is not None and str(tmp_path) in status.error
    assert (status.finished, status.fingerprint, status.launch_id, status.dir_exists) == (
        False,
        None,
        None,
        True,
    )


@pytest.mark.anyio
async def test_torn_ping_is_skipped_but_forces_a_reread(tmp_path: Path) -> None:
    (tmp_path / FW_OFFLINE_JSON).write_bytes(fireworks_dump(FIREWORKS_COMPLETED))
    (tmp_path / FW_PING_JSON).write_bytes(b'{"ping_ti')
    status = await status_of(tmp_path)
    assert (status.error, status.finished, status.ping_time, status.fingerprint) == (
        None,
        True,
        None,
        None,
    )


@pytest.mark.anyio
async def test_valid_action_file_wins_over_a_torn_offline_file(tmp_path: Path) -> None:
    writer = OfflineRunWriter(tmp_path, launch_id=4, fw_id=9)
    writer.start(STARTED)
    writer.finish("COMPLETED", FW_ACTION, COMPLETED)
    (tmp_path / FW_OFFLINE_JSON).write_bytes(b'{"launch_')
    status = await status_of(tmp_path, 4)
    assert (status.error, status.finished, status.launch_id, status.started_on) == (
        None,
        True,
        4,
        STARTED,
    )


@pytest.mark.anyio
async def test_stale_action_file_from_an_earlier_launch_is_ignored(tmp_path: Path) -> None:
    old = OfflineRunWriter(tmp_path, launch_id=3, fw_id=9)
    old.finish("FIZZLED", {}, COMPLETED)
    (tmp_path / FW_OFFLINE_JSON).write_bytes(b'{"launch_id": 4}')  # re-reserved in place
    status = await status_of(tmp_path, 4)
    assert (status.error, status.launch_id, status.finished) == (None, 4, False)
    mismatch = await status_of(tmp_path, 5)
    assert mismatch.error is not None and "holds launch 4" in mismatch.error


@pytest.mark.anyio
async def test_write_reservation_clears_the_previous_result(tmp_path: Path) -> None:
    old = OfflineRunWriter(tmp_path, launch_id=3, fw_id=9)
    old.finish("FIZZLED", {}, COMPLETED)
    await write_reservation(LocalFileSystem(), str(tmp_path), b"{}", 4)
    assert sorted(os.listdir(tmp_path)) == [FW_JSON, FW_OFFLINE_JSON]


@pytest.mark.anyio
async def test_write_reservation_with_the_submit_script(tmp_path: Path) -> None:
    launch_dir = tmp_path / "block_1" / "launcher_1"
    script = "#!/bin/bash\nrlaunch -l lp.yaml singleshot --offline --fw-id 9\n"
    await write_reservation(LocalFileSystem(), str(launch_dir), b"{}", 4, submit_script=script)
    assert sorted(os.listdir(launch_dir)) == sorted([FW_JSON, FW_OFFLINE_JSON, "FW_submit.script"])
    assert (launch_dir / "FW_submit.script").read_text() == script
    assert (launch_dir / FW_OFFLINE_JSON).read_bytes() == b'{"launch_id":4}'


@pytest.mark.anyio
async def test_missing_and_empty_dirs(tmp_path: Path) -> None:
    gone = await status_of(tmp_path / "gone")
    assert not gone.dir_exists and gone.error and "does not exist" in gone.error
    empty = await status_of(tmp_path)
    assert empty.dir_exists and empty.error and f"no {FW_OFFLINE_JSON}" in empty.error


# --- batches and fingerprints --------------------------------------------------------------


@pytest.mark.anyio
async def test_many_dirs_in_one_batch(tmp_path: Path) -> None:
    dirs = []
    for i in range(300):
        launch_dir = tmp_path / f"launcher_{i:04d}"
        launch_dir.mkdir()
        dirs.append(str(launch_dir))
        write_atomic_sync(launch_dir / FW_OFFLINE_JSON, encode_reservation(i))
        writer = OfflineRunWriter(launch_dir, fw_id=i)
        if i % 3:
            writer.start(STARTED)
        if i % 3 == 2:
            writer.finish("COMPLETED", {"stored_data": {"i": i}}, COMPLETED)
        if i % 50 == 0:
            (launch_dir / FW_OFFLINE_JSON).write_bytes(b"")
    dirs.append(str(tmp_path / "missing"))
    statuses = await read_offline_statuses(LocalFileSystem(), dirs, [*range(300), None])
    assert [s.path for s in statuses] == dirs
    for i, status in enumerate(statuses[:-1]):
        if i % 50 == 0 and i % 3 != 2:  # torn, and no FW_action.json to fall back on
            assert status.error is not None
            continue
        assert (status.error, status.launch_id, status.started) == (None, i, i % 3 != 0)
        assert status.finished == (i % 3 == 2)
    assert not statuses[-1].dir_exists


@pytest.mark.anyio
async def test_read_launch_dirs_reports_missing_files_as_none(tmp_path: Path) -> None:
    (tmp_path / FW_OFFLINE_JSON).write_bytes(b'{"launch_id":1}')
    [snap] = await LocalFileSystem().read_launch_dirs([str(tmp_path)], STATUS_FILES)
    assert snap.data(FW_ACTION_JSON) is None and snap.stat(FW_ACTION_JSON) is None
    assert snap.data(FW_OFFLINE_JSON) == b'{"launch_id":1}'
    stat = snap.stat(FW_OFFLINE_JSON)
    assert stat is not None and stat.size == 15
    assert stat.mtime_ns == (tmp_path / FW_OFFLINE_JSON).stat().st_mtime_ns


@pytest.mark.anyio
async def test_fingerprint_changes_only_when_a_file_changes(tmp_path: Path) -> None:
    fs = LocalFileSystem()

    async def fingerprint() -> Any:
        [snap] = await read_launch_snapshots(fs, [str(tmp_path)])
        status = read_offline_status(snap)
        assert status.fingerprint == snap.fingerprint
        return status.fingerprint

    writer = OfflineRunWriter(tmp_path, launch_id=1, fw_id=1)
    writer.start(STARTED)
    writer.ping(PINGED)
    first = await fingerprint()
    assert first == await fingerprint()
    time.sleep(0.05)  # beyond the filesystem's timestamp granularity
    writer.ping(COMPLETED)  # same size, new content
    second = await fingerprint()
    assert second != first
    assert len(second) == 2
    writer.finish("COMPLETED", {}, COMPLETED)
    third = await fingerprint()
    assert third != second and FW_ACTION_JSON in {name for name, _, _ in third}


@pytest.mark.anyio
async def test_submit_script(tmp_path: Path) -> None:
    path = await write_submit_script(LocalFileSystem(), str(tmp_path), "#!/bin/bash\necho hi\n")
    assert Path(path).read_text() == "#!/bin/bash\necho hi\n"
    assert path.endswith("FW_submit.script")
