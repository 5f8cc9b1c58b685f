"""FireWorks 2.1.4 ``lpad recover_offline``, timed: the CLI's own function, called in-process.

Argument: ``{"uri", "db", "workdir"}``. Writes a ``my_launchpad.yaml`` for that database, then
calls ``fireworks.scripts.lpad_run.recover_offline`` with the CLI's defaults (no worker filter,
errors not ignored), exactly what ``lpad -l my_launchpad.yaml recover_offline -w ''`` would run
if ``-w ''`` worked in 2.1.4 (behaviour file 5.5).
"""

from __future__ import annotations

import json
import os
from argparse import Namespace

from benchmarks.fw_side.common import COUNTER, args, emit, launchpad, timer


def main() -> None:
    a = args()
    os.makedirs(a["workdir"], exist_ok=True)
    lp_file = os.path.join(a["workdir"], "my_launchpad.yaml")
    with open(lp_file, "w") as handle:
        config = {"host": a["uri"], "uri_mode": True, "name": a["db"], "strm_lvl": "ERROR"}
        json.dump(config, handle)  # JSON is YAML
    from fireworks.scripts.lpad_run import recover_offline

    lp = launchpad(a["uri"], a["db"])
    pending = lp.offline_runs.count_documents({"completed": False, "deprecated": False})
    ns = Namespace(
        launchpad_file=lp_file,
        fworker_file=None,
        ignore_errors=False,
        print_errors=False,
        loglvl="ERROR",
        silencer=True,
        logdir=None,
    )
    COUNTER.reset()
    start = timer()
    recover_offline(ns)
    wall = timer() - start
    commands, command_s = dict(COUNTER.counts), COUNTER.seconds()
    states: dict[str, int] = {}
    for doc in lp.fireworks.aggregate([{"$group": {"_id": "$state", "n": {"$sum": 1}}}]):
        states[str(doc["_id"])] = int(doc["n"])
    emit(
        {
            "wall_s": wall,
            "ops": pending,
            "commands": commands,
            "command_s": command_s,
            "fw_states": states,
        }
    )


if __name__ == "__main__":
    main()
