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


def mark_seen(fw_id: int, key: str) -> WorkflowFn[list[str]]:
    """Set ``spec[key]`` on ``fw_id``; return the flags already set on the workflow's Fireworks."""

    def fn(wf: Workflow, _ctx: UpdateContext) -> list[str]:
        wf.need(wf.links)
        seen = sorted(k for fw in wf.fws.values() for k in fw.spec if k.startswith("flag"))
        wf.fws[fw_id].spec[key] = True
        wf.mark(wf.fws[fw_id])
        return seen

    return fn


async def test_items_on_one_workflow_see_each_other(store: Store, batch: Batch) -> None:
    await insert(store, make_wf([make_fw(-1), make_fw(-2)]), make_wf([make_fw(-1)]))
    items = [(1, mark_seen(1, "flag_a")), (3, mark_seen(3, "flag_c")), (2, mark_seen(2, "flag_b"))]
    results = await batch(store, items)
    seen = [r[0] for r in results if isinstance(r, tuple)]
    # Some serial order of the two items on workflow 1 (a store may run items concurrently).
    assert seen in ([[], [], ["flag_a"]], [["flag_b"], [], []])
    if store.url.startswith("sqlite") or batch is sequential_update_workflows:
        assert seen == [[], [], ["flag_a"]]  # in item order
    fws = {fw.fw_id: fw for fw in await store.get_fws([1, 2, 3])}
    assert fws[1].spec["flag_a"] and fws[2].spec["flag_b"] and fws[3].spec["flag_c"]


async def test_new_ids_and_failures_in_one_batch(store: Store, batch: Batch) -> None:
    await insert(store, *(make_wf([make_fw(-1)], name=f"w{i}") for i in range(4)))
    launches = [await checkout_ready(store) for _ in range(4)]
    assert all(launch is not None for launch in launches)
    lids = [launch[1] for launch in launches if launch is not None]
    first_free = await store.next_launch_ids(1) + 1

    def take_id(wf: Workflow, ctx: UpdateContext) -> int:
        complete(lids[2])(wf, ctx)
        return ctx.new_launch_id()

    added = {"additions": [make_fw(-1, name="added").to_dict()]}
    results = await batch(
        store,
        [
            (1, complete(lids[0], added)),
            (
                2,
                complete(
                    lids[1], {"additions": [make_fw(-1).to_dict()], "stored_data": {"x": object()}}
                ),
            ),
            (3, take_id),
            (4, complete(lids[3], added)),
        ],
    )
    assert isinstance(results[1], Exception)
    new = [r[1].new_fw_ids for r in (results[0], results[3]) if isinstance(r, tuple)]
    assert len(new) == 2
    assert isinstance(results[2], tuple) and results[2][0] >= first_free
    added_ids = sorted(new[0] | new[1])
    assert await states(store, [1, 2, 3, 4, *added_ids]) == {
        1: "COMPLETED",
        2: "RUNNING",
        3: "COMPLETED",
        4: "COMPLETED",
        **dict.fromkeys(added_ids, "READY"),
    }
    if store.url.startswith("sqlite"):
        # One transaction: ids come in item order, distinct, and a failed item's are given back.
        assert new == [{5}, {6}] and results[2][0] == first_free
        assert await store.next_launch_ids(1) == first_free + 1
        assert await insert(store, make_wf([make_fw(-1)])) == [{-1: 7}]
