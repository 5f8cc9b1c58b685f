"""Smoke run of every benchmark scenario at tiny N, so that the harness cannot rot.

SQLite always; the MongoDB and FireWorks 2.1.4 sides when their services are there (skipped
otherwise, failed under CI=true). Each run goes through ``python -m benchmarks`` in a
subprocess, exactly as a user runs it, with results and work files in a temporary directory.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from services import require_service

from afw.fs.formats import encode_reservation
from afw.fs.writer import OfflineRunWriter
from afw.serialize import dump_json

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # benchmarks/ is not installed: it lives beside afw/

from benchmarks.content import action_for, checkpoint_for, files_for, run_times  # noqa: E402
from benchmarks.plan import Mix, RunPlan, make_plan  # noqa: E402
from benchmarks.services import SERVICES, server_kind  # noqa: E402

SECANTUS = SERVICES / "secantus-venv" / "bin" / "secantusd-py"


def _bench(tmp_path: Path, *args: str, timeout: float = 240) -> dict[str, dict[str, Any]]:
    out = tmp_path / "results"
    argv = [sys.executable, "-m", "benchmarks", *args, "--quick", "--no-install",
            "--out", str(out), "--workdir", str(tmp_path / "work")]  # fmt: skip
    proc = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    payloads = {}
    for path in out.glob("*-*.json"):
        payload = json.loads(path.read_text())
        payloads[payload["scenario"]] = payload
    return payloads


def _check(payload: dict[str, Any], sides: set[str]) -> None:
    rows = payload["rows"]
    assert rows
    assert {row["side"] for row in rows} == sides
    for row in rows:
        assert row["ok"], row
        assert row["wall_s"] > 0
        assert row["peak_rss_mb"] > 0
    assert payload["machine"]["nproc"] >= 1


def test_sqlite_scenarios(tmp_path: Path) -> None:
    payloads = _bench(tmp_path, "all", "--store", "sqlite", "--no-fireworks")
    assert set(payloads) == {"recover", "checkout", "fanin"}
    for payload in payloads.values():
        _check(payload, {"afw"})
    rows = payloads["recover"]["rows"]
    first, second = (
        next(r for r in rows if r["phase"].startswith(p)) for p in ("sweep 1", "sweep 2")
    )
    assert first["raw"][0]["summary"]["completed"] > 0
    assert second["raw"][0]["summary"]["unchanged"] == second["ops"] > 0
    assert first["sql_per_op"] > 0
    assert (tmp_path / "results" / "recover_scaling.png").stat().st_size > 10_000
    assert "## recover" in (tmp_path / "results" / "latest.md").read_text()


def test_mongo_and_fireworks_scenarios(tmp_path: Path) -> None:
    uri = require_service("mongodb")
    require_service("fireworks")
    # A SecantusDB test server slows down as the whole suite fills it: the harness then starts
    # its own, empty one from the same venv (what it does by default); a real mongod is used.
    private = server_kind(uri).startswith("secantusdb") and SECANTUS.exists()
    where = [] if private else ["--mongo", uri]
    payloads = _bench(tmp_path, "all", "--store", "mongo", *where, timeout=600)
    assert set(payloads) == {"recover", "recover-vs-fireworks", "checkout", "fanin"}
    _check(payloads["recover"], {"afw"})
    for name in ("recover-vs-fireworks", "checkout", "fanin"):
        _check(payloads[name], {"afw", "fireworks"})
        for row in payloads[name]["rows"]:
            assert row["commands_per_op"] > 0
            assert (row["ratio"] is not None) == (row["side"] == "afw")


@pytest.mark.parametrize("status", ["queued", "running", "completed", "fizzled"])
def test_generated_afw_dirs_are_what_the_writer_writes(tmp_path: Path, status: str) -> None:
    """The generator writes afw-format dirs without the writer (speed); the bytes must match."""
    run = RunPlan(index=7, wf=0, root=0, status=status, large=status == "completed")
    fw_doc = {"spec": {"_tasks": []}, "fw_id": 12, "name": "x", "state": "RESERVED"}
    times = run_times(run, datetime(2026, 1, 1, 12, 0, 0, 123_456, tzinfo=UTC))
    expected = files_for("afw", run, fw_doc, 34, times)
    (tmp_path / "FW_offline.json").write_bytes(encode_reservation(34))
    fw_json = dump_json(fw_doc, indent=status != "queued")  # the Rocket re-writes it indented
    (tmp_path / "FW.json").write_bytes(fw_json)
    if status != "queued":
        writer = OfflineRunWriter(tmp_path, fw_id=12)
        writer.start(times.started)
        writer.checkpoint(checkpoint_for(run))
        if status == "running":
            writer.ping(times.ping)
        else:
            state = "COMPLETED" if status == "completed" else "FIZZLED"
            writer.finish(state, action_for(run), completed_on=times.completed)
    written = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert written == expected


def test_plan_is_deterministic_and_exact() -> None:
    plan = make_plan(1000)
    assert plan == make_plan(1000)
    assert plan.counts() == {"completed": 700, "fizzled": 100, "running": 100, "queued": 100}
    assert len({(r.wf, r.root) for r in plan.runs}) == 1000
    sizes = {wf.size for wf in plan.workflows}
    assert sizes == {1, 10, 1000}
    only = make_plan(10, Mix.parse("running=1"))
    assert only.counts()["running"] == 10
