"""Checkout on MongoDB: claim one Firework atomically, then run the logic under the workflow lock.

The claim is one ``find_one_and_update`` over the caller's query, in sort order::

    filter  {"$and": [query, {"state": S}, {"afw_claim": {"$exists": false}}]}   S = READY, RESERVED
    update  {"$set": {"state": "RESERVED",
                      "afw_claim": {"by": token, "until": now + lease, "prev": S}}}

Why this is safe:

* *No Firework is handed out twice.* MongoDB applies the update to one document atomically, and
  a claimed document no longer matches: other afw claimers need ``afw_claim`` absent, FireWorks
  claimers need ``state: READY``. A Firework checked out by id while RESERVED (a queue
  reservation) keeps its state but gains ``afw_claim``, which no other afw claimer can repeat.
* *The claim is provisional.* The claimer then takes the workflow lock, checks that its claim is
  still on the document (a workflow update that rewrote the Firework in between cancels the
  claim: the claimer lets go and claims again), and writes the change set through the journal;
  that write replaces the Firework document, which removes ``afw_claim``. Until then every other
  afw writer sees the Firework in its pre-claim state ``prev``.
* *A crash never strands a Firework.* The claimer renews ``until`` while it works (also while
  it waits for the lock). If it dies before recording its journal, the claim expires and any
  afw checkout (at most once per lease per process) restores ``state = prev`` by
  compare-and-set on the expired claim; the Firework is claimable again, and nothing else was
  written. If it dies after recording its journal, the next holder of the workflow lock
  completes the write (the Firework is then RUNNING with its launch, and a later lost-run
  detection handles the dead Rocket, as for any crashed Rocket).
* *A failure or cancellation* in the logic or the write restores the claim at once (same
  compare-and-set), so the Firework is READY again and no id is lost.
* *A retried claim.* When a claim's reply is lost, the driver retries it; a server that does
  not deduplicate retried writes may apply it twice and claim a second Firework under the same
  token. A client-side listener notices the failed attempt and the claimer releases any such
  stray claim at once (otherwise it would only be released when it expires).

The claim leaves ``updated_on`` alone, so that restoring ``prev`` restores the document exactly;
the checkout's write stamps it.

The same sweep also takes over workflow locks whose lease has expired, so a crashed afw process
does not leave FireWorks processes waiting on its lock.
"""

from __future__ import annotations

import datetime
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, TypeVar

from afw.changeset import ChangeSet
from afw.db.base import SortSpec, UpdateContext
from afw.db.mongo_conn import ClaimWatch, Collections
from afw.db.mongo_docs import unpack
from afw.db.mongo_lock import Held, Keeper, Lease, WorkflowLocks, expiry, new_token
from afw.db.mongo_update import Allocations, Snapshot, cleanup, run_logic, write_changes
from afw.errors import LockError, NotFoundError
from afw.workflow import Workflow

__all__ = ["Checkout", "claim_sort", "claim_states"]

log = logging.getLogger("afw.db.mongo")
T = TypeVar("T")
CLAIMABLE: Final = ("READY", "RESERVED")
_MAX_CLAIMS: Final = 1000


def claim_sort(sort: SortSpec) -> list[tuple[str, int]]:
    """The caller's sort (default: priority, highest first), ``fw_id`` breaking ties."""
    order = [(str(k), int(d)) for k, d in sort] or [("spec._priority", -1)]
    if all(k != "fw_id" for k, _ in order):
        order.append(("fw_id", 1))
    return order


def _state_terms(query: Mapping[str, Any]) -> list[Any]:
    terms = [query["state"]] if "state" in query else []
    for clause in query.get("$and") or []:
        if isinstance(clause, Mapping):
            terms += _state_terms(clause)
    return terms


def claim_states(query: Mapping[str, Any]) -> list[str]:
    """Which claimable states the query allows (only the obvious forms are narrowed)."""
    states = list(CLAIMABLE)
    for term in _state_terms(query):
        if isinstance(term, str):
            allowed = {term}
        elif isinstance(term, Mapping) and set(term) <= {"$in", "$eq"}:
            allowed = set(term.get("$in", [])) | ({term["$eq"]} if "$eq" in term else set())
        else:
            continue
        states = [s for s in states if s in allowed]
    return states


class Checkout:
    """Claims and checkouts of one store (see the module docstring)."""

    def __init__(
        self,
        cols: Collections,
        locks: WorkflowLocks,
        lease_secs: float,
        watch: ClaimWatch | None = None,
    ) -> None:
        self.cols = cols
        self.locks = locks
        self.lease_secs = lease_secs
        self.watch = watch
        self._swept = -float("inf")

    async def claim(
        self, query: Mapping[str, Any], sort: SortSpec, token: str, skip: Sequence[int]
    ) -> tuple[int, str] | None:
        extra: list[dict[str, Any]] = [{"afw_claim": {"$exists": False}}]
        if skip:
            extra.append({"fw_id": {"$nin": list(skip)}})
        for state in claim_states(query):
            claim = {"by": token, "until": expiry(self.lease_secs), "prev": state}
            doc = await self.cols.fireworks.find_one_and_update(
                {"$and": [dict(query), {"state": state}, *extra]},
                {"$set": {"state": "RESERVED", "afw_claim": claim}},
                sort=claim_sort(sort),
                projection={"fw_id": 1},
            )
            if self.watch is not None and token in self.watch.uncertain:
                self.watch.uncertain.discard(token)
                await self._release_strays(token, doc)
            if doc is not None:
                return int(doc["fw_id"]), state
        return None

    async def _release_strays(self, token: str, returned: Mapping[str, Any] | None) -> None:
        """Undo claims made under ``token`` other than the one the server reported (a retried
        claim the server applied twice)."""
        keep = int(returned["fw_id"]) if returned is not None else None
        async for doc in self.cols.fireworks.find(
            {"afw_claim.by": token}, {"fw_id": 1, "afw_claim": 1}
        ):
            if int(doc["fw_id"]) != keep:
                log.warning("releasing Firework %s, claimed twice by a retried write", doc["fw_id"])
                await self.unclaim(int(doc["fw_id"]), doc["afw_claim"])

    async def unclaim(self, fw_id: int, claim: Mapping[str, Any]) -> bool:
        """Restore the pre-claim state if this exact claim is still on the document."""
        flt: dict[str, Any] = {"fw_id": fw_id, "afw_claim.by": claim["by"]}
        if "until" in claim:
            flt["afw_claim.until"] = claim["until"]
        result = await self.cols.fireworks.update_one(
            flt, {"$set": {"state": claim["prev"]}, "$unset": {"afw_claim": ""}}
        )
        return result.modified_count == 1

    async def sweep(self, force: bool = False) -> None:
        """Undo expired claims and complete/release expired locks (crashed processes)."""
        if not force and time.monotonic() - self._swept < self.lease_secs:
            return
        self._swept = time.monotonic()
        cutoff = datetime.datetime.now(datetime.UTC) - self.locks.grace
        stale = self.cols.fireworks.find(
            {"afw_claim.until": {"$lt": cutoff}}, {"fw_id": 1, "afw_claim": 1}
        )
        async for doc in stale.limit(200):
            if await self.unclaim(int(doc["fw_id"]), doc["afw_claim"]):
                log.warning(
                    "released Firework %s, claimed by %s which died during checkout",
                    doc["fw_id"],
                    doc["afw_claim"].get("by"),
                )
        locked = self.cols.workflows.find({"lock_expires": {"$lt": cutoff}}, {"nodes": 1})
        async for doc in locked.limit(50):
            if doc.get("nodes"):
                await self._release_expired(int(doc["nodes"][0]))

    async def _release_expired(self, fw_id: int) -> None:
        keeper = Keeper(self.lease_secs)
        held: Held | None = None
        try:
            held = await self.locks.acquire(fw_id, keeper, wait_secs=0)
        except (LockError, NotFoundError):
            return
        finally:
            await cleanup(self.locks, held, None)
            await keeper.stop()

    async def checkout(
        self,
        query: Mapping[str, Any],
        sort: SortSpec,
        fn: Callable[[Workflow, UpdateContext, int], T],
    ) -> tuple[T, ChangeSet] | None:
        await self.sweep()
        skip: list[int] = []
        for _ in range(_MAX_CLAIMS):
            token = new_token()
            claimed = await self.claim(query, sort, token, skip)
            if claimed is None:
                return None
            fw_id, prev = claimed
            outcome = await self._run(fw_id, prev, token, fn)
            if outcome is not None:
                return outcome
            skip.append(fw_id)
        return None

    async def _run(
        self, fw_id: int, prev: str, token: str, fn: Callable[[Workflow, UpdateContext, int], T]
    ) -> tuple[T, ChangeSet] | None:
        """The claimed Firework's checkout; None when the claim had to be dropped."""
        keeper = Keeper(self.lease_secs)
        mine = {"fw_id": fw_id, "afw_claim.by": token}
        keeper.add("claim", Lease(self.cols.fireworks, mine, "afw_claim.until"))
        held: Held | None = None
        alloc = Allocations(self.cols)
        try:
            try:
                held = await self.locks.acquire(fw_id, keeper)
            except NotFoundError:
                log.warning("Firework %s has no workflow document; skipped", fw_id)
                return None
            except LockError:
                if keeper.lost == "claim":
                    return None  # rewritten by a workflow update while we waited
                raise
            snap = Snapshot(self.cols, held.doc)
            await snap.load([fw_id])
            if snap.claims.get(fw_id, {}).get("by") != token:
                return None  # rewritten by a workflow update meanwhile: claim cancelled
            result, changes = await run_logic(snap, lambda wf, ctx: fn(wf, ctx, fw_id), alloc)
            extra = (
                [] if fw_id in {fw.fw_id for fw in changes.fws} else [unpack(snap.fw_data[fw_id])]
            )
            await write_changes(self.cols, held, keeper, snap.journal(changes, extra), alloc)
            return result, changes
        finally:
            await keeper.stop()
            if not alloc.written:
                await self._unclaim_now(fw_id, token, prev)
            await cleanup(self.locks, held, alloc)

    async def _unclaim_now(self, fw_id: int, token: str, prev: str) -> None:
        import anyio

        with anyio.CancelScope(shield=True), anyio.move_on_after(15):
            try:
                await self.unclaim(fw_id, {"by": token, "prev": prev})
            except Exception as exc:
                log.warning("could not release the claim on Firework %s: %s", fw_id, exc)
