"""Rocket launchers: singleshot, rapidfire and multi (FireWorks' rlaunch loops)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import anyio

from afw.config import PING_TIME_SECS
from afw.fworker import FWorker
from afw.launchpad import LaunchPad
from afw.rocket import Rocket, RunResult, StopFlag, absolute_dir
from afw.timeutil import datestamp

__all__ = ["RapidfireOptions", "launcher_dir", "rapidfire"]


@dataclass(frozen=True)
class RapidfireOptions:
    """``rlaunch rapidfire`` options: ``nlaunches`` 0 = until nothing is left, -1 = forever."""

    nlaunches: int = 0
    max_loops: int = -1
    sleep_time: float = 60.0
    timeout: float | None = None
    local_redirect: bool = False
    ping_secs: float = PING_TIME_SECS


def launcher_dir(parent: Path) -> Path:
    """Create a fresh ``launcher_<UTC timestamp>`` dir (FireWorks' naming), retrying on clashes."""
    while True:
        path = parent / f"launcher_{datestamp()}"
        try:
            path.mkdir(parents=True)
            return path
        except FileExistsError:
            continue


@contextmanager
def _redirect(directory: Path, enabled: bool) -> Iterator[None]:
    """Send this process's stdout/stderr (and its subprocesses') to FW_job.out/.error."""
    if not enabled:
        yield
        return
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with (
        (directory / "FW_job.out").open("ab") as out,
        (directory / "FW_job.error").open("ab") as err,
    ):
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


async def _one(
    lp: LaunchPad, fworker: FWorker, parent: Path, opts: RapidfireOptions, stop: StopFlag
) -> RunResult | None:
    directory = await anyio.to_thread.run_sync(launcher_dir, parent)
    rocket = Rocket(lp, fworker, launch_dir=str(directory), ping_secs=opts.ping_secs, stop=stop)
    with _redirect(directory, opts.local_redirect):
        result = await rocket.run()
    if result is None or result.launch_dir != str(directory):
        await anyio.to_thread.run_sync(_remove_if_empty, directory)
    return result


def _remove_if_empty(directory: Path) -> None:
    try:
        directory.rmdir()
    except OSError:
        pass


async def rapidfire(
    lp: LaunchPad,
    fworker: FWorker,
    start_dir: str | None = None,
    opts: RapidfireOptions | None = None,
    stop: StopFlag | None = None,
) -> list[RunResult]:
    """Run Rockets one after another, each in a new ``launcher_*`` dir, until done.

    A cancelled run (SIGTERM/Ctrl-C) FIZZLEs the current launch and stops the loop: no further
    Firework is started.
    """
    opts = opts or RapidfireOptions()
    stop = stop or StopFlag()
    parent = Path(absolute_dir(start_dir))
    started = anyio.current_time()
    results: list[RunResult] = []
    loops = 0

    def timed_out() -> bool:
        return opts.timeout is not None and anyio.current_time() - started >= opts.timeout

    while loops != opts.max_loops and not timed_out():
        while not timed_out():
            result = await _one(lp, fworker, parent, opts, stop)
            if result is None:
                break
            results.append(result)
            if 0 < opts.nlaunches <= len(results):
                return results
        loops += 1
        if opts.nlaunches == 0 and not await lp.future_run_exists(fworker):
            break
        if loops == opts.max_loops or timed_out():
            break
        await anyio.sleep(opts.sleep_time)
    return results
