"""The Rocket: runs one Firework in its launch directory.

Online it checks a Firework out of the LaunchPad; offline (``rlaunch singleshot --offline``) it
reads ``FW.json`` from the launch dir and needs no database. Either way it records a checkpoint
before every task, heartbeats every ``ping_secs`` as an anyio task, merges the tasks' actions,
decorates the final action (``_pass_job_info``, ``_preserve_fworker``, ``_files_out``) and
completes the launch. A cancelled Rocket (SIGTERM, Ctrl-C) FIZZLEs its launch with the reason.
"""

from __future__ import annotations

import copy
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread

from afw.action import FWAction
from afw.config import PING_TIME_SECS
from afw.dictmod import apply_mods
from afw.errors import FileFormatError, SerializationError
from afw.firework import Firework
from afw.fs.writer import OfflineRunWriter
from afw.fworker import FWorker
from afw.reporting import OfflineReporter, OnlineReporter, Reporter
from afw.rocket_files import decorate, prepare_launch_dir, resume_dir, write_fw_json
from afw.rocket_tasks import Progress, failure_action, run_tasks
from afw.serialize import load_document
from afw.tasks.context import TaskContext

if TYPE_CHECKING:
    from afw.launchpad import LaunchPad

__all__ = ["Rocket", "RunResult", "StopFlag", "absolute_dir", "run_offline"]

log = logging.getLogger("afw.rocket")


def absolute_dir(path: str | None) -> str:
    """``path`` (default: the current directory) as an absolute path, without resolving links."""
    return str(Path(path or os.getcwd()).absolute())


@dataclass
class StopFlag:
    """Why a run is being stopped; set by a signal handler before it cancels the Rocket."""

    reason: str | None = None


@dataclass(frozen=True)
class RunResult:
    fw_id: int
    launch_id: int | None
    state: str
    launch_dir: str


@dataclass
class Rocket:
    """One Firework run against a LaunchPad.

    ``chdir`` makes the process enter the launch dir while tasks run (what FireWorks tasks with
    relative paths expect); leave it off when several Rockets share a process.
    """

    launchpad: LaunchPad
    fworker: FWorker = field(default_factory=FWorker)
    fw_id: int | None = None
    launch_dir: str | None = None
    chdir: bool = True
    ping_secs: float = PING_TIME_SECS
    stop: StopFlag = field(default_factory=StopFlag)

    async def run(self) -> RunResult | None:
        """Check out and run one Firework; ``None`` when nothing was runnable."""
        start_dir = absolute_dir(self.launch_dir)
        fw, launch_id = await self.launchpad.checkout_fw(self.fworker, start_dir, self.fw_id)
        if fw is None or launch_id is None:
            return None
        launch = next(la for la in fw.launches if la.launch_id == launch_id)
        if any(e["state"] == "RESERVED" for e in launch.state_history):
            # A queue reservation: qlaunch already applied spec._launch_dir and the job runs there.
            launch_dir = start_dir
        else:
            launch_dir = await anyio.to_thread.run_sync(_enter_dir, fw, start_dir)
        if launch_dir != start_dir:
            await self.launchpad.change_launch_dir(launch_id, launch_dir)
        reporter = OnlineReporter(self.launchpad, launch_id, fw.fw_id, launch_dir)
        extras = {"fw_id": fw.fw_id, "launchpad": self.launchpad, "fworker": self.fworker}
        state = await execute(
            fw, Path(launch_dir), reporter, self.fworker, launch_id, self.chdir, self.ping_secs,
            self.stop, extras,
        )  # fmt: skip
        return RunResult(fw.fw_id, launch_id, state, launch_dir)


def _enter_dir(fw: Firework, start_dir: str) -> str:
    """Apply ``spec._launch_dir`` (absolute, or relative to the start dir: both work)."""
    wanted = fw.spec.get("_launch_dir")
    if not wanted:
        return start_dir
    target = Path(os.path.expandvars(os.path.expanduser(str(wanted))))
    if not target.is_absolute():
        target = Path(start_dir) / target
    target.mkdir(parents=True, exist_ok=True)
    resolved = str(target.resolve())
    if resolved != str(Path(start_dir).resolve()):
        try:
            Path(start_dir).rmdir()  # only succeeds when empty: nothing useful is lost
        except OSError:
            pass
    return resolved


async def run_offline(
    launch_dir: str | None = None,
    fworker: FWorker | None = None,
    *,
    chdir: bool = True,
    ping_secs: float = PING_TIME_SECS,
    stop: StopFlag | None = None,
) -> RunResult:
    """Run the Firework serialized in ``FW.json`` of ``launch_dir`` with no database."""
    directory = Path(absolute_dir(launch_dir))
    doc = await anyio.to_thread.run_sync(_read_fw_json, directory)
    fw = Firework.from_dict(doc)
    writer = OfflineRunWriter(directory, fw_id=fw.fw_id)
    reporter = OfflineReporter(writer)
    worker = fworker or FWorker()
    extras = {"fw_id": fw.fw_id, "launchpad": None, "fworker": worker}
    state = await execute(
        fw, directory, reporter, worker, None, chdir, ping_secs, stop or StopFlag(), extras
    )
    return RunResult(fw.fw_id, writer.launch_id, state, str(directory))


def _read_fw_json(directory: Path) -> dict[str, Any]:
    path = directory / "FW.json"
    if not path.is_file():
        raise FileFormatError(f"{path} not found: offline runs need the FW.json qlaunch writes")
    doc = load_document(path)
    if not isinstance(doc, dict) or "spec" not in doc:
        raise SerializationError(f"{path}: not a Firework document")
    return doc


@contextmanager
def _working_dir(path: Path, enabled: bool) -> Iterator[None]:
    if not enabled:
        yield
        return
    previous = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        try:
            os.chdir(previous)
        except OSError:
            os.chdir(path)


async def _heartbeat(reporter: Reporter, ping_secs: float) -> None:
    while True:
        await anyio.sleep(ping_secs)
        await reporter.ping()


async def execute(
    fw: Firework,
    launch_dir: Path,
    reporter: Reporter,
    fworker: FWorker,
    launch_id: int | None,
    chdir: bool,
    ping_secs: float,
    stop: StopFlag,
    extras: dict[str, Any],
) -> str:
    """Run ``fw``'s tasks in ``launch_dir`` and report the outcome; returns the final state."""
    recovery = fw.spec.get("_recovery") or None
    progress = Progress.from_recovery(recovery)
    spec = copy.deepcopy(fw.spec)
    spec["_fw_env"] = dict(fworker.env)
    spec.update(progress.update_spec)
    apply_mods(progress.mod_spec, spec)
    ctx = TaskContext(launch_dir=launch_dir, fw_id=fw.fw_id, launch_id=launch_id)
    await reporter.start()
    try:
        await anyio.to_thread.run_sync(prepare_launch_dir, fw, launch_dir, recovery)
        await anyio.to_thread.run_sync(write_fw_json, fw, launch_dir)
    except Exception as exc:
        if recovery:  # keep the resume point, so a later task-level rerun still can
            await reporter.checkpoint(progress.checkpoint(str(launch_dir)))
        action = failure_action(None, exc, f"could not prepare launch dir {launch_dir}: {exc}")
        await reporter.finish("FIZZLED", action.to_dict())
        return "FIZZLED"
    state, action = "FIZZLED", FWAction()
    start = launch_dir
    if chdir:  # a resumed run starts where the interrupted task was working (FireWorks #269)
        start = await anyio.to_thread.run_sync(resume_dir, recovery, launch_dir)
    with _working_dir(start, chdir):
        async with anyio.create_task_group() as tg:
            tg.start_soon(_heartbeat, reporter, ping_secs)
            try:
                state, action = await run_tasks(
                    fw.tasks, spec, progress, reporter, ctx, extras, track_cwd=chdir
                )
            except anyio.get_cancelled_exc_class():
                with anyio.CancelScope(shield=True):
                    reason = stop.reason or "the Rocket was cancelled"
                    failed = failure_action(progress.current_task, None, f"interrupted: {reason}")
                    await _finish(fw, launch_dir, fworker, reporter, "FIZZLED", failed, spec)
                raise
            tg.cancel_scope.cancel()
    await _finish(fw, launch_dir, fworker, reporter, state, action, spec)
    return state


async def _finish(
    fw: Firework,
    launch_dir: Path,
    fworker: FWorker,
    reporter: Reporter,
    state: str,
    action: FWAction,
    spec: dict[str, Any],
) -> None:
    final = await anyio.to_thread.run_sync(decorate, action, fw, spec, launch_dir, fworker, state)
    await reporter.ping()
    await reporter.finish(state, final.to_dict())
    log.info("Firework %s finished: %s", fw.fw_id, state)
