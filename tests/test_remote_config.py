"""``remotes.yaml`` and ``--remote-host`` resolution (no network)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from afw.cli.remote import SiteOptions, remote_queue_config
from afw.errors import ConfigError
from afw.ssh import SSHTarget, host_spec, load_remotes

DOC = {
    "cluster": {
        "host": "alice@login.cluster.org",
        "port": 2222,
        "jump": "gw.cluster.org",
        "key_files": "~/.ssh/id_cluster",
        "known_hosts": "~/.ssh/known_cluster",
        "remote_dir": "/scratch/alice/afw",
        "qadapter": {"_fw_q_type": "SLURM", "rocket_launch": "afw rlaunch singleshot --offline"},
    },
    "other": {"host": "other.org", "user": "bob", "qadapter": "~/q.yaml"},
}


@pytest.fixture
def remotes_file(tmp_path: Path) -> Path:
    path = tmp_path / "remotes.yaml"
    path.write_text(yaml.safe_dump(DOC))
    return path


def test_a_name_gives_its_settings(remotes_file: Path) -> None:
    remote = load_remotes(str(remotes_file)).resolve("cluster")
    t = remote.target
    assert (t.user, t.host, t.port, t.jump) == (
        "alice",
        "login.cluster.org",
        2222,
        ("gw.cluster.org",),
    )
    assert t.key_files == (str(Path("~/.ssh/id_cluster").expanduser()),)
    assert t.known_hosts == str(Path("~/.ssh/known_cluster").expanduser())
    assert (remote.name, remote.remote_dir, remote.spec) == (
        "cluster",
        "/scratch/alice/afw",
        "alice@login.cluster.org:2222",
    )
    config = remote_queue_config(remote)
    assert config is not None and config.offline


def test_a_host_takes_the_settings_of_its_entry(remotes_file: Path) -> None:
    remotes = load_remotes(str(remotes_file))
    for spec in ("alice@login.cluster.org:2222", "login.cluster.org", "login.cluster.org:2222"):
        found = remotes.resolve(spec)
        assert found.name == "cluster" and found.spec == "alice@login.cluster.org:2222", spec
    assert remotes.resolve("carol@login.cluster.org").name is None  # another user: no entry
    plain = remotes.resolve("zed@elsewhere:23", accept_new_host_key=True)
    assert plain.target == SSHTarget("elsewhere", user="zed", port=23, accept_new_host_key=True)
    assert remotes.resolve("other").target.user == "bob"


def test_no_file_is_fine_and_the_default_is_in_afw_home(
    tmp_path: Path, remotes_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AFW_REMOTES", raising=False)
    monkeypatch.setenv("AFW_HOME", str(tmp_path / "home"))
    assert load_remotes().hosts == {}
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "remotes.yaml").write_text(remotes_file.read_text())
    assert sorted(load_remotes().hosts) == ["cluster", "other"]
    monkeypatch.setenv("AFW_REMOTES", str(tmp_path / "nope.yaml"))
    with pytest.raises(ConfigError, match="^remotes file not found: "):
        load_remotes()


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"host": "h", "hots": 1}, "unknown key 'hots'"),
        ({"user": "x"}, "has no host"),
        ({"host": "h", "port": "22x"}, "port must be a number"),
        ({"host": "h:notaport"}, "bad port in SSH host"),
        ({"host": "h", "qadapter": 3}, "qadapter must be a path or a mapping"),
        ({"host": "h", "connect_timeout": -1}, "connect_timeout must be positive"),
    ],
)
def test_bad_entries_are_one_line_errors(
    tmp_path: Path, entry: dict[str, object], message: str
) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump({"c": entry}))
    with pytest.raises(ConfigError) as error:
        load_remotes(str(path))
    assert message in str(error.value) and "\n" not in str(error.value)
    assert str(error.value).startswith(f"{path}: remote 'c'")


def test_malformed_yaml(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text("c: [unclosed\n")
    with pytest.raises(ConfigError, match="^malformed YAML in "):
        load_remotes(str(path))


def test_site_options_refuse_mixed_local_and_remote(remotes_file: Path) -> None:
    with pytest.raises(ConfigError, match="--remote-dir needs --remote-host"):
        SiteOptions(remote_dir="/x").remote()
    with pytest.raises(ConfigError, match="use --remote-dir"):
        SiteOptions(launch_dir="/x", remote_host="cluster", remotes_file=str(remotes_file)).remote()
    assert SiteOptions().remote() is None
    remote = SiteOptions(
        remote_host="cluster", remotes_file=str(remotes_file), accept_new_host_key=True
    ).remote()
    assert remote is not None and remote.target.accept_new_host_key


def test_host_spec() -> None:
    assert host_spec(SSHTarget("::1", user="u", port=22)) == "u@[::1]:22"
    assert host_spec(SSHTarget("h")) == "h"
