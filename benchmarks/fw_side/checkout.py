"""FireWorks 2.1.4 reservations with K worker processes: ``reserve_fw`` + ``setup_offline_job``.

Argument: ``{"uri", "db", "root", "k", "fws_file"}``. Setup (untimed): ``reset`` the database
(counters and FireWorks' indexes) and ``bulk_add_wfs`` one single-Firework workflow per entry of
``fws_file`` (``[{"name", "spec"}]``, the same Fireworks the afw side gets). Then K processes
each loop as ``qlaunch -r rapidfire`` does per job: make a launcher dir, ``reserve_fw``, enter
the dir, ``setup_offline_job`` (``FW.json``, ``FW_offline.json``, ``add_offline_run``), until
nothing is READY. Wall time runs from the first worker's start to the last one's end.
"""

from __future__ import annotations

import datetime
import multiprocessing as mp
import os
import resource
from typing import Any

from benchmarks.fw_side.common import (
    COUNTER,
    args,
    emit,
    launchpad,
    load_fireworks,
    peak_rss_mb,
    timer,
)


def _setup(a: dict[str, Any]) -> int:
    from fireworks import Workflow

    lp = launchpad(a["uri"], a["db"])
    lp.reset(datetime.datetime.now().strftime("%Y-%m-%d"))
    wfs = [Workflow([fw]) for fw in load_fireworks(a["fws_file"])]
    lp.bulk_add_wfs(wfs)
    return len(wfs)


def _worker(a: dict[str, Any], w: int, barrier: Any, out: Any) -> None:
    from fireworks import FWorker
    from fireworks.queue.queue_launcher import setup_offline_job

    lp = launchpad(a["uri"], a["db"])
    lp.connection.admin.command("ping")
    worker = FWorker(name="login-node")
    COUNTER.reset()
    barrier.wait()
    start = timer()
    done = 0
    while True:
        launch_dir = os.path.join(a["root"], f"w{w:02d}", f"launcher_{done:06d}")
        os.makedirs(launch_dir)
        fw, launch_id = lp.reserve_fw(worker, launch_dir)
        if fw is None:
            os.rmdir(launch_dir)
            break
        os.chdir(launch_dir)
        setup_offline_job(lp, fw, launch_id)
        done += 1
    end = timer()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    out.put(
        {
            "start": start,
            "end": end,
            "done": done,
            "commands": dict(COUNTER.counts),
            "command_s": COUNTER.seconds(),
            "peak_rss_mb": peak_rss_mb(),
            "cpu_s": usage.ru_utime + usage.ru_stime,
        }
    )


def main() -> None:
    a = args()
    n = _setup(a)
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(a["k"])
    out = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(a, w, barrier, out)) for w in range(a["k"])]
    for p in procs:
        p.start()
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    commands: dict[str, int] = {}
    command_s: dict[str, float] = {}
    for r in results:
        for name, count in r["commands"].items():
            commands[name] = commands.get(name, 0) + count
        for name, secs in r["command_s"].items():
            command_s[name] = command_s.get(name, 0.0) + secs
    wall = max(r["end"] for r in results) - min(r["start"] for r in results)
    emit(
        {
            "wall_s": wall,
            "ops": sum(r["done"] for r in results),
            "expected": n,
            "commands": commands,
            "command_s": command_s,
            "peak_rss_mb": max(r["peak_rss_mb"] for r in results),
            "workers": len(results),
            "cpu_s": sum(r["cpu_s"] for r in results),
        }
    )


if __name__ == "__main__":
    main()
