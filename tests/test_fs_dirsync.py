"""SharedDirSync: concurrent fsyncs of one directory are shared, and never returned early."""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from afw.fs.atomic import write_files_atomic_sync
from afw.fs.dirsync import SharedDirSync


class Recorder:
    """A fake fsync: notes the change count when each call starts, and which calls finished."""

    def __init__(self, fail_first: int = 0, delay: float = 0.01) -> None:
        self.lock = threading.Lock()
        self.changes = 0
        self.calls: list[int] = []
        self.finished: list[int] = []
        self.fail_first = fail_first
        self.delay = delay

    def change(self) -> int:
        with self.lock:
            self.changes += 1
            return self.changes

    def fsync(self, path: str) -> None:
        with self.lock:
            covered = self.changes
            self.calls.append(covered)
            fail = len(self.calls) <= self.fail_first
        time.sleep(self.delay)
        if fail:
            raise OSError(5, "I/O error")
        with self.lock:
            self.finished.append(covered)


def _hammer(recorder: Recorder, syncer: SharedDirSync, n: int) -> list[BaseException | None]:
    def one(_: int) -> BaseException | None:
        mine = recorder.change()
        try:
            syncer.sync("/some/dir")
        except OSError as exc:
            return exc
        # Some fsync that began after this change has completed.
        with recorder.lock:
            assert any(covered >= mine for covered in recorder.finished)
        return None

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(one, range(n)))


def test_concurrent_syncs_share_fsyncs() -> None:
    recorder = Recorder()
    syncer = SharedDirSync(recorder.fsync)
    assert _hammer(recorder, syncer, 32) == [None] * 32
    assert len(recorder.calls) < 32
    assert not syncer._dirs  # nothing kept once nobody waits


def test_a_failed_fsync_is_reported_and_not_shared() -> None:
    recorder = Recorder(fail_first=1, delay=0.05)
    syncer = SharedDirSync(recorder.fsync)
    outcomes = _hammer(recorder, syncer, 8)
    failed = [o for o in outcomes if o is not None]
    assert len(failed) == 1 and isinstance(failed[0], OSError)
    assert len(recorder.finished) >= 1
    assert not syncer._dirs


def test_many_launch_dirs_in_one_block(tmp_path: Path) -> None:
    block = tmp_path / "block_1"

    def reserve(i: int) -> None:
        write_files_atomic_sync(block / f"launcher_{i}", [("FW.json", b"{}"), ("x", b"1")])

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(reserve, range(64)))
    assert len(os.listdir(block)) == 64
    assert all(sorted(os.listdir(block / d)) == ["FW.json", "x"] for d in os.listdir(block))


@pytest.mark.parametrize("n", [1, 2])
def test_sequential_syncs_each_fsync(n: int) -> None:
    recorder = Recorder(delay=0)
    syncer = SharedDirSync(recorder.fsync)
    for _ in range(n):
        recorder.change()
        syncer.sync("/d")
    assert len(recorder.calls) == n
