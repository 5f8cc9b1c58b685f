"""The LaunchPad's read side: lookups, queries, summaries and lost-run detection."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from afw.config import RESERVATION_EXPIRATION_SECS, RUN_EXPIRATION_SECS
from afw.db import SortSpec, Store
from afw.errors import NotFoundError
from afw.firework import Firework
from afw.fworker import FWorker
from afw.launch import Launch
from afw.reruns import has_checkpoint
from afw.timeutil import now, parse_iso, to_iso
from afw.workflow import Workflow

__all__ = ["LaunchPadQueries", "LostRuns"]

LostRuns = tuple[list[int], list[int], list[int]]


class LaunchPadQueries:
    """Read operations of the LaunchPad (mixed into :class:`afw.LaunchPad`)."""

    @property
    def store(self) -> Store:
        raise NotImplementedError

    # Write operations the detectors use; provided by :class:`afw.LaunchPad`.
    async def mark_fizzled(self, launch_id: int) -> bool:
        raise NotImplementedError

    async def forget_offline(
        self, *, launch_ids: Sequence[int] = (), fw_ids: Sequence[int] = ()
    ) -> int:
        raise NotImplementedError

    async def rerun_fws(
        self,
        fw_ids: Sequence[int],
        *,
        task_level: bool = False,
        recover_mode: str | None = None,
        clear_recovery: bool = False,
    ) -> list[int]:
        raise NotImplementedError

    async def refresh_fws(self, fw_ids: Sequence[int]) -> list[int]:
        raise NotImplementedError

    async def cancel_reservation(self, launch_id: int) -> list[int]:
        raise NotImplementedError

    async def get_fw_by_id(self, fw_id: int) -> Firework:
        fws = await self.store.get_fws([fw_id])
        if not fws:
            raise NotFoundError(f"no Firework with id {fw_id}", fw_id=fw_id)
        return fws[0]

    async def get_fw_dict_by_id(self, fw_id: int) -> dict[str, Any]:
        """FireWorks' file form of a Firework, archived launches included."""
        fw = await self.get_fw_by_id(fw_id)
        archived = await self.store.get_launches(fw.archived_launch_ids)
        return fw.to_dict(archived)

    async def get_wf_by_fw_id(self, fw_id: int) -> Workflow:
        return await self.store.load_workflow(fw_id)

    async def get_launch_by_id(self, launch_id: int) -> Launch:
        launches = await self.store.get_launches([launch_id])
        if not launches:
            raise NotFoundError(f"no launch with id {launch_id}", launch_id=launch_id)
        return launches[0]

    async def get_launchdir(self, fw_id: int, launch_idx: int = -1) -> str | None:
        fw = await self.get_fw_by_id(fw_id)
        try:
            return fw.launches[launch_idx].launch_dir
        except IndexError:
            return None

    async def get_fw_ids(
        self,
        query: Mapping[str, Any] | None = None,
        sort: SortSpec = (),
        limit: int = 0,
        count_only: bool = False,
        launches_mode: bool = False,
    ) -> list[int] | int:
        """fw_ids matching ``query`` (on launches with ``launches_mode``), or their count."""
        query = dict(query or {})
        if launches_mode:
            ids = await self.store.find_launch_fw_ids(query, sort, limit)
            return len(ids) if count_only else ids
        if count_only:
            return await self.store.count_fws(query)
        return await self.store.find_fw_ids(query, sort, limit)

    async def get_wf_ids(
        self,
        query: Mapping[str, Any] | None = None,
        sort: SortSpec = (),
        limit: int = 0,
        count_only: bool = False,
    ) -> list[int] | int:
        """One fw_id per workflow matching ``query`` (on the workflow documents)."""
        if count_only:
            return await self.store.count_wfs(dict(query or {}))
        return await self.store.find_wf_ids(dict(query or {}), sort, limit)

    async def get_wf_summaries(self, fw_ids: Sequence[int], mode: str) -> list[dict[str, Any]]:
        """``lpad get_wflows -d less|more|all`` summaries, one per workflow."""
        docs = await self.store.get_wf_docs(fw_ids)
        out = []
        for doc in docs:
            out.append(await self._wf_summary(doc, mode))
        return out

    async def _wf_summary(self, doc: Mapping[str, Any], mode: str) -> dict[str, Any]:
        states: dict[str, str] = doc.get("fw_states") or {}
        summary: dict[str, Any] = {
            "fw_id": min(int(n) for n in doc["nodes"]),
            "name": doc.get("name"),
            "state": doc.get("state"),
            "created_on": doc.get("created_on"),
            "states_list": "-".join(states[str(n)][:2] for n in sorted(doc["nodes"])),
        }
        if mode in ("more", "all"):
            fws = await self.store.get_fw_docs(sorted(doc["nodes"]), ["fw_id", "name", "state"])
            summary["updated_on"] = doc.get("updated_on")
            summary["states"] = {f"{d['name']}--{d['fw_id']}": d["state"] for d in fws}
        if mode == "all":
            wf = await self.store.load_workflow(summary["fw_id"])
            summary["workflow"] = wf.to_dict()
        return summary

    async def get_recovery(self, launch_id: int) -> dict[str, Any] | None:
        """The launch's last checkpoint plus ``_prev_dir`` and ``_launch_id``."""
        launch = await self.get_launch_by_id(launch_id)
        checkpoint = launch.checkpoint
        if checkpoint is None:
            return None
        return {**checkpoint, "_prev_dir": launch.launch_dir, "_launch_id": launch_id}

    async def run_exists(self, fworker: FWorker) -> bool:
        """Is there a READY Firework this worker may run?"""
        query = {"$and": [fworker.checkout_query(), {"state": "READY"}]}
        return bool(await self.store.find_fw_ids(query, limit=1))

    async def future_run_exists(self, fworker: FWorker) -> bool:
        """A runnable Firework now, or an active one (RUNNING/RESERVED) with WAITING children."""
        if await self.run_exists(fworker):
            return True
        active = await self.store.find_fw_ids({"state": {"$in": ["RUNNING", "RESERVED"]}})
        if not active:
            return False
        for doc in await self.store.get_wf_docs(active):
            links, states = doc["links"], doc["fw_states"]
            for fw_id in active:
                children = links.get(str(fw_id), [])
                if any(states.get(str(c)) == "WAITING" for c in children):
                    return True
        return False

    async def detect_lostruns(
        self,
        expiration_secs: float = RUN_EXPIRATION_SECS,
        *,
        fizzle: bool = False,
        rerun: bool = False,
        task_level: bool = False,
        recover_mode: str | None = None,
        max_runtime: float | None = None,
        min_runtime: float | None = None,
        refresh: bool = False,
        query: Mapping[str, Any] | None = None,
        launch_query: Mapping[str, Any] | None = None,
    ) -> LostRuns:
        """Find RUNNING launches without a heartbeat for ``expiration_secs``.

        Returns ``(lost_launch_ids, lost_fw_ids, inconsistent_fw_ids)``. ``fizzle`` marks lost
        launches FIZZLED (and forgets their offline runs); ``rerun`` also reruns the lost
        Fireworks (with ``task_level``, those whose launch recorded a checkpoint resume at the
        task that was running, FireWorks #270, in a copy of the old launch dir with
        ``recover_mode="cp"`` or in it with ``"prev_dir"``); ``refresh`` repairs inconsistent
        ones.
        """
        cutoff = now() - timedelta(seconds=expiration_secs)
        lquery: dict[str, Any] = {"state": "RUNNING", **dict(launch_query or {})}
        running = await self.store.get_launches(await self.store.find_launch_ids(lquery))
        lost = [la for la in running if _is_lost(la, cutoff, min_runtime, max_runtime)]
        holders = await self.store.fw_ids_of_launches([la.launch_id for la in lost])
        fw_query = {"state": "RUNNING", **dict(query or {})}
        candidates = {i for ids in holders.values() for i in ids}
        allowed = set(
            await self.store.find_fw_ids(
                {"$and": [fw_query, {"fw_id": {"$in": sorted(candidates)}}]}
            )
        )
        lost_ids = {la.launch_id for la in lost}
        lost_fws = []
        resumable: set[int] = (
            set()
        )  # lost runs whose launch recorded a checkpoint (task-level rerun)
        for fw in await self.store.get_fws(sorted(allowed)):
            if all(
                la.launch_id in lost_ids or la.state in ("FIZZLED", "ARCHIVED")
                for la in fw.launches
            ):
                lost_fws.append(fw.fw_id)
                if has_checkpoint(fw):
                    resumable.add(fw.fw_id)
        inconsistent = await self._inconsistent_fws(fw_query)
        if fizzle or rerun:
            for launch_id in sorted(lost_ids):
                await self.mark_fizzled(launch_id)
            await self.forget_offline(launch_ids=sorted(lost_ids))
            if rerun and lost_fws:
                at_task = sorted(resumable) if task_level else []
                rest = [i for i in lost_fws if not (task_level and i in resumable)]
                if at_task:
                    await self.rerun_fws(at_task, task_level=True, recover_mode=recover_mode)
                if rest:
                    await self.rerun_fws(rest)
        if refresh and inconsistent:
            await self.refresh_fws(inconsistent)
        return sorted(lost_ids), lost_fws, inconsistent

    async def _inconsistent_fws(self, fw_query: Mapping[str, Any]) -> list[int]:
        running = await self.store.find_fw_ids(fw_query)
        out = []
        for fw in await self.store.get_fws(running):
            if any(la.state in ("COMPLETED", "FIZZLED") for la in fw.launches):
                out.append(fw.fw_id)
        return out

    async def detect_unreserved(
        self, expiration_secs: float = RESERVATION_EXPIRATION_SECS, rerun: bool = False
    ) -> list[int]:
        """RESERVED launches older than ``expiration_secs`` whose Firework is still RESERVED;
        with ``rerun`` their reservations are cancelled. Returns the launch ids."""
        cutoff = to_iso(now() - timedelta(seconds=expiration_secs))
        reserved = await self.store.get_launches(
            await self.store.find_launch_ids({"state": "RESERVED"})
        )
        stale = []
        for launch in reserved:
            entry = next((e for e in launch.state_history if e["state"] == "RESERVED"), None)
            stamp = entry.get("updated_on") or entry.get("created_on") if entry else None
            if stamp and _iso(stamp) <= cutoff:
                stale.append(launch.launch_id)
        holders = await self.store.fw_ids_of_launches(stale)
        states = {
            d["fw_id"]: d["state"]
            for d in await self.store.get_fw_docs(
                sorted({i for ids in holders.values() for i in ids}), ["fw_id", "state"]
            )
        }
        stale = [
            lid for lid in stale if any(states.get(i) == "RESERVED" for i in holders.get(lid, []))
        ]
        if rerun:
            for launch_id in stale:
                await self.cancel_reservation(launch_id)
        return stale


def _iso(stamp: Any) -> str:
    return to_iso(parse_iso(stamp)) if isinstance(stamp, str) else to_iso(stamp)


def _is_lost(
    launch: Launch, cutoff: Any, min_runtime: float | None, max_runtime: float | None
) -> bool:
    entry = next((e for e in launch.state_history if e["state"] == "RUNNING"), None)
    if entry is None:
        return False
    pinged = parse_iso(str(entry.get("updated_on") or entry["created_on"]))
    if pinged > cutoff:
        return False
    runtime = (pinged - parse_iso(str(entry["created_on"]))).total_seconds()
    if min_runtime is not None and runtime < min_runtime:
        return False
    return not (max_runtime is not None and runtime > max_runtime)
