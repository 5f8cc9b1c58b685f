"""The LaunchPad's rerun operations: one workflow load and one write per workflow per command.

The pure work is :func:`afw.reruns.rerun_many`; this module selects the Fireworks (adding
duplicates that share their launches), checks up front that a task-level rerun can resume every
one of them (so a refused command changes nothing), and runs one atomic store update per
workflow (or, for a dry run, the same logic on a loaded copy that is never written).
"""

from __future__ import annotations

from collections.abc import Sequence

from afw.db import Store
from afw.errors import ConfigError, NotFoundError, StateError, StoreError
from afw.reruns import RerunReport, check_recover_mode, has_checkpoint, rerun_many
from afw.workflow import Workflow

__all__ = ["LaunchPadReruns", "group_by_workflow"]


async def group_by_workflow(store: Store, fw_ids: Sequence[int]) -> list[list[int]]:
    """The ids split by workflow, in first-seen order; :class:`NotFoundError` for an unknown id."""
    wanted = list(dict.fromkeys(int(i) for i in fw_ids))
    docs = await store.get_wf_docs(wanted)
    nodes = [{int(n) for n in doc["nodes"]} for doc in docs]
    found = set().union(*nodes)
    missing = [i for i in wanted if i not in found]
    if missing:
        raise NotFoundError(f"no Firework with id {missing[0]}", fw_id=missing[0])
    groups = [[i for i in wanted if i in members] for members in nodes]
    return [g for g in groups if g]


def _launch_id(recover_launch: int | str | None) -> int | None:
    if recover_launch is None or recover_launch == "last":
        return None
    try:
        return int(recover_launch)
    except ValueError:
        message = f"recover_launch must be a launch id or 'last', not {recover_launch!r}"
        raise ConfigError(message) from None


class _NoLaunchIds:
    """The update context of a dry run: a rerun never needs new launch ids."""

    def new_launch_id(self) -> int:
        raise StoreError("a rerun does not create launches")


class LaunchPadReruns:
    """Rerun operations of the LaunchPad (mixed into :class:`afw.LaunchPad`)."""

    @property
    def store(self) -> Store:
        raise NotImplementedError

    async def rerun_fw(
        self,
        fw_id: int,
        *,
        task_level: bool = False,
        recover_mode: str | None = None,
        clear_recovery: bool = False,
        recover_launch: int | str | None = None,
        rerun_duplicates: bool = True,
    ) -> list[int]:
        """Rerun one Firework and its non-WAITING descendants; returns the ids rerun.

        ``task_level`` resumes at the task that was running when the last launch ended (or
        launch ``recover_launch``, which implies ``task_level``; ``"last"`` is the default);
        ``recover_mode`` ``"cp"`` copies the old launch dir into the new one, ``"prev_dir"``
        runs in the old one. ``clear_recovery`` makes the next run start at the first task.
        """
        launch = _launch_id(recover_launch)
        report = await self.rerun_fws_report(
            [fw_id],
            task_level=task_level or recover_launch is not None,
            recover_mode=recover_mode,
            clear_recovery=clear_recovery,
            recover_launch=launch,
            rerun_duplicates=rerun_duplicates,
        )
        return report.rerun

    async def rerun_fws(
        self,
        fw_ids: Sequence[int],
        *,
        task_level: bool = False,
        recover_mode: str | None = None,
        clear_recovery: bool = False,
        rerun_duplicates: bool = True,
    ) -> list[int]:
        """Rerun many Fireworks (see :meth:`rerun_fw`): one load and one write per workflow."""
        report = await self.rerun_fws_report(
            fw_ids,
            task_level=task_level,
            recover_mode=recover_mode,
            clear_recovery=clear_recovery,
            rerun_duplicates=rerun_duplicates,
        )
        return report.rerun

    async def rerun_fws_report(
        self,
        fw_ids: Sequence[int],
        *,
        task_level: bool = False,
        recover_mode: str | None = None,
        clear_recovery: bool = False,
        recover_launch: int | None = None,
        rerun_duplicates: bool = True,
        dry_run: bool = False,
    ) -> RerunReport:
        """:meth:`rerun_fws` with the full :class:`~afw.reruns.RerunReport`; ``dry_run``
        computes it on loaded copies and writes nothing."""
        check_recover_mode(recover_mode)
        if task_level and clear_recovery:
            raise ConfigError("a task-level rerun cannot also clear the recovery")
        ids = list(dict.fromkeys(int(i) for i in fw_ids))
        if rerun_duplicates:
            ids.extend(await self._duplicates(ids))
        if task_level:
            await self._check_resumable(ids, recover_launch)
        report = RerunReport()
        for group in await group_by_workflow(self.store, ids):

            def fn(wf: Workflow, _ctx: object, group: list[int] = group) -> RerunReport:
                return rerun_many(
                    wf,
                    group,
                    task_level=task_level,
                    recover_mode=recover_mode,
                    clear_recovery=clear_recovery,
                    recover_launch=recover_launch,
                )

            if dry_run:
                part = fn(await self.store.load_workflow(group[0]), _NoLaunchIds())
            else:
                part, _ = await self.store.update_workflow(group[0], fn, preload=group)
            report.merge(part)
        return report

    async def _duplicates(self, fw_ids: list[int]) -> list[int]:
        """Other Fireworks sharing current launches with those of ``fw_ids`` that have a
        ``_dupefinder`` (FireWorks reruns them too)."""
        query = {"fw_id": {"$in": fw_ids}, "spec._dupefinder": {"$exists": True}}
        finders = await self.store.find_fw_ids(query)
        if not finders:
            return []
        docs = await self.store.get_fw_docs(finders, ["launches"])
        launch_ids = sorted({int(i) for doc in docs for i in doc.get("launches") or []})
        holders = await self.store.fw_ids_of_launches(launch_ids)
        shared = {i for ids in holders.values() for i in ids}
        return sorted(shared - set(fw_ids))

    async def _check_resumable(self, fw_ids: list[int], launch_id: int | None) -> None:
        fws = await self.store.get_fws(fw_ids)
        missing = [fw.fw_id for fw in fws if not has_checkpoint(fw, launch_id)]
        if not missing:
            return
        which = "their last launch" if launch_id is None else f"launch {launch_id}"
        raise StateError(
            f"cannot rerun Fireworks {missing} at task level: {which} recorded no checkpoint "
            "(rerun them without task level); nothing was rerun",
            fw_id=missing[0],
        )
