"""``afw qlaunch``: submit Fireworks to a batch queue (singleshot, rapidfire).

The qlaunch options may come before the command, as in FireWorks (``afw qlaunch -r rapidfire``),
or after it (``afw qlaunch rapidfire -r``). The queue adapter file is ``-q FILE``, else (with
``--remote-host``) the remote's ``qadapter`` setting, else ``$AFW_QADAPTER``, else
``my_qadapter.yaml`` in the current directory or ``~/.afw/``.

``--remote-host NAME|[user@]host[:port]`` submits on a remote login node over one SSH connection
(:mod:`afw.cli.remote`): launch dirs under ``--remote-dir`` are written over SFTP, the scheduler
is run over SSH, and the database is only ever touched here.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import anyio
from cyclopts import App, Parameter

from afw.cli.common import GLOBALS, emit, launchpad
from afw.cli.remote import (
    AcceptNewHostKey,
    RemoteDir,
    RemoteHostOpt,
    RemotesFile,
    SiteOptions,
    remote_queue_config,
    site,
)
from afw.config import afw_home
from afw.errors import ConfigError, QueueLimitError
from afw.queue.config import QueueConfig, load_queue_config
from afw.queue.launcher import QlaunchOptions, QlaunchReport, check_options, launch_to_queue
from afw.queue.launcher import rapidfire as queue_rapidfire
from afw.ssh.remotes import RemoteHost

__all__ = ["locate_qadapter", "qlaunch_app"]

qlaunch_app = App(
    name="qlaunch", help="Submit Fireworks to a batch queue.", result_action="return_value"
)

Tokens = Annotated[str, Parameter(show=False, allow_leading_hyphen=True)]
QFile = Annotated[
    str | None,
    Parameter(
        name=["-q", "--queueadapter-file", "--queueadapter_file"],
        help="queue adapter YAML (default: $AFW_QADAPTER, ./my_qadapter.yaml, ~/.afw/)",
    ),
]
Reserve = Annotated[
    bool,
    Parameter(
        name=["-r", "--reserve"], negative="", help="reserve each Firework before submitting it"
    ),
]
LaunchDir = Annotated[
    str | None,
    Parameter(name=["--launch-dir", "--launch_dir"], help="where jobs run (default: .)"),
]


@dataclass
class _Options:
    queueadapter_file: str | None = None
    reserve: bool = False
    site: SiteOptions = field(default_factory=SiteOptions)


_OPTIONS = _Options()


@qlaunch_app.meta.default
def _qlaunch(
    *tokens: Tokens,
    queueadapter_file: QFile = None,
    reserve: Reserve = False,
    launch_dir: LaunchDir = None,
    remote_host: RemoteHostOpt = None,
    remote_dir: RemoteDir = None,
    remotes: RemotesFile = None,
    accept_new_host_key: AcceptNewHostKey = False,
) -> object:
    """Take the qlaunch-wide options (before or after the command), then run the command."""
    _OPTIONS.queueadapter_file = queueadapter_file
    _OPTIONS.reserve = reserve
    _OPTIONS.site = SiteOptions(launch_dir, remote_host, remote_dir, remotes, accept_new_host_key)
    return qlaunch_app(list(tokens), exit_on_error=False, print_error=False)


def locate_qadapter(path: str | None = None) -> Path:
    """The queue adapter file: ``path``, ``$AFW_QADAPTER``, ``./my_qadapter.yaml``, ``~/.afw/``."""
    explicit = path or os.environ.get("AFW_QADAPTER", "").strip() or None
    if explicit:
        if not Path(explicit).expanduser().is_file():
            raise ConfigError(f"queue adapter file not found: {explicit}")
        return Path(explicit).expanduser()
    for candidate in (Path.cwd() / "my_qadapter.yaml", afw_home() / "my_qadapter.yaml"):
        if candidate.is_file():
            return candidate
    raise ConfigError(
        "no queue adapter file: give -q FILE, set AFW_QADAPTER, "
        "or put my_qadapter.yaml in the current directory or ~/.afw/"
    )


def _config() -> tuple[QueueConfig, RemoteHost | None]:
    remote = _OPTIONS.site.remote()
    if _OPTIONS.queueadapter_file is None and (found := remote_queue_config(remote)):
        return found, remote
    return load_queue_config(locate_qadapter(_OPTIONS.queueadapter_file)), remote


@qlaunch_app.command(name="singleshot")
def singleshot(
    *, fw_id: Annotated[int | None, Parameter(name=["-f", "--fw-id", "--fw_id"])] = None
) -> int:
    """Submit one job that runs in the launch dir (-f N: that Firework; needs -r)."""
    (config, remote), reserve = _config(), _OPTIONS.reserve
    check_options(config, reserve=reserve, fw_id=fw_id)
    fworker = GLOBALS.fworker()

    async def go() -> str | None:
        async with site(config, remote, _OPTIONS.site) as where, launchpad() as lp:
            return await launch_to_queue(
                lp, fworker, config, where.client, where.fs, launch_dir=where.launch_dir,
                reserve=reserve, fw_id=fw_id, remote_host=where.remote_host,
            )  # fmt: skip

    try:
        job_id = anyio.run(go)
    except QueueLimitError as exc:
        print(f"afw qlaunch: waiting, nothing submitted: {exc}", file=sys.stderr)
        return 0
    if job_id is None:
        print("afw qlaunch: no Firework is ready to run; nothing submitted", file=sys.stderr)
        return 0
    if GLOBALS.json:
        emit({"job_ids": [job_id]})
    else:
        print(f"afw qlaunch: submitted job {job_id}", file=sys.stderr)
    return 0


@qlaunch_app.command(name="rapidfire")
def rapidfire_cmd(
    *,
    maxjobs_queue: Annotated[
        int, Parameter(name=["-m", "--maxjobs-queue", "--maxjobs_queue"], help="0 = no limit")
    ] = 0,
    maxjobs_block: Annotated[
        int, Parameter(name=["-b", "--maxjobs-block", "--maxjobs_block"], help="jobs per block")
    ] = 500,
    nlaunches: Annotated[
        str, Parameter(name="--nlaunches", help="0 = until done, N, or 'infinite'")
    ] = "0",
    sleep: Annotated[float, Parameter(name="--sleep", help="seconds between rounds")] = 60.0,
    timeout: Annotated[
        float | None, Parameter(name="--timeout", help="stop submitting after N s")
    ] = None,
    max_loops: Annotated[
        int, Parameter(name=["--max-loops", "--max_loops"], help="rounds at most (-1: no limit)")
    ] = -1,
) -> int:
    """Submit jobs in rounds, each in a new launcher dir of a block dir, until none is left."""
    (config, remote), reserve = _config(), _OPTIONS.reserve
    check_options(config, reserve=reserve)
    if maxjobs_queue < 0 or maxjobs_block < 1:
        raise ConfigError("-m must be >= 0 and -b >= 1")
    opts = QlaunchOptions(
        maxjobs_queue, maxjobs_block, _nlaunches(nlaunches), sleep, timeout, max_loops=max_loops
    )
    fworker = GLOBALS.fworker()

    async def go() -> QlaunchReport:
        async with site(config, remote, _OPTIONS.site) as where, launchpad() as lp:
            return await queue_rapidfire(
                lp, fworker, config, where.client, where.fs, launch_dir=where.launch_dir,
                reserve=reserve, options=opts, user=where.user, remote_host=where.remote_host,
            )  # fmt: skip

    report = anyio.run(go)
    if GLOBALS.json:
        emit({"job_ids": report.job_ids, "rounds": report.rounds, "waited": report.limited_rounds})
    print(
        f"afw qlaunch: submitted {len(report.job_ids)} job(s) in {report.rounds} round(s)"
        + (f", {report.limited_rounds} round(s) at the job limit" if report.limited_rounds else ""),
        file=sys.stderr,
    )
    return 0


def _nlaunches(value: str) -> int:
    if value == "infinite":
        return -1
    try:
        number = int(value)
    except ValueError:
        number = -2
    if number < -1:
        raise ConfigError("--nlaunches takes a number >= 0 or 'infinite'")
    return number
