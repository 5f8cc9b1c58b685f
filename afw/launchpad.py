"""The LaunchPad: afw's async API over a store.

Every operation loads what it needs, runs a pure function from :mod:`afw.lpops` /
:mod:`afw.wflogic` inside the store's atomic update, and writes one change set::

    async with LaunchPad("sqlite:///lp.sqlite") as lp:
        await lp.add_wf(workflow)
        fw, launch_id = await lp.checkout_fw(FWorker(), "/scratch/run1")
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from afw import lpops
from afw.action import FWAction
from afw.changeset import ChangeSet
from afw.config import StoreConfig, locate_launchpad
from afw.db import SortSpec, Store, UpdateContext, make_store
from afw.db.base import OfflineRun
from afw.errors import AfwError, NotFoundError
from afw.firework import Firework
from afw.fworker import FWorker
from afw.launch import Launch
from afw.lp_admin import LaunchPadAdmin, as_workflow
from afw.lp_reruns import LaunchPadReruns, group_by_workflow
from afw.timeutil import now_iso
from afw.wflogic import refresh, rerun_fw
from afw.workflow import Workflow

__all__ = ["CHECKOUT_SORT", "LaunchPad"]

log = logging.getLogger("afw.launchpad")
T = TypeVar("T")
CHECKOUT_SORT: SortSpec = (("spec._priority", -1), ("created_on", 1), ("fw_id", 1))


class LaunchPad(LaunchPadReruns, LaunchPadAdmin):
    """Async LaunchPad over a :class:`~afw.db.Store` (SQLite file or MongoDB).

    Create it from a store URL, a :class:`StoreConfig`, or an open store; use it as an async
    context manager. A closed LaunchPad refuses further use.
    """

    def __init__(self, store: Store | StoreConfig | str | None = None) -> None:
        if store is None:
            store = locate_launchpad()
        if isinstance(store, StoreConfig):
            store = make_store(store.url, **dict(store.options))
        elif isinstance(store, str):
            store = make_store(store)
        self._store: Store = store
        self._state = "new"

    @classmethod
    def from_file(cls, path: str | None = None) -> LaunchPad:
        """From a launchpad YAML (or the documented search order when ``path`` is None)."""
        return cls(locate_launchpad(path))

    # -- lifecycle --------------------------------------------------------------------------------

    @property
    def store(self) -> Store:
        if self._state == "closed":
            raise AfwError("this LaunchPad is closed")
        return self._store

    async def open(self) -> LaunchPad:
        if self._state == "closed":
            raise AfwError("this LaunchPad is closed and cannot be reopened")
        if self._state == "new":
            await self._store.open()
            self._state = "open"
        return self

    async def close(self) -> None:
        if self._state == "open":
            await self._store.close()
        self._state = "closed"

    async def __aenter__(self) -> LaunchPad:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _update(
        self, fw_id: int, fn: Callable[[Workflow, UpdateContext], T], preload: Sequence[int] = ()
    ) -> tuple[T, ChangeSet]:
        return await self.store.update_workflow(fw_id, fn, preload=preload)

    # -- adding -----------------------------------------------------------------------------------

    async def reset(self) -> None:
        """Delete everything in the store (FireWorks ``lpad reset``)."""
        await self.store.reset()

    async def add_wf(self, wf: Workflow | Firework | Mapping[str, Any]) -> dict[int, int]:
        """Add one workflow; returns ``{old_fw_id: new_fw_id}``."""
        return (await self.add_wfs([wf]))[0]

    async def add_wfs(
        self, wfs: Iterable[Workflow | Firework | Mapping[str, Any]]
    ) -> list[dict[int, int]]:
        """Add many workflows with one id allocation and one write."""
        prepared = [_prepare(wf) for wf in wfs]
        return await self.store.insert_workflows(prepared)

    # -- running ----------------------------------------------------------------------------------

    async def checkout_fw(
        self,
        fworker: FWorker,
        launch_dir: str,
        fw_id: int | None = None,
        state: str = "RUNNING",
    ) -> tuple[Firework | None, int | None]:
        """Atomically claim the best runnable Firework for ``fworker`` and start a launch.

        Returns ``(firework, launch_id)``, or ``(None, None)`` when nothing is runnable.
        """
        if fw_id is not None:
            query: dict[str, Any] = {"fw_id": fw_id, "state": {"$in": ["READY", "RESERVED"]}}
        else:
            query = {"$and": [fworker.checkout_query(), {"state": "READY"}]}

        def fn(wf: Workflow, ctx: UpdateContext, chosen: int) -> tuple[Firework, Launch]:
            return lpops.checkout(
                wf, ctx, chosen, fworker=fworker, launch_dir=launch_dir, state=state
            )

        found = await self.store.checkout(query, CHECKOUT_SORT, fn)
        if found is None:
            return None, None
        (fw, launch), _ = found
        return fw, launch.launch_id

    async def reserve_fw(
        self, fworker: FWorker, launch_dir: str, fw_id: int | None = None
    ) -> tuple[Firework | None, int | None]:
        """Claim a Firework for a queue submission (state RESERVED)."""
        return await self.checkout_fw(fworker, launch_dir, fw_id, state="RESERVED")

    async def ping_launch(
        self, launch_id: int, ptime: str | None = None, checkpoint: dict[str, Any] | None = None
    ) -> bool:
        """Heartbeat (and checkpoint) of a RUNNING launch; False if it is no longer RUNNING."""
        return await self.store.touch_launch(launch_id, ptime or now_iso(), checkpoint)

    async def complete_launch(
        self,
        launch_id: int,
        action: FWAction | Mapping[str, Any] | None = None,
        state: str = "COMPLETED",
    ) -> bool:
        """Finish a launch, apply its action and refresh its workflow.

        Returns False when the launch was already finished (nothing applied twice).
        """
        action_dict = action.to_dict() if isinstance(action, FWAction) else dict(action or {})
        action_dict = FWAction.from_dict(action_dict).to_dict()
        holders = (await self.store.fw_ids_of_launches([launch_id])).get(launch_id, [])
        if not holders:
            launches = await self.store.get_launches([launch_id])
            if not launches:
                raise NotFoundError(f"no launch with id {launch_id}", launch_id=launch_id)
            log.warning(
                "launch %s is no longer current (rerun or archived): result kept on the launch",
                launch_id,
            )
            await self._finish_orphan(launches[0], action_dict, state)
            return False

        def fn(wf: Workflow, _ctx: UpdateContext) -> bool:
            return lpops.complete(wf, holders, launch_id, action_dict, state)

        applied, _ = await self._update(holders[0], fn, preload=holders)
        return applied

    async def _finish_orphan(self, launch: Launch, action: dict[str, Any], state: str) -> None:
        if launch.state in ("COMPLETED", "FIZZLED"):
            return
        launch.action = action
        launch.set_state(state)
        doc = launch.to_db_dict()
        await self.store.update_launch_fields(
            launch.launch_id,
            {k: doc[k] for k in ("state", "action", "state_history", "time_end", "runtime_secs")},
        )

    async def mark_fizzled(self, launch_id: int) -> bool:
        return await self.complete_launch(launch_id, None, "FIZZLED")

    async def change_launch_dir(self, launch_id: int, launch_dir: str) -> None:
        await self.store.update_launch_fields(launch_id, {"launch_dir": launch_dir})

    async def set_reservation_id(self, launch_id: int, reservation_id: str | int) -> None:
        """Record the queue job id on the launch's RESERVED history entry."""
        launches = await self.store.get_launches([launch_id])
        if not launches:
            raise NotFoundError(f"no launch with id {launch_id}", launch_id=launch_id)
        history = launches[0].state_history
        for entry in history:
            if entry["state"] == "RESERVED" and "reservation_id" not in entry:
                entry["reservation_id"] = str(reservation_id)
                break
        await self.store.update_launch_fields(launch_id, {"state_history": history})

    # -- state commands ---------------------------------------------------------------------------

    async def _each(self, fw_ids: Sequence[int], op: Callable[[Workflow, int], bool]) -> list[int]:
        """Apply a per-Firework op, one store update per workflow; returns the ids changed."""
        changed: list[int] = []
        for group in await self._group_by_workflow(fw_ids):

            def fn(wf: Workflow, _ctx: UpdateContext, group: list[int] = group) -> list[int]:
                wf.need(group)
                return [i for i in group if op(wf, i)]

            done, _ = await self._update(group[0], fn, preload=group)
            changed.extend(done)
        return changed

    async def _group_by_workflow(self, fw_ids: Sequence[int]) -> list[list[int]]:
        return await group_by_workflow(self.store, fw_ids)

    async def defuse_fws(self, fw_ids: Sequence[int]) -> list[int]:
        return await self._each(fw_ids, lpops.defuse)

    async def pause_fws(self, fw_ids: Sequence[int]) -> list[int]:
        return await self._each(fw_ids, lpops.pause)

    async def reignite_fws(self, fw_ids: Sequence[int]) -> list[int]:
        return await self._each(fw_ids, lpops.reignite)

    async def resume_fws(self, fw_ids: Sequence[int]) -> list[int]:
        return await self._each(fw_ids, lpops.resume)

    async def defuse_fw(self, fw_id: int) -> bool:
        return bool(await self.defuse_fws([fw_id]))

    async def pause_fw(self, fw_id: int) -> bool:
        return bool(await self.pause_fws([fw_id]))

    async def reignite_fw(self, fw_id: int) -> bool:
        return bool(await self.reignite_fws([fw_id]))

    async def resume_fw(self, fw_id: int) -> bool:
        return bool(await self.resume_fws([fw_id]))

    async def _whole_wf(self, fw_id: int, op: Callable[[Workflow], bool]) -> bool:
        def fn(wf: Workflow, _ctx: UpdateContext) -> bool:
            wf.need(wf.links)
            return op(wf)

        changed, _ = await self._update(fw_id, fn)
        return changed

    async def defuse_wf(self, fw_id: int, defuse_all_states: bool = True) -> bool:
        """Defuse every Firework of the workflow (COMPLETED/FIZZLED too unless told not to)."""

        def op(wf: Workflow) -> bool:
            skip = () if defuse_all_states else ("COMPLETED", "FIZZLED")
            ids = [i for i in wf.links if wf.fw_states[i] not in skip]
            changed = [lpops.defuse(wf, i) for i in ids]
            return any(changed)

        return await self._whole_wf(fw_id, op)

    async def pause_wf(self, fw_id: int) -> bool:
        def op(wf: Workflow) -> bool:
            changed = [lpops.pause(wf, i) for i in list(wf.links)]
            return any(changed)

        return await self._whole_wf(fw_id, op)

    async def reignite_wf(self, fw_id: int) -> bool:
        def op(wf: Workflow) -> bool:
            changed = [lpops.reignite(wf, i) for i in sorted(wf.links)]
            return any(changed)

        return await self._whole_wf(fw_id, op)

    async def archive_wf(self, fw_id: int) -> bool:
        return await self._whole_wf(fw_id, lpops.archive_all)

    async def delete_wf(self, fw_id: int, delete_launch_dirs: bool = False) -> list[str]:
        """Delete a workflow with its Fireworks, launches and offline runs."""
        dirs = await self.store.delete_workflows([fw_id])
        if delete_launch_dirs:
            await _remove_dirs(dirs)
        return dirs

    async def set_priority(self, fw_id: int, priority: float) -> None:
        await self.update_spec([fw_id], {"_priority": priority}, any_state=True)

    async def update_spec(
        self, fw_ids: Sequence[int], spec_document: Mapping[str, Any], *, any_state: bool = False
    ) -> list[int]:
        """Set spec keys (dotted paths allowed) on inactive Fireworks; returns the ids changed."""

        def op(wf: Workflow, fw_id: int) -> bool:
            return lpops.set_spec(wf, fw_id, spec_document, any_state=any_state)

        return await self._each(fw_ids, op)

    # -- reruns -----------------------------------------------------------------------------------

    async def cancel_reservation(self, launch_id: int) -> list[int]:
        """Release a reservation: its Fireworks are rerun (the queue job is not touched)."""
        holders = (await self.store.fw_ids_of_launches([launch_id])).get(launch_id, [])

        def fn(wf: Workflow, _ctx: UpdateContext) -> list[int]:
            out: list[int] = []
            for fw_id in holders:
                fw = wf.fw(fw_id)
                if fw.state == "RESERVED":
                    out.extend(rerun_fw(wf, fw_id))
            return out

        if not holders:
            return []
        done, _ = await self._update(holders[0], fn, preload=holders)
        return done

    async def refresh_fws(self, fw_ids: Sequence[int]) -> list[int]:
        """Recompute the states of these Fireworks (repairs inconsistent ones)."""

        def op(wf: Workflow, fw_id: int) -> bool:
            before = wf.fw_states[fw_id]
            refresh(wf, fw_id)
            return wf.fw_states[fw_id] != before

        return await self._each(fw_ids, op)

    # -- offline bookkeeping ----------------------------------------------------------------------

    async def add_offline_run(self, launch_id: int, fw_id: int, name: str) -> None:
        when = now_iso()
        await self.store.add_offline_runs([OfflineRun(launch_id, fw_id, name, when, when)])

    async def forget_offline(
        self, *, launch_ids: Sequence[int] = (), fw_ids: Sequence[int] = ()
    ) -> int:
        """Stop recovering these offline runs; their Fireworks keep their state."""
        return await self.store.forget_offline(launch_ids=launch_ids, fw_ids=fw_ids)


def _prepare(wf: Workflow | Firework | Mapping[str, Any]) -> Workflow:
    wf = as_workflow(wf)
    for root in wf.root_fw_ids:
        refresh(wf, root)
    return wf


async def _remove_dirs(dirs: Iterable[str]) -> None:
    import shutil

    import anyio.to_thread

    def remove() -> None:
        for d in dirs:
            if d:
                shutil.rmtree(d, ignore_errors=True)

    await anyio.to_thread.run_sync(remove)
