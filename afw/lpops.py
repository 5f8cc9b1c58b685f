"""Pure workflow operations behind the LaunchPad's commands.

Each function runs inside a store's atomic ``update_workflow``/``checkout`` on a loaded
workflow, using :mod:`afw.wflogic`; none performs I/O. The rerun operations live in
:mod:`afw.reruns` (re-exported here).
"""

from __future__ import annotations

import socket
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

from afw.db.base import UpdateContext
from afw.firework import Firework
from afw.fworker import FWorker
from afw.launch import Launch
from afw.reruns import build_recovery, rerun_many
from afw.timeutil import now_iso
from afw.wflogic import refresh, rerun_fw, set_fw_state
from afw.workflow import Workflow

__all__ = [
    "archive_all",
    "build_recovery",
    "checkout",
    "complete",
    "defuse",
    "host_info",
    "pause",
    "reignite",
    "rerun_many",
    "resume",
    "set_spec",
]


@cache
def host_info() -> tuple[str, str]:
    """This machine's host name and IP address (FireWorks records both on launches)."""
    host = socket.gethostname()
    try:
        ip = socket.gethostbyname(host)
    except OSError:
        ip = "127.0.0.1"
    return host, ip


def checkout(
    wf: Workflow,
    ctx: UpdateContext,
    fw_id: int,
    *,
    fworker: FWorker,
    launch_dir: str,
    state: str,
) -> tuple[Firework, Launch]:
    """Give ``fw_id`` a launch in ``state`` (RUNNING or RESERVED), reusing a reservation."""
    fw = wf.fw(fw_id)
    launch = next((la for la in fw.launches if la.state == "RESERVED"), None)
    host, ip = host_info()
    if launch is None:
        launch = Launch(launch_id=ctx.new_launch_id(), fw_id=fw_id, state=state)
        fw.launches.append(launch)
    launch.fworker, launch.host, launch.ip = fworker.to_dict(), host, ip
    launch.launch_dir = launch_dir or launch.launch_dir
    launch.trackers = [dict(t) for t in fw.spec.get("_trackers") or []]
    launch.set_state(state)
    wf.mark_launch(launch)
    set_fw_state(wf, fw, state)
    refresh(wf, fw_id)
    return fw, launch


def complete(
    wf: Workflow, fw_ids: Sequence[int], launch_id: int, action: Mapping[str, Any], state: str
) -> bool:
    """Finish a launch and refresh every Firework holding it. Idempotent: a launch already in
    its final state is left alone, so an action is never applied twice."""
    applied = False
    for fw_id in fw_ids:
        fw = wf.fw(fw_id)
        launch = next((la for la in fw.launches if la.launch_id == launch_id), None)
        if launch is None:
            continue
        if launch.state not in ("COMPLETED", "FIZZLED"):
            launch.action = dict(action)
            launch.set_state(state)
            wf.mark_launch(launch)
            applied = True
        refresh(wf, fw_id)
    return applied


def defuse(wf: Workflow, fw_id: int) -> bool:
    """DEFUSE a Firework; one that is RESERVED/RUNNING/COMPLETED is rerun first (FireWorks)."""
    fw = wf.fw(fw_id)
    if fw.state == "DEFUSED":
        return False
    if fw.state in ("RESERVED", "RUNNING", "COMPLETED"):
        rerun_fw(wf, fw_id)
    if fw.state == "ARCHIVED":
        return False
    set_fw_state(wf, fw, "DEFUSED")
    refresh(wf, fw_id)
    return True


def pause(wf: Workflow, fw_id: int) -> bool:
    fw = wf.fw(fw_id)
    if fw.state not in ("WAITING", "READY", "RESERVED"):
        return False
    set_fw_state(wf, fw, "PAUSED")
    return True


def _wake(wf: Workflow, fw_id: int, from_state: str) -> bool:
    fw = wf.fw(fw_id)
    if fw.state != from_state:
        return False
    set_fw_state(wf, fw, "WAITING")
    refresh(wf, fw_id)
    return True


def reignite(wf: Workflow, fw_id: int) -> bool:
    return _wake(wf, fw_id, "DEFUSED")


def resume(wf: Workflow, fw_id: int) -> bool:
    return _wake(wf, fw_id, "PAUSED")


def archive_all(wf: Workflow) -> bool:
    """Archive every Firework (launches archived first, as FireWorks does)."""
    wf.need(wf.links)
    if all(s == "ARCHIVED" for s in wf.fw_states.values()):
        return False
    for fw_id in wf.links:
        fw = wf.fws[fw_id]
        if fw.launches:
            fw.archive_launches()
        set_fw_state(wf, fw, "ARCHIVED")
    return True


def set_spec(wf: Workflow, fw_id: int, changes: Mapping[str, Any], *, any_state: bool) -> bool:
    """Set spec keys (``a.b`` paths) on one Firework; by default only when it is not active."""
    fw = wf.fw(fw_id)
    if not any_state and fw.state not in ("READY", "WAITING", "FIZZLED", "DEFUSED", "PAUSED"):
        return False
    for path, value in changes.items():
        node = fw.spec
        *heads, last = path.split(".")
        for head in heads:
            node = node.setdefault(head, {})
        node[last] = value
    fw.touch(now_iso())
    wf.mark(fw)
    return True
