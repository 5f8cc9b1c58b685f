"""The local launch-dir reader's file read: whole contents and the stat of the same inode."""

from __future__ import annotations

import os
from pathlib import Path

from afw.fs.atomic import read_dir_snapshot


def test_reads_whole_files_with_their_stat(tmp_path: Path) -> None:
    big = os.urandom(300_001)
    (tmp_path / "big").write_bytes(big)
    (tmp_path / "empty").write_bytes(b"")
    snap = read_dir_snapshot(str(tmp_path), ["big", "empty", "absent"])
    assert snap.error is None and snap.exists
    assert snap.data("big") == big
    assert snap.data("empty") == b""
    assert snap.data("absent") is None
    st = (tmp_path / "big").stat()
    big_stat = snap.stats["big"]
    assert big_stat is not None
    assert (big_stat.size, big_stat.mtime_ns) == (st.st_size, st.st_mtime_ns)


def test_a_directory_in_place_of_a_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "FW_ping.json").mkdir()
    snap = read_dir_snapshot(str(tmp_path) + "/", ["FW_ping.json"])
    assert snap.error == "cannot read FW_ping.json: Is a directory"
    assert snap.data("FW_ping.json") is None
