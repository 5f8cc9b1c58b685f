"""A separate reader process never sees a torn launch-dir file written by OfflineRunWriter.

The control test shows that the same reader does catch FireWorks' in-place ``open(..., "w")``
writes, so a zero count for afw's writer means something.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from afw.fs import (
    FW_ACTION_JSON,
    FW_OFFLINE_JSON,
    FW_PING_JSON,
    OfflineRunWriter,
    encode_reservation,
    make_checkpoint,
    write_atomic_sync,
)

NAMES = (FW_OFFLINE_JSON, FW_PING_JSON, FW_ACTION_JSON)

# Reads the three files in a tight loop; a read that does not parse, or whose blob does not
# match its recorded length, is torn. Prints one JSON report when the stop file appears.
READER = r"""
import os, sys, orjson
launch_dir, stop_file, stop_on_torn = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
names = ("FW_offline.json", "FW_ping.json", "FW_action.json")
required = {"FW_offline.json": "launch_id", "FW_ping.json": "ping_time", "FW_action.json": "action"}
reads = dict.fromkeys(names, 0)
torn = dict.fromkeys(names, 0)
sizes = set()
examples = []

def blob_ok(doc):
    data = (doc.get("checkpoint") or {}).get("_all_stored_data") or {}
    return "blob" not in data or len(data["blob"]) == data["n"]

def check(name, data):
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError:
        return False
    return isinstance(doc, dict) and required[name] in doc and blob_ok(doc)

print("ready", flush=True)
done = False
while not done and not os.path.exists(stop_file):
    for name in names:
        try:
            with open(os.path.join(launch_dir, name), "rb") as handle:
                data = handle.read()
        except FileNotFoundError:
            continue
        reads[name] += 1
        sizes.add(len(data))
        if not check(name, data):
            torn[name] += 1
            if len(examples) < 3:
                examples.append([name, len(data), data[:60].decode("utf-8", "replace")])
            done = stop_on_torn
report = {"reads": reads, "torn": torn, "sizes": len(sizes), "examples": examples}
print(orjson.dumps(report).decode())
"""


@contextmanager
def reader(launch_dir: Path, tmp_path: Path, *, stop_on_torn: bool) -> Iterator[dict[str, Any]]:
    """Run READER in another process for the duration of the block; fill in its report."""
    stop_file = tmp_path / "STOP"
    args = [sys.executable, "-c", READER, str(launch_dir), str(stop_file), str(int(stop_on_torn))]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    report: dict[str, Any] = {"process": proc}
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        yield report
    finally:
        stop_file.touch()
        out, _ = proc.communicate(timeout=60)
    report.update(json.loads(out))


def blob_checkpoint(task_n: int, rng: random.Random) -> dict[str, Any]:
    size = rng.choice([0, 10, 1_000, 20_000, 60_000, 100_000])
    return make_checkpoint(task_n, {"blob": "x" * size, "n": size}, {"step": task_n})


def test_offline_run_writer_is_never_seen_torn(tmp_path: Path) -> None:
    launch_dir = tmp_path / "launcher"
    launch_dir.mkdir()
    rng = random.Random(1234)
    writes = 0
    with reader(launch_dir, tmp_path, stop_on_torn=False) as report:
        for cycle in range(150):
            write_atomic_sync(launch_dir / FW_OFFLINE_JSON, encode_reservation(cycle))
            writer = OfflineRunWriter(launch_dir, fw_id=cycle)
            writer.start()
            for task_n in range(5):
                writer.checkpoint(blob_checkpoint(task_n, rng))
                writer.ping()
            stored = blob_checkpoint(9, rng)["_all_stored_data"]
            writer.finish(rng.choice(["COMPLETED", "FIZZLED"]), {"stored_data": stored})
            writes += 1 + 1 + 5 * 2 + 3
    assert writes >= 2000
    assert report["torn"] == dict.fromkeys(NAMES, 0), report["examples"]
    assert all(count >= 50 for count in report["reads"].values()), report["reads"]
    assert report["sizes"] >= 10
    leftovers = sorted(p.name for p in launch_dir.iterdir())
    assert leftovers == sorted(NAMES), "temporary files left behind"


def naive_write(path: Path, doc: dict[str, Any]) -> None:
    """FireWorks 2.1.4's way: truncate in place, then stream the JSON out."""
    with open(path, "w") as handle:
        json.dump(doc, handle)


def test_control_in_place_writes_are_caught_by_the_same_reader(tmp_path: Path) -> None:
    """Deterministic enough: ~1 MB documents stream out in ~8 KB writes after a truncate."""
    launch_dir = tmp_path / "launcher"
    launch_dir.mkdir()
    deadline = time.monotonic() + 60
    writers: dict[str, Callable[[int], dict[str, Any]]] = {
        FW_OFFLINE_JSON: lambda n: {"launch_id": 1, "checkpoint": blob_doc(n)},
        FW_PING_JSON: lambda n: {"ping_time": "2026-11-22T13:01:39.111909+00:00"},
    }
    with reader(launch_dir, tmp_path, stop_on_torn=True) as report:
        n = 0
        while report["process"].poll() is None and time.monotonic() < deadline:
            for name, make in writers.items():
                naive_write(launch_dir / name, make(n))
            n += 1
    assert sum(report["torn"].values()) >= 1, report
    assert orjson.loads((launch_dir / FW_OFFLINE_JSON).read_bytes())["launch_id"] == 1


def blob_doc(n: int) -> dict[str, Any]:
    size = 1_000_000 + n % 7
    return {"_task_n": n, "_all_stored_data": {"blob": "y" * size, "n": size}}
