"""Embedding afw in another asyncio program.

The host program owns the event loop. It adds a workflow, runs Rockets as its own tasks (no
thread or event loop of afw's in the way), waits for the workflow to finish and reads results.

    python examples/embed.py [STORE_URL]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import anyio

from afw import Firework, FWorker, LaunchPad, Rocket, Workflow


def build_workflow() -> Workflow:
    fan_out = [
        Firework.create(
            [{"_fw_name": "ScriptTask", "script": f"echo {n * n}", "store_stdout": True}],
            name=f"square {n}",
        )
        for n in range(1, 5)
    ]
    total = Firework.create(
        [{"_fw_name": "ScriptTask", "script": "echo all squares done", "store_stdout": True}],
        name="gather",
        parents=fan_out,
    )
    return Workflow.create([*fan_out, total], name="embedded")


async def worker(lp: LaunchPad, root: Path, n: int) -> int:
    """One of the host's tasks: run Rockets until nothing is ready."""
    ran = 0
    while True:
        launch_dir = root / f"worker{n}-{ran}"
        launch_dir.mkdir(parents=True)
        # chdir=False: several Rockets share this process and its working directory.
        result = await Rocket(
            lp, FWorker(name=f"w{n}"), launch_dir=str(launch_dir), chdir=False
        ).run()
        if result is None:
            return ran
        ran += 1


async def main(url: str, root: Path) -> int:
    async with LaunchPad(url) as lp:
        ids = await lp.add_wf(build_workflow())
        first = min(ids.values())
        while True:
            async with anyio.create_task_group() as tg:
                for n in range(3):
                    tg.start_soon(worker, lp, root, n)
            wf = await lp.get_wf_by_fw_id(first)
            if wf.state in ("COMPLETED", "FIZZLED", "DEFUSED"):
                break
            await anyio.sleep(0.1)
        for fw_id in sorted(wf.links):
            fw = wf.fws[fw_id]
            stdout = fw.launches[-1].action["stored_data"]["stdout"].strip() if fw.launches else ""
            print(f"{fw.name}: {fw.state} -> {stdout}")
        print(f"workflow {wf.name!r}: {wf.state}")
        return 0 if wf.state == "COMPLETED" else 1


if __name__ == "__main__":
    work = Path(tempfile.mkdtemp(prefix="afw-embed-"))
    store = sys.argv[1] if len(sys.argv) > 1 else f"sqlite:///{work / 'launchpad.sqlite'}"
    sys.exit(anyio.run(main, store, work))
