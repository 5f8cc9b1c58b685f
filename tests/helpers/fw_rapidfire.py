"""FireWorks' rocket launcher: ``fw_rapidfire.py URI DB DIR [SLEEP_SECS]``.

Runs ``rapidfire(nlaunches=0)`` in DIR until no Firework is left to run (polling every SLEEP_SECS
while others still run), then prints the number of launcher directories it made.
"""

from __future__ import annotations

import os
import sys

from fireworks import FWorker
from fireworks.core.rocket_launcher import rapidfire
from fw_common import emit, launchpad


def main() -> None:
    uri, name, where, *rest = sys.argv[1:]
    sleep = int(rest[0]) if rest else 1
    os.makedirs(where, exist_ok=True)
    lp = launchpad(uri, name)
    rapidfire(lp, FWorker(), m_dir=where, nlaunches=0, sleep_time=sleep, strm_lvl="ERROR")
    emit(len([d for d in os.listdir(where) if d.startswith("launcher_")]))


if __name__ == "__main__":
    main()
