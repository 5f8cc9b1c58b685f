"""``afw lpad``: the LaunchPad commands, with FireWorks' names and dashed names."""

from __future__ import annotations

import glob
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import date
from typing import Annotated, Any, TypeVar

from cyclopts import App, Parameter

from afw.cli.common import (
    IdsOpt,
    LaunchModeOpt,
    NameOpt,
    PasswordOpt,
    QueryOpt,
    StateOpt,
    emit,
    fw_selection,
    launchpad,
    require_ids,
    run_async,
)
from afw.cli.lpad_show import fw_view, print_table
from afw.db.query import parse_query
from afw.errors import ConfigError
from afw.launchpad import LaunchPad
from afw.serialize import load_workflow_file

__all__ = ["lpad_app", "select_fw_ids", "select_wf_ids"]

lpad_app = App(
    name="lpad",
    help=(
        "Manage the LaunchPad (FireWorks' lpad). Options before the command: "
        "-l/--launchpad-file FILE, -v/--verbose, --json."
    ),
    result_action="return_value",
)

SortOpt = Annotated[str | None, Parameter(name="--sort", help="sort ascending by this key")]
RSortOpt = Annotated[str | None, Parameter(name="--rsort", help="sort descending by this key")]
MaxOpt = Annotated[int, Parameter(name=["-m", "--max"], help="at most this many (0 = all)")]
DisplayOpt = Annotated[
    str, Parameter(name=["-d", "--display-format"], help="ids, count, less, more or all")
]
_DISPLAY = ("ids", "count", "less", "more", "all")


def _names(name: str) -> list[str]:
    return [name, name.replace("_", "-")] if "_" in name else [name]


F = TypeVar("F", bound=Callable[..., Any])


def command(name: str, *aliases: str) -> Callable[[F], F]:
    """Register under the FireWorks name, its dashed form, and any aliases."""
    names = [n for a in (name, *aliases) for n in _names(a)]

    def register(fn: F) -> F:
        lpad_app.command(fn, name=names)
        return fn

    return register


def _sort(sort: str | None, rsort: str | None) -> list[tuple[str, int]]:
    if sort and rsort:
        raise ConfigError("use --sort or --rsort, not both")
    if sort:
        return [(sort, 1)]
    if rsort:
        return [(rsort, -1)]
    return []


async def select_fw_ids(
    lp: LaunchPad,
    ids: Sequence[str] | None,
    name: str | None,
    state: str | None,
    query: str | None,
    launch_mode: bool = False,
    *,
    required: bool = True,
    sort: Sequence[tuple[str, int]] = (),
    limit: int = 0,
) -> list[int]:
    """Resolve ``-i/-n/-s/-q/-lm`` to fw_ids (``-lm``: against current launches)."""
    fw_ids, flt = fw_selection(ids, name, state, query, launch_mode=launch_mode, required=required)
    if fw_ids is not None:
        return fw_ids
    result = await lp.get_fw_ids(flt, sort=sort, limit=limit, launches_mode=launch_mode)
    assert isinstance(result, list)
    return result


async def select_wf_ids(
    lp: LaunchPad,
    ids: Sequence[str] | None,
    name: str | None,
    state: str | None,
    query: str | None,
    *,
    required: bool = True,
    sort: Sequence[tuple[str, int]] = (),
    limit: int = 0,
) -> list[int]:
    """Resolve workflow selection flags to one fw_id per workflow."""
    fw_ids, flt = fw_selection(ids, name, state, query, required=required)
    if fw_ids is not None:
        return fw_ids
    result = await lp.get_wf_ids(flt, sort=sort, limit=limit)
    assert isinstance(result, list)
    return result


def _check_display(display_format: str) -> None:
    if display_format not in _DISPLAY:
        raise ConfigError(f"-d must be one of {', '.join(_DISPLAY)}")


def _table(display_format: str, columns: list[str]) -> Callable[[Any], None] | None:
    """The terminal table for ``-d less`` and ``-d more`` (the other formats print JSON)."""
    if display_format not in ("less", "more"):
        return None
    return lambda rows: print_table(rows, columns)


@command("reset")
def reset(
    *,
    password: Annotated[str | None, Parameter(help="today's date, YYYY-MM-DD")] = None,
    yes: Annotated[bool, Parameter(name=["-y", "--yes"], negative="")] = False,
) -> None:
    """Delete every workflow, Firework, launch and offline run."""
    if not yes and password != date.today().isoformat():
        if not sys.stdin.isatty():
            raise ConfigError(f"reset needs --password {date.today().isoformat()} (today) or --yes")
        answer = input("Reset the LaunchPad, deleting everything? Type 'yes': ")
        if answer.strip().lower() != "yes":
            raise ConfigError("reset cancelled")

    async def go() -> None:
        async with launchpad() as lp:
            await lp.reset()

    run_async(go)
    print("LaunchPad reset", file=sys.stderr)


@command("add")
def add(*wf_files: str, dir: Annotated[str | None, Parameter(name=["-d", "--dir"])] = None) -> None:
    """Add workflows from FireWorks JSON/YAML files (globs allowed); all or nothing."""
    paths: list[str] = []
    for pattern in wf_files:
        matches = sorted(glob.glob(pattern)) or [pattern]
        paths.extend(matches)
    if dir:
        paths.extend(sorted(glob.glob(f"{dir}/*.json") + glob.glob(f"{dir}/*.y*ml")))
    if not paths:
        raise ConfigError("give at least one workflow file")
    workflows = [load_workflow_file(p) for p in paths]

    async def go() -> list[dict[int, int]]:
        async with launchpad() as lp:
            return await lp.add_wfs(workflows)

    maps = run_async(go)
    for path, mapping in zip(paths, maps, strict=True):
        print(f"added {path}: fw_ids {sorted(mapping.values())}", file=sys.stderr)


@command("get_fws")
def get_fws(
    *,
    fw_id: IdsOpt = None,
    name: NameOpt = None,
    state: StateOpt = None,
    query: QueryOpt = None,
    launch_mode: LaunchModeOpt = False,
    display_format: DisplayOpt = "less",
    sort: SortOpt = None,
    rsort: RSortOpt = None,
    max: MaxOpt = 0,
) -> None:
    """Show Fireworks matching the selection."""
    _check_display(display_format)

    async def go() -> Any:
        async with launchpad() as lp:
            order = _sort(sort, rsort)
            ids = await select_fw_ids(
                lp, fw_id, name, state, query, launch_mode, required=False, sort=order, limit=max
            )
            if display_format in ("count", "ids"):
                return len(ids) if display_format == "count" else ids
            fws = await lp.store.get_fws(ids)
            if display_format == "all":
                return [await lp.get_fw_dict_by_id(fw.fw_id) for fw in fws]
            return [fw_view(fw, display_format) for fw in fws]

    emit(run_async(go), table=_table(display_format, ["fw_id", "name", "state", "created_on"]))


@command("get_wflows", "get_wfs")
def get_wflows(
    *,
    fw_id: IdsOpt = None,
    name: NameOpt = None,
    state: StateOpt = None,
    query: QueryOpt = None,
    display_format: DisplayOpt = "less",
    sort: SortOpt = None,
    rsort: RSortOpt = None,
    max: MaxOpt = 0,
) -> None:
    """Show workflows matching the selection."""
    _check_display(display_format)

    async def go() -> Any:
        async with launchpad() as lp:
            ids = await select_wf_ids(
                lp, fw_id, name, state, query, required=False, sort=_sort(sort, rsort), limit=max
            )
            if display_format in ("count", "ids"):
                return len(ids) if display_format == "count" else ids
            return await lp.get_wf_summaries(ids, display_format)

    cols = ["fw_id", "name", "state", "states_list", "created_on"]
    emit(run_async(go), table=_table(display_format, cols))


def _fw_state_command(cmd: str, method: str, doc: str) -> None:
    def handler(
        *,
        fw_id: IdsOpt = None,
        name: NameOpt = None,
        state: StateOpt = None,
        query: QueryOpt = None,
        launch_mode: LaunchModeOpt = False,
        password: PasswordOpt = None,
    ) -> None:
        async def go() -> tuple[list[int], list[int]]:
            async with launchpad() as lp:
                ids = await select_fw_ids(lp, fw_id, name, state, query, launch_mode)
                require_ids(ids)
                changed: list[int] = await getattr(lp, method)(ids)
                return ids, changed

        ids, changed = run_async(go)
        skipped = sorted(set(ids) - set(changed))
        print(f"{cmd}: changed {len(changed)} Firework(s): {sorted(changed)}", file=sys.stderr)
        if skipped:
            print(f"{cmd}: not applicable in their state: {skipped}", file=sys.stderr)
        emit(sorted(changed))

    handler.__doc__ = doc
    command(cmd)(handler)


_fw_state_command(
    "defuse_fws", "defuse_fws", "Defuse Fireworks (running or completed ones are rerun first)."
)
_fw_state_command("pause_fws", "pause_fws", "Pause WAITING/READY/RESERVED Fireworks.")
_fw_state_command("reignite_fws", "reignite_fws", "Reignite DEFUSED Fireworks.")
_fw_state_command("resume_fws", "resume_fws", "Resume PAUSED Fireworks.")


WfOp = Callable[[LaunchPad, int, bool, bool], Awaitable[bool]]


def _wf_command(cmd: str, doc: str, *aliases: str) -> Callable[[WfOp], WfOp]:
    def wrap(op: WfOp) -> WfOp:
        def handler(
            *,
            fw_id: IdsOpt = None,
            name: NameOpt = None,
            state: StateOpt = None,
            query: QueryOpt = None,
            defuse_all_states: Annotated[bool, Parameter(name="--defuse-all-states")] = True,
            ldirs: Annotated[bool, Parameter(name="--ldirs", negative="")] = False,
            password: PasswordOpt = None,
        ) -> None:
            async def go() -> list[int]:
                async with launchpad() as lp:
                    ids = await select_wf_ids(lp, fw_id, name, state, query)
                    require_ids(ids, "workflows")
                    return [i for i in ids if await op(lp, i, defuse_all_states, ldirs)]

            changed = run_async(go)
            print(f"{cmd}: {len(changed)} workflow(s) changed", file=sys.stderr)
            emit(changed)

        handler.__doc__ = doc
        command(cmd, *aliases)(handler)
        return op

    return wrap


@_wf_command("defuse_wflows", "Defuse every Firework of the selected workflows.", "defuse_wfs")
async def _defuse_wf(lp: LaunchPad, i: int, all_states: bool, _ldirs: bool) -> bool:
    return await lp.defuse_wf(i, defuse_all_states=all_states)


@_wf_command("pause_wflows", "Pause the selected workflows.", "pause_wfs")
async def _pause_wf(lp: LaunchPad, i: int, _all: bool, _ldirs: bool) -> bool:
    return await lp.pause_wf(i)


@_wf_command("reignite_wflows", "Reignite the selected workflows.", "reignite_wfs")
async def _reignite_wf(lp: LaunchPad, i: int, _all: bool, _ldirs: bool) -> bool:
    return await lp.reignite_wf(i)


@_wf_command("archive_wflows", "Archive the selected workflows.", "archive_wfs")
async def _archive_wf(lp: LaunchPad, i: int, _all: bool, _ldirs: bool) -> bool:
    return await lp.archive_wf(i)


@_wf_command(
    "delete_wflows", "Delete the selected workflows (--ldirs: their launch dirs too).", "delete_wfs"
)
async def _delete_wf(lp: LaunchPad, i: int, _all: bool, ldirs: bool) -> bool:
    await lp.delete_wf(i, delete_launch_dirs=ldirs)
    return True


@command("set_priority")
def set_priority(
    priority: float,
    *,
    fw_id: IdsOpt = None,
    name: NameOpt = None,
    state: StateOpt = None,
    query: QueryOpt = None,
    launch_mode: LaunchModeOpt = False,
    wf: Annotated[bool, Parameter(name=["-wf", "--wf"], negative="")] = False,
) -> None:
    """Set spec._priority of the selected Fireworks (-wf: every Firework of their workflows)."""
    value: float | int = int(priority) if float(priority).is_integer() else priority

    async def go() -> list[int]:
        async with launchpad() as lp:
            ids = await select_fw_ids(lp, fw_id, name, state, query, launch_mode)
            require_ids(ids)
            if wf:
                docs = await lp.store.get_wf_docs(ids)
                ids = sorted({int(n) for d in docs for n in d["nodes"]})
            return await lp.update_spec(ids, {"_priority": value}, any_state=True)

    changed = run_async(go)
    print(f"set_priority: {len(changed)} Firework(s) set to {value}", file=sys.stderr)
    emit(changed)


@command("update_fws")
def update_fws(
    *,
    update: Annotated[str, Parameter(name=["-u", "--update"], help="JSON of spec keys to set")],
    fw_id: IdsOpt = None,
    name: NameOpt = None,
    state: StateOpt = None,
    query: QueryOpt = None,
    launch_mode: LaunchModeOpt = False,
) -> None:
    """Set spec keys of inactive Fireworks (READY/WAITING/FIZZLED/DEFUSED/PAUSED)."""
    changes = parse_query(update)

    async def go() -> tuple[list[int], list[int]]:
        async with launchpad() as lp:
            ids = await select_fw_ids(lp, fw_id, name, state, query, launch_mode)
            require_ids(ids)
            return ids, await lp.update_spec(ids, changes)

    ids, changed = run_async(go)
    skipped = sorted(set(ids) - set(changed))
    if skipped:
        print(f"update_fws: skipped active Fireworks {skipped}", file=sys.stderr)
    emit(changed)


@command("get_launchdir")
def get_launchdir(
    fw_id: int, *, launch_idx: Annotated[int, Parameter(name="--launch-idx")] = -1
) -> None:
    """Print the launch dir of a Firework's launch."""

    async def go() -> str | None:
        async with launchpad() as lp:
            return await lp.get_launchdir(fw_id, launch_idx)

    emit(run_async(go) or "")


@command("detect_lostruns")
def detect_lostruns(
    *,
    time: Annotated[float, Parameter(name="--time", help="seconds without heartbeat")] = 4 * 3600,
    fizzle: Annotated[bool, Parameter(negative="")] = False,
    rerun: Annotated[bool, Parameter(negative="")] = False,
    task_level: Annotated[bool, Parameter(name="--task-level", negative="")] = False,
    copy_data: Annotated[bool, Parameter(name=["-cp", "--copy-data"], negative="")] = False,
    previous_dir: Annotated[bool, Parameter(name=["-pd", "--previous-dir"], negative="")] = False,
    refresh: Annotated[bool, Parameter(negative="")] = False,
    max_runtime: Annotated[float | None, Parameter(name="--max-runtime")] = None,
    min_runtime: Annotated[float | None, Parameter(name="--min-runtime")] = None,
    query: QueryOpt = None,
    launch_query: Annotated[str | None, Parameter(name=["-lq", "--launch-query"])] = None,
) -> None:
    """Find runs whose heartbeat stopped; --fizzle or --rerun them, --refresh inconsistent ones.

    --rerun --task-level resumes each lost run at the task it was running (with --copy-data in a
    copy of its launch dir, with --previous-dir in that dir).
    """
    if (copy_data or previous_dir) and not (rerun and task_level):
        raise ConfigError("--copy-data and --previous-dir need --rerun --task-level")
    if copy_data and previous_dir:
        raise ConfigError("use --copy-data or --previous-dir, not both")
    mode = "cp" if copy_data else "prev_dir" if previous_dir else None
    fw_query = parse_query(query) if query else None
    l_query = parse_query(launch_query) if launch_query else None

    async def go() -> tuple[list[int], list[int], list[int]]:
        async with launchpad() as lp:
            return await lp.detect_lostruns(
                time, fizzle=fizzle, rerun=rerun, task_level=task_level, recover_mode=mode,
                refresh=refresh,
                max_runtime=max_runtime, min_runtime=min_runtime, query=fw_query,
                launch_query=l_query,
            )  # fmt: skip

    lost_launches, lost_fws, inconsistent = run_async(go)
    emit(
        {
            "lost_launch_ids": lost_launches,
            "lost_fw_ids": lost_fws,
            "inconsistent_fw_ids": inconsistent,
        }
    )


@command("detect_unreserved")
def detect_unreserved(
    *,
    time: Annotated[float, Parameter(name="--time")] = 14 * 24 * 3600,
    rerun: Annotated[bool, Parameter(negative="")] = False,
) -> None:
    """Find reservations older than --time seconds; --rerun cancels them."""

    async def go() -> list[int]:
        async with launchpad() as lp:
            return await lp.detect_unreserved(time, rerun=rerun)

    emit(run_async(go))
