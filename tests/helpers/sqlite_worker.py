"""A worker process for tests/test_sqlite_concurrency.py, run as a script:

    python sqlite_worker.py MODE URL OUT_JSON START_DIR [ARGS...]

It writes ``START_DIR/ready.<pid>``, waits for ``START_DIR/go`` (so that every process starts
at once), does its work against the store and writes its results to OUT_JSON.

Modes:
* ``claim``: check out READY Fireworks until none is left; records the fw_ids it got.
* ``heartbeat LAUNCH_IDS_JSON``: touch every launch, round after round, until none is RUNNING;
  records the last acknowledged heartbeat of each launch.
* ``complete PAIRS_JSON``: complete each (fw_id, launch_id) through update_workflow.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

import anyio

from afw.db.base import UpdateContext
from afw.db.sqlite import SQLiteStore
from afw.launch import Launch
from afw.wflogic import refresh, set_fw_state
from afw.workflow import Workflow


def claim(wf: Workflow, ctx: UpdateContext, fw_id: int) -> list[int]:
    fw = wf.fw(fw_id)
    launch = Launch(launch_id=ctx.new_launch_id(), fw_id=fw_id, state="RUNNING")
    fw.launches.append(launch)
    set_fw_state(wf, fw, "RUNNING")
    wf.mark_launch(launch)
    return [fw_id, launch.launch_id]


def completer(launch_id: int) -> Any:
    def fn(wf: Workflow, ctx: UpdateContext) -> bool:
        for fw in list(wf.fws.values()):
            for launch in fw.launches:
                if launch.launch_id == launch_id and launch.state == "RUNNING":
                    launch.set_state("COMPLETED")
                    launch.action = {"stored_data": {"completed_by": os.getpid()}}
                    wf.mark_launch(launch)
                    refresh(wf, fw.fw_id)
                    return True
        return False

    return fn


async def run_claim(store: SQLiteStore) -> dict[str, Any]:
    got: list[list[int]] = []
    while True:
        result = await store.checkout({"state": "READY"}, [], claim)
        if result is None:
            return {"claimed": got}
        got.append(result[0])


async def run_heartbeat(store: SQLiteStore, launch_ids: list[int]) -> dict[str, Any]:
    acked: dict[int, list[Any]] = {}
    refused: dict[int, int] = {}
    live = list(launch_ids)
    beat = 0
    while live:
        random.shuffle(live)
        still = []
        for launch_id in live:
            beat += 1
            when = f"2030-01-01T00:00:00.{beat:06d}+00:00"
            checkpoint = {"beat": beat}
            if await store.touch_launch(launch_id, when, checkpoint):
                acked[launch_id] = [when, checkpoint]
                still.append(launch_id)
            else:
                refused[launch_id] = refused.get(launch_id, 0) + 1
        live = still
    return {"acked": acked, "refused": refused, "beats": beat}


async def run_complete(store: SQLiteStore, pairs: list[list[int]]) -> dict[str, Any]:
    done = []
    random.shuffle(pairs)
    for fw_id, launch_id in pairs:
        ok, _ = await store.update_workflow(fw_id, completer(launch_id))
        if ok:
            done.append(launch_id)
        await anyio.sleep(0.001)
    return {"completed": done}


async def main(mode: str, url: str, out: Path, start: Path, args: list[str]) -> None:
    async with SQLiteStore(url) as store:
        (start / f"ready.{os.getpid()}").touch()
        while not (start / "go").exists():
            await anyio.sleep(0.005)
        began = time.perf_counter()
        if mode == "claim":
            result = await run_claim(store)
        elif mode == "heartbeat":
            result = await run_heartbeat(store, json.loads(args[0]))
        elif mode == "complete":
            result = await run_complete(store, json.loads(args[0]))
        else:
            raise SystemExit(f"unknown mode {mode}")
        result["elapsed"] = time.perf_counter() - began
    out.write_text(json.dumps(result))


if __name__ == "__main__":
    mode, url, out, start, *rest = sys.argv[1:]
    anyio.run(main, mode, url, Path(out), Path(start), rest)
