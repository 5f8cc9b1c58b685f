"""Running a pure workflow function until it has every Firework it needs (shared by stores)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from afw.changeset import ChangeSet, assign_ids, make_change_set
from afw.db.base import NeedLaunchIds, UpdateContext
from afw.wflogic import workflow_state
from afw.workflow import NeedFireworks, Workflow

__all__ = ["MAX_ATTEMPTS", "finish", "try_once"]

T = TypeVar("T")
MAX_ATTEMPTS = 10_000


def try_once(
    build: Callable[[], Workflow], fn: Callable[[Workflow, UpdateContext], T], ctx: UpdateContext
) -> tuple[T, Workflow] | set[int] | None:
    """Run ``fn`` on a freshly built workflow.

    Returns ``(result, wf)`` on success, the ids of Fireworks to load when the logic needs more,
    or ``None`` when it needs launch ids (the caller allocates and tries again).
    """
    wf = build()
    try:
        result = fn(wf, ctx)
        # The new workflow state (computed by ``finish``) may need Fireworks too: the children
        # of FIZZLED ones. Ask for them here, inside the retry loop.
        workflow_state(wf)
        return result, wf
    except NeedFireworks as need:
        return need.fw_ids
    except NeedLaunchIds:
        return None


def finish(wf: Workflow, previous_state: str, first_new_id: Callable[[int], int]) -> ChangeSet:
    """Give new Fireworks real ids (``first_new_id(n)`` reserves ``n``) and build the change set."""
    if wf.new_fw_ids:
        assign_ids(wf, list(wf.new_fw_ids), first_new_id(len(wf.new_fw_ids)))
    return make_change_set(wf, previous_state)
