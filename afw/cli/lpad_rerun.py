"""``afw lpad rerun_fws``: reruns with selectors, launch mode and task-level recovery."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import anyio.to_thread
from cyclopts import Parameter

from afw.cli.common import (
    IdsOpt,
    LaunchModeOpt,
    NameOpt,
    PasswordOpt,
    QueryOpt,
    StateOpt,
    emit,
    launchpad,
    require_ids,
    run_async,
)
from afw.cli.lpad import command, select_fw_ids
from afw.errors import ConfigError
from afw.launchpad import LaunchPad
from afw.reruns import RerunReport

__all__ = ["rerun_fws"]

TaskLevelOpt = Annotated[
    bool, Parameter(name="--task-level", negative="", help="resume at the task that was running")
]
CopyDataOpt = Annotated[
    bool,
    Parameter(
        name=["-cp", "--copy-data"], negative="", help="copy the previous launch dir (same FS)"
    ),
]
PreviousDirOpt = Annotated[
    bool,
    Parameter(name=["-pd", "--previous-dir"], negative="", help="run in the previous launch dir"),
]


def _recover_mode(
    task_level: bool, copy_data: bool, previous_dir: bool, clear_recovery: bool
) -> str | None:
    if copy_data and previous_dir:
        raise ConfigError("use --copy-data or --previous-dir, not both")
    if (copy_data or previous_dir) and not task_level:
        raise ConfigError("--copy-data and --previous-dir need --task-level")
    if task_level and clear_recovery:
        raise ConfigError("--task-level and --clear-recovery contradict each other")
    return "cp" if copy_data else "prev_dir" if previous_dir else None


async def _unseen_dirs(lp: LaunchPad, ids: Sequence[int]) -> list[str]:
    """Last launch dirs that this machine cannot see (the copy or rerun there would fail)."""
    dirs = [fw.launches[-1].launch_dir for fw in await lp.store.get_fws(ids) if fw.launches]

    def unseen() -> list[str]:
        return [d for d in dict.fromkeys(dirs) if d and not Path(d).is_dir()]

    return await anyio.to_thread.run_sync(unseen)


def _ids(ids: list[int], shown: int = 20) -> str:
    """An id list for a one-line message (the full list is on stdout)."""
    if len(ids) <= shown:
        return str(ids)
    return f"[{', '.join(map(str, ids[:shown]))}, ... {len(ids) - shown} more]"


def _report(report: RerunReport, unseen: list[str], dry_run: bool) -> None:
    done = report.rerun
    lines = [
        f"rerun_fws --dry-run: would rerun {len(done)} Firework(s) {_ids(done)}; nothing changed"
        if dry_run
        else f"rerun_fws: {len(done)} Firework(s) rerun: {_ids(done)}"
    ]
    if report.skipped:
        skipped = _ids(report.skipped)
        lines.append(f"rerun_fws: not rerun (WAITING, DEFUSED or ARCHIVED): {skipped}")
    if report.dynamic:
        lines.append(
            f"warning: Fireworks {_ids(report.dynamic)} took dynamic actions in earlier runs "
            "(added Fireworks or changed their children's specs); a rerun does not undo them"
        )
    lines.extend(
        f"warning: previous launch dir {d} is not visible from here; the resumed run fails "
        "unless the node that runs it can see it"
        for d in unseen
    )
    for line in lines:
        print(line, file=sys.stderr)


@command("rerun_fws")
def rerun_fws(
    *,
    fw_id: IdsOpt = None,
    name: NameOpt = None,
    state: StateOpt = None,
    query: QueryOpt = None,
    launch_mode: LaunchModeOpt = False,
    task_level: TaskLevelOpt = False,
    copy_data: CopyDataOpt = False,
    previous_dir: PreviousDirOpt = False,
    clear_recovery: Annotated[
        bool, Parameter(name="--clear-recovery", negative="", help="start at the first task")
    ] = False,
    dry_run: Annotated[
        bool, Parameter(name="--dry-run", negative="", help="print what would be rerun")
    ] = False,
    password: PasswordOpt = None,
) -> None:
    """Rerun Fireworks and their non-WAITING descendants (their launches are archived).

    Select with -i, -n, -s or -q (-lm: -s/-q match the current launches, e.g. -lm -q
    '{"action.stored_data._exception._stacktrace": {"$regex": "MyError"}}'). Earlier dynamic
    actions (added Fireworks, children's spec changes) are not undone.

    --task-level resumes each selected Firework at the task its last launch was running, with
    the earlier tasks' outputs; --copy-data copies the previous launch dir into the new one (same
    filesystem only); --previous-dir reruns in it. The recovery stays in the spec, so later plain
    reruns resume there too, until --clear-recovery makes them start at the first task again.
    --dry-run prints what would be rerun and changes nothing.
    """
    mode = _recover_mode(task_level, copy_data, previous_dir, clear_recovery)

    async def go() -> tuple[RerunReport, list[str]]:
        async with launchpad() as lp:
            ids = await select_fw_ids(lp, fw_id, name, state, query, launch_mode)
            require_ids(ids, outcome="rerun")
            unseen = await _unseen_dirs(lp, ids) if mode else []
            report = await lp.rerun_fws_report(
                ids,
                task_level=task_level,
                recover_mode=mode,
                clear_recovery=clear_recovery,
                dry_run=dry_run,
            )
            return report, unseen

    report, unseen = run_async(go)
    _report(report, unseen, dry_run)
    result: Any = {"would_rerun": report.rerun} if dry_run else report.rerun
    emit(result)
