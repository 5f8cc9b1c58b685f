"""``afw rlaunch``: run Fireworks on this machine (singleshot, rapidfire, multi)."""

from __future__ import annotations

import signal
import sys
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import anyio
from cyclopts import App, Parameter

from afw.cli.common import GLOBALS, emit, launchpad
from afw.errors import ConfigError
from afw.launcher import RapidfireOptions, rapidfire
from afw.rocket import RunResult, StopFlag, run_offline

__all__ = ["rlaunch_app"]

rlaunch_app = App(
    name="rlaunch",
    help="Run Fireworks here. Options before the command: -l/--launchpad-file, -w/--fworker-file.",
    result_action="return_value",
)
T = TypeVar("T")

NLaunches = Annotated[str, Parameter(name="--nlaunches", help="0 = until done, N, or 'infinite'")]
MaxLoops = Annotated[int, Parameter(name=["--max-loops", "--max_loops"])]
Sleep = Annotated[float, Parameter(name="--sleep", help="seconds between rounds")]
Timeout = Annotated[
    float | None, Parameter(name="--timeout", help="stop starting Rockets after N s")
]
Redirect = Annotated[bool, Parameter(name=["--local-redirect", "--local_redirect"], negative="")]


async def _guarded(fn: Callable[[StopFlag], Awaitable[T]], stop: StopFlag) -> T | None:
    """Run ``fn``; SIGTERM/SIGINT record a reason and cancel it cleanly."""
    result: T | None = None
    async with anyio.create_task_group() as tg:

        async def watch() -> None:
            with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
                async for signum in signals:
                    stop.reason = f"received {signal.Signals(signum).name}"
                    tg.cancel_scope.cancel()
                    return

        tg.start_soon(watch)
        result = await fn(stop)
        tg.cancel_scope.cancel()
    return result


def _run(fn: Callable[[StopFlag], Awaitable[T]]) -> T | None:
    stop = StopFlag()
    result = anyio.run(_guarded, fn, stop)
    if stop.reason:
        print(
            f"afw rlaunch: stopped ({stop.reason}); the running launch was FIZZLED", file=sys.stderr
        )
        raise SystemExit(143 if "SIGTERM" in stop.reason else 130)
    return result


def _nlaunches(value: str) -> int:
    if value == "infinite":
        return -1
    try:
        return int(value)
    except ValueError:
        raise ConfigError("--nlaunches takes a number or 'infinite'") from None


def _report(results: list[RunResult]) -> int:
    for r in results:
        print(
            f"Firework {r.fw_id} (launch {r.launch_id}): {r.state} in {r.launch_dir}",
            file=sys.stderr,
        )
    return 0


@rlaunch_app.command(name="singleshot")
def singleshot(
    *,
    fw_id: Annotated[int | None, Parameter(name=["-f", "--fw-id", "--fw_id"])] = None,
    offline: Annotated[bool, Parameter(name="--offline", negative="")] = False,
    launch_dir: Annotated[str | None, Parameter(name="--launch-dir")] = None,
) -> int:
    """Run one Firework in the current directory (--offline: from FW.json, no database)."""
    fworker = GLOBALS.fworker()

    async def go(stop: StopFlag) -> RunResult | None:
        if offline:
            return await run_offline(launch_dir, fworker, stop=stop)
        async with launchpad() as lp:
            from afw.rocket import Rocket

            return await Rocket(lp, fworker, fw_id, launch_dir=launch_dir, stop=stop).run()

    result = _run(go)
    if result is None:
        print("afw rlaunch: no Firework is ready to run", file=sys.stderr)
        return 0
    _report([result])
    return 0


@rlaunch_app.command(name="rapidfire")
def rapidfire_cmd(
    *,
    nlaunches: NLaunches = "0",
    max_loops: MaxLoops = -1,
    sleep: Sleep = 60.0,
    timeout: Timeout = None,
    local_redirect: Redirect = False,
) -> int:
    """Run Fireworks one after another, each in a new launcher_* dir."""
    fworker = GLOBALS.fworker()
    opts = RapidfireOptions(_nlaunches(nlaunches), max_loops, sleep, timeout, local_redirect)

    async def go(stop: StopFlag) -> list[RunResult]:
        async with launchpad() as lp:
            return await rapidfire(lp, fworker, None, opts, stop)

    return _report(_run(go) or [])


@rlaunch_app.command(name="multi")
def multi(
    num_jobs: int,
    *,
    nlaunches: NLaunches = "0",
    max_loops: MaxLoops = -1,
    sleep: Sleep = 60.0,
    timeout: Timeout = None,
    local_redirect: Redirect = False,
) -> int:
    """Run NUM_JOBS rapidfire launchers in parallel, as separate processes.

    Processes, not coroutines: Firetasks (FireWorks' included) rely on the process's working
    directory, which concurrent Rockets in one process cannot each have.
    """
    if num_jobs < 1:
        raise ConfigError("multi needs at least one job")
    argv = [sys.executable, "-m", "afw"]
    if GLOBALS.launchpad_file:
        argv += ["rlaunch", "-l", GLOBALS.launchpad_file]
    else:
        argv += ["rlaunch"]
    if GLOBALS.fworker_file:
        argv += ["-w", GLOBALS.fworker_file]
    argv += [
        "rapidfire",
        "--nlaunches",
        nlaunches,
        "--max-loops",
        str(max_loops),
        "--sleep",
        str(sleep),
    ]
    if timeout is not None:
        argv += ["--timeout", str(timeout)]
    if local_redirect:
        argv += ["--local-redirect"]

    async def go(stop: StopFlag) -> list[int]:
        procs = [await anyio.open_process(argv, stdout=None, stderr=None) for _ in range(num_jobs)]
        try:
            return [await p.wait() for p in procs]
        finally:
            with anyio.CancelScope(shield=True):
                for p in procs:
                    if p.returncode is None:
                        p.send_signal(signal.SIGTERM)
                for p in procs:
                    await p.wait()

    codes = _run(go) or []
    emit({"processes": num_jobs, "exit_codes": codes})
    return 0 if all(c == 0 for c in codes) else 1
