"""Holds FireWorks' own workflow lock: ``fw_lock.py URI DB FW_ID SECONDS``.

Takes ``WFLock`` (no owner, no lease) as FireWorks does, prints "locked", holds it SECONDS, then
releases it and prints "released".
"""

from __future__ import annotations

import sys
import time

from fireworks.core.launchpad import WFLock
from fw_common import emit, launchpad


def main() -> None:
    uri, name, fw_id, secs = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    lp = launchpad(uri, name)
    with WFLock(lp, fw_id):
        emit("locked")
        time.sleep(secs)
    emit("released")


if __name__ == "__main__":
    main()
