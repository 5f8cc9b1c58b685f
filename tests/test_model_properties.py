"""Property tests: random DAGs driven by random event sequences through the pure model.

The test keeps its own bookkeeping (which launch started with its parents done, which Firework
an action created) and re-implements the few rules it checks (done-ness, representative launch,
workflow state precedence, rerun closure) from the reference text (§1.3, §4.1), independently of
``afw.wflogic``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from afw.action import FWAction
from afw.changeset import assign_ids
from afw.firework import Firework
from afw.launch import Launch
from afw.wflogic import refresh, rerun_fw, set_fw_state, workflow_state
from afw.workflow import Workflow

# The state table of §1.1, written out again on purpose (not imported from afw.states).
RANK = {
    "ARCHIVED": -2,
    "FIZZLED": -1,
    "DEFUSED": 0,
    "PAUSED": 0,
    "WAITING": 1,
    "READY": 2,
    "RESERVED": 3,
    "RUNNING": 4,
    "COMPLETED": 5,
}
HELD = ("DEFUSED", "PAUSED", "ARCHIVED")  # states refresh leaves alone
MAX_FWS = 30

SETTINGS = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def chance(percent: int) -> st.SearchStrategy[bool]:
    return st.integers(0, 99).map(lambda x: x < percent)


# -- independent re-implementations --------------------------------------------------------------


def allows_fizzled(wf: Workflow, fw_id: int) -> bool:
    return bool(wf.fws[fw_id].spec.get("_allow_fizzled_parents"))


def parents_of(wf: Workflow, fw_id: int) -> list[int]:
    return [p for p, children in wf.links.items() if fw_id in children]


def parent_done(wf: Workflow, parent: int, child: int) -> bool:
    state = wf.fws[parent].state
    return state == "COMPLETED" or (state == "FIZZLED" and allows_fizzled(wf, child))


def all_parents_done(wf: Workflow, fw_id: int) -> bool:
    return all(parent_done(wf, p, fw_id) for p in parents_of(wf, fw_id))


def rep_launch(fw: Firework) -> Launch | None:
    best: Launch | None = None
    for launch in fw.launches:
        if best is None or RANK[launch.state] > RANK[best.state]:
            best = launch
    return best


def expected_workflow_state(wf: Workflow) -> str:
    """§1.3 "Workflow state", first match wins."""
    states = {i: fw.state for i, fw in wf.fws.items()}
    leaves = [i for i, children in wf.links.items() if not children]
    values = list(states.values())
    if all(states[leaf] == "COMPLETED" for leaf in leaves):
        return "COMPLETED"
    if all(v == "ARCHIVED" for v in values):
        return "ARCHIVED"
    if "DEFUSED" in values:
        return "DEFUSED"
    if "PAUSED" in values:
        return "PAUSED"
    fizzled = [i for i, s in states.items() if s == "FIZZLED"]
    if fizzled:
        for f in fizzled:
            children = wf.links[f]
            if not children or not all(allows_fizzled(wf, c) for c in children):
                return "FIZZLED"
        return "RUNNING"
    if "COMPLETED" in values or "RUNNING" in values:
        return "RUNNING"
    if "RESERVED" in values:
        return "RESERVED"
    return "READY"


def expected_rerun_set(wf: Workflow, target: int) -> set[int]:
    """The target plus every descendant reachable through non-WAITING children (§1.3, §4.1)."""
    found = {target}
    stack = [target]
    while stack:
        node = stack.pop()
        for child in wf.links[node]:
            if child not in found and wf.fws[child].state != "WAITING":
                found.add(child)
                stack.append(child)
    return found


# -- the simulation ------------------------------------------------------------------------------


@dataclass
class Sim:
    wf: Workflow
    next_launch_id: int = 1
    next_fw_id: int = 1000
    # launch id -> were all parents done when it started
    launch_ok: dict[int, bool] = field(default_factory=dict)
    # Firework created by an action -> (acting fw id, launch id whose action created it)
    created_by: dict[int, tuple[int, int]] = field(default_factory=dict)
    # ledger of spec changes every Firework must carry: update_spec keys and _push entries
    required_updates: dict[int, dict[str, int]] = field(default_factory=dict)
    required_pushes: dict[int, list[int]] = field(default_factory=dict)
    reruns: int = 0


def make_sim(n: int, edges: set[tuple[int, int]], allow: list[bool]) -> Sim:
    fws = [
        Firework(
            spec={"_allow_fizzled_parents": True} if allow[i - 1] else {}, fw_id=i, name=f"fw{i}"
        )
        for i in range(1, n + 1)
    ]
    links: dict[int, list[int]] = {}
    for a, b in sorted(edges):
        links.setdefault(a, []).append(b)
    wf = Workflow.create(fws, links)
    for fw_id in range(1, n + 1):  # edges go low -> high: ascending ids are topological
        refresh(wf, fw_id)
    return Sim(wf=wf)


def descendants(wf: Workflow, fw_id: int) -> set[int]:
    found: set[int] = set()
    stack = list(wf.links[fw_id])
    while stack:
        node = stack.pop()
        if node not in found:
            found.add(node)
            stack.extend(wf.links[node])
    return found


def running_launch(fw: Firework) -> Launch | None:
    return next((launch for launch in fw.launches if launch.state == "RUNNING"), None)


def do_rerun(sim: Sim, target: int) -> None:
    """rerun_fw plus invariant (e), checked against a snapshot."""
    wf = sim.wf
    expected = expected_rerun_set(wf, target)
    before = {
        i: (
            fw.state,
            list(fw.launch_ids),
            list(fw.archived_launch_ids),
            copy.deepcopy(fw.spec),
        )
        for i, fw in wf.fws.items()
    }
    links_before = copy.deepcopy(wf.links)
    result = rerun_fw(wf, target)
    sim.reruns += 1
    assert len(result) == len(set(result)), result
    assert set(result) == expected
    assert result[0] == target
    assert wf.links == links_before
    for fw_id, fw in wf.fws.items():
        state, launches, archived, spec = before[fw_id]
        if fw_id in expected:
            assert fw.launches == [], fw_id
            assert all(lid in fw.archived_launch_ids for lid in launches), fw_id
            assert fw.archived_launch_ids == archived + [x for x in launches if x not in archived]
            if fw_id == target:
                assert fw.state == ("READY" if all_parents_done(wf, fw_id) else "WAITING")
            else:
                # its rerun parent is no longer done
                assert fw.state == "WAITING", (fw_id, fw.state)
            spec.pop("_fizzled_parents", None)
            now = {k: v for k, v in fw.spec.items() if k != "_fizzled_parents"}
            assert now == spec, fw_id  # a rerun does not undo or add spec edits
        else:
            assert fw.state == state, fw_id
            assert fw.launch_ids == launches, fw_id
            assert fw.archived_launch_ids == archived, fw_id
            assert fw.spec == spec, fw_id


def ev_start(sim: Sim, fw_id: int) -> None:
    wf = sim.wf
    lid = sim.next_launch_id
    sim.next_launch_id += 1
    sim.launch_ok[lid] = all_parents_done(wf, fw_id)
    wf.fws[fw_id].launches.append(Launch(launch_id=lid, fw_id=fw_id, state="RUNNING"))
    refresh(wf, fw_id)
    assert wf.fws[fw_id].state == "RUNNING"


def draw_action(data: st.DataObject, sim: Sim, fw_id: int, lid: int) -> dict[str, Any]:
    wf = sim.wf
    fw = wf.fws[fw_id]
    room = len(wf.fws) < MAX_FWS
    kwargs: dict[str, Any] = {}
    if data.draw(st.booleans(), label="update_spec"):
        kwargs["update_spec"] = {f"u{lid}": lid}
    if data.draw(st.booleans(), label="mod_spec"):
        kwargs["mod_spec"] = [{"_push": {"pushed": lid}}]
    if data.draw(chance(20), label="propagate"):
        kwargs["propagate"] = True
    if room and data.draw(chance(15), label="addition"):
        allow = data.draw(st.booleans(), label="addition allows fizzled")
        spec = {"_allow_fizzled_parents": True} if allow else {}
        kwargs["additions"] = [Firework(spec=spec, name=f"add{lid}")]
    # Detours only when the action is applied right away and no child has started, so the
    # refusal (covered by table tests) cannot happen here.
    detour_ok = fw.state == "RUNNING" and all(
        RANK[wf.fws[c].state] <= RANK["WAITING"] for c in wf.links[fw_id]
    )
    if room and detour_ok and data.draw(chance(15), label="detour"):
        kwargs["detours"] = [Firework(spec={}, name=f"detour{lid}")]
    if data.draw(chance(8), label="defuse_children"):
        kwargs["defuse_children"] = True
    if data.draw(chance(3), label="defuse_workflow"):
        kwargs["defuse_workflow"] = True
    return FWAction(**kwargs).to_dict()


def ev_finish(sim: Sim, data: st.DataObject, fw_id: int, state: str) -> None:
    fw = sim.wf.fws[fw_id]
    launch = running_launch(fw)
    assert launch is not None
    if state == "COMPLETED":
        launch.action = draw_action(data, sim, fw_id, launch.launch_id)
    else:
        launch.action = FWAction(stored_data={"_message": "runtime error"}, exit=True).to_dict()
    note(f"  action: {launch.action}")
    launch.set_state(state)
    refresh(sim.wf, fw_id)


def ev_defuse(sim: Sim, fw_id: int) -> None:
    # LaunchPad.defuse_fw: RESERVED/RUNNING/COMPLETED FWs are rerun first. FireWorks defuses a
    # FIZZLED FW in place, leaving a READY `_allow_fizzled_parents` child READY below a DEFUSED
    # parent; the simulation reruns FIZZLED ones first too so that invariant (b) stays exact.
    wf = sim.wf
    if wf.fws[fw_id].state in ("RESERVED", "RUNNING", "COMPLETED", "FIZZLED"):
        do_rerun(sim, fw_id)
    set_fw_state(wf, wf.fws[fw_id], "DEFUSED")
    refresh(wf, fw_id)


def ev_hold(sim: Sim, fw_id: int, state: str) -> None:
    set_fw_state(sim.wf, sim.wf.fws[fw_id], state)
    refresh(sim.wf, fw_id)
    assert sim.wf.fws[fw_id].state == state


def ev_release(sim: Sim, fw_id: int) -> None:
    """reignite (DEFUSED) / resume (PAUSED): back to WAITING, then refresh."""
    set_fw_state(sim.wf, sim.wf.fws[fw_id], "WAITING")
    refresh(sim.wf, fw_id)


def store_write(sim: Sim, before: set[int]) -> set[int]:
    """What the store does after an operation: real ids for new Fireworks, fresh tracking.

    Returns the (real) ids of the Fireworks created by the operation."""
    wf = sim.wf
    new = list(wf.new_fw_ids)
    mapping = assign_ids(wf, new, sim.next_fw_id)
    sim.next_fw_id += len(mapping)
    assert sorted(mapping.values()) == list(range(sim.next_fw_id - len(mapping), sim.next_fw_id))
    wf.new_fw_ids = []
    wf.touched_fws.clear()
    wf.touched_launches.clear()
    wf.links_changed = False
    for fw_id in set(wf.links) - before:
        (parent,) = parents_of(wf, fw_id)  # single-Firework additions/detours
        launch = rep_launch(wf.fws[parent])
        assert launch is not None
        assert wf.fws[parent].state == "COMPLETED"
        sim.created_by[fw_id] = (parent, launch.launch_id)
    return set(wf.links) - before


def record_completions(sim: Sim, states_before: dict[int, str], created: set[int]) -> None:
    """Ledger: a Firework that turned COMPLETED in this step applied its launch's spec changes
    to its children (all descendants with ``propagate``) as they were before this step's
    additions/detours; Fireworks created in this step get nothing."""
    wf = sim.wf
    for fw_id, fw in wf.fws.items():
        if fw.state != "COMPLETED" or states_before.get(fw_id) == "COMPLETED":
            continue
        launch = rep_launch(fw)
        assert launch is not None
        action = launch.action or {}
        targets = descendants(wf, fw_id) if action.get("propagate") else set(wf.links[fw_id])
        for target in targets - created:
            sim.required_updates.setdefault(target, {}).update(action.get("update_spec") or {})
            if action.get("mod_spec"):
                sim.required_pushes.setdefault(target, []).append(launch.launch_id)


# -- invariants ----------------------------------------------------------------------------------


def check_invariants(sim: Sim) -> None:
    wf = sim.wf
    assert set(wf.fws) == set(wf.links) == set(wf.fw_states)
    assert all(fw_id > 0 for fw_id in wf.links)
    for fw_id, fw in wf.fws.items():
        assert fw.fw_id == fw_id
        state = fw.state
        # (c) fw_states mirrors every Firework's state
        assert wf.fw_states[fw_id] == state, (fw_id, wf.fw_states[fw_id], state)
        # (a) started only with every parent done
        if state in ("RUNNING", "COMPLETED", "FIZZLED"):
            assert fw.launches, fw_id
            assert all(sim.launch_ok[launch.launch_id] for launch in fw.launches), fw_id
        if state in HELD:
            continue
        launch = rep_launch(fw)
        if launch is None:
            # (b) READY <=> all parents done, for Fireworks without a launch
            assert state in ("READY", "WAITING"), (fw_id, state)
            assert (state == "READY") == all_parents_done(wf, fw_id), (fw_id, state)
        else:
            # a launched Firework keeps its parents done and follows its representative launch
            assert all_parents_done(wf, fw_id), fw_id
            assert state == launch.state, (fw_id, state, launch.state)
        for launch in fw.launches:
            assert launch.fw_id == fw_id
    # (f, exact) every spec holds exactly the update_spec keys and _push entries of the ledger:
    # each completion reached its targets once, and nothing reached Fireworks its own action
    # created (spec edits are never undone by reruns, so the ledger only grows)
    for fw_id, fw in wf.fws.items():
        updates = {k: v for k, v in fw.spec.items() if k.startswith("u") and k[1:].isdigit()}
        assert updates == sim.required_updates.get(fw_id, {}), fw_id
        pushes = sorted(fw.spec.get("pushed", []))
        assert pushes == sorted(sim.required_pushes.get(fw_id, [])), fw_id
    # (d) workflow state by the precedence table
    assert workflow_state(wf) == expected_workflow_state(wf)
    # (f) spec changes of a COMPLETED Firework's action are in its children's specs (except in
    # Fireworks created by that same action)
    for fw_id, fw in wf.fws.items():
        if fw.state != "COMPLETED":
            continue
        launch = rep_launch(fw)
        assert launch is not None
        action = launch.action or {}
        update = action.get("update_spec") or {}
        pushed = bool(action.get("mod_spec"))
        for child in wf.links[fw_id]:
            if sim.created_by.get(child) == (fw_id, launch.launch_id):
                spec = wf.fws[child].spec
                assert not set(update) & set(spec), (fw_id, child)
                continue
            spec = wf.fws[child].spec
            for key, value in update.items():
                assert spec.get(key) == value, (fw_id, child, key)
            if pushed:
                assert launch.launch_id in spec.get("pushed", []), (fw_id, child)


# -- the property ----------------------------------------------------------------------------------


# weighted: progress events dominate so that runs get deep before they are held or reset
EVENTS = [
    *["start"] * 6,
    *["complete"] * 6,
    "fail",
    "defuse",
    "pause",
    "reignite",
    "resume",
    *["rerun"] * 2,
]


@st.composite
def dags(draw: st.DrawFn) -> tuple[int, set[tuple[int, int]], list[bool]]:
    n = draw(st.integers(1, 12), label="n")
    pairs = st.tuples(st.integers(1, n), st.integers(1, n)).filter(lambda p: p[0] != p[1])
    raw = draw(st.lists(pairs, max_size=2 * n), label="edges")
    edges = {(min(a, b), max(a, b)) for a, b in raw}
    allow = draw(st.lists(chance(30), min_size=n, max_size=n), label="allow")
    return n, edges, allow


def candidates(sim: Sim, event: str) -> list[int]:
    fws = sim.wf.fws
    if event == "start":
        return sorted(i for i, fw in fws.items() if fw.state == "READY")
    if event in ("complete", "fail"):
        return sorted(i for i, fw in fws.items() if running_launch(fw) is not None)
    if event == "defuse":
        return sorted(i for i, fw in fws.items() if fw.state != "DEFUSED")
    if event == "pause":
        return sorted(i for i, fw in fws.items() if fw.state in ("WAITING", "READY"))
    if event == "reignite":
        return sorted(i for i, fw in fws.items() if fw.state == "DEFUSED")
    if event == "resume":
        return sorted(i for i, fw in fws.items() if fw.state == "PAUSED")
    if event == "rerun":
        # LaunchPad.rerun_fw skips ARCHIVED/DEFUSED Fireworks
        return sorted(i for i, fw in fws.items() if fw.state not in ("DEFUSED", "ARCHIVED"))
    raise AssertionError(event)


def apply_event(sim: Sim, data: st.DataObject, event: str, fw_id: int) -> None:
    handlers: dict[str, Callable[[], None]] = {
        "start": lambda: ev_start(sim, fw_id),
        "complete": lambda: ev_finish(sim, data, fw_id, "COMPLETED"),
        "fail": lambda: ev_finish(sim, data, fw_id, "FIZZLED"),
        "defuse": lambda: ev_defuse(sim, fw_id),
        "pause": lambda: ev_hold(sim, fw_id, "PAUSED"),
        "reignite": lambda: ev_release(sim, fw_id),
        "resume": lambda: ev_release(sim, fw_id),
        "rerun": lambda: do_rerun(sim, fw_id),
    }
    handlers[event]()


@SETTINGS
@given(dag=dags(), data=st.data())
def test_random_event_sequences_keep_the_invariants(
    dag: tuple[int, set[tuple[int, int]], list[bool]], data: st.DataObject
) -> None:
    n, edges, allow = dag
    sim = make_sim(n, edges, allow)
    check_invariants(sim)
    steps = data.draw(st.integers(0, 60), label="steps")
    for _ in range(steps):
        event = data.draw(st.sampled_from(EVENTS), label="event")
        options = candidates(sim, event)
        if not options:
            continue
        fw_id = data.draw(st.sampled_from(options), label="fw")
        note(f"{event} {fw_id}  states={ {i: fw.state for i, fw in sim.wf.fws.items()} }")
        before = set(sim.wf.links)
        states_before = {i: fw.state for i, fw in sim.wf.fws.items()}
        apply_event(sim, data, event, fw_id)
        created = store_write(sim, before)
        record_completions(sim, states_before, created)
        check_invariants(sim)
    if data.draw(st.booleans(), label="archive"):
        # LaunchPad.archive_wf: rerun every FW, then set each ARCHIVED and refresh it
        for fw_id in sorted(sim.wf.fws):
            if sim.wf.fws[fw_id].state not in ("DEFUSED", "ARCHIVED", "WAITING"):
                do_rerun(sim, fw_id)
        for fw_id, fw in sim.wf.fws.items():
            set_fw_state(sim.wf, fw, "ARCHIVED")
            refresh(sim.wf, fw_id)
        assert workflow_state(sim.wf) == "ARCHIVED"
        check_invariants(sim)


@SETTINGS
@given(dag=dags(), data=st.data())
def test_completing_everything_completes_the_workflow(
    dag: tuple[int, set[tuple[int, int]], list[bool]], data: st.DataObject
) -> None:
    """Run READY Fireworks (some fail) until nothing is READY; then check the end state."""
    n, edges, allow = dag
    sim = make_sim(n, edges, allow)
    failures = data.draw(st.sets(st.integers(1, n), max_size=2), label="failing")
    while True:
        ready = candidates(sim, "start")
        if not ready:
            break
        fw_id = ready[0]
        ev_start(sim, fw_id)
        launch = running_launch(sim.wf.fws[fw_id])
        assert launch is not None
        launch.action = FWAction(update_spec={f"u{launch.launch_id}": fw_id}).to_dict()
        states_before = {i: fw.state for i, fw in sim.wf.fws.items()}
        launch.set_state("FIZZLED" if fw_id in failures else "COMPLETED")
        refresh(sim.wf, fw_id)
        record_completions(sim, states_before, set())
        check_invariants(sim)
    wf = sim.wf
    if not failures:
        assert all(fw.state == "COMPLETED" for fw in wf.fws.values())
        assert workflow_state(wf) == "COMPLETED"
    else:
        # nothing can progress: every WAITING FW has a parent that is not done
        for fw_id, fw in wf.fws.items():
            if fw.state == "WAITING":
                assert not all_parents_done(wf, fw_id)
        assert workflow_state(wf) in ("FIZZLED", "RUNNING", "COMPLETED")
        assert workflow_state(wf) == expected_workflow_state(wf)


@SETTINGS
@given(dag=dags(), data=st.data())
def test_fizzled_parents_snapshot_is_not_a_live_view(
    dag: tuple[int, set[tuple[int, int]], list[bool]], data: st.DataObject
) -> None:
    """``_fizzled_parents`` records the parents as they were, like FireWorks' serialized copy."""
    n, edges, allow = dag
    sim = make_sim(n, edges, allow)
    wf = sim.wf
    roots = candidates(sim, "start")
    fw_id = data.draw(st.sampled_from(roots), label="root")
    ev_start(sim, fw_id)
    launch = running_launch(wf.fws[fw_id])
    assert launch is not None
    launch.set_state("FIZZLED")
    refresh(wf, fw_id)
    recorded = [c for c in wf.links[fw_id] if "_fizzled_parents" in wf.fws[c].spec]
    snapshots = {c: copy.deepcopy(wf.fws[c].spec["_fizzled_parents"]) for c in recorded}
    wf.fws[fw_id].spec["changed_later"] = True
    launch.touch(checkpoint={"_task_n": 99})
    for c in recorded:
        assert wf.fws[c].spec["_fizzled_parents"] == snapshots[c]
