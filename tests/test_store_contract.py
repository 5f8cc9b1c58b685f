"""The Store contract: every store implementation passes this suite (``store`` fixture, see
tests/conftest.py; parametrized over sqlite and mongo)."""

from __future__ import annotations

from typing import Any

import pytest

from afw.db import OfflineRun, make_store
from afw.db.base import Store, UpdateContext
from afw.errors import AfwError, NotFoundError, QueryError, StoreError
from afw.firework import Firework
from afw.launch import Launch
from afw.wflogic import refresh, rerun_fw, set_fw_state
from afw.workflow import Workflow

pytestmark = pytest.mark.anyio

TASK = {"_fw_name": "ScriptTask", "script": "echo hi"}


# -- builders ------------------------------------------------------------------------------------


def make_fw(fw_id: int, name: str | None = None, **spec: Any) -> Firework:
    return Firework.create([TASK], spec=spec, name=name or f"fw{fw_id}", fw_id=fw_id)


def make_wf(
    fws: list[Firework],
    links: dict[int, list[int]] | None = None,
    name: str = "wf",
    metadata: dict[str, Any] | None = None,
) -> Workflow:
    """A new workflow with its roots READY, as the LaunchPad hands it to the store."""
    wf = Workflow.create(fws, links=links or {}, name=name, metadata=metadata)
    for root in wf.root_fw_ids:
        wf.fws[root].state = "READY"
    return wf


def chain(n: int, name: str = "chain", **spec: Any) -> Workflow:
    """-1 → -2 → ... → -n"""
    fws = [make_fw(-i, **spec) for i in range(1, n + 1)]
    return make_wf(fws, {-i: [-(i + 1)] for i in range(1, n)}, name=name)


def independent(n: int, name: str = "flat", **spec: Any) -> Workflow:
    return make_wf([make_fw(-i, **spec) for i in range(1, n + 1)], name=name)


def claim(wf: Workflow, ctx: UpdateContext, fw_id: int) -> tuple[int, int]:
    """What a checkout does to the claimed Firework: a new RUNNING launch."""
    fw = wf.fw(fw_id)
    launch = Launch(
        launch_id=ctx.new_launch_id(), fw_id=fw_id, state="RUNNING", launch_dir=f"/runs/{fw_id}"
    )
    fw.launches.append(launch)
    set_fw_state(wf, fw, "RUNNING")
    wf.mark_launch(launch)
    return fw_id, launch.launch_id


def complete(launch_id: int, action: dict[str, Any] | None = None, state: str = "COMPLETED"):
    """A workflow function completing ``launch_id`` and refreshing its Firework(s)."""

    def fn(wf: Workflow, ctx: UpdateContext) -> list[int]:
        done = []
        for fw in list(wf.fws.values()):
            for launch in fw.launches:
                if launch.launch_id == launch_id:
                    launch.set_state(state)
                    launch.action = action
                    wf.mark_launch(launch)
                    refresh(wf, fw.fw_id)
                    done.append(fw.fw_id)
        return done

    return fn


async def insert(store: Store, *wfs: Workflow) -> list[dict[int, int]]:
    return await store.insert_workflows(list(wfs))


async def checkout_ready(store: Store, query: dict[str, Any] | None = None, sort=()):
    result = await store.checkout({"state": "READY", **(query or {})}, sort, claim)
    return None if result is None else result[0]


async def states(store: Store, fw_ids: list[int]) -> dict[int, str]:
    return {fw.fw_id: fw.state for fw in await store.get_fws(fw_ids)}


# -- lifecycle -----------------------------------------------------------------------------------


async def test_fresh_store_is_empty(store: Store) -> None:
    assert await store.count_fws({}) == 0
    assert await store.count_wfs({}) == 0
    assert await store.find_fw_ids({}) == []
    await store.open()  # idempotent
    assert await store.next_launch_ids(1) == 1


async def test_closed_store_refuses_use(store: Store) -> None:
    await store.close()
    with pytest.raises(StoreError, match="store is closed"):
        await store.count_fws({})
    with pytest.raises(StoreError, match="store is closed"):
        await store.open()
    await store.close()  # idempotent


async def test_async_with(store_url: str) -> None:
    st = make_store(store_url)
    async with st:
        await st.reset()
        await insert(st, chain(2))
        assert await st.count_fws({}) == 2
    with pytest.raises(StoreError, match="store is closed"):
        await st.find_fw_ids({})


async def test_reset_restarts_ids(store: Store) -> None:
    await insert(store, chain(3))
    await checkout_ready(store)
    await store.add_offline_runs([OfflineRun(1, 1, "fw1", "t0", "t0")])
    await store.reset()
    assert await store.count_fws({}) == 0
    assert await store.count_wfs({}) == 0
    assert await store.find_launch_ids({}) == []
    assert await store.pending_offline_runs(0, 10) == []
    assert await insert(store, chain(1)) == [{-1: 1}]
    assert await store.next_launch_ids(1) == 1


# -- insert --------------------------------------------------------------------------------------


async def test_insert_renumbers_all_workflows_from_one_block(store: Store) -> None:
    wf1 = chain(3, name="first")
    wf2 = make_wf([make_fw(10), make_fw(-5)], {10: [-5]}, name="second")
    maps = await insert(store, wf1, wf2)
    assert maps == [{-1: 1, -2: 2, -3: 3}, {10: 4, -5: 5}]
    assert sorted(wf1.fws) == [1, 2, 3] and wf1.links == {1: [2], 2: [3], 3: []}
    assert wf2.fws[4].fw_id == 4
    assert await states(store, [1, 2, 3, 4, 5]) == {
        1: "READY",
        2: "WAITING",
        3: "WAITING",
        4: "READY",
        5: "WAITING",
    }
    assert await insert(store, chain(2)) == [{-1: 6, -2: 7}]
    assert await store.insert_workflows([]) == []


async def test_insert_bad_input_writes_nothing(store: Store) -> None:
    good = chain(2)
    bad = make_wf([make_fw(-1, payload=object())])
    with pytest.raises(AfwError):
        await insert(store, good, bad)
    assert await store.count_fws({}) == 0
    assert await store.count_wfs({}) == 0
    maps = await insert(store, chain(1))
    assert await store.get_fws(list(maps[0].values()))


async def test_documents_have_fireworks_shapes(store: Store) -> None:
    wf = make_wf(
        [make_fw(-1, _priority=3), make_fw(-2), make_fw(-3)],
        {-1: [-2, -3]},
        name="shapes",
        metadata={"project": "p1"},
    )
    await insert(store, wf)
    (doc,) = await store.get_fw_docs([1])
    assert {"spec", "fw_id", "created_on", "updated_on", "launches", "state", "name"} <= set(doc)
    assert doc["fw_id"] == 1 and doc["state"] == "READY" and doc["launches"] == []
    assert doc["spec"]["_tasks"] == [TASK] and doc["spec"]["_priority"] == 3
    projected = await store.get_fw_docs([3, 99, 1], projection=["state", "spec._priority"])
    assert projected == [
        {"fw_id": 3, "state": "WAITING", "spec": {}},
        {"fw_id": 1, "state": "READY", "spec": {"_priority": 3}},
    ] or projected == [
        {"fw_id": 3, "state": "WAITING"},
        {"fw_id": 1, "state": "READY", "spec": {"_priority": 3}},
    ]
    wf_docs = await store.get_wf_docs([2, 3, 1])
    assert len(wf_docs) == 1
    wdoc = wf_docs[0]
    assert wdoc["_id"] is not None
    assert wdoc["links"] == {"1": [2, 3], "2": [], "3": []}
    assert {k: sorted(v) for k, v in wdoc["parent_links"].items()} == {"2": [1], "3": [1]}
    assert sorted(wdoc["nodes"]) == [1, 2, 3]
    assert wdoc["fw_states"] == {"1": "READY", "2": "WAITING", "3": "WAITING"}
    assert wdoc["name"] == "shapes" and wdoc["metadata"] == {"project": "p1"}
    assert wdoc["state"] == "READY"
    assert await store.get_wf_docs([99]) == []


async def test_wf_keys_of_fws(store: Store) -> None:
    await insert(store, chain(3, name="a"), independent(2, name="b"))
    keys = await store.wf_keys_of_fws([5, 1, 3, 99, 4, 2])
    assert set(keys) == {1, 2, 3, 4, 5}
    assert keys[1] == keys[2] == keys[3]
    assert keys[4] == keys[5] != keys[1]
    assert all(isinstance(k, str) for k in keys.values())
    assert await store.wf_keys_of_fws([]) == {}
    assert await store.wf_keys_of_fws([99]) == {}


async def test_get_fws_in_order_asked(store: Store) -> None:
    await insert(store, chain(3))
    fws = await store.get_fws([3, 42, 1])
    assert [fw.fw_id for fw in fws] == [3, 1]
    assert fws[0].spec["_tasks"] == [TASK]


async def test_load_workflow(store: Store) -> None:
    await insert(store, chain(3, name="whole"), chain(2))
    wf = await store.load_workflow(2)
    assert sorted(wf.fws) == [1, 2, 3]
    assert wf.links == {1: [2], 2: [3], 3: []}
    assert wf.fw_states == {1: "READY", 2: "WAITING", 3: "WAITING"}
    assert wf.name == "whole" and wf.state == "READY"
    with pytest.raises(NotFoundError):
        await store.load_workflow(99)


# -- checkout ------------------------------------------------------------------------------------


async def test_checkout_by_priority_then_id(store: Store) -> None:
    fws = [
        make_fw(-1),
        make_fw(-2, _priority=1),
        make_fw(-3, _priority=5),
        make_fw(-4, _priority=1),
        make_fw(-5),
    ]
    await insert(store, make_wf(fws))
    order = [await checkout_ready(store) for _ in range(5)]
    assert [fw_id for fw_id, _ in order] == [3, 2, 4, 1, 5]
    assert [launch_id for _, launch_id in order] == [1, 2, 3, 4, 5]
    assert await checkout_ready(store) is None
    assert set((await states(store, [1, 2, 3, 4, 5])).values()) == {"RUNNING"}


async def test_checkout_explicit_sort_and_query(store: Store) -> None:
    fws = [
        make_fw(-1, _category="gpu", rank=2),
        make_fw(-2, _category="cpu", rank=9),
        make_fw(-3, _category="gpu", rank=7),
        make_fw(-4, rank=8),
    ]
    await insert(store, make_wf(fws))
    got = await checkout_ready(store, {"spec._category": "gpu"}, sort=[("spec.rank", -1)])
    assert got == (3, 1)
    got = await checkout_ready(store, {"spec._category": {"$exists": False}})
    assert got == (4, 2)
    assert await checkout_ready(store, {"spec._category": "tpu"}) is None
    got = await checkout_ready(store, {"fw_id": 2})
    assert got == (2, 3)


async def test_checkout_writes_launch_and_workflow(store: Store) -> None:
    await insert(store, chain(2))
    result = await store.checkout({"state": "READY"}, [], claim)
    assert result is not None
    (fw_id, launch_id), changes = result
    assert (fw_id, launch_id) == (1, 1)
    assert [fw.fw_id for fw in changes.fws] == [1]
    assert [la.launch_id for la in changes.launches] == [1]
    (launch,) = await store.get_launches([1])
    assert launch.state == "RUNNING" and launch.fw_id == 1 and launch.launch_dir == "/runs/1"
    assert (await store.get_fw_docs([1]))[0]["launches"] == [1]
    (fw,) = await store.get_fws([1])
    assert fw.state == "RUNNING" and fw.launches == [launch]
    assert await store.fw_ids_of_launches([1, 7]) == {1: [1], 7: []}
    (wdoc,) = await store.get_wf_docs([1])
    assert wdoc["state"] == "RUNNING" and wdoc["fw_states"]["1"] == "RUNNING"
    assert await store.next_launch_ids(2) == 2


async def test_checkout_fn_raising_claims_nothing(store: Store) -> None:
    await insert(store, chain(1))

    def broken(wf: Workflow, ctx: UpdateContext, fw_id: int) -> None:
        claim(wf, ctx, fw_id)
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        await store.checkout({"state": "READY"}, [], broken)
    assert await states(store, [1]) == {1: "READY"}
    assert await store.find_launch_ids({}) == []
    assert await checkout_ready(store) == (1, 1)


# -- update_workflow -----------------------------------------------------------------------------


async def test_completion_makes_children_ready(store: Store) -> None:
    await insert(store, make_wf([make_fw(-1), make_fw(-2), make_fw(-3)], {-1: [-2], -2: [-3]}))
    _, launch_id = await checkout_ready(store)
    done, changes = await store.update_workflow(1, complete(launch_id, {"stored_data": {"x": 1}}))
    assert done == [1]
    assert sorted(fw.fw_id for fw in changes.fws) == [1, 2]
    assert changes.workflow.state == "RUNNING"
    assert await states(store, [1, 2, 3]) == {1: "COMPLETED", 2: "READY", 3: "WAITING"}
    (launch,) = await store.get_launches([launch_id])
    assert launch.state == "COMPLETED" and launch.action == {"stored_data": {"x": 1}}
    for _ in range(2):
        fw_id, lid = await checkout_ready(store)
        await store.update_workflow(fw_id, complete(lid))
    (wdoc,) = await store.get_wf_docs([3])
    assert wdoc["state"] == "COMPLETED"
    assert set(wdoc["fw_states"].values()) == {"COMPLETED"}


async def test_lazy_loading_of_descendants(store: Store) -> None:
    await insert(store, chain(5))
    _, launch_id = await checkout_ready(store)
    action = {"update_spec": {"shared": 42}, "propagate": True}
    await store.update_workflow(1, complete(launch_id, action))
    fws = await store.get_fws([2, 3, 4, 5])
    assert all(fw.spec["shared"] == 42 for fw in fws)
    assert [fw.state for fw in fws] == ["READY", "WAITING", "WAITING", "WAITING"]


async def test_preload_and_result(store: Store) -> None:
    await insert(store, chain(4))

    def peek(wf: Workflow, ctx: UpdateContext) -> list[int]:
        return sorted(wf.fws)

    loaded, changes = await store.update_workflow(1, peek, preload=[4])
    assert {1, 4} <= set(loaded)
    assert changes.empty

    def read_all(wf: Workflow, ctx: UpdateContext) -> list[str]:
        return [wf.fw(i).name for i in sorted(wf.links)]

    names, _ = await store.update_workflow(3, read_all)
    assert names == ["fw-1", "fw-2", "fw-3", "fw-4"]


async def test_additions_get_new_ids(store: Store) -> None:
    await insert(store, chain(2), chain(1))
    _, launch_id = await checkout_ready(store)
    added = make_fw(-1, name="added").to_dict()
    _, changes = await store.update_workflow(1, complete(launch_id, {"additions": [added]}))
    assert changes.new_fw_ids == {4}
    assert changes.links_changed
    (doc,) = await store.get_fw_docs([4])
    assert doc["name"] == "added" and doc["state"] == "READY"
    (wdoc,) = await store.get_wf_docs([4])
    assert sorted(wdoc["links"]["1"]) == [2, 4]
    assert sorted(wdoc["nodes"]) == [1, 2, 4]
    assert wdoc["fw_states"]["4"] == "READY"
    wf = await store.load_workflow(4)
    assert sorted(wf.fws) == [1, 2, 4]
    assert await insert(store, chain(1)) == [{-1: 5}]


async def test_update_fn_raising_writes_nothing(store: Store) -> None:
    await insert(store, chain(2))
    fw_id, launch_id = await checkout_ready(store)
    first_free = await store.next_launch_ids(1) + 1

    def broken(wf: Workflow, ctx: UpdateContext) -> None:
        ctx.new_launch_id()
        complete(launch_id, {"additions": [make_fw(-1).to_dict()]})(wf, ctx)
        raise RuntimeError("bad action")

    with pytest.raises(RuntimeError, match="bad action"):
        await store.update_workflow(fw_id, broken)
    assert await states(store, [1, 2]) == {1: "RUNNING", 2: "WAITING"}
    assert (await store.get_launches([launch_id]))[0].state == "RUNNING"
    assert await store.count_fws({}) == 2
    assert await store.next_launch_ids(1) == first_free
    assert await insert(store, chain(1)) == [{-1: 3}]


async def test_unstorable_change_writes_nothing(store: Store) -> None:
    await insert(store, chain(2))
    fw_id, launch_id = await checkout_ready(store)
    # The Fireworks serialize fine; the launch's action does not: nothing may stay written.
    with pytest.raises(AfwError):
        await store.update_workflow(fw_id, complete(launch_id, {"stored_data": {"x": object()}}))
    assert await states(store, [1, 2]) == {1: "RUNNING", 2: "WAITING"}
    (wdoc,) = await store.get_wf_docs([1])
    assert wdoc["state"] == "RUNNING"
    assert (await store.get_launches([launch_id]))[0].state == "RUNNING"


async def test_bad_query_is_a_query_error(store: Store) -> None:
    await insert(store, chain(1))
    with pytest.raises(QueryError):
        await store.find_fw_ids({"state": {"$bogus": 1}})
    with pytest.raises(QueryError):
        await store.checkout({"state": {"$bogus": 1}}, [], claim)
    assert await states(store, [1]) == {1: "READY"}


async def test_update_unknown_fw(store: Store) -> None:
    with pytest.raises(NotFoundError):
        await store.update_workflow(12345, lambda wf, ctx: None)


async def test_new_launch_id_inside_update(store: Store) -> None:
    await insert(store, chain(1))

    def take(wf: Workflow, ctx: UpdateContext) -> list[int]:
        return [ctx.new_launch_id(), ctx.new_launch_id()]

    ids, _ = await store.update_workflow(1, take)
    assert ids == [1, 2]
    assert await store.next_launch_ids(3) == 3
    assert await store.next_launch_ids(1) == 6


# -- launches ------------------------------------------------------------------------------------


async def test_touch_launch_only_when_running(store: Store) -> None:
    await insert(store, chain(1))
    _, launch_id = await checkout_ready(store)
    assert await store.touch_launch(launch_id, "2030-01-01T00:00:00.000000+00:00")
    assert await store.touch_launch(
        launch_id, "2030-01-01T00:00:05.000000+00:00", checkpoint={"_task_n": 1}
    )
    (launch,) = await store.get_launches([launch_id])
    assert launch.state_history[-1]["updated_on"] == "2030-01-01T00:00:05.000000+00:00"
    assert launch.state_history[-1]["checkpoint"] == {"_task_n": 1}
    await store.update_workflow(1, complete(launch_id))
    assert not await store.touch_launch(launch_id, "2031-01-01T00:00:00.000000+00:00")
    (after,) = await store.get_launches([launch_id])
    assert after.state == "COMPLETED"
    assert after.state_history[0]["updated_on"] == "2030-01-01T00:00:05.000000+00:00"
    assert not await store.touch_launch(999, "2031-01-01T00:00:00.000000+00:00")


async def test_update_launch_fields(store: Store) -> None:
    await insert(store, chain(1))
    _, launch_id = await checkout_ready(store)
    await store.update_launch_fields(launch_id, {"launch_dir": "/new/dir", "host": "node7"})
    (launch,) = await store.get_launches([launch_id])
    assert (launch.launch_dir, launch.host, launch.state) == ("/new/dir", "node7", "RUNNING")
    assert await store.get_launches([launch_id, 77]) == [launch]
    with pytest.raises(NotFoundError):
        await store.update_launch_fields(77, {"launch_dir": "/x"})


async def test_next_launch_ids_blocks(store: Store) -> None:
    assert await store.next_launch_ids(10) == 1
    assert await store.next_launch_ids(1) == 11
    assert await store.next_launch_ids(5) == 12


# -- queries -------------------------------------------------------------------------------------


async def _query_fixture(store: Store) -> None:
    fws = [
        make_fw(-1, name="alpha", _priority=2, kind="dft", size=30),
        make_fw(-2, name="beta", kind="md", size=10),
        make_fw(-3, name="gamma", _priority=7, kind="dft", size=20),
        make_fw(-4, name="delta", kind="ml", size=40),
    ]
    await insert(store, make_wf(fws, {-1: [-4]}, name="q1", metadata={"project": "a"}))
    await insert(store, make_wf([make_fw(-1, name="solo", kind="dft", size=5)], name="q2"))


async def test_find_and_count_fireworks(store: Store) -> None:
    await _query_fixture(store)
    assert await store.find_fw_ids({}) == [1, 2, 3, 4, 5]
    assert await store.find_fw_ids({"state": "READY"}) == [1, 2, 3, 5]
    assert await store.count_fws({"state": "WAITING"}) == 1
    assert await store.find_fw_ids({"spec.kind": "dft"}) == [1, 3, 5]
    assert await store.count_fws({"spec.kind": {"$in": ["md", "ml"]}}) == 2
    assert await store.find_fw_ids({"spec.size": {"$gte": 20}}) == [1, 3, 4]
    assert await store.find_fw_ids({"name": "gamma"}) == [3]
    assert await store.find_fw_ids({"fw_id": {"$in": [2, 4, 9]}}) == [2, 4]
    assert await store.find_fw_ids({"spec._priority": {"$exists": True}}) == [1, 3]
    assert await store.find_fw_ids({}, sort=[("spec.size", 1)]) == [5, 2, 3, 1, 4]
    assert await store.find_fw_ids({}, sort=[("spec.size", -1)], limit=2) == [4, 1]
    assert await store.find_fw_ids({}, sort=[("name", 1)]) == [1, 2, 4, 3, 5]
    assert await store.find_fw_ids({"spec.kind": "dft"}, sort=[("spec._priority", -1)]) == [
        3,
        1,
        5,
    ]
    assert await store.find_fw_ids({"state": "READY"}, limit=3) == [1, 2, 3]
    assert await store.count_fws({"spec.kind": "nothing"}) == 0


async def test_find_and_count_workflows(store: Store) -> None:
    await _query_fixture(store)
    assert await store.find_wf_ids({}) == [1, 5]
    assert await store.count_wfs({}) == 2
    assert await store.find_wf_ids({"name": "q2"}) == [5]
    assert await store.find_wf_ids({"metadata.project": "a"}) == [1]
    assert await store.find_wf_ids({"state": "READY"}, sort=[("name", -1)]) == [5, 1]
    assert await store.find_wf_ids({}, sort=[("name", -1)], limit=1) == [5]
    assert await store.find_wf_ids({}, sort=[("metadata.project", 1)]) == [5, 1]
    assert await store.find_wf_ids({}, sort=[("metadata.project", -1)]) == [1, 5]
    assert await store.count_wfs({"state": "COMPLETED"}) == 0


async def test_launch_queries_see_current_launches_only(store: Store) -> None:
    await insert(store, independent(3))
    for _ in range(3):
        await checkout_ready(store)
    assert await store.find_launch_fw_ids({"state": "RUNNING"}) == [1, 2, 3]
    await store.update_workflow(2, lambda wf, ctx: rerun_fw(wf, 2))
    assert await states(store, [2]) == {2: "READY"}
    assert await store.find_launch_fw_ids({"state": "RUNNING"}) == [1, 3]
    assert await store.find_launch_fw_ids({"state": "RUNNING"}, sort=[("launch_id", -1)]) == [3, 1]
    assert await store.find_launch_fw_ids({"state": "RUNNING"}, limit=1) == [1]
    assert await store.find_launch_fw_ids({}, sort=[("launch_dir", -1)]) == [3, 1]
    assert await store.find_launch_fw_ids({"launch_dir": "/runs/3"}) == [3]
    assert await store.find_launch_ids({"state": "RUNNING"}) == [1, 2, 3]
    assert await store.find_launch_ids({}, limit=2) == [1, 2]
    assert await store.fw_ids_of_launches([2, 3]) == {2: [], 3: [3]}
    (doc,) = await store.get_fw_docs([2])
    assert doc["launches"] == [] and doc["archived_launches"] == [2]
    fw_id, launch_id = await checkout_ready(store)
    assert (fw_id, launch_id) == (2, 4)
    # Without a sort, fw_ids come in the order of their launches' ids.
    assert await store.find_launch_fw_ids({"state": "RUNNING"}) == [1, 3, 2]
    assert await store.find_launch_fw_ids({"fw_id": 2}) == [2]


# -- offline runs --------------------------------------------------------------------------------


def run(launch_id: int, fw_id: int | None = None) -> OfflineRun:
    return OfflineRun(
        launch_id=launch_id,
        fw_id=fw_id if fw_id is not None else launch_id * 10,
        name=f"fw{launch_id}",
        created_on="2030-01-01T00:00:00.000000+00:00",
        updated_on="2030-01-01T00:00:00.000000+00:00",
    )


async def test_offline_runs_paging_update_forget(store: Store) -> None:
    await store.add_offline_runs([run(i) for i in (5, 1, 3, 2, 4, 6)])
    page = await store.pending_offline_runs(0, 4)
    assert [r.launch_id for r in page] == [1, 2, 3, 4]
    assert page[0] == run(1)
    page = await store.pending_offline_runs(4, 4)
    assert [r.launch_id for r in page] == [5, 6]
    assert await store.pending_offline_runs(6, 4) == []
    only = await store.pending_offline_runs(0, 10, launch_ids=[6, 2, 9])
    assert [r.launch_id for r in only] == [2, 6]

    await store.update_offline_runs(
        {
            2: {"completed": True, "updated_on": "2030-01-02T00:00:00.000000+00:00"},
            3: {"fingerprint": "abc"},
        }
    )
    assert [r.launch_id for r in await store.pending_offline_runs(0, 10)] == [1, 3, 4, 5, 6]
    two, three = await store.offline_runs([2, 3])
    assert two.completed and not two.deprecated
    assert two.updated_on == "2030-01-02T00:00:00.000000+00:00"
    assert three.fingerprint == "abc" and not three.completed

    assert await store.forget_offline(launch_ids=[1, 2]) == 2
    assert await store.forget_offline(fw_ids=[40, 50]) == 2
    assert await store.forget_offline(launch_ids=[1]) == 0
    assert [r.launch_id for r in await store.pending_offline_runs(0, 10)] == [3, 6]
    runs = await store.offline_runs([4, 99, 1])
    assert [(r.launch_id, r.deprecated) for r in runs] == [(4, True), (1, True)]


# -- delete --------------------------------------------------------------------------------------


async def test_delete_workflows(store: Store) -> None:
    await insert(store, chain(2, name="doomed"), chain(2, name="kept"))
    first = await checkout_ready(store)
    second = await checkout_ready(store)
    assert first == (1, 1) and second == (3, 2)
    await store.add_offline_runs([run(1, 1), run(2, 3)])
    await store.update_workflow(1, lambda wf, ctx: rerun_fw(wf, 1))
    third = await checkout_ready(store)
    assert third == (1, 3)
    dirs = await store.delete_workflows([2, 424242])
    assert set(dirs) == {"/runs/1"}
    assert await store.find_fw_ids({}) == [3, 4]
    assert await store.find_launch_ids({}) == [2]
    assert await store.count_wfs({}) == 1
    assert [r.launch_id for r in await store.offline_runs([1, 2])] == [2]
    with pytest.raises(NotFoundError):
        await store.load_workflow(1)
    assert await store.delete_workflows([]) == []
