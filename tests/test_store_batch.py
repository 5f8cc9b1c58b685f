"""``Store.update_workflows``: many workflow updates in one call, each item atomic on its own, a
failing item reported in place (every store, and the portable ``sequential_update_workflows``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import pytest
from test_store_contract import checkout_ready, complete, insert, make_fw, make_wf, states

from afw.changeset import ChangeSet
from afw.db.base import Store, UpdateContext, WorkflowFn, sequential_update_workflows
from afw.errors import NotFoundError
from afw.workflow import Workflow

pytestmark = pytest.mark.anyio

Batch = Callable[
    [Store, Sequence[tuple[int, WorkflowFn[Any]]]],
    Awaitable[list[tuple[Any, ChangeSet] | Exception]],
]


async def _native(store: Store, items: Sequence[tuple[int, WorkflowFn[Any]]]) -> Any:
    return await store.update_workflows(items)


@pytest.fixture(params=["native", "sequential"])
def batch(request: pytest.FixtureRequest) -> Batch:
    return _native if request.param == "native" else sequential_update_workflows


def set_spec(key: str, fail: bool = False) -> WorkflowFn[int]:
    def fn(wf: Workflow, _ctx: UpdateContext) -> int:
        fw_id = min(wf.links)
        wf.need([fw_id])
        wf.fws[fw_id].spec[key] = True
        wf.mark(wf.fws[fw_id])
        if fail:
            raise ValueError(f"cannot apply {key}")
        return fw_id

    return fn


async def test_items_are_applied_and_failures_reported_in_place(store: Store, batch: Batch) -> None:
    await insert(store, *(make_wf([make_fw(-1, name=f"wf{i}")], name=f"wf{i}") for i in range(3)))
    results = await batch(
        store,
        [
            (1, set_spec("a")),
            (2, set_spec("b", fail=True)),
            (999, set_spec("c")),
            (3, set_spec("d")),
        ],
    )
    first, second, third, fourth = results
    assert isinstance(first, tuple) and first[0] == 1 and first[1].fws[0].spec["a"] is True
    assert isinstance(second, ValueError) and "cannot apply b" in str(second)
    assert isinstance(third, NotFoundError)
    assert isinstance(fourth, tuple) and fourth[0] == 3
    fws = {fw.fw_id: fw for fw in await store.get_fws([1, 2, 3])}
    assert fws[1].spec.get("a") and fws[3].spec.get("d")
    assert "b" not in fws[2].spec


async def test_completions_in_one_batch_refresh_children(store: Store, batch: Batch) -> None:
    wfs = [make_wf([make_fw(-1), make_fw(-2)], {-1: [-2]}, name=f"w{i}") for i in range(2)]
    await insert(store, *wfs)
    first = await checkout_ready(store)
    second = await checkout_ready(store)
    assert first is not None and second is not None
    update = {"update_spec": {"x": 1}}
    results = await batch(
        store, [(first[0], complete(first[1], update)), (second[0], complete(second[1], update))]
    )
    assert all(isinstance(r, tuple) for r in results)
    assert await states(store, [1, 2, 3, 4]) == {
        1: "COMPLETED",
        2: "READY",
        3: "COMPLETED",
        4: "READY",
    }
    assert all(fw.spec["x"] == 1 for fw in await store.get_fws([2, 4]))


async def test_empty_batch(store: Store, batch: Batch) -> None:
    assert await batch(store, []) == []
