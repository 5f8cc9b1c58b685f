"""SSHPool and SFTPFileSystem: one connection per host, reconnects, and one-line failures.

Connection counting and dropped connections use the in-process asyncssh server
(tests/helpers/sshserver.py); host keys, authentication and jump hosts use the real OpenSSH sshd.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import anyio
import asyncssh
import pytest
from helpers.sshserver import fault_server, sshd_target
from services import SshdService

from afw.errors import ConfigError, RemoteError, StateError
from afw.fs.launchdir import STATUS_FILES, read_offline_statuses
from afw.fs.sftp import SFTPFileSystem
from afw.ssh import SSHCommandRunner, SSHPool, SSHTarget

pytestmark = pytest.mark.anyio

REPO = Path(__file__).resolve().parents[1]


def make_launch_dirs(root: Path, count: int) -> list[str]:
    dirs = []
    for i in range(count):
        path = root / "block" / f"launcher_{i:05d}"
        path.mkdir(parents=True)
        (path / "FW_offline.json").write_text(f'{{"launch_id": {i}, "started_on": "2024-01-01"}}')
        if i % 2:
            (path / "FW_ping.json").write_text('{"ping_time": "2024-01-02T00:00:00"}')
        dirs.append(str(path))
    return dirs


def assert_each_dir_once(statuses: list[object], dirs: list[str]) -> None:
    assert [s.path for s in statuses] == dirs  # type: ignore[attr-defined]
    assert [s.launch_id for s in statuses] == list(range(len(dirs)))  # type: ignore[attr-defined]
    assert not [s for s in statuses if s.error]  # type: ignore[attr-defined]


# -- targets --------------------------------------------------------------------------------------


def test_parse_targets() -> None:
    target = SSHTarget.parse("alice@login.cluster.org:2222", jump="bob@gw:22,gw2", key_files="k")
    assert (target.user, target.host, target.port) == ("alice", "login.cluster.org", 2222)
    assert target.jump == ("bob@gw:22", "gw2") and target.key_files == ("k",)
    hops = target.hops()
    assert [(h.user, h.host, h.port, h.key_files) for h in hops] == [
        ("bob", "gw", 22, ("k",)),
        (None, "gw2", None, ("k",)),
    ]
    assert SSHTarget.parse("[::1]:22").host == "::1"
    assert str(SSHTarget.parse("cluster")) == "cluster"
    for bad in ("", "@host", "host:notaport", "host:70000"):
        with pytest.raises(ConfigError):
            SSHTarget.parse(bad)
    with pytest.raises(ConfigError, match="bad SSH setting"):
        SSHTarget.parse("host", nonsense=1)


def test_importing_the_target_module_does_not_import_asyncssh() -> None:
    code = (
        "import sys, afw, afw.fs, afw.ssh, afw.ssh.target; "
        "assert 'asyncssh' not in sys.modules, 'asyncssh imported'"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=REPO)


# -- one connection, reconnects (in-process server) ----------------------------------------------


async def test_sweep_of_1000_dirs_opens_one_connection(tmp_path: Path) -> None:
    dirs = make_launch_dirs(tmp_path, 1000)
    async with fault_server(tmp_path) as server, SSHPool() as pool:
        fs = SFTPFileSystem(server.target, pool)
        runner = SSHCommandRunner(server.target, pool)
        statuses = await read_offline_statuses(fs, dirs)
        await runner.run(["echo", "done"], timeout=10)
        assert server.state.connections == 1
        assert pool.connections_opened(server.target) == 1
    assert_each_dir_once(statuses, dirs)
    assert [s.ping_time is not None for s in statuses] == [bool(i % 2) for i in range(1000)]


async def test_connection_dropped_half_way_through_a_sweep(tmp_path: Path) -> None:
    dirs = make_launch_dirs(tmp_path, 1000)
    async with fault_server(tmp_path) as server, SSHPool() as pool:
        server.state.drop_at_open = 1500  # about half of the ~3000 opens of this sweep
        fs = SFTPFileSystem(server.target, pool)
        snaps = await fs.read_launch_dirs(dirs, STATUS_FILES)
        assert server.state.drops == 1
        assert server.state.connections == 2
        assert pool.connections_opened(server.target) == 2
    statuses = await read_offline_statuses(_Replay(snaps), dirs)
    assert_each_dir_once(statuses, dirs)


class _Replay:
    """A FileSystem stand-in answering read_launch_dirs from snapshots already read."""

    def __init__(self, snaps: list[object]) -> None:
        self.snaps = {s.path: s for s in snaps}  # type: ignore[attr-defined]

    async def read_launch_dirs(self, dirs: list[str], names: object) -> list[object]:
        return [self.snaps[d] for d in dirs]


async def test_interrupted_atomic_write_is_retried(tmp_path: Path) -> None:
    async with fault_server(tmp_path) as server:
        fs = SFTPFileSystem(server.target)
        async with fs:
            await fs.write_atomic(str(tmp_path / "FW.json"), b"{}")
            server.state.drop_at_open = server.state.sftp_opens + 1
            await fs.write_atomic(str(tmp_path / "FW.json"), b'{"fw_id": 1}')
            assert await fs.read_bytes(str(tmp_path / "FW.json")) == b'{"fw_id": 1}'
        assert (server.state.drops, server.state.connections) == (1, 2)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".FW")) == []


async def test_reconnect_gives_up_with_one_line(tmp_path: Path) -> None:
    async with fault_server(tmp_path) as server:
        pool = SSHPool(reconnect_attempts=2, backoff=0.01)
        async with pool:
            fs = SFTPFileSystem(server.target, pool)
            assert await fs.exists(str(tmp_path))
            server.close_listener()
            server.state.drop_at_open = server.state.sftp_opens + 1
            with pytest.raises(RemoteError) as info:
                await fs.read_launch_dirs([str(tmp_path)], ["FW.json"])
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"cannot reach 127.0.0.1:{server.port}")


async def test_server_without_sftp_gives_one_line(tmp_path: Path) -> None:
    async with fault_server(tmp_path, sftp=False) as server:
        async with SFTPFileSystem(server.target) as fs:
            with pytest.raises(RemoteError, match="^cannot start an SFTP session on tester@"):
                await fs.read_launch_dirs([str(tmp_path)] * 5, ["FW.json"])


async def test_closed_pool_and_filesystem_refuse_use(tmp_path: Path) -> None:
    async with fault_server(tmp_path) as server:
        pool = SSHPool()
        fs = SFTPFileSystem(server.target, pool)
        async with pool:
            assert await fs.exists(str(tmp_path))
        with pytest.raises(StateError, match="SSHPool is closed"):
            await fs.exists(str(tmp_path))
        async with SFTPFileSystem(server.target) as own:
            assert await own.exists(str(tmp_path))
        with pytest.raises(StateError, match="SFTPFileSystem is closed"):
            await own.read_launch_dirs([str(tmp_path)], ["FW.json"])


# -- failures that change nothing (real sshd) -----------------------------------------------------


async def connect_error(target: SSHTarget) -> RemoteError:
    async with SSHPool() as pool:
        with pytest.raises(RemoteError) as info:
            await SSHCommandRunner(target, pool).run(
                ["touch", "/tmp/afw-should-not-exist"], timeout=10
            )
    assert "\n" not in str(info.value)
    return info.value


async def test_unknown_host_key_is_refused(sshd: SshdService, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    known.write_text("")
    error = await connect_error(sshd_target(sshd, known_hosts=str(known)))
    assert str(error).startswith(f"host key for {sshd.host}:{sshd.port} is not trusted: ")
    assert "--accept-new-host-key" in str(error) and error.context["kind"] == "host-key"
    assert known.read_text() == ""


async def test_accept_new_host_key_records_it_once(sshd: SshdService, tmp_path: Path) -> None:
    known = tmp_path / "ssh" / "known_hosts"
    target = sshd_target(sshd, known_hosts=str(known), accept_new_host_key=True)
    async with SSHPool() as pool:
        result = await SSHCommandRunner(target, pool).run(["echo", "hi"], timeout=10)
    assert result.stdout == "hi\n"
    lines = known.read_text().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"[{sshd.host}]:{sshd.port} ssh-ed25519 ")
    assert lines[0].split()[:3] == sshd.known_hosts.read_text().split()[:3]
    async with SSHPool() as pool:
        strict = sshd_target(sshd, known_hosts=str(known))
        assert (await SSHCommandRunner(strict, pool).run(["true"], timeout=10)).returncode == 0
    assert known.read_text().splitlines() == lines


async def test_changed_host_key_is_refused_even_with_accept_new(
    sshd: SshdService, tmp_path: Path
) -> None:
    other = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode().split()
    known = tmp_path / "known_hosts"
    known.write_text(f"[{sshd.host}]:{sshd.port} {other[0]} {other[1]}\n")
    before = known.read_text()
    target = sshd_target(sshd, known_hosts=str(known), accept_new_host_key=True)
    error = await connect_error(target)
    assert "is not trusted: it differs from the key recorded in" in str(error)
    assert known.read_text() == before


async def test_refused_authentication(sshd: SshdService, tmp_path: Path) -> None:
    key = asyncssh.generate_private_key("ssh-ed25519")
    key.write_private_key(str(tmp_path / "id_other"))
    error = await connect_error(sshd_target(sshd, key_files=(str(tmp_path / "id_other"),)))
    assert str(error) == f"authentication to {sshd.user}@{sshd.host}:{sshd.port} failed"
    assert error.context["kind"] == "auth"


async def test_unreachable_port() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with anyio.fail_after(10):
        error = await connect_error(SSHTarget("127.0.0.1", port=port, config_files=()))
    assert str(error).startswith(f"cannot reach 127.0.0.1:{port}: ")
    assert error.context["kind"] == "unreachable"


async def test_silent_host_times_out() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        target = SSHTarget("127.0.0.1", port=port, config_files=(), connect_timeout=0.5)
        with anyio.fail_after(10):
            error = await connect_error(target)
    assert str(error) == f"cannot reach 127.0.0.1:{port}: no answer within 0.5 s"


async def test_missing_key_file_is_a_config_error(sshd: SshdService, tmp_path: Path) -> None:
    target = sshd_target(sshd, key_files=(str(tmp_path / "nope"),))
    async with SSHPool() as pool:
        with pytest.raises(ConfigError, match="bad SSH settings"):
            await pool.connection(target)


# -- real sshd: jump hosts, channel budget -------------------------------------------------------


async def test_jump_host(sshd: SshdService) -> None:
    hop = f"{sshd.user}@{sshd.host}:{sshd.port}"
    target = sshd_target(sshd, jump=(hop,))
    async with SSHPool() as pool:
        result = await SSHCommandRunner(target, pool).run(
            ["sh", "-c", "echo $SSH_CLIENT"], timeout=10
        )
        assert pool.connections_opened(target) == 1
    assert result.stdout.startswith("127.0.0.1 ")


async def test_ssh_config_alias_and_proxyjump(sshd: SshdService, tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_text(
        f"""Host afw-login
    HostName {sshd.host}
    Port {sshd.port}
Host afw-behind-jump
    HostName {sshd.host}
    Port {sshd.port}
    ProxyJump afw-login
Host *
    User {sshd.user}
    IdentityFile {sshd.key_path}
    IdentitiesOnly yes
    UserKnownHostsFile {sshd.known_hosts}
"""
    )
    async with SSHPool() as pool:
        for alias in ("afw-login", "afw-behind-jump"):
            target = SSHTarget(alias, config_files=(str(config),), use_agent=False)
            result = await SSHCommandRunner(target, pool).run(["echo", alias], timeout=10)
            assert result.stdout == f"{alias}\n"


async def test_channel_budget_stays_below_max_sessions(sshd: SshdService, tmp_path: Path) -> None:
    """sshd allows 10 sessions per connection: 30 commands and SFTP reads at once still work."""
    target = sshd_target(sshd)
    dirs = make_launch_dirs(tmp_path, 100)
    async with SSHPool() as pool:
        runner = SSHCommandRunner(target, pool)
        fs = SFTPFileSystem(target, pool)
        results = []

        async def one(i: int) -> None:
            results.append(await runner.run(["sh", "-c", f"sleep 0.2; echo {i}"], timeout=30))

        async with anyio.create_task_group() as group:
            for i in range(30):
                group.start_soon(one, i)
            statuses = await read_offline_statuses(fs, dirs)
        assert pool.connections_opened(target) == 1
    assert sorted(int(r.stdout) for r in results) == list(range(30))
    assert_each_dir_once(statuses, dirs)
