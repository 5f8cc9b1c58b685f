"""What FireWorks sees: ``fw_dump.py URI DB FW_ID`` prints the workflow holding FW_ID as loaded
by ``LaunchPad.get_wf_by_fw_id``: its state, and per Firework its state, spec and launches."""

from __future__ import annotations

import sys

from fw_common import emit, launchpad


def main() -> None:
    uri, name, fw_id = sys.argv[1], sys.argv[2], int(sys.argv[3])
    lp = launchpad(uri, name)
    wf = lp.get_wf_by_fw_id(fw_id)
    fws = {}
    for fw in wf.fws:
        doc = fw.to_dict()
        fws[str(fw.fw_id)] = {
            "name": fw.name,
            "state": fw.state,
            "spec": {k: v for k, v in doc["spec"].items() if k != "_tasks"},
            "launches": [
                {
                    "launch_id": la.launch_id,
                    "state": la.state,
                    "stored_data": (la.action.stored_data if la.action else None),
                }
                for la in fw.launches
            ],
        }
    emit(
        {
            "state": wf.state,
            "name": wf.name,
            "fws": fws,
            "links": {str(k): v for k, v in wf.links.items()},
        }
    )


if __name__ == "__main__":
    main()
