"""The queue launcher (``afw qlaunch``): submit Fireworks as batch jobs, once or in rounds.

::

    async with LaunchPad(url) as lp:
        client = QueueClient.from_config(config, LocalCommandRunner())
        report = await rapidfire(lp, fworker, config, client, LocalFileSystem(),
                                 launch_dir="/scratch/runs", reserve=True,
                                 options=QlaunchOptions(maxjobs_queue=100))

With ``fs`` an :class:`~afw.fs.sftp.SFTPFileSystem` and ``client`` running its commands over
SSH (:class:`afw.ssh.RemoteSession` builds both on one connection), the same code submits on a
remote login node; every launch then records the host (``remote_host``), so that
``recover_offline`` knows to read its dir over SFTP.

Rapidfire works in rounds: count the user's queued jobs once, submit while there is room and
something to run (several reservations in flight at once), then sleep. A scheduler refusing a job
because of a submission limit ends the round and the job is tried again in the next one.
"""

from __future__ import annotations

import contextlib
import getpass
import logging
import posixpath
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import anyio

from afw.errors import AfwError, ConfigError, QueueLimitError
from afw.fs.base import FileSystem
from afw.fworker import FWorker
from afw.queue.blocks import BlockDirs
from afw.queue.client import QueueClient
from afw.queue.config import QueueConfig
from afw.queue.submission import QueueContext, check_options, submit_plain, submit_reserved

if TYPE_CHECKING:
    from afw.launchpad import LaunchPad

__all__ = ["QlaunchOptions", "QlaunchReport", "check_options", "launch_to_queue", "rapidfire"]

log = logging.getLogger("afw.qlaunch")


@dataclass(frozen=True)
class QlaunchOptions:
    """``qlaunch rapidfire`` options (FireWorks' names and defaults).

    ``maxjobs_queue`` 0 = no limit; ``nlaunches`` 0 = until nothing is left to run, -1 = forever;
    ``max_loops`` -1 = no limit on rounds (1: submit what is READY now, then stop; as rlaunch's);
    ``concurrency`` bounds the reservations/submissions in flight at once.
    """

    maxjobs_queue: int = 0
    maxjobs_block: int = 500
    nlaunches: int = 0
    sleep_time: float = 60.0
    timeout: float | None = None
    max_loops: int = -1
    block_dir: str | None = None
    concurrency: int = 8


@dataclass
class QlaunchReport:
    """What a rapidfire run did: job ids in submission order, rounds, rounds spent waiting."""

    job_ids: list[str] = field(default_factory=list)
    launch_dirs: list[str] = field(default_factory=list)
    rounds: int = 0
    limited_rounds: int = 0


async def launch_to_queue(
    lp: LaunchPad,
    fworker: FWorker,
    qconfig: QueueConfig,
    client: QueueClient,
    fs: FileSystem,
    *,
    launch_dir: str,
    reserve: bool,
    fw_id: int | None = None,
    remote_host: str | None = None,
) -> str | None:
    """Submit one job running in ``launch_dir`` (``qlaunch singleshot``); its id, or ``None``.

    ``None`` means nothing was READY. With ``reserve`` the Firework (``fw_id`` or the best
    READY one) is reserved first; a refused or failed submission releases it again.
    ``remote_host`` (``[user@]host[:port]``) defaults to the host of an SFTP ``fs``.
    """
    check_options(qconfig, reserve=reserve, fw_id=fw_id)
    launch_dir = _absolute(fs, launch_dir)
    ctx = QueueContext(lp, fworker, qconfig, client, fs, _remote(fs, remote_host))
    if not reserve:
        return await submit_plain(ctx, launch_dir) if await lp.run_exists(fworker) else None
    done = await submit_reserved(ctx, launch_dir, launch_dir, fw_id)
    return None if done is None else done[0]


async def rapidfire(
    lp: LaunchPad,
    fworker: FWorker,
    qconfig: QueueConfig,
    client: QueueClient,
    fs: FileSystem,
    *,
    launch_dir: str,
    reserve: bool,
    options: QlaunchOptions | None = None,
    user: str | None = None,
    remote_host: str | None = None,
) -> QlaunchReport:
    """Submit jobs in rounds, each in a new ``block_*/launcher_*`` dir, until done.

    Stops after ``nlaunches`` jobs, at ``timeout``, or (``nlaunches`` 0) when nothing can run any
    more. The first failed submission (not a limit) ends the run with its error. ``user`` is
    whose queued jobs ``maxjobs_queue`` counts (default: the local user); ``remote_host`` as
    for :func:`launch_to_queue`.
    """
    opts = options or QlaunchOptions()
    check_options(qconfig, reserve=reserve)
    if opts.maxjobs_queue < 0 or opts.concurrency < 1:
        raise ConfigError("maxjobs_queue must be >= 0 and concurrency >= 1")
    root = _absolute(fs, launch_dir)
    run = _Rapidfire(
        QueueContext(lp, fworker, qconfig, client, fs, _remote(fs, remote_host)),
        BlockDirs(fs, root, opts.maxjobs_block, opts.block_dir),
        opts,
        reserve,
        user or getpass.getuser(),
    )
    return await run.run()


def _remote(fs: FileSystem, given: str | None) -> str | None:
    """``given``, else ``[user@]host[:port]`` of a remote filesystem's SSH target."""
    if given or fs.name == "local":
        return given
    from afw.ssh.remotes import host_spec
    from afw.ssh.target import SSHTarget

    target = getattr(fs, "target", None)
    return host_spec(target) if isinstance(target, SSHTarget) else None


def _absolute(fs: FileSystem, path: str) -> str:
    if posixpath.isabs(path):
        return posixpath.normpath(path)
    if fs.name != "local":
        raise ConfigError(f"the launch dir on a {fs.name} filesystem must be absolute: {path}")
    return posixpath.normpath(str(Path.cwd() / path))


@dataclass
class _Round:
    """One round's shared bookkeeping between the submitting workers."""

    budget: int | None
    deadline: float | None
    started: int = 0
    exhausted: bool = False
    limited: bool = False
    error: AfwError | None = None

    def take(self) -> bool:
        stop = self.exhausted or self.limited or self.error is not None or _past(self.deadline)
        if stop or (self.budget is not None and self.started >= self.budget):
            return False
        self.started += 1
        return True


@dataclass
class _Rapidfire:
    ctx: QueueContext
    blocks: BlockDirs
    opts: QlaunchOptions
    reserve: bool
    user: str
    report: QlaunchReport = field(default_factory=QlaunchReport)

    async def run(self) -> QlaunchReport:
        deadline = None if self.opts.timeout is None else anyio.current_time() + self.opts.timeout
        while True:
            budget, workers = await self._plan()
            if workers:
                await self._round(_Round(budget, deadline), workers)
            self.report.rounds += 1
            if self._enough() or _past(deadline) or self.report.rounds == self.opts.max_loops:
                break
            if self.opts.nlaunches == 0 and not await self.ctx.lp.future_run_exists(
                self.ctx.fworker
            ):
                break
            pause = self.opts.sleep_time
            if deadline is not None:
                pause = min(pause, max(deadline - anyio.current_time(), 0.0))
            await anyio.sleep(pause)
            if _past(deadline):
                break
        return self.report

    def _enough(self) -> bool:
        return 0 < self.opts.nlaunches <= len(self.report.job_ids)

    async def _plan(self) -> tuple[int | None, int]:
        """This round's budget (``None``: no limit but the runs) and how many workers to start."""
        budget = None
        if self.opts.nlaunches > 0:
            budget = self.opts.nlaunches - len(self.report.job_ids)
        if self.opts.maxjobs_queue > 0:
            queued = await self.ctx.client.count_jobs(self.user, self.ctx.config.queue)
            room = max(self.opts.maxjobs_queue - queued, 0)
            log.info("%d job(s) in the queue, room for %d", queued, room)
            budget = room if budget is None else min(budget, room)
        if budget == 0:
            return 0, 0
        query = {"$and": [self.ctx.fworker.checkout_query(), {"state": "READY"}]}
        if self.reserve:
            # Reservations stop by themselves when nothing is left; this only avoids starting
            # more workers than there are READY Fireworks.
            limit = self.opts.concurrency if budget is None else min(budget, self.opts.concurrency)
            ready = await self.ctx.lp.get_fw_ids(query, limit=limit)
            return budget, len(ready) if isinstance(ready, list) else ready
        # Without reservations nothing marks a Firework as taken: one job per READY one.
        found = await self.ctx.lp.get_fw_ids(query, count_only=True)
        count = found if isinstance(found, int) else len(found)
        budget = count if budget is None else min(budget, count)
        return budget, min(budget, self.opts.concurrency)

    async def _round(self, state: _Round, workers: int) -> None:
        async with anyio.create_task_group() as tg:
            for _ in range(workers):
                tg.start_soon(self._worker, state)
        if state.limited:
            self.report.limited_rounds += 1
            log.info("the scheduler's job limit is reached: waiting for the next round")
        if state.error is not None:
            raise state.error

    async def _worker(self, state: _Round) -> None:
        while state.take():
            try:
                done = await self._one()
            except QueueLimitError as exc:
                log.info("submission refused: %s", exc)
                state.limited = True
                return
            except AfwError as exc:
                state.error = state.error or exc
                return
            if done is None:
                state.exhausted = True
                return
            self.report.job_ids.append(done[0])
            self.report.launch_dirs.append(done[1])

    async def _one(self) -> tuple[str, str] | None:
        planned = await self.blocks.reserve()
        try:
            if not self.reserve:
                return await submit_plain(self.ctx, planned), planned
            done = await submit_reserved(self.ctx, posixpath.dirname(planned), planned)
        except QueueLimitError:
            # Tried again next round in a new dir: this one would only be clutter.
            with anyio.CancelScope(shield=True):
                await self.ctx.fs.rmtree(planned)
                self.blocks.release(planned)
            raise
        except BaseException:
            with anyio.CancelScope(shield=True), contextlib.suppress(AfwError):
                await self._drop(planned)
            raise
        if done is None or done[1] != planned:
            await self._drop(planned)
        return done

    async def _drop(self, planned: str) -> None:
        """Forget an unused launcher dir (made for a job that never ran there)."""
        if not await self.ctx.fs.exists(planned):
            self.blocks.release(planned)
            return
        if not await self.ctx.fs.listdir(planned):
            await self.ctx.fs.rmtree(planned)
            self.blocks.release(planned)


def _past(deadline: float | None) -> bool:
    return deadline is not None and anyio.current_time() >= deadline
