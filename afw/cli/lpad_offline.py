"""``afw lpad recover_offline`` and ``afw lpad forget_offline``.

Worker filter: FireWorks' ``-w/--fworker_file`` names an fworker YAML whose ``name`` selects the
runs (and it defaults to the auto-detected ``my_fworker.yaml``). afw reads ``-w`` the same way
when it names an existing file, and otherwise takes the value as the worker name itself;
``--fworker-name NAME`` says it explicitly. Without either (or with ``-w ""``) every worker's
runs are recovered: afw does not silently filter by an auto-detected worker file.

Runs submitted with ``afw qlaunch --remote-host`` are read over SFTP from their host, with the SSH
settings of ``--remotes FILE`` (default: ``$AFW_REMOTES``, ``~/.afw/remotes.yaml``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import anyio
import orjson
from cyclopts import Parameter

from afw.cli.common import (
    GLOBALS,
    IdsOpt,
    LaunchModeOpt,
    NameOpt,
    PasswordOpt,
    QueryOpt,
    StateOpt,
    emit,
    launchpad,
    parse_ids,
    require_ids,
    run_async,
)
from afw.cli.lpad import command, select_fw_ids
from afw.config import load_fworker
from afw.errors import ConfigError
from afw.recovery import RecoverySummary, recover_offline
from afw.recovery_remote import RemoteDirs
from afw.ssh.remotes import load_remotes

__all__ = ["forget_offline", "recover_offline_cmd"]


def _worker_name(explicit: str | None) -> str | None:
    if explicit is not None:
        return explicit or None
    value = GLOBALS.fworker_file
    if not value:
        return None
    if Path(value).is_file():
        return load_fworker(value).name or None
    return value


@contextmanager
def _progress_bar(enabled: bool) -> Iterator[Callable[[RecoverySummary], None] | None]:
    """A rich progress line on stderr (a terminal only); yields the callback for each batch."""
    if not enabled:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (
        TextColumn("recover_offline"),
        BarColumn(),
        TextColumn(
            "{task.completed} runs ({task.fields[done]} finished, {task.fields[bad]} errors)"
        ),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("sweep", total=None, done=0, bad=0)

        def update(summary: RecoverySummary) -> None:
            finished = summary.completed + summary.fizzled + summary.already_done
            bad = summary.errors + summary.vanished
            bar.update(task, completed=summary.seen, done=finished, bad=bad)

        yield update


def _line(summary: dict[str, Any]) -> None:
    counts = ", ".join(f"{value} {name}" for name, value in summary.items() if name != "problems")
    print(f"recover_offline: {counts}")


def _report(summary: RecoverySummary, print_errors: bool, compact: bool) -> None:
    doc = summary.to_dict(details=print_errors)
    if print_errors:
        for launch_id, message in summary.problems:
            print(f"launch {launch_id}: {message}", file=sys.stderr)
    elif summary.problems:
        print(
            f"recover_offline: {len(summary.problems)} run(s) could not be read yet or have no"
            " launch dir (-pe lists them); they are retried next time",
            file=sys.stderr,
        )
    if compact and (GLOBALS.json or not sys.stdout.isatty()):
        sys.stdout.write(orjson.dumps(doc).decode() + "\n")
        sys.stdout.flush()
    else:
        emit(doc, table=_line)


@command("recover_offline")
def recover_offline_cmd(
    *,
    ignore_errors: Annotated[
        bool,
        Parameter(
            name=["-i", "--ignore-errors", "--ignore_errors"],
            negative="",
            help="exit 0 even when runs could not be read",
        ),
    ] = False,
    print_errors: Annotated[
        bool,
        Parameter(
            name=["-pe", "--print-errors", "--print_errors"], negative="", help="list every problem"
        ),
    ] = False,
    fworker_name: Annotated[
        str | None,
        Parameter(
            name=["--fworker-name", "--fworker_name"], help="only this worker's runs ('' = all)"
        ),
    ] = None,
    loop: Annotated[
        float | None, Parameter(name="--loop", help="sweep again every SECONDS until interrupted")
    ] = None,
    batch_size: Annotated[int, Parameter(name=["--batch-size", "--batch_size"])] = 500,
    concurrency: Annotated[int, Parameter(name="--concurrency", help="batches read at once")] = 4,
    include_online: Annotated[
        bool,
        Parameter(
            name="--include-online",
            negative="",
            help="also pick up FW_action.json of online runs that lost the database",
        ),
    ] = False,
    remotes: Annotated[
        str | None,
        Parameter(
            name="--remotes",
            help="SSH settings of remote hosts (default: $AFW_REMOTES, ~/.afw/remotes.yaml)",
        ),
    ] = None,
) -> int:
    """Bring offline runs' results (FW_offline.json, FW_ping.json, FW_action.json) into the store.

    Unreadable or half-written files are retried next time and never FIZZLE a run; the exit
    code is 1 when some run could not be recovered, unless -i is given. -w FILE|NAME or
    --fworker-name NAME: only that worker's runs (default: all).
    """
    if loop is not None and loop <= 0:
        raise ConfigError("--loop takes a positive number of seconds")
    if batch_size < 1 or concurrency < 1:
        raise ConfigError("--batch-size and --concurrency must be at least 1")
    name = _worker_name(fworker_name)
    hosts = load_remotes(remotes)

    async def go() -> bool:
        failed = False
        remote = RemoteDirs(hosts)
        try:
            async with launchpad() as lp:
                while True:
                    with _progress_bar(sys.stderr.isatty()) as progress:
                        summary = await recover_offline(
                            lp,
                            fworker_name=name,
                            batch_size=batch_size,
                            concurrency=concurrency,
                            include_online=include_online,
                            progress=progress,
                            remote=remote,
                        )
                    _report(summary, print_errors, compact=loop is not None)
                    failed = failed or bool(summary.errors or summary.vanished)
                    if loop is None:
                        return failed
                    await anyio.sleep(loop)
        finally:
            with anyio.CancelScope(shield=True):
                await remote.aclose()

    failed = run_async(go)
    return 1 if failed and not ignore_errors else 0


@command("forget_offline")
def forget_offline(
    *,
    fw_id: IdsOpt = None,
    name: NameOpt = None,
    state: StateOpt = None,
    query: QueryOpt = None,
    launch_mode: LaunchModeOpt = False,
    launch_ids: Annotated[
        list[str] | None,
        Parameter(name=["--launch-ids", "--launch_ids"], help="offline runs by launch id"),
    ] = None,
    password: PasswordOpt = None,
) -> None:
    """Stop recovering the offline runs of the selected Fireworks (or --launch-ids).

    Their Fireworks keep their state until rerun_fws, defuse_fws or detect_lostruns handle them.
    """
    by_launch = parse_ids(launch_ids)
    if by_launch and (fw_id or name or state or query):
        raise ConfigError("--launch-ids cannot be combined with -i, -n, -s or -q")

    async def go() -> int:
        async with launchpad() as lp:
            if by_launch:
                return await lp.forget_offline(launch_ids=by_launch)
            ids = await select_fw_ids(lp, fw_id, name, state, query, launch_mode)
            require_ids(ids, outcome="forgotten")
            return await lp.forget_offline(fw_ids=ids)

    count = run_async(go)
    print(f"forget_offline: {count} offline run(s) forgotten", file=sys.stderr)
    emit(count)
