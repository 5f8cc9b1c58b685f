"""FireWorks 2.1.4 fan-in: 1 workflow, P parents and one child; parents completed one by one.

Argument: ``{"uri", "db", "fws_file"}`` (``[{"name", "spec"}]``: P parents, then the child).
Setup (untimed): ``reset``, ``add_wf``. Timed: for each parent ``checkout_fw(fw_id=...)`` then
``complete_launch`` with a small action (stored_data and an update_spec for the child), as an
online Rocket does at its start and end. The child must be READY at the end.
"""

from __future__ import annotations

import datetime
from typing import Any

from benchmarks.fw_side.common import COUNTER, args, emit, launchpad, load_fireworks, timer


def _setup(lp: Any, fws_file: str) -> list[int]:
    from fireworks import Workflow

    lp.reset(datetime.datetime.now().strftime("%Y-%m-%d"))
    fws = load_fireworks(fws_file)
    old = [fw.fw_id for fw in fws]  # add_wf renumbers the objects in place
    links = {parent: [old[-1]] for parent in old[:-1]}
    mapping = lp.add_wf(Workflow(fws, links))
    return [mapping[i] for i in old]


def main() -> None:
    from fireworks import FWAction, FWorker

    a = args()
    lp = launchpad(a["uri"], a["db"])
    ids = _setup(lp, a["fws_file"])
    parents, child = ids[:-1], ids[-1]
    worker = FWorker(name="fanin-worker")
    COUNTER.reset()
    t_checkout = t_complete = 0.0
    start = timer()
    for n, fw_id in enumerate(parents):
        t0 = timer()
        _fw, launch_id = lp.checkout_fw(worker, f"/tmp/fanin/{fw_id}", fw_id=fw_id)
        t1 = timer()
        action = FWAction(stored_data={"energy": -1.0 * n}, update_spec={"parent_energy": -1.0 * n})
        lp.complete_launch(launch_id, action, "COMPLETED")
        t_checkout += t1 - t0
        t_complete += timer() - t1
    wall = timer() - start
    commands, command_s = dict(COUNTER.counts), COUNTER.seconds()
    state = lp.fireworks.find_one({"fw_id": child}, {"state": 1})["state"]
    emit(
        {
            "wall_s": wall,
            "ops": len(parents),
            "commands": commands,
            "command_s": command_s,
            "checkout_s": t_checkout,
            "complete_s": t_complete,
            "child_state": state,
        }
    )


if __name__ == "__main__":
    main()
