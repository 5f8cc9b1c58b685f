"""FireWorks adds workflows: ``fw_add.py URI DB [--reset] WORKFLOW.json [...]``.

``--reset`` first initializes the database as ``lpad reset`` does (FireWorks needs that).

Each file is a FireWorks workflow dict (``Workflow.from_dict``); prints ``[{old: new}, ...]``.
"""

from __future__ import annotations

import json
import sys

from fireworks import Workflow
from fw_common import emit, launchpad


def main() -> None:
    uri, name, *files = sys.argv[1:]
    lp = launchpad(uri, name)
    if files[:1] == ["--reset"]:
        lp.reset("", require_password=False)
        files = files[1:]
    maps = []
    for path in files:
        with open(path) as f:
            wf = Workflow.from_dict(json.load(f))
        maps.append({str(k): v for k, v in lp.add_wf(wf).items()})
    emit(maps)


if __name__ == "__main__":
    main()
