"""One batch of an offline-recovery sweep: classify the statuses read from the launch dirs, apply
the changes grouped by workflow in one :meth:`~afw.db.base.Store.update_workflows` call, then
close or stamp the offline-run records in one bulk write.

Used by :func:`afw.recovery.recover_offline`; see there for the pipeline around it.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from afw.db.base import OfflineRun, Store, UpdateContext, WorkflowFn
from afw.fs.base import Fingerprint
from afw.fs.status import OfflineStatus
from afw.launch import Launch
from afw.offline_logic import Outcome, apply_offline_status, apply_to_launch, check_status
from afw.timeutil import now_iso
from afw.workflow import Workflow

__all__ = ["Candidate", "RecoverySummary", "fingerprint_key", "process_batch"]

log = logging.getLogger("afw.recovery")


@dataclass(frozen=True, slots=True)
class Candidate:
    """A launch to look at: ``run`` is its offline record (``None`` for an online launch whose
    Rocket may have left ``FW_action.json``); ``launch`` is ``None`` when the store lacks it."""

    launch_id: int
    run: OfflineRun | None
    launch: Launch | None


@dataclass
class RecoverySummary:
    """Counts of one sweep. ``recovered``: runs whose store records changed (finished, started,
    new heartbeat or checkpoint); ``completed``/``fizzled``: finished in this sweep;
    ``already_done``: finished earlier (an interrupted or concurrent sweep), record now closed;
    ``unchanged``: launch dir not changed since the last sweep, skipped; ``orphaned``: launch no
    longer current (rerun or cancelled): a final result is kept on the launch only, and a run
    whose dir is gone, unreadable or taken by a later launch is forgotten; ``vanished``: launch
    dir gone (left for ``detect_lostruns``); ``errors``: files not readable yet (retried next
    sweep, never FIZZLED). ``problems`` lists ``(launch_id, message)`` of errors and vanished."""

    recovered: int = 0
    completed: int = 0
    fizzled: int = 0
    running: int = 0
    queued: int = 0
    unchanged: int = 0
    already_done: int = 0
    orphaned: int = 0
    vanished: int = 0
    errors: int = 0
    problems: list[tuple[int, str]] = field(default_factory=list)

    @property
    def seen(self) -> int:
        """How many runs this sweep has dealt with so far."""
        done = self.completed + self.fizzled + self.running + self.queued + self.already_done
        return done + self.unchanged + self.orphaned + self.vanished + self.errors

    def count(self, outcome: Outcome) -> None:
        setattr(self, outcome.kind, getattr(self, outcome.kind) + 1)
        if outcome.changed:
            self.recovered += 1

    def problem(self, launch_id: int, message: str, *, vanished: bool = False, echo: bool) -> None:
        if vanished:
            self.vanished += 1
        else:
            self.errors += 1
        self.problems.append((launch_id, message))
        if echo:
            log.warning("launch %s: %s", launch_id, message)

    def to_dict(self, *, details: bool = False) -> dict[str, Any]:
        """The JSON summary; ``details`` adds the problem list."""
        out: dict[str, Any] = {
            name: getattr(self, name)
            for name in ("recovered", "completed", "fizzled", "running", "queued", "unchanged")
        }
        out.update(
            already_done=self.already_done,
            orphaned=self.orphaned,
            vanished=self.vanished,
            errors=self.errors,
        )
        if details:
            out["problems"] = [{"launch_id": i, "message": m} for i, m in self.problems]
        return out


def fingerprint_key(fingerprint: Fingerprint | None) -> str | None:
    """The short text stored in ``offline_runs.fingerprint`` (``None`` never matches)."""
    if fingerprint is None:
        return None
    digest = hashlib.blake2b(orjson.dumps(fingerprint), digest_size=16)
    return digest.hexdigest()


@dataclass
class _Work:
    """A status that changes its launch: (candidate, status, fingerprint key, outcome on the
    pager's copy of the launch)."""

    cand: Candidate
    status: OfflineStatus
    key: str | None
    pre: Outcome


@dataclass
class _Plan:
    work: list[_Work] = field(default_factory=list)
    problems: list[tuple[Candidate, str, bool]] = field(default_factory=list)
    records: dict[int, dict[str, Any]] = field(default_factory=dict)

    def note(self, cand: Candidate, key: str | None, now: str, *, final: bool = False) -> None:
        """Stamp the offline record (fingerprint; closed when the run is over)."""
        if cand.run is None:
            return
        fields: dict[str, Any] = {"updated_on": now, "fingerprint": key}
        if final:
            fields["completed"] = True
        self.records[cand.launch_id] = fields

    def forget(self, cand: Candidate, now: str) -> None:
        if cand.run is not None:
            self.records[cand.launch_id] = {"updated_on": now, "deprecated": True}


def _classify(
    cand: Candidate,
    status: OfflineStatus | None,
    now: str,
    plan: _Plan,
    summary: RecoverySummary,
    echo: bool,
) -> None:
    lid, online = cand.launch_id, cand.run is None
    if cand.launch is None:
        summary.problem(lid, f"launch {lid} is not in the store", echo=echo)
        return
    if status is None:
        plan.problems.append((cand, f"launch {lid} has no launch dir", False))
        return
    if online and (status.error or not status.finished):
        return  # an online run still going (or not ours to judge): nothing to pick up
    if status.error:
        plan.problems.append((cand, status.error, not status.dir_exists))
        return
    key = fingerprint_key(status.fingerprint)
    if cand.run is not None and key is not None and cand.run.fingerprint == key:
        summary.unchanged += 1
        return
    bad = check_status(status)
    if bad:
        plan.problems.append((cand, bad, False))
        return
    pre = apply_to_launch(cand.launch, status, now)
    if pre.changed:
        plan.work.append(_Work(cand, status, key, pre))
        return
    summary.count(pre)
    plan.note(cand, key, now, final=pre.final)


def _item(
    group: Sequence[_Work], holders: Mapping[int, list[int]], now: str
) -> tuple[int, WorkflowFn[list[Outcome]]]:
    fw_ids = [holders[w.cand.launch_id] for w in group]

    def fn(wf: Workflow, _ctx: UpdateContext) -> list[Outcome]:
        wf.need({i for ids in fw_ids for i in ids})
        return [
            apply_offline_status(wf, ids, w.cand.launch_id, w.status, now)
            for w, ids in zip(group, fw_ids, strict=True)
        ]

    return fw_ids[0][0], fn


async def _groups(
    store: Store, work: Sequence[_Work], holders: Mapping[int, list[int]]
) -> list[list[_Work]]:
    """One group per workflow (so each workflow is loaded and written once per batch)."""
    firsts = sorted({holders[w.cand.launch_id][0] for w in work})
    wf_of = await store.wf_keys_of_fws(firsts)
    groups: dict[Any, list[_Work]] = {}
    for w in work:
        first = holders[w.cand.launch_id][0]
        groups.setdefault(wf_of.get(first, ("alone", first)), []).append(w)
    return list(groups.values())


async def _apply(
    store: Store, work: Sequence[_Work], holders: Mapping[int, list[int]], now: str
) -> dict[int, Outcome | Exception]:
    """Run the workflow updates. A workflow whose group fails is retried run by run (one run
    of it per call, so a store that runs items concurrently never has two on one workflow):
    one bad action does not hold back the other runs of its workflow."""
    out: dict[int, Outcome | Exception] = {}
    pending = await _groups(store, work, holders)
    retry: list[list[_Work]] = []
    while pending:
        results = await store.update_workflows([_item(g, holders, now) for g in pending])
        for group, result in zip(pending, results, strict=True):
            if isinstance(result, Exception) and len(group) > 1:
                retry.append(list(group))
            elif isinstance(result, Exception):
                out[group[0].cand.launch_id] = result
            else:
                out.update((w.cand.launch_id, o) for w, o in zip(group, result[0], strict=True))
        pending = [[runs.pop(0)] for runs in retry if runs]
        retry = [runs for runs in retry if runs]
    return out


async def _keep_on_launch(store: Store, launch: Launch) -> None:
    """A finished run whose launch is no longer current: keep the result on the launch."""
    doc = launch.to_db_dict()
    names = ("state", "action", "state_history", "time_start", "time_end", "runtime_secs")
    await store.update_launch_fields(launch.launch_id, {k: doc[k] for k in names})


def _settle_problems(
    plan: _Plan, holders: Mapping[int, list[int]], summary: RecoverySummary, now: str, echo: bool
) -> None:
    for cand, message, vanished in plan.problems:
        if holders.get(cand.launch_id):
            summary.problem(cand.launch_id, message, vanished=vanished, echo=echo)
        else:
            # Rerun or cancelled, and its dir is gone, unreadable or taken by a later launch:
            # nothing will ever come back for this launch.
            summary.orphaned += 1
            plan.forget(cand, now)


async def _settle_work(
    store: Store,
    plan: _Plan,
    holders: Mapping[int, list[int]],
    outcomes: Mapping[int, Outcome | Exception],
    summary: RecoverySummary,
    now: str,
    echo: bool,
) -> None:
    for w in plan.work:
        result = outcomes.get(w.cand.launch_id, Outcome("not_current", False))
        if isinstance(result, Exception):
            message = f"could not apply {w.status.path}: {result}"
            summary.problem(w.cand.launch_id, message, echo=echo)
        elif result.kind != "not_current":
            summary.count(result)
            plan.note(w.cand, w.key, now, final=result.final)
        else:
            # Rerun or cancelled since it was reserved (or between our read and our write).
            summary.orphaned += 1
            if holders.get(w.cand.launch_id):
                continue  # raced with a rerun inside this batch: look again next sweep
            if w.pre.final and w.cand.launch is not None:
                await _keep_on_launch(store, w.cand.launch)
            plan.note(w.cand, w.key, now, final=w.pre.final)


async def process_batch(
    store: Store,
    batch: Sequence[Candidate],
    statuses: Sequence[OfflineStatus | None],
    summary: RecoverySummary,
    *,
    echo: bool = False,
) -> None:
    """Apply one batch of statuses (parallel to ``batch``) and update ``summary``.

    Store round trips per batch: one ``fw_ids_of_launches``, one ``wf_keys_of_fws``, one
    ``update_workflows`` (a second one only when a workflow's group failed and is retried run
    by run), one ``update_offline_runs``. ``echo`` logs every problem as it is found.
    """
    now = now_iso()
    plan = _Plan()
    for cand, status in zip(batch, statuses, strict=True):
        _classify(cand, status, now, plan, summary, echo)
    ids = [w.cand.launch_id for w in plan.work] + [c.launch_id for c, _, _ in plan.problems]
    holders = await store.fw_ids_of_launches(ids) if ids else {}
    _settle_problems(plan, holders, summary, now, echo)
    attached = [w for w in plan.work if holders.get(w.cand.launch_id)]
    outcomes = await _apply(store, attached, holders, now) if attached else {}
    await _settle_work(store, plan, holders, outcomes, summary, now, echo)
    if plan.records:
        await store.update_offline_runs(plan.records)
