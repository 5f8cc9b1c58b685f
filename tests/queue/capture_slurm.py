"""Re-capture the SLURM outputs in ``captures/slurm`` from a running Slurm (``scripts/services``).

Run: ``.venv/bin/python tests/queue/capture_slurm.py``. Each capture ``<name>`` is stored as
``<name>.cmd`` (the command line), ``<name>.stdout``, ``<name>.stderr`` and ``<name>.rc`` (the
last three only when not empty / not zero). The commands are the ones afw's SlurmAdapter builds.
"""

from __future__ import annotations

import getpass
import shlex
import tempfile
import time
from pathlib import Path

import anyio

from afw.queue import CommandResult, LocalCommandRunner, SlurmAdapter

OUT = Path(__file__).parent / "captures" / "slurm"
SCRIPT = """#!/bin/bash
#SBATCH --job-name={name}
#SBATCH --output={name}-%j.out
{directives}
{body}
"""


async def main() -> None:
    runner = LocalCommandRunner()
    slurm = SlurmAdapter()
    user = getpass.getuser()
    work = Path(tempfile.mkdtemp(prefix="afw-capture-"))

    async def run(name: str, argv: list[str]) -> CommandResult:
        result = await runner.run(argv, cwd=str(work), timeout=30)
        save(name, argv, result)
        return result

    def script(name: str, body: str, directives: str = "") -> str:
        path = work / f"{name}.sh"
        path.write_text(SCRIPT.format(name=name, body=body, directives=directives))
        return str(path)

    ok = await run("sbatch_ok", slurm.submit_command(script("quick", "echo hello")))
    ids = {"quick": slurm.parse_submit(ok)}
    for name, body, directives in [
        ("long", "sleep 300", ""),
        ("failing", "exit 3", ""),
        ("later", "echo later", "#SBATCH --begin=now+1hour"),
        ("victim", "sleep 300", ""),
        ("array", "sleep 300", "#SBATCH --array=1-4"),
    ]:
        argv = slurm.submit_command(script(name, body, directives))
        ids[name] = slurm.parse_submit(await runner.run(argv, timeout=30))
    bad = [*slurm.submit_cmd, "--partition=nosuchpartition", script("badpart", "true")]
    await run("sbatch_bad_partition", bad)
    await run("sbatch_missing_script", slurm.submit_command(str(work / "missing.sh")))
    time.sleep(4)
    await runner.run(slurm.cancel_command([ids["victim"]]), timeout=30)
    time.sleep(2)
    await run("squeue_count", slurm.count_command(user))
    await run("squeue_count_partition", slurm.count_command(user, "debug"))
    await run("squeue_count_bad_partition", slurm.count_command(user, "nosuchpartition"))
    await run("squeue_count_nobody", slurm.count_command("nobody"))
    await run("squeue_status", slurm.status_command([*ids.values(), "999999"]))
    await run("squeue_status_one", slurm.status_command([ids["long"]]))
    await run("squeue_status_unknown", slurm.status_command(["999999"]))
    await run("sacct_disabled", slurm.history_command(["999999"]) or [])
    await run("scancel_unknown", slurm.cancel_command(["999999"]))
    await run("scancel_ok", slurm.cancel_command([ids["long"], ids["later"], ids["array"]]))
    (OUT / "ids.txt").write_text("".join(f"{k} {v}\n" for k, v in ids.items()))


def save(name: str, argv: list[str], result: CommandResult) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"{name}.cmd").write_text(shlex.join(argv) + "\n")
    for suffix, text in ((".stdout", result.stdout), (".stderr", result.stderr)):
        path = OUT / f"{name}{suffix}"
        path.unlink(missing_ok=True)
        if text:
            path.write_text(text)
    (OUT / f"{name}.rc").unlink(missing_ok=True)
    if result.returncode:
        (OUT / f"{name}.rc").write_text(f"{result.returncode}\n")


if __name__ == "__main__":
    anyio.run(main)
