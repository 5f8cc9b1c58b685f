"""The domain-level async Store interface shared by the SQLite and MongoDB stores.

A store is not a generic document API: it allocates ids, inserts workflows, runs a pure workflow
function against a consistent snapshot and writes the resulting change set atomically, claims
runnable Fireworks, answers MongoDB-style queries, and keeps the offline-run bookkeeping.

Atomicity: :meth:`Store.update_workflow` and :meth:`Store.checkout` run the caller's pure
function under the store's serialization for that workflow (a SQLite write transaction, a
MongoDB workflow lock with owner and lease), so no racing afw writer can lose an update.
:meth:`Store.update_workflows` runs many such updates as one unit where the store can (one SQLite
transaction); :func:`sequential_update_workflows` is the portable fallback.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from afw.changeset import ChangeSet
from afw.errors import StoreUnavailableError
from afw.firework import Firework
from afw.launch import Launch
from afw.workflow import Workflow

__all__ = [
    "NeedLaunchIds",
    "OfflineRun",
    "SortSpec",
    "Store",
    "UpdateContext",
    "WorkflowFn",
    "sequential_update_workflows",
]

T = TypeVar("T")
SortSpec = Sequence[tuple[str, int]]


class NeedLaunchIds(Exception):
    """Raised by an :class:`UpdateContext` lacking a launch id (the store allocates, retries)."""


class UpdateContext(Protocol):
    """Given to workflow functions: the few things they may need from the store."""

    def new_launch_id(self) -> int:
        """A fresh launch id (allocated inside the same atomic operation)."""
        ...


WorkflowFn = Callable[[Workflow, UpdateContext], T]
"""A pure function run by the store on a loaded workflow. It may raise
:class:`~afw.workflow.NeedFireworks` or :class:`NeedLaunchIds`; the store then loads what is
missing and runs it again on fresh objects, so it must not have side effects outside ``wf``."""


@dataclass(frozen=True)
class OfflineRun:
    """An ``offline_runs`` record."""

    launch_id: int
    fw_id: int
    name: str
    created_on: str
    updated_on: str
    deprecated: bool = False
    completed: bool = False
    fingerprint: str | None = None


class Store(Protocol):
    """What the LaunchPad needs from a database. Every method is a coroutine."""

    url: str

    async def open(self) -> None:
        """Connect / create schema and indexes. Idempotent."""
        ...

    async def close(self) -> None: ...

    async def reset(self) -> None:
        """Delete every workflow, Firework, launch and offline run; restart ids at 1."""
        ...

    async def tuneup(self, *, full: bool = False) -> None:
        """Create missing indexes and refresh the query planner's statistics; ``full`` also
        compacts the storage (FireWorks ``lpad admin tuneup [--full]``)."""
        ...

    async def unlock_workflows(self, fw_ids: Sequence[int]) -> int:
        """Force-release the locks of the workflows holding ``fw_ids``; returns how many were
        locked (a store without persistent locks returns 0). A write recorded in a workflow
        by a crashed writer stays there, for the next writer to complete."""
        ...

    # -- workflows --------------------------------------------------------------------------------

    async def insert_workflows(self, wfs: Sequence[Workflow]) -> list[dict[int, int]]:
        """Assign real ids (one counter bump for all) and insert the workflows atomically.

        Root Fireworks must already be READY. Returns one ``{old_id: new_id}`` map per workflow.
        """
        ...

    async def update_workflow(
        self, fw_id: int, fn: WorkflowFn[T], *, preload: Sequence[int] = ()
    ) -> tuple[T, ChangeSet]:
        """Run ``fn`` on the workflow holding ``fw_id`` and write its change set atomically.

        ``preload`` names Fireworks worth loading up front (the store always loads ``fw_id``).
        Raises :class:`~afw.errors.NotFoundError` when no workflow holds ``fw_id``.
        """
        ...

    async def update_workflows(
        self, items: Sequence[tuple[int, WorkflowFn[T]]]
    ) -> list[tuple[T, ChangeSet] | Exception]:
        """Run several :meth:`update_workflow` calls (``(fw_id, fn)`` each) as one batch.

        Each item is atomic on its own; the batch is one transaction where the store can do that
        (SQLite), so a crash leaves all or none of it. An item whose workflow is gone or whose
        ``fn`` raises (or whose workflow lock cannot be taken) writes nothing and yields its
        exception in the result list, in item order; the other items are unaffected. A store
        that cannot be reached raises :class:`~afw.errors.StoreUnavailableError`.
        """
        ...

    async def checkout(
        self,
        query: Mapping[str, Any],
        sort: SortSpec,
        fn: Callable[[Workflow, UpdateContext, int], T],
    ) -> tuple[T, ChangeSet] | None:
        """Atomically pick the first Firework matching ``query`` in ``sort`` order and run
        ``fn(wf, ctx, fw_id)`` on its workflow; ``None`` when nothing matches. No Firework is
        ever handed to two callers."""
        ...

    async def load_workflow(self, fw_id: int) -> Workflow:
        """The whole workflow holding ``fw_id``, every Firework and current launch loaded."""
        ...

    async def delete_workflows(self, fw_ids: Sequence[int]) -> list[str]:
        """Delete the workflows holding these Fireworks, with their Fireworks, launches and
        offline runs. Returns the launch dirs of the deleted launches."""
        ...

    # -- reads ------------------------------------------------------------------------------------

    async def get_fws(self, fw_ids: Sequence[int]) -> list[Firework]:
        """Fireworks with their current launches, in the order asked (missing ids skipped)."""
        ...

    async def get_launches(self, launch_ids: Sequence[int]) -> list[Launch]: ...

    async def get_fw_docs(
        self, fw_ids: Sequence[int], projection: Sequence[str] | None = None
    ) -> list[dict[str, Any]]:
        """Raw ``fireworks`` documents (launch ids, not objects), optionally projected."""
        ...

    async def get_wf_docs(self, fw_ids: Sequence[int]) -> list[dict[str, Any]]:
        """Raw ``workflows`` documents of the workflows holding these Fireworks (one each)."""
        ...

    async def find_fw_ids(
        self, query: Mapping[str, Any], sort: SortSpec = (), limit: int = 0
    ) -> list[int]: ...

    async def count_fws(self, query: Mapping[str, Any]) -> int: ...

    async def find_launch_fw_ids(
        self, query: Mapping[str, Any], sort: SortSpec = (), limit: int = 0
    ) -> list[int]:
        """fw_ids of the *current* launches (not archived ones) matching a launch query."""
        ...

    async def find_launch_ids(self, query: Mapping[str, Any], limit: int = 0) -> list[int]:
        """launch_ids matching a launch query (archived launches included)."""
        ...

    async def find_wf_ids(
        self, query: Mapping[str, Any], sort: SortSpec = (), limit: int = 0
    ) -> list[int]:
        """One fw_id per matching workflow (its smallest)."""
        ...

    async def count_wfs(self, query: Mapping[str, Any]) -> int: ...

    async def fw_ids_of_launches(self, launch_ids: Sequence[int]) -> dict[int, list[int]]:
        """For each launch id, the Fireworks listing it as a current launch."""
        ...

    async def wf_keys_of_fws(self, fw_ids: Sequence[int]) -> dict[int, str]:
        """For each stored Firework among ``fw_ids``, a key naming its workflow: Fireworks of
        one workflow share a key. Cheap (no workflow document is loaded); for grouping work."""
        ...

    # -- launches -------------------------------------------------------------------------------

    async def next_launch_ids(self, n: int) -> int:
        """Reserve ``n`` launch ids; returns the first."""
        ...

    async def touch_launch(
        self, launch_id: int, when: str, checkpoint: dict[str, Any] | None = None
    ) -> bool:
        """Heartbeat: set ``updated_on`` (and checkpoint) of the last history entry of a RUNNING
        launch, atomically; returns False when the launch is not RUNNING."""
        ...

    async def update_launch_fields(self, launch_id: int, fields: Mapping[str, Any]) -> None:
        """Set top-level fields of a launch document (``launch_dir``, ``trackers``...)."""
        ...

    # -- offline runs ---------------------------------------------------------------------------

    async def add_offline_runs(self, runs: Sequence[OfflineRun]) -> None: ...

    async def pending_offline_runs(
        self, after_launch_id: int, limit: int, launch_ids: Sequence[int] | None = None
    ) -> list[OfflineRun]:
        """Not completed and not deprecated, by ascending launch id, after ``after_launch_id``."""
        ...

    async def update_offline_runs(self, updates: Mapping[int, Mapping[str, Any]]) -> None:
        """Per launch id, set fields (``completed``, ``deprecated``, ``updated_on``,
        ``fingerprint``) in one bulk write."""
        ...

    async def forget_offline(
        self, *, launch_ids: Sequence[int] = (), fw_ids: Sequence[int] = ()
    ) -> int:
        """Mark matching offline runs deprecated; returns how many."""
        ...

    async def offline_runs(self, launch_ids: Sequence[int]) -> list[OfflineRun]: ...


async def sequential_update_workflows(
    store: Store, items: Sequence[tuple[int, WorkflowFn[T]]]
) -> list[tuple[T, ChangeSet] | Exception]:
    """:meth:`Store.update_workflows` as one :meth:`Store.update_workflow` per item.

    For stores without a batch transaction: every item is still atomic on its own, and the
    per-item error contract is the same (a workflow whose lock cannot be taken is one failed
    item); a store that cannot be reached aborts the batch.
    """
    out: list[tuple[T, ChangeSet] | Exception] = []
    for fw_id, fn in items:
        try:
            out.append(await store.update_workflow(fw_id, fn))
        except StoreUnavailableError:
            raise
        except Exception as exc:
            out.append(exc)
    return out
