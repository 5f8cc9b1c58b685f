"""``afw lpad rerun_fws``: reruns with selectors, launch mode and task-level recovery."""

from __future__ import annotations

import sys
from typing import Annotated, Any

from cyclopts import Parameter

from afw.cli.common import (
    IdsOpt,
    LaunchModeOpt,
    NameOpt,
    QueryOpt,
    StateOpt,
    emit,
    launchpad,
    run_async,
)
from afw.cli.lpad import command, select_fw_ids
from afw.errors import ConfigError, StateError
from afw.launchpad import LaunchPad

__all__ = ["rerun_fws"]


async def _dynamic_warning(lp: LaunchPad, ids: list[int]) -> str | None:
    """Name the rerun Fireworks whose earlier runs changed the workflow (not undone)."""
    touched = []
    for fw in await lp.store.get_fws(ids):
        archived = await lp.store.get_launches(fw.archived_launch_ids[-1:])
        for launch in [*fw.launches, *archived]:
            action = launch.action or {}
            if any(
                action.get(k)
                for k in ("additions", "detours", "append_wfs", "update_spec", "mod_spec")
            ):
                touched.append(fw.fw_id)
                break
    if not touched:
        return None
    return (
        f"warning: Fireworks {sorted(touched)} took dynamic actions earlier (added Fireworks or "
        "changed children's specs); a rerun does not undo them"
    )


@command("rerun_fws")
def rerun_fws(
    *,
    fw_id: IdsOpt = None,
    name: NameOpt = None,
    state: StateOpt = None,
    query: QueryOpt = None,
    launch_mode: LaunchModeOpt = False,
    task_level: Annotated[bool, Parameter(name="--task-level", negative="")] = False,
    copy_data: Annotated[bool, Parameter(name=["-cp", "--copy-data"], negative="")] = False,
    previous_dir: Annotated[bool, Parameter(name=["-pd", "--previous-dir"], negative="")] = False,
    clear_recovery: Annotated[bool, Parameter(name="--clear-recovery", negative="")] = False,
    dry_run: Annotated[bool, Parameter(name="--dry-run", negative="")] = False,
    password: Annotated[str | None, Parameter(show=False)] = None,
) -> None:
    """Rerun Fireworks and their non-WAITING descendants (launches are archived).

    --task-level restarts FIZZLED Fireworks at the failed task with the earlier tasks' outputs;
    --copy-data copies the previous launch dir into the new one; --previous-dir reruns in it.
    """
    if copy_data and previous_dir:
        raise ConfigError("use --copy-data or --previous-dir, not both")
    if (copy_data or previous_dir) and not task_level:
        raise ConfigError("--copy-data and --previous-dir need --task-level")
    if task_level and clear_recovery:
        raise ConfigError("--task-level and --clear-recovery contradict each other")
    mode = "cp" if copy_data else "prev_dir" if previous_dir else None

    async def go() -> Any:
        async with launchpad() as lp:
            ids = await select_fw_ids(lp, fw_id, name, state, query, launch_mode)
            if not ids:
                raise StateError("no Fireworks match the selection; nothing rerun")
            if dry_run:
                return {"would_rerun": ids}
            warning = await _dynamic_warning(lp, ids)
            done = await lp.rerun_fws(
                ids, task_level=task_level, recover_mode=mode, clear_recovery=clear_recovery
            )
            if warning:
                print(warning, file=sys.stderr)
            return done

    result = run_async(go)
    if isinstance(result, list):
        print(f"rerun_fws: {len(result)} Firework(s) rerun", file=sys.stderr)
    emit(result)
