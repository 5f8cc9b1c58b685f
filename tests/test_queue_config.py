"""``my_qadapter.yaml`` files: FireWorks keys, validation, per-Firework overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from afw.errors import ConfigError
from afw.queue import LSFAdapter, PBSAdapter, QueueConfig, SlurmAdapter, load_queue_config

FIREWORKS_SLURM = """\
_fw_name: CommonAdapter
_fw_q_type: SLURM
_fw_q_name: perlmutter
_fw_timeout: 20
_q_commands_override:
  submit_cmd: sbatch --clusters=c1
  status_cmd: squeue
rocket_launch: rlaunch -w /home/u/fw/my_fworker.yaml -l /home/u/fw/my_launchpad.yaml singleshot
nodes: 2
ntasks: 64
walltime: 24:00:00
queue: regular
account: m1234
job_name: null
pre_rocket: |
  module load vasp
  export OMP_NUM_THREADS=1
post_rocket: null
logdir: /home/u/logs
"""


def write(tmp_path: Path, text: str, name: str = "my_qadapter.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_fireworks_slurm_file(tmp_path: Path) -> None:
    config = load_queue_config(write(tmp_path, FIREWORKS_SLURM))
    assert config.q_type == "SLURM"
    assert config.q_name == "perlmutter"
    assert config.timeout == 20.0
    assert config.logdir == "/home/u/logs"
    assert config.queue == "regular"
    assert config.rocket_launch.endswith("singleshot")
    assert not config.offline
    # YAML 1.1 would read 24:00:00 as 86400 seconds; FireWorks (YAML 1.2) keeps the string.
    assert config.options["walltime"] == "24:00:00"
    assert config.options["pre_rocket"] == "module load vasp\nexport OMP_NUM_THREADS=1\n"
    assert "rocket_launch" not in config.options
    adapter = config.adapter
    assert isinstance(adapter, SlurmAdapter)
    assert adapter.submit_command("s") == ["sbatch", "--clusters=c1", "s"]
    script = config.render_script("/scratch/l1", job_name="fw 7")
    assert "#SBATCH --time=24:00:00" in script
    assert "#SBATCH --account=m1234" in script
    assert "#SBATCH --job-name=fw_7" in script
    assert "module load vasp\nexport OMP_NUM_THREADS=1\n\ncd /scratch/l1\nrlaunch" in script


def test_offline_flag() -> None:
    config = QueueConfig.from_dict(
        {"_fw_q_type": "PBS", "rocket_launch": "rlaunch -w w.yaml singleshot --offline"}
    )
    assert config.offline
    assert not config.merge({"rocket_launch": "rlaunch singleshot --offline_mode"}).offline


@pytest.mark.parametrize(
    ("q_type", "canonical", "cls"),
    [
        ("PBS", "PBS", PBSAdapter),
        ("Torque", "PBS", PBSAdapter),
        ("LoadSharingFacility", "LoadSharingFacility", LSFAdapter),
        ("LSF", "LoadSharingFacility", LSFAdapter),
        ("slurm", "SLURM", SlurmAdapter),
    ],
)
def test_q_type_names(q_type: str, canonical: str, cls: type) -> None:
    config = QueueConfig.from_dict({"_fw_q_type": q_type, "rocket_launch": "rlaunch singleshot"})
    assert config.q_type == canonical
    assert isinstance(config.adapter, cls)


@pytest.mark.parametrize(
    "name",
    [
        None,
        "CommonAdapter",
        "{{fireworks.user_objects.queue_adapters.common_adapter.CommonAdapter}}",
    ],
)
def test_fw_name_common_adapter(name: str | None) -> None:
    data = {"_fw_name": name, "_fw_q_type": "SGE", "rocket_launch": "rlaunch singleshot"}
    assert QueueConfig.from_dict(data).q_type == "SGE"


def test_unknown_fw_name() -> None:
    with pytest.raises(ConfigError, match="unsupported queue adapter _fw_name 'PBSAdapterNEWT'"):
        QueueConfig.from_dict(
            {"_fw_name": "PBSAdapterNEWT", "_fw_q_type": "PBS", "rocket_launch": "r"}
        )


def test_unknown_q_type(tmp_path: Path) -> None:
    path = write(tmp_path, "_fw_q_type: HTCondor\nrocket_launch: rlaunch singleshot\n")
    with pytest.raises(ConfigError) as info:
        load_queue_config(path)
    message = str(info.value)
    assert "\n" not in message
    assert message == (
        f"{path}: unknown _fw_q_type 'HTCondor'; use one of: "
        "SLURM, PBS, Torque, SGE, LoadSharingFacility, LSF, shell"
    )


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("_fw_q_type: SLURM\nnodes: 1\n", "missing rocket_launch"),
        ("_fw_q_type: SLURM\nrocket_launch: '  '\n", "missing rocket_launch"),
        ("rocket_launch: rlaunch singleshot\n", "missing _fw_q_type"),
        ("_fw_q_type: SLURM\nrocket_launch: r\n_fw_timeout: -1\n", "_fw_timeout must be"),
        ("_fw_q_type: SLURM\nrocket_launch: r\n_q_commands_override: sbatch\n", "must map names"),
        ("_fw_q_type: SLURM\nrocket_launch: r\n_q_commands_override: {qsub: x}\n", "unknown"),
        ("- a\n- b\n", "must hold a mapping"),
        ("", "must hold a mapping"),
    ],
)
def test_invalid_files(tmp_path: Path, text: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words) as info:
        load_queue_config(write(tmp_path, text))
    assert "\n" not in str(info.value)


def test_malformed_yaml(tmp_path: Path) -> None:
    path = write(tmp_path, "_fw_q_type: SLURM\nrocket_launch: [rlaunch\nnodes: 1\n")
    with pytest.raises(ConfigError) as info:
        load_queue_config(path)
    message = str(info.value)
    assert message.startswith(f"malformed YAML in {path}: ")
    assert "line " in message
    assert "\n" not in message


def test_missing_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read queue adapter file"):
        load_queue_config(tmp_path / "nope.yaml")
    path = write(
        tmp_path, "_fw_q_type: SLURM\nrocket_launch: r\ntemplate_file: /nonexistent/t.txt\n"
    )
    with pytest.raises(ConfigError, match="cannot read queue template file /nonexistent/t.txt"):
        load_queue_config(path)


def test_template_file_keys(tmp_path: Path) -> None:
    template = write(tmp_path, "#!/bin/sh\n$${rocket_launch}\n", "t.txt")
    for key in ("_fw_template_file", "template_file"):
        path = write(tmp_path, f"_fw_q_type: PBS\nrocket_launch: go\n{key}: {template}\n")
        config = load_queue_config(path)
        assert config.template_file == str(template)
        assert "template_file" not in config.options
        assert config.render_script("/w") == "#!/bin/sh\ngo\n"


def test_merge_queueadapter_spec(tmp_path: Path) -> None:
    config = load_queue_config(write(tmp_path, FIREWORKS_SLURM))
    merged = config.merge({"walltime": "00:30:00", "nodes": None, "mem": "4G", "queue": "debug"})
    assert merged.options["walltime"] == "00:30:00"
    assert merged.options["mem"] == "4G"
    assert merged.queue == "debug"
    script = merged.render_script("/w")
    assert "--nodes" not in script
    assert "#SBATCH --mem=4G" in script
    assert config.options["walltime"] == "24:00:00"  # the original is unchanged
    assert config.merge(None) is config
    assert config.merge({}) is config
    with pytest.raises(ConfigError, match="unknown _fw_q_type"):
        config.merge({"_fw_q_type": "nope"})


def test_round_trip(tmp_path: Path) -> None:
    config = load_queue_config(write(tmp_path, FIREWORKS_SLURM))
    assert QueueConfig.from_dict(config.to_dict()) == config
    assert config.to_dict()["_fw_name"] == "CommonAdapter"


def test_template_values() -> None:
    config = QueueConfig.from_dict(
        {"_fw_q_type": "shell", "rocket_launch": "rlaunch singleshot", "job_name": "cfg"}
    )
    values = config.template_values("/w")
    assert values["launch_dir"] == "/w"
    assert values["rocket_launch"] == "rlaunch singleshot"
    assert values["job_name"] == "cfg"
    assert config.template_values("/w", job_name="fw")["job_name"] == "fw"


def test_unused_options_are_reported(tmp_path: Path) -> None:
    config = load_queue_config(write(tmp_path, FIREWORKS_SLURM + "walltme: 1\n"))
    assert config.unused_options(config.load_template()) == ["walltme"]
