"""The afw side of the benchmarks: one measured operation per fresh process.

``python -m benchmarks.afw_side '{"task": "recover", "store": URL, ...}'`` does its setup
untimed, times the operation, and prints one ``BENCH-RESULT {json}`` line: wall time, the
operations done, store calls (and SQL statements on SQLite), MongoDB commands (a
``CommandListener`` given to the client through ``mongoclient_kwargs``), peak RSS. With
``"profile": PATH`` the timed part runs under pyinstrument (or cProfile when pyinstrument is not
installed) and the report goes to PATH.

Tasks: ``recover`` (one ``recover_offline`` sweep), ``checkout`` (K concurrent reservers writing
``FW.json``/``FW_offline.json`` and the offline record, as ``qlaunch -r`` does per job),
``fanin`` (parents of one fan-in workflow checked out and completed one by one).
"""

from __future__ import annotations

import json
import resource
import sys
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import anyio

from afw.db import make_store
from afw.firework import Firework
from afw.fs.launchdir import write_reservation
from afw.fs.local import LocalFileSystem
from afw.fworker import FWorker
from afw.launchpad import LaunchPad
from afw.recovery import recover_offline
from afw.serialize import dump_json
from afw.states import STATE_RANKS
from afw.workflow import Workflow
from benchmarks.counting import CountingStore, command_counter

__all__ = ["MARK", "main", "peak_rss_mb", "run_task"]

MARK = "BENCH-RESULT "


class Session:
    """A LaunchPad over a counting store (and a command listener on MongoDB)."""

    def __init__(self, url: str) -> None:
        self.counter = command_counter() if url.startswith("mongodb") else None
        options: dict[str, Any] = {}
        if self.counter is not None:
            options["mongoclient_kwargs"] = {"event_listeners": [self.counter]}
        self.store = CountingStore(make_store(url, **options))
        self.lp = LaunchPad(self.store)  # type: ignore[arg-type]

    def reset_counts(self) -> None:
        self.store.reset()
        if self.counter is not None:
            self.counter.reset()

    def counts(self) -> dict[str, Any]:
        return {
            "store_calls": dict(self.store.calls),
            "sql_statements": self.store.sql,
            "commands": dict(self.counter.counts) if self.counter is not None else {},
            "command_s": (
                {k: v / 1e6 for k, v in self.counter.micros.items()} if self.counter else {}
            ),
        }

    async def fw_states(self) -> dict[str, int]:
        out = {}
        for state in STATE_RANKS:
            found = await self.lp.get_fw_ids({"state": state}, count_only=True)
            if found:
                out[state] = int(found)  # type: ignore[arg-type]
        return out


def peak_rss_mb() -> float:
    """This process's peak RSS: ``VmHWM`` (``ru_maxrss`` would include the RSS of the parent at
    fork time, which Linux carries across ``exec``)."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _load_fireworks(path: str) -> list[Firework]:
    with open(path) as handle:
        entries = json.load(handle)
    out = []
    for entry in entries:
        spec = dict(entry["spec"])
        out.append(Firework.create(spec.pop("_tasks"), spec, name=entry["name"]))
    return out


def _profiler(path: str | None) -> AbstractContextManager[Any]:
    if not path:
        return nullcontext()
    try:
        from pyinstrument import Profiler
    except ImportError:
        return _CProfile(path)
    return _Pyinstrument(Profiler(async_mode="enabled"), path)


class _Pyinstrument(AbstractContextManager[Any]):
    def __init__(self, profiler: Any, path: str) -> None:
        self.profiler, self.path = profiler, path

    def __enter__(self) -> Any:
        self.profiler.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.profiler.stop()
        with open(self.path, "w") as handle:
            handle.write(self.profiler.output_text(unicode=True, show_all=False))


class _CProfile(AbstractContextManager[Any]):
    def __init__(self, path: str) -> None:
        import cProfile

        self.profile, self.path = cProfile.Profile(), path

    def __enter__(self) -> Any:
        self.profile.enable()
        return self

    def __exit__(self, *exc: object) -> None:
        import pstats

        self.profile.disable()
        with open(self.path, "w") as handle:
            pstats.Stats(self.profile, stream=handle).sort_stats("cumulative").print_stats(40)


async def _timed(a: dict[str, Any], work: Callable[[], Awaitable[Any]]) -> tuple[float, Any]:
    with _profiler(a.get("profile")):
        start = time.perf_counter()
        value = await work()
        return time.perf_counter() - start, value


async def _recover(s: Session, a: dict[str, Any]) -> dict[str, Any]:
    async def sweep() -> Any:
        return await recover_offline(
            s.lp, batch_size=int(a.get("batch_size", 500)), concurrency=int(a.get("concurrency", 4))
        )

    wall, summary = await _timed(a, sweep)
    counts = s.counts()
    return {
        "wall_s": wall,
        "ops": summary.seen,
        "summary": summary.to_dict(),
        **counts,
        "fw_states": await s.fw_states(),
    }


async def _checkout(s: Session, a: dict[str, Any]) -> dict[str, Any]:
    await s.lp.add_wfs([Workflow.create([fw]) for fw in _load_fireworks(a["fws_file"])])
    s.reset_counts()
    worker, fs, done = FWorker(name="login-node"), LocalFileSystem(), [0]

    async def reserver(w: int) -> None:
        while True:
            launch_dir = f"{a['root']}/w{w:02d}/launcher_{done[0]:06d}"
            fw, launch_id = await s.lp.reserve_fw(worker, launch_dir)
            if fw is None or launch_id is None:
                return
            done[0] += 1
            await write_reservation(fs, launch_dir, dump_json(fw.to_dict()), launch_id)
            await s.lp.add_offline_run(launch_id, fw.fw_id, fw.name)

    async def all_workers() -> None:
        async with anyio.create_task_group() as tg:
            for w in range(int(a["k"])):
                tg.start_soon(reserver, w)

    wall, _ = await _timed(a, all_workers)
    return {"wall_s": wall, "ops": done[0], **s.counts()}


async def _fanin(s: Session, a: dict[str, Any]) -> dict[str, Any]:
    fws = _load_fireworks(a["fws_file"])
    parents, child = fws[:-1], fws[-1]
    child.parents = parents
    old_ids = [fw.fw_id for fw in fws]
    mapping = await s.lp.add_wf(Workflow.create(fws))
    ids = [mapping[i] for i in old_ids[:-1]]
    worker = FWorker(name="fanin-worker")
    s.reset_counts()
    phases = {"checkout_s": 0.0, "complete_s": 0.0}

    async def loop() -> None:
        for n, fw_id in enumerate(ids):
            t0 = time.perf_counter()
            _fw, launch_id = await s.lp.checkout_fw(worker, f"/tmp/fanin/{fw_id}", fw_id=fw_id)
            t1 = time.perf_counter()
            assert launch_id is not None
            action = {"stored_data": {"energy": -1.0 * n}, "update_spec": {"parent_energy": -n}}
            await s.lp.complete_launch(launch_id, action, "COMPLETED")
            phases["checkout_s"] += t1 - t0
            phases["complete_s"] += time.perf_counter() - t1

    wall, _ = await _timed(a, loop)
    counts = s.counts()
    child_state = (await s.lp.get_fw_by_id(mapping[old_ids[-1]])).state
    return {"wall_s": wall, "ops": len(ids), **phases, **counts, "child_state": child_state}


TASKS: dict[str, Callable[[Session, dict[str, Any]], Awaitable[dict[str, Any]]]] = {
    "recover": _recover,
    "checkout": _checkout,
    "fanin": _fanin,
}


async def run_task(a: dict[str, Any]) -> dict[str, Any]:
    """Run task ``a["task"]`` on store ``a["store"]``; the result dict."""
    session = Session(a["store"])
    async with session.lp:
        result = await TASKS[a["task"]](session, a)
    result["peak_rss_mb"] = peak_rss_mb()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result["cpu_s"] = usage.ru_utime + usage.ru_stime
    result["side"] = "afw"
    return result


def main() -> None:
    result = anyio.run(run_task, json.loads(sys.argv[1]))
    print(MARK + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
