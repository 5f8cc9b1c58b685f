"""The LaunchPad's maintenance operations: FireWorks' ``append_wf``, ``lpad admin`` (``unlock``,
``refresh``, ``tuneup``, ``maintain``) and the reservation-id queries (``get_qids``,
``cancel_qid``).

Mixed into :class:`afw.LaunchPad`; every operation goes through the store's own update path, so a
workflow is loaded and written once per command.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from afw.config import RESERVATION_EXPIRATION_SECS, RUN_EXPIRATION_SECS
from afw.db import UpdateContext
from afw.errors import ConfigError, NotFoundError
from afw.firework import Firework
from afw.lp_queries import LaunchPadQueries
from afw.lp_reruns import group_by_workflow
from afw.wflogic import append_wf, refresh, topological
from afw.workflow import Workflow

__all__ = ["LaunchPadAdmin", "MaintainReport", "as_workflow"]


@dataclass(frozen=True, slots=True)
class MaintainReport:
    """What one ``maintain`` pass did: lost launches fizzled (with their Fireworks) and stale
    reservations cancelled."""

    fizzled_launch_ids: list[int]
    fizzled_fw_ids: list[int]
    cancelled_launch_ids: list[int]

    def to_dict(self) -> dict[str, list[int]]:
        return {
            "fizzled_launch_ids": self.fizzled_launch_ids,
            "fizzled_fw_ids": self.fizzled_fw_ids,
            "cancelled_launch_ids": self.cancelled_launch_ids,
        }


def as_workflow(wf: Workflow | Firework | Mapping[str, Any]) -> Workflow:
    """A Workflow from a Workflow, a bare Firework (wrapped, as FireWorks does) or a
    FireWorks-format dict."""
    from afw.serialize import load_workflow

    if isinstance(wf, Workflow):
        return wf
    if isinstance(wf, Firework):
        return Workflow.create([wf], name=wf.name)
    return load_workflow(dict(wf))


class LaunchPadAdmin(LaunchPadQueries):
    """Maintenance operations of the LaunchPad (mixed into :class:`afw.LaunchPad`)."""

    async def append_wf(
        self,
        new_wf: Workflow | Firework | Mapping[str, Any],
        fw_ids: Sequence[int],
        *,
        detour: bool = False,
        pull_spec_mods: bool = True,
    ) -> dict[int, int]:
        """Append ``new_wf`` below the Fireworks ``fw_ids`` of one workflow (FireWorks
        ``append_wf``); returns ``{id in new_wf: new fw_id}``.

        With ``detour`` the parents' children move below the new workflow's leaves (refused when
        one has started); with ``pull_spec_mods`` the new roots receive the ``update_spec`` and
        ``mod_spec`` of COMPLETED parents, as FireWorks does.
        """
        parents = list(dict.fromkeys(int(i) for i in fw_ids))
        if not parents:
            raise ConfigError("append_wf needs at least one parent Firework id")
        groups = await group_by_workflow(self.store, parents)
        if len(groups) > 1:
            raise ConfigError("append_wf: the parent Fireworks belong to different workflows")
        addition = as_workflow(new_wf)
        old_ids = sorted(addition.links)

        def fn(wf: Workflow, _ctx: UpdateContext) -> None:
            wf.need(parents)
            try:
                append_wf(
                    wf,
                    Workflow.from_dict(addition.to_dict()),
                    parents,
                    detour=detour,
                    pull_spec_mods=pull_spec_mods,
                )
            except ValueError as exc:
                raise ConfigError(str(exc)) from None

        _, changes = await self.store.update_workflow(parents[0], fn, preload=parents)
        # append_wf numbers the additions -1, -2, ... in the order of their ids in new_wf, and
        # the store hands out real ids in that same order (changeset.id_order).
        return dict(zip(old_ids, sorted(changes.new_fw_ids), strict=True))

    async def unlock_wfs(self, fw_ids: Sequence[int]) -> int:
        """Force-release the workflow locks of the workflows holding ``fw_ids`` (FireWorks
        ``lpad admin unlock``); returns how many were locked. An interrupted afw write recorded
        in the workflow is still completed by its next writer."""
        return await self.store.unlock_workflows(fw_ids)

    async def refresh_wfs(self, fw_ids: Sequence[int]) -> list[int]:
        """Recompute the state of every Firework of the workflows holding ``fw_ids``, parents
        before children (FireWorks ``lpad admin refresh``); returns the ids whose state changed."""
        changed: list[int] = []
        for fw_id in dict.fromkeys(int(i) for i in fw_ids):
            docs = await self.store.get_wf_docs([fw_id])
            if not docs:
                raise NotFoundError(f"no Firework with id {fw_id}", fw_id=fw_id)
            members = [int(n) for n in docs[0].get("nodes") or []]

            def fn(wf: Workflow, _ctx: UpdateContext, members: list[int] = members) -> list[int]:
                wf.need(members)
                before = dict(wf.fw_states)
                for node in topological(wf, wf.links):
                    refresh(wf, node)
                return sorted(i for i, state in wf.fw_states.items() if before.get(i) != state)

            done, _ = await self.store.update_workflow(fw_id, fn, preload=members)
            changed.extend(done)
        return changed

    async def tuneup(self, *, full: bool = False) -> None:
        """Rebuild the store's indexes and statistics (FireWorks ``lpad admin tuneup``); with
        ``full`` also compact it."""
        await self.store.tuneup(full=full)

    async def maintain(
        self,
        lost_secs: float = RUN_EXPIRATION_SECS,
        reservation_secs: float = RESERVATION_EXPIRATION_SECS,
    ) -> MaintainReport:
        """One FireWorks ``maintain`` pass: fizzle lost runs, then cancel stale reservations."""
        lost = await self.detect_lostruns(lost_secs, fizzle=True)
        cancelled = await self.detect_unreserved(reservation_secs, rerun=True)
        return MaintainReport(list(lost[0]), list(lost[1]), cancelled)

    async def get_reservation_id_from_fw_id(self, fw_id: int) -> str | None:
        """The queue job id recorded on the current launch of Firework ``fw_id`` (or ``None``)."""
        fws = await self.store.get_fws([fw_id])
        if not fws:
            raise NotFoundError(f"no Firework with id {fw_id}", fw_id=fw_id)
        for launch in reversed(fws[0].launches):
            for entry in launch.state_history:
                if entry.get("reservation_id") is not None:
                    return str(entry["reservation_id"])
        return None

    async def get_fw_ids_from_reservation_id(self, reservation_id: str | int) -> list[int]:
        """The Fireworks whose current launch carries this queue job id."""
        query = {"state_history.reservation_id": str(reservation_id)}
        holders = await self.store.fw_ids_of_launches(await self.store.find_launch_ids(query))
        return sorted({i for ids in holders.values() for i in ids})

    async def cancel_reservation_by_reservation_id(self, reservation_id: str | int) -> list[int]:
        """Cancel the reservations made for this queue job id (the job itself is not touched);
        returns the Fireworks released."""
        query = {"state": "RESERVED", "state_history.reservation_id": str(reservation_id)}
        released: list[int] = []
        for launch_id in await self.store.find_launch_ids(query):
            released.extend(await self.cancel_reservation(launch_id))
        return released
