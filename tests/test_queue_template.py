"""Submission-script rendering: placeholders, dropped lines, quoting, custom templates."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import pytest

from afw.errors import ConfigError
from afw.queue import (
    LSFAdapter,
    PBSAdapter,
    QueueConfig,
    SGEAdapter,
    ShellAdapter,
    SlurmAdapter,
    render_template,
    sanitize_job_name,
)
from afw.queue.base import BaseAdapter
from afw.queue.template import placeholders

HOSTILE_DIR = "/scratch/a;b $(touch /tmp/pwned) `id` 'q' \"d\""
TAIL = ["pre", "cd /scratch/l", "rlaunch singleshot", "post"]
ADAPTERS: list[BaseAdapter] = [
    SlurmAdapter(),
    PBSAdapter(),
    SGEAdapter(),
    LSFAdapter(),
    ShellAdapter(),
]


def minimal(**extra: object) -> dict[str, object]:
    return {
        "pre_rocket": "pre",
        "launch_dir": "/scratch/l",
        "rocket_launch": "rlaunch singleshot",
        "post_rocket": "post",
        **extra,
    }


def test_slurm_reference_example() -> None:
    """The rendered example of the FireWorks behaviour file (§5.2), in afw's own layout."""
    config = QueueConfig.from_dict(
        {
            "_fw_q_type": "SLURM",
            "rocket_launch": "rlaunch -w /home/u/.fireworks/my_fworker.yaml singleshot --offline",
            "nodes": 1,
            "ntasks": 4,
            "walltime": "01:00:00",
            "queue": "debug",
            "pre_rocket": "module load foo",
        }
    ).merge({"rocket_launch": "rlaunch -w /home/u/.fireworks/my_fworker.yaml singleshot "
                              "--offline --fw_id 42"})  # fmt: skip
    script = config.render_script("/scratch/block_1/launcher_1", job_name="my_fw_name")
    lines = script.splitlines()
    assert lines[0] == "#!/bin/bash -l"
    directives = [line for line in lines if line.startswith("#SBATCH")]
    assert directives == [
        "#SBATCH --job-name=my_fw_name",
        "#SBATCH --partition=debug",
        "#SBATCH --time=01:00:00",
        "#SBATCH --nodes=1",
        "#SBATCH --ntasks=4",
        "#SBATCH --output=my_fw_name-%j.out",
        "#SBATCH --error=my_fw_name-%j.error",
    ]
    assert lines[-3:] == [
        "module load foo",
        "cd /scratch/block_1/launcher_1",
        "rlaunch -w /home/u/.fireworks/my_fworker.yaml singleshot --offline --fw_id 42",
    ]
    assert "$$" not in script


@pytest.mark.parametrize("adapter", ADAPTERS, ids=lambda a: a.q_type)
def test_builtin_templates_end_with_the_rocket(adapter: BaseAdapter) -> None:
    template = adapter.template()
    assert {"pre_rocket", "launch_dir", "rocket_launch", "post_rocket", "job_name"} <= placeholders(
        template
    )
    script = adapter.render_script(minimal())
    assert script.splitlines()[-4:] == TAIL
    assert "$$" not in script
    assert script.startswith("#!/bin/bash")


@pytest.mark.parametrize("adapter", ADAPTERS, ids=lambda a: a.q_type)
def test_builtin_templates_are_valid_bash(adapter: BaseAdapter, tmp_path: Path) -> None:
    values = minimal(launch_dir=HOSTILE_DIR, walltime="01:00:00", queue="q", account="acc")
    path = tmp_path / "FW_submit.script"
    path.write_text(adapter.render_script(values, job_name_maxlen=40))
    subprocess.run(["bash", "-n", str(path)], check=True)


@pytest.mark.parametrize("unset", [None, ""])
def test_unset_options_drop_their_lines(unset: object) -> None:
    script = SlurmAdapter().render_script(minimal(account=unset, post_rocket=unset, nodes=0))
    assert "--account" not in script
    assert "#SBATCH --nodes=0" in script  # 0 is a value, not "unset"
    assert script.splitlines()[-1] == "rlaunch singleshot"


def test_line_with_several_placeholders_needs_all_of_them() -> None:
    assert "#PBS -l nodes" not in PBSAdapter().render_script(minimal(nnodes=2))
    script = PBSAdapter().render_script(minimal(nnodes=2, ppnode=16))
    assert "#PBS -l nodes=2:ppn=16" in script


def test_values_are_converted() -> None:
    script = SlurmAdapter().render_script(
        minimal(exclude_nodes=["n1", "n2"], **{"gpu-bind": "closest"})
    )
    assert "#SBATCH --exclude=n1,n2" in script
    assert "#SBATCH --gpu-bind=closest" in script


def test_lsf_walltime_is_hours_and_minutes() -> None:
    def walltime(value: object) -> str:
        script = LSFAdapter().render_script(minimal(walltime=value))
        return next(line for line in script.splitlines() if line.startswith("#BSUB -W"))

    assert walltime("01:30:00") == "#BSUB -W 01:30"
    assert walltime("00:00:30") == "#BSUB -W 00:01"
    assert walltime("48:00:00") == "#BSUB -W 48:00"
    assert walltime("90") == "#BSUB -W 90"


def test_dollars_in_values_do_not_drop_lines() -> None:
    script = SlurmAdapter().render_script(minimal(pre_rocket="echo $$ $${x}"))
    assert "echo $$ $${x}" in script.splitlines()


def test_cd_line_quotes_hostile_paths() -> None:
    script = SlurmAdapter().render_script(minimal(launch_dir=HOSTILE_DIR))
    assert f"cd {shlex.quote(HOSTILE_DIR)}" in script.splitlines()


def test_hostile_launch_dir_is_only_a_directory(tmp_path: Path) -> None:
    """Run the cd line for real: it must enter the directory and execute nothing."""
    hostile = tmp_path / "a;b $(touch pwned1) `touch pwned2`\n'q\"; touch pwned3"
    hostile.mkdir()
    template = "cd $${launch_dir}\npwd > $${logdir}/where\n"
    script = render_template(template, {"launch_dir": str(hostile), "logdir": str(tmp_path)})
    subprocess.run(["bash", "-c", script], check=True, cwd=tmp_path)
    assert (tmp_path / "where").read_text() == f"{hostile}\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([hostile.name, "where"])


def test_job_names_are_sanitised() -> None:
    assert sanitize_job_name("my job $(touch /tmp/pwned); rm") == "my_job_(touch_tmppwn"
    assert sanitize_job_name("my job $(touch /tmp/pwned); rm", 8) == "my_job_("
    assert sanitize_job_name("a;b") == "ab"
    assert sanitize_job_name(";;;") == "FW_job"
    assert sanitize_job_name(None) == "FW_job"
    assert sanitize_job_name("Ωmega-1.2") == "mega-1.2"
    script = SlurmAdapter().render_script(minimal(job_name="a;b $(touch /tmp/pwned)"))
    assert "#SBATCH --job-name=ab_(touch_tmppwned)" in script.splitlines()


def test_default_job_name() -> None:
    assert "#PBS -N FW_job" in PBSAdapter().render_script(minimal())


def test_job_name_on_a_shell_line_is_quoted() -> None:
    template = "#!/bin/bash\necho $${job_name} > log\n"
    script = SlurmAdapter().render_script(minimal(job_name="x (y)"), template=template)
    assert "echo 'x_(y)' > log" in script


def test_line_breaks_cannot_escape_a_directive() -> None:
    with pytest.raises(ConfigError, match="'queue' contains a line break"):
        SlurmAdapter().render_script(minimal(queue="debug\n#SBATCH --uid=0\ntouch /tmp/pwned"))


def test_custom_template_file(tmp_path: Path) -> None:
    template = tmp_path / "my_template.txt"
    template.write_text(
        "#!/bin/sh\n#MY -n $${ntasks}\n#MY --unset $${nothing}\n#MY -N $${job_name}\n"
        "cd $${launch_dir}\n$${rocket_launch}\n"
    )
    config = QueueConfig.from_dict(
        {
            "_fw_q_type": "SLURM",
            "_fw_template_file": str(template),
            "rocket_launch": "rlaunch singleshot",
            "ntasks": 8,
        }
    )
    assert config.render_script("/w", job_name="j") == (
        "#!/bin/sh\n#MY -n 8\n#MY -N j\ncd /w\nrlaunch singleshot\n"
    )


def test_unbraced_placeholders_like_string_template() -> None:
    assert render_template("a $$x b\n$$missing\n", {"x": 1}) == "a 1 b\n"
