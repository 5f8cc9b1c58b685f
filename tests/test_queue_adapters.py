"""Scheduler adapters: argv building and parsing of captured outputs (tests/queue/captures)."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from afw.errors import ConfigError, QueueError, QueueLimitError
from afw.queue import (
    CommandResult,
    JobState,
    LSFAdapter,
    PBSAdapter,
    SchedulerAdapter,
    SGEAdapter,
    ShellAdapter,
    SlurmAdapter,
    make_adapter,
)

CAPTURES = Path(__file__).parent / "queue" / "captures"
Q, R, D, F, U = (
    JobState.QUEUED,
    JobState.RUNNING,
    JobState.DONE,
    JobState.FAILED,
    JobState.UNKNOWN,
)


def capture(scheduler: str, name: str) -> CommandResult:
    """Load ``captures/<scheduler>/<name>.{stdout,stderr,rc}`` (absent parts: empty / 0)."""
    base = CAPTURES / scheduler
    parts = {s: base / f"{name}{s}" for s in (".stdout", ".stderr", ".rc", ".cmd")}
    assert any(p.exists() for p in parts.values()), f"no capture {scheduler}/{name}"

    def text(suffix: str) -> str:
        return parts[suffix].read_text() if parts[suffix].exists() else ""

    return CommandResult(int(text(".rc").strip() or 0), text(".stdout"), text(".stderr"))


def captured_command(scheduler: str, name: str) -> list[str]:
    return shlex.split((CAPTURES / scheduler / f"{name}.cmd").read_text())


# -------------------------------------------------------------------------------------------------
# SLURM: real captures from the scripts/services cluster


@pytest.fixture(scope="module")
def slurm_ids() -> dict[str, str]:
    lines = (CAPTURES / "slurm" / "ids.txt").read_text().split("\n")
    return dict(line.split() for line in lines if line.strip())


def test_slurm_captures_were_made_with_our_commands(slurm_ids: dict[str, str]) -> None:
    slurm = SlurmAdapter()
    assert captured_command("slurm", "squeue_count") == slurm.count_command("root")
    assert captured_command("slurm", "squeue_count_partition") == slurm.count_command(
        "root", "debug"
    )
    ids = [*slurm_ids.values(), "999999"]
    assert captured_command("slurm", "squeue_status") == slurm.status_command(ids)
    assert captured_command("slurm", "sacct_disabled") == slurm.history_command(["999999"])
    assert captured_command("slurm", "scancel_unknown") == slurm.cancel_command(["999999"])


def test_slurm_submit(slurm_ids: dict[str, str]) -> None:
    slurm = SlurmAdapter()
    assert slurm.submit_command("/w/FW_submit.script") == ["sbatch", "/w/FW_submit.script"]
    assert slurm.parse_submit(capture("slurm", "sbatch_ok")) == slurm_ids["quick"]
    assert slurm.parse_submit(CommandResult(0, "4242;cluster1\n", "")) == "4242"


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("sbatch_bad_partition", "invalid partition specified"),
        ("sbatch_missing_script", "Unable to open file"),
        ("sbatch_no_controller", "Unable to contact slurm controller"),
    ],
)
def test_slurm_submit_errors(name: str, words: str) -> None:
    with pytest.raises(QueueError) as info:
        SlurmAdapter().parse_submit(capture("slurm", name))
    assert not isinstance(info.value, QueueLimitError)
    assert words in str(info.value)
    assert info.value.context["returncode"] == 1


@pytest.mark.parametrize("name", ["sbatch_limit_qos", "sbatch_limit_assoc"])
def test_slurm_submit_limit(name: str) -> None:
    with pytest.raises(QueueLimitError, match="job limit"):
        SlurmAdapter().parse_submit(capture("slurm", name))


def test_slurm_submit_without_id_is_an_error() -> None:
    with pytest.raises(QueueError, match="no output"):
        SlurmAdapter().parse_submit(CommandResult(0, "", ""))


@pytest.mark.parametrize(
    ("name", "count"),
    [
        ("squeue_count", 3),
        ("squeue_count_partition", 3),
        ("squeue_count_bad_partition", 0),
        ("squeue_count_nobody", 0),
    ],
)
def test_slurm_count(name: str, count: int) -> None:
    assert SlurmAdapter().parse_count(capture("slurm", name)) == count


def test_slurm_count_argv() -> None:
    argv = SlurmAdapter().count_command("a;b $(touch /tmp/pwned)", "q")
    assert "--user=a;b $(touch /tmp/pwned)" in argv
    assert argv[-1] == "--partition=q"


def test_slurm_status(slurm_ids: dict[str, str]) -> None:
    ids = [*slurm_ids.values(), "999999"]
    states = SlurmAdapter().parse_status(capture("slurm", "squeue_status"), ids)
    by_name = {name: states[job_id] for name, job_id in slurm_ids.items()}
    assert by_name == {
        "quick": D,
        "long": R,
        "failing": F,
        "later": Q,
        "victim": F,
        "array": Q,
    }
    assert states["999999"] is U


def test_slurm_status_of_unknown_ids_only() -> None:
    result = capture("slurm", "squeue_status_unknown")
    assert result.returncode == 1
    assert SlurmAdapter().parse_status(result, ["999999"]) == {"999999": U}


def test_slurm_sacct_rows_and_disabled_accounting() -> None:
    slurm = SlurmAdapter()
    rows = CommandResult(0, "7|COMPLETED\n8|CANCELLED by 1000\n9|TIMEOUT\n10|NEW_STATE\n", "")
    assert slurm.parse_status(rows, ["7", "8", "9", "10"]) == {"7": D, "8": F, "9": F, "10": U}
    with pytest.raises(QueueError, match="accounting storage is disabled"):
        slurm.parse_status(capture("slurm", "sacct_disabled"), ["999999"])


def test_slurm_array_elements_belong_to_their_job() -> None:
    rows = CommandResult(0, "5_1|COMPLETED\n5_2|RUNNING\n5_[3-4]|PENDING\n", "")
    assert SlurmAdapter().parse_status(rows, ["5"]) == {"5": R}


def test_slurm_cancel() -> None:
    slurm = SlurmAdapter()
    assert slurm.cancel_command(["1", "2"]) == ["scancel", "1", "2"]
    slurm.parse_cancel(capture("slurm", "scancel_ok"))
    slurm.parse_cancel(capture("slurm", "scancel_unknown"))
    with pytest.raises(QueueError, match="cancel failed"):
        slurm.parse_cancel(CommandResult(1, "", "scancel: error: Invalid job id 3\n"))


# -------------------------------------------------------------------------------------------------
# PBS / Torque


@pytest.mark.parametrize(
    ("name", "job_id"),
    [
        ("torque_qsub_ok", "1230.pbs-server.example.org"),
        ("pbspro_qsub_ok", "4807.pbsserver"),
        ("pbspro_qsub_array", "4809[].pbsserver"),
    ],
)
def test_pbs_submit(name: str, job_id: str) -> None:
    assert PBSAdapter().parse_submit(capture("pbs", name)) == job_id


@pytest.mark.parametrize(
    "name", ["torque_qsub_limit", "pbspro_qsub_limit", "pbspro_qsub_complex_limit"]
)
def test_pbs_submit_limit(name: str) -> None:
    with pytest.raises(QueueLimitError):
        PBSAdapter().parse_submit(capture("pbs", name))


def test_pbs_submit_error() -> None:
    with pytest.raises(QueueError, match="Unknown queue") as info:
        PBSAdapter().parse_submit(capture("pbs", "pbspro_qsub_bad_queue"))
    assert not isinstance(info.value, QueueLimitError)


@pytest.mark.parametrize(
    ("name", "queue", "count"),
    [
        ("torque_qstat_a_u", None, 3),
        ("torque_qstat_a_u", "batch", 2),
        ("torque_qstat_a_u", "debug", 1),
        ("pbspro_qstat_a_u", None, 3),
        ("pbspro_qstat_a_u", "workq", 2),
        ("pbspro_qstat_a_u", "longqueue", 1),
        ("qstat_empty", None, 0),
    ],
)
def test_pbs_count(name: str, queue: str | None, count: int) -> None:
    assert PBSAdapter().parse_count(capture("pbs", name), queue) == count


def test_pbs_count_errors() -> None:
    with pytest.raises(QueueError, match="(?i)cannot connect"):
        PBSAdapter().parse_count(capture("pbs", "torque_qstat_down"))


def test_pbs_argv() -> None:
    pbs = PBSAdapter()
    assert pbs.count_command("alice", "batch") == ["qstat", "-a", "-u", "alice"]
    assert pbs.status_command(["1.s", "2.s"]) == ["qstat", "1.s", "2.s"]
    assert pbs.cancel_command(["1.s"]) == ["qdel", "1.s"]


def test_torque_status() -> None:
    ids = ["1230.pbs-server.example.org", "1231", "1229.pbs-server.example.org", "1299.pbs-server"]
    states = PBSAdapter().parse_status(capture("pbs", "torque_qstat_status"), ids)
    assert states == dict(zip(ids, [R, Q, D, U], strict=True))
    unknown = capture("pbs", "torque_qstat_status_unknown")
    assert PBSAdapter().parse_status(unknown, ["1299"]) == {"1299": U}


def test_pbspro_status_with_finished_job() -> None:
    ids = ["4807.pbsserver", "4808.pbsserver", "4800.pbsserver"]
    states = PBSAdapter().parse_status(capture("pbs", "pbspro_qstat_status"), ids)
    assert states == dict(zip(ids, [R, Q, D], strict=True))


def test_pbs_status_error() -> None:
    with pytest.raises(QueueError, match="(?i)cannot connect"):
        PBSAdapter().parse_status(capture("pbs", "torque_qstat_down"), ["1"])


# -------------------------------------------------------------------------------------------------
# SGE


@pytest.mark.parametrize(("name", "job_id"), [("qsub_ok", "4323"), ("qsub_array", "4324")])
def test_sge_submit(name: str, job_id: str) -> None:
    assert SGEAdapter().parse_submit(capture("sge", name)) == job_id


def test_sge_submit_refusals() -> None:
    with pytest.raises(QueueLimitError, match="allowed per user"):
        SGEAdapter().parse_submit(capture("sge", "qsub_limit"))
    with pytest.raises(QueueError, match="unknown queue") as info:
        SGEAdapter().parse_submit(capture("sge", "qsub_bad_queue"))
    assert not isinstance(info.value, QueueLimitError)


@pytest.mark.parametrize(
    ("name", "count"), [("qstat_u", 6), ("qstat_u_queue", 2), ("qstat_empty", 0)]
)
def test_sge_count(name: str, count: int) -> None:
    assert SGEAdapter().parse_count(capture("sge", name)) == count


def test_sge_argv() -> None:
    sge = SGEAdapter()
    assert sge.count_command("alice") == ["qstat", "-u", "alice"]
    assert sge.count_command("alice", "all.q") == ["qstat", "-u", "alice", "-q", "all.q"]
    assert sge.status_command(["1"]) == ["qstat", "-u", "*"]


def test_sge_status() -> None:
    ids = ["4318", "4319", "4320", "4321", "4322", "4400", "4401", "9999"]
    states = SGEAdapter().parse_status(capture("sge", "qstat_all"), ids)
    assert states == dict(zip(ids, [R, Q, Q, F, R, F, R, U], strict=True))
    assert SGEAdapter().parse_status(capture("sge", "qstat_empty"), ["1"]) == {"1": U}
    with pytest.raises(QueueError, match="commlib error"):
        SGEAdapter().parse_status(capture("sge", "qstat_down"), ["1"])


# -------------------------------------------------------------------------------------------------
# LSF


@pytest.mark.parametrize(("name", "job_id"), [("bsub_ok", "5678"), ("bsub_default_queue", "5679")])
def test_lsf_submit(name: str, job_id: str) -> None:
    assert LSFAdapter().parse_submit(capture("lsf", name)) == job_id


@pytest.mark.parametrize("name", ["bsub_threshold", "bsub_job_limit"])
def test_lsf_submit_limit(name: str) -> None:
    with pytest.raises(QueueLimitError):
        LSFAdapter().parse_submit(capture("lsf", name))


def test_lsf_submit_error() -> None:
    with pytest.raises(QueueError, match="No such queue") as info:
        LSFAdapter().parse_submit(capture("lsf", "bsub_bad_queue"))
    assert not isinstance(info.value, QueueLimitError)


def test_lsf_submit_feeds_the_script_on_stdin() -> None:
    argv = LSFAdapter().submit_command("/w/a;b $(x)/FW_submit.script")
    assert argv[:2] == ["sh", "-c"]
    assert argv[3:] == ["sh", "/w/a;b $(x)/FW_submit.script", "bsub"]


def test_lsf_count_and_status() -> None:
    lsf = LSFAdapter()
    assert lsf.parse_count(capture("lsf", "bjobs_count")) == 4
    assert lsf.parse_count(capture("lsf", "bjobs_count_empty")) == 0
    ids = ["5670", "5660", "5661", "5671", "5680", "5699"]
    states = lsf.parse_status(capture("lsf", "bjobs_status"), ids)
    assert states == dict(zip(ids, [R, D, F, Q, R, U], strict=True))
    assert lsf.parse_status(capture("lsf", "bjobs_status_unknown"), ["5699"]) == {"5699": U}
    with pytest.raises(QueueError, match="LSF is down"):
        lsf.parse_status(capture("lsf", "bjobs_down"), ["1"])
    with pytest.raises(QueueError, match="LSF is down"):
        lsf.parse_count(capture("lsf", "bjobs_down"))


def test_lsf_argv() -> None:
    lsf = LSFAdapter()
    assert lsf.count_command("alice", "normal") == [
        "bjobs", "-u", "alice", "-o", "jobid stat queue", "-noheader", "-q", "normal",
    ]  # fmt: skip
    assert lsf.status_command(["1"]) == ["bjobs", "-a", "-o", "jobid stat", "-noheader", "1"]
    assert lsf.cancel_command(["1"]) == ["bkill", "1"]


# -------------------------------------------------------------------------------------------------
# shell


def test_shell_parsers() -> None:
    shell = ShellAdapter()
    assert shell.parse_submit(CommandResult(0, "12345\n", "")) == "12345"
    alive = CommandResult(0, "  123 S\n  456 Z\n", "")
    assert shell.parse_status(alive, ["123", "456", "789"]) == {"123": R, "456": D, "789": D}
    assert shell.parse_status(CommandResult(1, "", ""), ["123"]) == {"123": D}
    with pytest.raises(QueueError):
        shell.parse_status(CommandResult(1, "", "ps: unknown option\n"), ["123"])
    listing = (
        "bash /w/l1/FW_submit.script\n/bin/bash /w/l2/FW_submit.script\nbash other.sh\nvim x\n"
    )
    assert shell.parse_count(CommandResult(0, listing, "")) == 2


@pytest.mark.parametrize("bad", ["0", "1", "-1", "12 13", "abc", "٣"])
def test_shell_refuses_dangerous_pids(bad: str) -> None:
    with pytest.raises(QueueError, match="invalid shell job id"):
        ShellAdapter().cancel_command([bad])


# -------------------------------------------------------------------------------------------------
# all adapters


ALL: list[SchedulerAdapter] = [SlurmAdapter(), PBSAdapter(), SGEAdapter(), LSFAdapter()]


@pytest.mark.parametrize("adapter", ALL, ids=lambda a: a.q_type)
@pytest.mark.parametrize("bad", ["-u", "1; rm -rf /", "$(touch /tmp/pwned)", "", "1\n2"])
def test_job_ids_are_checked(adapter: SchedulerAdapter, bad: str) -> None:
    with pytest.raises(QueueError, match="invalid job id"):
        adapter.cancel_command(["1", bad])
    if not isinstance(adapter, SGEAdapter):
        with pytest.raises(QueueError, match="invalid job id"):
            adapter.status_command([bad])


def test_commands_override() -> None:
    slurm = make_adapter("SLURM", {"submit_cmd": "sbatch --clusters=c1", "status_cmd": "squeue"})
    assert slurm.submit_command("s") == ["sbatch", "--clusters=c1", "s"]
    assert slurm.count_command("u")[0] == "squeue"
    with pytest.raises(ConfigError, match="unknown _q_commands_override key 'nope'"):
        make_adapter("PBS", {"nope": "x"})
    with pytest.raises(ConfigError, match="non-empty"):
        make_adapter("PBS", {"submit_cmd": "  "})
    with pytest.raises(ConfigError, match="accepted: cancel_cmd, status_cmd, submit_cmd"):
        make_adapter("shell", {"script_name": "x"})


@pytest.mark.parametrize(
    ("name", "q_type"),
    [
        ("SLURM", "SLURM"),
        ("slurm", "SLURM"),
        ("PBS", "PBS"),
        ("Torque", "PBS"),
        ("SGE", "SGE"),
        ("LoadSharingFacility", "LoadSharingFacility"),
        ("LSF", "LoadSharingFacility"),
        ("shell", "shell"),
    ],
)
def test_registry_names(name: str, q_type: str) -> None:
    assert make_adapter(name).q_type == q_type


def test_registry_unknown_names() -> None:
    with pytest.raises(ConfigError, match="unknown _fw_q_type 'Condor'; use one of: SLURM"):
        make_adapter("Condor")
    with pytest.raises(ConfigError, match="'MOAB' is not supported by afw"):
        make_adapter("MOAB")
