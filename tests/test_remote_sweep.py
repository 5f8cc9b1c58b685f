"""``recover_offline`` over SFTP: 1,000 remote launch dirs on one connection, with and without a
connection dropped half-way, and unchanged dirs skipped by their stat data.

The launch dirs live on this machine and are served by the in-process asyncssh server of
tests/helpers/sshserver.py, which counts connections and drops one on demand. Every parent's
action pushes its fw_id into its child's spec: after recovery each id appears exactly once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
from helpers.sshserver import fault_server
from remhelp import remotes_for

from afw import FWorker, LaunchPad
from afw.db.base import OfflineRun
from afw.fs import (
    OfflineRunWriter,
    encode_action_file,
    encode_offline,
    encode_ping,
    utcnow_iso,
)
from afw.recovery import recover_offline
from afw.recovery_remote import RemoteDirs
from afw.ssh import SSHPool, SSHTarget, host_spec

pytestmark = pytest.mark.anyio

WORKFLOWS, PARENTS = 20, 50  # 1,000 offline runs
NOW = utcnow_iso()
Run = tuple[Path, int]


async def reserve_all(lp: LaunchPad, root: Path, target: SSHTarget) -> dict[int, Run]:
    """WORKFLOWS workflows of PARENTS parents and one child; every parent reserved offline in
    its own dir, recorded as living on ``target``. Returns fw_id → (launch dir, launch id)."""
    for w in range(WORKFLOWS):
        fws: list[dict[str, Any]] = [
            {"fw_id": i, "name": f"p{w}-{i}", "spec": {"_tasks": []}} for i in range(1, PARENTS + 1)
        ]
        fws.append({"fw_id": PARENTS + 1, "name": f"child{w}", "spec": {"_tasks": []}})
        await lp.add_wf(
            {"fws": fws, "links": {str(i): [PARENTS + 1] for i in range(1, PARENTS + 1)}}
        )
    fworker, dirs, runs = FWorker(), {}, []
    while True:
        path = root / f"launcher_{len(dirs):04d}"
        fw, launch_id = await lp.reserve_fw(fworker, str(path))
        if fw is None or launch_id is None:
            break
        await lp.store.update_launch_fields(launch_id, {"remote_host": host_spec(target)})
        path.mkdir(parents=True)  # FW.json is not read by recovery; run_jobs writes the rest
        runs.append(OfflineRun(launch_id, fw.fw_id, fw.name, NOW, NOW))
        dirs[fw.fw_id] = (path, launch_id)
    await lp.store.add_offline_runs(runs)
    return dirs


def run_jobs(dirs: dict[int, Run], *, finish: bool = True) -> None:
    """What the compute nodes write (no database; plain writes, as fsync is not under test):
    start, a heartbeat and, with ``finish``, a result pushing the fw_id into the child."""
    for fw_id, (path, launch_id) in dirs.items():
        (path / "FW_ping.json").write_bytes(encode_ping(NOW))
        if not finish:
            (path / "FW_offline.json").write_bytes(encode_offline(launch_id, started_on=NOW))
            continue
        action = {"mod_spec": [{"_push": {"results": fw_id}}]}
        done = {"state": "COMPLETED", "action": action, "completed_on": NOW}
        (path / "FW_offline.json").write_bytes(encode_offline(launch_id, started_on=NOW, **done))
        final = encode_action_file(launch_id=launch_id, fw_id=fw_id, started_on=NOW, **done)
        (path / "FW_action.json").write_bytes(final)


async def sweep(lp: LaunchPad, target: SSHTarget, pool: SSHPool | None = None) -> Any:
    remote = RemoteDirs(remotes_for(target), pool)
    try:
        return await recover_offline(lp, remote=remote)
    finally:
        await remote.aclose()


async def check_recovered_once(lp: LaunchPad, dirs: dict[int, Run]) -> None:
    assert await lp.store.pending_offline_runs(0, 10_000) == []
    runs = await lp.store.offline_runs(list(range(1, len(dirs) + 1)))
    assert len(runs) == len(dirs) and all(r.completed for r in runs)
    pushed: list[int] = []
    for fw_id in await lp.get_fw_ids({}):  # type: ignore[union-attr]
        fw = await lp.get_fw_by_id(fw_id)
        if fw.name.startswith("child"):
            assert fw.state == "READY"
            results = fw.spec["results"]
            assert len(results) == len(set(results)) == PARENTS
            pushed += results
        else:
            assert fw.state == "COMPLETED"
            assert [la.state for la in fw.launches] == ["COMPLETED"]
    assert sorted(pushed) == sorted(dirs)


@pytest.mark.parametrize("drop", [False, True], ids=["steady", "dropped-half-way"])
async def test_sweep_of_1000_remote_dirs(tmp_path: Path, drop: bool) -> None:
    async with (
        LaunchPad(f"sqlite:///{tmp_path / 'lp.sqlite'}") as lp,
        fault_server(tmp_path) as server,
    ):
        dirs = await reserve_all(lp, tmp_path / "cluster", server.target)
        assert len(dirs) == WORKFLOWS * PARENTS
        await anyio.to_thread.run_sync(lambda: run_jobs(dirs))
        if drop:
            server.state.drop_at_open = 1500  # about half of the ~3,000 opens of the sweep
        summary = await sweep(lp, server.target)
        assert (summary.completed, summary.errors, summary.vanished) == (len(dirs), 0, 0)
        assert server.state.connections == (2 if drop else 1)
        assert server.state.drops == (1 if drop else 0)
        await check_recovered_once(lp, dirs)
        again = await sweep(lp, server.target)
        assert again.seen == 0 and server.state.connections == (2 if drop else 1)


async def test_unchanged_remote_dirs_are_skipped_by_stat(tmp_path: Path) -> None:
    async with (
        LaunchPad(f"sqlite:///{tmp_path / 'lp.sqlite'}") as lp,
        fault_server(tmp_path) as server,
        SSHPool() as pool,
    ):
        dirs = await reserve_all(lp, tmp_path / "cluster", server.target)
        await anyio.to_thread.run_sync(lambda: run_jobs(dirs, finish=False))
        first = await sweep(lp, server.target, pool)
        assert (first.running, first.recovered) == (len(dirs), len(dirs))
        opens = server.state.sftp_opens
        second = await sweep(lp, server.target, pool)
        assert second.unchanged == len(dirs)
        assert server.state.sftp_opens == opens, "unchanged dirs are stat'ed, not read"
        some = [path for path, _ in list(dirs.values())[:10]]
        await anyio.to_thread.run_sync(
            lambda: [OfflineRunWriter(p).finish("COMPLETED", {}) for p in some]
        )
        third = await sweep(lp, server.target, pool)
        assert (third.completed, third.unchanged) == (10, len(dirs) - 10)
        assert server.state.connections == 1


async def test_unreachable_host_counts_errors_and_changes_nothing(tmp_path: Path) -> None:
    async with LaunchPad(f"sqlite:///{tmp_path / 'lp.sqlite'}") as lp:
        async with fault_server(tmp_path) as server:
            fw_id = (await lp.add_wf({"fws": [{"fw_id": 1, "name": "a", "spec": {}}]}))[1]
            fw, launch_id = await lp.reserve_fw(FWorker(), str(tmp_path / "d"))
            assert fw is not None and launch_id is not None
            await lp.store.update_launch_fields(
                launch_id, {"remote_host": host_spec(server.target)}
            )
            await lp.add_offline_run(launch_id, fw_id, "a")
            target = server.target
        summary = await sweep(lp, target)  # the server is gone now
        assert (summary.errors, summary.recovered) == (1, 0)
        ((lid, message),) = summary.problems
        assert lid == launch_id and f"cannot reach 127.0.0.1:{server.port}" in message
        assert (await lp.get_fw_by_id(fw_id)).state == "RESERVED"
        assert len(await lp.store.pending_offline_runs(0, 10)) == 1
