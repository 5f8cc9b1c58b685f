"""``afw lpad admin …`` (unlock, refresh, tuneup, maintain) and the workflow-editing and queue-id
commands ``append_wflow``, ``dump_wflow``, ``get_qids`` and ``cancel_qid``."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import anyio
from cyclopts import App, Parameter

from afw.cli.common import (
    IdsOpt,
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
from afw.cli.lpad import command, lpad_app, select_wf_ids
from afw.errors import ConfigError
from afw.fs.local import LocalFileSystem
from afw.launchpad import LaunchPad
from afw.serialize import dump_json, dump_yaml, load_workflow_file

__all__ = ["admin_app"]

admin_app = App(
    name="admin",
    help="Maintenance: unlock, refresh, tuneup, maintain (FireWorks' lpad admin).",
    result_action="return_value",
)
lpad_app.command(admin_app)

T = TypeVar("T")

RequiredIdsOpt = Annotated[
    list[str],
    Parameter(name=["-i", "--fw-id", "--fw_id"], help="Firework ids (comma-separated or repeated)"),
]


def _on_selected_wfs(
    selection: tuple[list[str] | None, str | None, str | None, str | None],
    op: Callable[[LaunchPad, list[int]], Awaitable[T]],
) -> tuple[list[int], T]:
    """Resolve the workflow selection and run ``op`` on it, in one LaunchPad session."""

    async def go() -> tuple[list[int], T]:
        async with launchpad() as lp:
            ids = await select_wf_ids(lp, *selection)
            require_ids(ids, "workflows")
            return ids, await op(lp, ids)

    return run_async(go)


@admin_app.command(name="unlock")
def unlock(
    *,
    fw_id: IdsOpt = None,
    name: NameOpt = None,
    state: StateOpt = None,
    query: QueryOpt = None,
    password: PasswordOpt = None,
) -> None:
    """Force-release the workflow locks of the selected workflows (a crashed FireWorks process
    leaves its lock behind; afw's own locks expire by themselves)."""
    ids, released = _on_selected_wfs((fw_id, name, state, query), LaunchPad.unlock_wfs)
    print(f"unlock: {released} of {len(ids)} workflow(s) were locked", file=sys.stderr)
    emit(released)


@admin_app.command(name="refresh")
def refresh(
    *,
    fw_id: IdsOpt = None,
    name: NameOpt = None,
    state: StateOpt = None,
    query: QueryOpt = None,
    password: PasswordOpt = None,
) -> None:
    """Recompute the state of every Firework of the selected workflows (repairs inconsistent
    ones); prints the ids whose state changed."""
    ids, changed = _on_selected_wfs((fw_id, name, state, query), LaunchPad.refresh_wfs)
    print(f"refresh: {len(ids)} workflow(s), {len(changed)} Firework(s) changed", file=sys.stderr)
    emit(changed)


@admin_app.command(name="tuneup")
def tuneup(*, full: Annotated[bool, Parameter(name="--full", negative="")] = False) -> None:
    """Rebuild the store's indexes and statistics; --full also compacts it."""

    async def go() -> None:
        async with launchpad() as lp:
            await lp.tuneup(full=full)

    run_async(go)
    print("tuneup: done", file=sys.stderr)


@admin_app.command(name="maintain")
def maintain(
    *,
    infinite: Annotated[bool, Parameter(name="--infinite", negative="")] = False,
    maintain_interval: Annotated[
        float, Parameter(name=["--maintain-interval", "--maintain_interval"])
    ] = 120.0,
) -> None:
    """Fizzle lost runs (no ping for 4 h) and cancel reservations older than 14 days; with
    --infinite repeat every --maintain-interval seconds until interrupted."""
    if maintain_interval <= 0:
        raise ConfigError("--maintain-interval must be a positive number of seconds")

    async def go() -> None:
        async with launchpad() as lp:
            while True:
                report = await lp.maintain()
                emit(report.to_dict())
                if not infinite:
                    return
                await anyio.sleep(maintain_interval)

    run_async(go)


@command("append_wflow", "append_wf")
def append_wflow(
    *,
    fw_id: RequiredIdsOpt,
    wf_file: Annotated[str, Parameter(name=["-f", "--wf-file", "--wf_file"])],
    detour: Annotated[bool, Parameter(name=["-d", "--detour"], negative="")] = False,
    no_pull_spec_mods: Annotated[
        bool, Parameter(name=["--no-pull-spec-mods", "--no_pull_spec_mods"], negative="")
    ] = False,
) -> None:
    """Append the workflow in --wf-file below the Fireworks -i (one workflow); prints the new
    ids as {id in the file: new fw_id}."""
    parents = parse_ids(fw_id)
    require_ids(parents, "Fireworks", "appended")
    new_wf = load_workflow_file(wf_file)

    async def go() -> dict[int, int]:
        async with launchpad() as lp:
            return await lp.append_wf(
                new_wf, parents, detour=detour, pull_spec_mods=not no_pull_spec_mods
            )

    mapping = run_async(go)
    print(f"append_wflow: {len(mapping)} Firework(s) added", file=sys.stderr)
    emit({str(old): new for old, new in mapping.items()})


@command("dump_wflow", "dump_wf")
def dump_wflow(
    *,
    fw_id: Annotated[int, Parameter(name=["-i", "--fw-id", "--fw_id"])],
    wf_file: Annotated[str, Parameter(name=["-f", "--wf-file", "--wf_file"])],
) -> None:
    """Write the workflow holding Firework -i to --wf-file (YAML for .yaml/.yml, else JSON), in
    FireWorks' format: `lpad add` of the file recreates it."""

    async def go() -> None:
        async with launchpad() as lp:
            doc = (await lp.get_wf_by_fw_id(fw_id)).to_dict()
        if Path(wf_file).suffix.lower() in (".yaml", ".yml"):
            data = dump_yaml(doc).encode()
        else:
            data = dump_json(doc, indent=True) + b"\n"
        async with LocalFileSystem() as fs:  # atomic, and an OSError becomes one line
            await fs.write_atomic(wf_file, data)

    run_async(go)
    print(f"dump_wflow: wrote {wf_file}", file=sys.stderr)


@command("get_qids")
def get_qids(*, fw_id: RequiredIdsOpt) -> None:
    """Print the queue job id of each Firework's current launch (null when none)."""
    ids = parse_ids(fw_id)
    require_ids(ids, "Fireworks", "shown")

    async def go() -> dict[str, str | None]:
        async with launchpad() as lp:
            return {str(i): await lp.get_reservation_id_from_fw_id(i) for i in ids}

    emit(run_async(go))


@command("cancel_qid")
def cancel_qid(*, qid: Annotated[str, Parameter(name="--qid")]) -> None:
    """Cancel the reservation made for queue job --qid: its Fireworks become READY again (the
    job itself is not cancelled; use your scheduler's cancel command for that)."""

    async def go() -> list[int]:
        async with launchpad() as lp:
            return await lp.cancel_reservation_by_reservation_id(qid)

    released = run_async(go)
    require_ids(released, "reservations", "cancelled")
    print(f"cancel_qid: {len(released)} Firework(s) released", file=sys.stderr)
    emit(released)
