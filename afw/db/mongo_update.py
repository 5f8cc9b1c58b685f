"""The write path of the MongoDB store: lock the workflow, load a snapshot piecemeal, run the pure
function on fresh objects until it has what it needs, write the change set through the journal.

Id allocation: launch ids are taken from ``fw_id_assigner`` when the logic asks for one
(:class:`~afw.db.base.NeedLaunchIds`, then the function runs again), new Firework ids with one
``$inc`` once the logic has finished. When the operation fails before anything is written,
the blocks are given back if nobody allocated after them, so a failed operation leaves no gap.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import anyio
import anyio.to_thread

from afw.changeset import ChangeSet
from afw.db.base import NeedLaunchIds, UpdateContext
from afw.db.logic_runner import MAX_ATTEMPTS, finish, try_once
from afw.db.mongo_conn import Collections, Doc
from afw.db.mongo_docs import INTERNAL_FW_FIELDS, as_date, build_firework, pack, unpack
from afw.db.mongo_gridfs import expand_actions, offload_actions
from afw.db.mongo_journal import Journal
from afw.db.mongo_lock import Held, Keeper, WorkflowLocks
from afw.db.mongo_schema import bump_counter, give_back
from afw.errors import LockError, StoreError, StoreUnavailableError
from afw.workflow import NeedFireworks, Workflow

__all__ = [
    "Allocations",
    "Snapshot",
    "cleanup",
    "run_logic",
    "update_workflow",
    "update_workflows",
    "write_changes",
]

log = logging.getLogger("afw.db.mongo")
T = TypeVar("T")
BATCH_CONCURRENCY = 16


class Snapshot:
    """A locked workflow as stored: its document, and the Fireworks (with their current
    launches) loaded so far. Loaded Fireworks' own states win over the document's
    ``fw_states``; a Firework claimed by a checkout in progress shows its state before the
    claim (the claim takes effect when the claimer writes)."""

    def __init__(self, cols: Collections, doc: Mapping[str, Any]) -> None:
        self.cols = cols
        self.wf_id = doc["_id"]
        self.state = str(doc.get("state") or "READY")
        self.links = {int(k): [int(c) for c in v] for k, v in (doc.get("links") or {}).items()}
        self.nodes = {int(n) for n in doc.get("nodes") or self.links}
        self.stored_states = {int(k): str(v) for k, v in (doc.get("fw_states") or {}).items()}
        self.fw_states = dict(self.stored_states)
        keep = ("name", "metadata", "created_on", "updated_on", "state")
        self._base = pack({k: doc[k] for k in keep if k in doc})
        self.fw_data: dict[int, bytes] = {}
        self.launch_data: dict[int, bytes] = {}
        self.claims: dict[int, dict[str, Any]] = {}
        self._tried: set[int] = set()

    async def load(self, fw_ids: Iterable[int]) -> bool:
        """Load these Fireworks and their children; False when there was nothing new."""
        wanted = set(fw_ids)
        for fw_id in list(wanted):
            wanted.update(self.links.get(fw_id, ()))
        wanted = {i for i in wanted if i in self.nodes and i not in self._tried}
        if not wanted:
            return False
        self._tried |= wanted
        docs = await self.cols.fireworks.find({"fw_id": {"$in": sorted(wanted)}}).to_list(None)
        launch_ids = {int(i) for d in docs for i in d.get("launches") or []}
        launch_ids -= set(self.launch_data)
        if launch_ids:
            cursor = self.cols.launches.find({"launch_id": {"$in": sorted(launch_ids)}})
            launches = await cursor.to_list(None)
            await expand_actions(self.cols, launches)
            for launch in launches:
                self.launch_data[int(launch["launch_id"])] = pack(launch, ("_id",))
        for doc in docs:
            self._add(doc)
        return bool(docs)

    def _add(self, doc: Doc) -> None:
        fw_id = int(doc["fw_id"])
        claim = doc.get("afw_claim")
        if isinstance(claim, Mapping) and claim.get("prev"):
            self.claims[fw_id] = dict(claim)
            doc = {**doc, "state": claim["prev"]}
        self.fw_data[fw_id] = pack(doc, INTERNAL_FW_FIELDS)
        self.fw_states[fw_id] = str(doc.get("state") or "WAITING")

    async def load_all(self) -> None:
        await self.load(self.nodes)

    def build(self) -> Workflow:
        """Fresh objects (the logic mutates what it is given)."""
        doc = unpack(self._base)
        doc.update(
            _id=self.wf_id,
            links={str(k): v for k, v in self.links.items()},
            fw_states={str(k): v for k, v in self.fw_states.items()},
        )
        fws = [build_firework(data, self.launch_data) for data in self.fw_data.values()]
        return Workflow.from_db_dict(doc, fws)

    def journal(self, changes: ChangeSet, extra_fws: Sequence[Doc] = ()) -> Journal:
        """What to write: touched Fireworks and launches, the workflow's changed fields
        (``fw_states.<id>`` entries only where they differ from the stored document)."""
        wf = changes.workflow
        diffs = {i: s for i, s in wf.fw_states.items() if self.stored_states.get(i) != s}
        wf_set: dict[str, Any] = {}
        if not changes.empty or diffs:
            wf_set.update(changes.workflow_fields())
            wf_set["updated_on"] = as_date(wf_set["updated_on"])
            wf_set.update({f"fw_states.{i}": s for i, s in sorted(diffs.items())})
        fws = [fw.to_db_dict() for fw in changes.fws] + list(extra_fws)
        return Journal(fws, [la.to_db_dict() for la in changes.launches], wf_set)


class Allocations:
    """Ids taken for one operation: launch ids on demand (the context given to the logic),
    one block of Firework ids; given back on failure when nothing was written."""

    def __init__(self, cols: Collections) -> None:
        self.cols = cols
        self.launch_ids: list[int] = []
        self.blocks: list[tuple[str, int, int]] = []
        self.used = 0
        self.wanted = 0
        self.fw_block: tuple[int, int] | None = None
        self.written = False

    def rewind(self) -> None:
        self.used = 0

    def new_launch_id(self) -> int:
        if self.used >= len(self.launch_ids):
            self.wanted = self.used + 1
            raise NeedLaunchIds
        self.used += 1
        return self.launch_ids[self.used - 1]

    async def top_up(self) -> None:
        n = max(1, self.wanted - len(self.launch_ids))
        first = await bump_counter(self.cols, "next_launch_id", n)
        self.blocks.append(("next_launch_id", first, n))
        self.launch_ids.extend(range(first, first + n))

    async def fw_ids(self, n: int) -> int:
        if self.fw_block is None or self.fw_block[1] != n:
            first = await bump_counter(self.cols, "next_fw_id", n)
            self.blocks.append(("next_fw_id", first, n))
            self.fw_block = (first, n)
        return self.fw_block[0]

    async def give_back(self) -> None:
        if self.written:
            return
        for key, first, n in reversed(self.blocks):
            await give_back(self.cols, key, first, n)
        self.blocks.clear()


async def run_logic(
    snap: Snapshot, fn: Callable[[Workflow, UpdateContext], T], alloc: Allocations
) -> tuple[T, ChangeSet]:
    """Run ``fn`` (in a worker thread, so that lease renewal goes on) until it settles."""
    for _ in range(MAX_ATTEMPTS):
        alloc.rewind()
        outcome = await anyio.to_thread.run_sync(try_once, snap.build, fn, alloc)
        if outcome is None:
            await alloc.top_up()
            continue
        if isinstance(outcome, set):
            if not await snap.load(outcome):
                raise StoreError(
                    f"workflow {snap.wf_id} needs Fireworks {sorted(outcome)} that are not stored"
                )
            continue
        result, wf = outcome
        first = await alloc.fw_ids(len(wf.new_fw_ids)) if wf.new_fw_ids else 0
        try:
            return result, finish(wf, snap.state, _constant(first))
        except NeedFireworks as need:
            if not await snap.load(need.fw_ids):
                raise StoreError(f"workflow {snap.wf_id} needs missing Fireworks") from None
    raise StoreError(f"workflow logic did not settle after {MAX_ATTEMPTS} loads")


def _constant(value: int) -> Callable[[int], int]:
    return lambda _n: value


async def write_changes(
    cols: Collections, held: Held, keeper: Keeper, journal: Journal, alloc: Allocations
) -> None:
    """Write a change set and unlock (see :mod:`afw.db.mongo_journal`)."""
    recorded = bool(journal.fws or journal.launches)
    if recorded:
        await offload_actions(cols, journal.launches)
        await journal.record(cols, held, keeper)
        alloc.written = True
        keeper.drop("claim")  # the claimed Firework's document is rewritten below
        await journal.apply(cols)
    else:
        await keeper.check()
    if await journal.commit(cols, held):
        alloc.written = True
    elif recorded:
        log.warning(
            "workflow %s: lock taken over while committing; its new holder completes this write",
            held.wf_id,
        )
    else:
        raise LockError("the workflow lock was lost before writing; nothing was written")


async def cleanup(locks: WorkflowLocks, held: Held | None, alloc: Allocations | None) -> None:
    """Give ids back and unlock, even when cancelled; failures only cost the lease."""
    with anyio.CancelScope(shield=True), anyio.move_on_after(15):
        try:
            if alloc is not None:
                await alloc.give_back()
            if held is not None:
                await locks.release(held)
        except Exception as exc:
            log.warning("could not release workflow lock %s: %s", held and held.wf_id, exc)


async def update_workflow(
    cols: Collections,
    locks: WorkflowLocks,
    lease_secs: float,
    fw_id: int,
    fn: Callable[[Workflow, UpdateContext], T],
    preload: Sequence[int],
) -> tuple[T, ChangeSet]:
    keeper = Keeper(lease_secs)
    held: Held | None = None
    alloc = Allocations(cols)
    try:
        held = await locks.acquire(fw_id, keeper)
        snap = Snapshot(cols, held.doc)
        await snap.load([fw_id, *preload])
        result, changes = await run_logic(snap, fn, alloc)
        await write_changes(cols, held, keeper, snap.journal(changes), alloc)
        return result, changes
    finally:
        await cleanup(locks, held, alloc)
        await keeper.stop()


async def update_workflows(
    one: Callable[[int, Callable[[Workflow, UpdateContext], T]], Awaitable[tuple[T, ChangeSet]]],
    items: Sequence[tuple[int, Callable[[Workflow, UpdateContext], T]]],
) -> list[tuple[T, ChangeSet] | Exception]:
    """Many updates, each atomic on its own (its workflow's lock and journal), several workflows
    at a time. Per-item failures (a lock that cannot be taken included: one stuck FireWorks lock
    must not stop a whole sweep) are returned in item order; an unreachable store raises once the
    items under way have finished."""
    results: list[tuple[T, ChangeSet] | Exception | None] = [None] * len(items)
    fatal: list[Exception] = []
    limiter = anyio.CapacityLimiter(BATCH_CONCURRENCY)

    async def run(index: int, fw_id: int, fn: Callable[[Workflow, UpdateContext], T]) -> None:
        async with limiter:
            if fatal:
                return
            try:
                results[index] = await one(fw_id, fn)
            except StoreUnavailableError as exc:
                fatal.append(exc)
            except Exception as exc:
                results[index] = exc

    async with anyio.create_task_group() as tg:
        for index, (fw_id, fn) in enumerate(items):
            tg.start_soon(run, index, fw_id, fn)
    if fatal:
        raise fatal[0]
    return [r if r is not None else StoreError("not run") for r in results]
