"""`afw qlaunch` refuses bad input with one line and reserves nothing; failed submissions undo."""

from __future__ import annotations

from pathlib import Path

import pytest
from clihelp import afw, one_line_error
from qlhelp import OFFLINE, add_singles, launch_info, qenv, store_url, write_qadapter

BAD_CONFIGS = {
    "unknown q type": ({"_fw_q_type": "CONDOR", "rocket_launch": OFFLINE}, ["-r"], "CONDOR"),
    "missing rocket_launch": ({"_fw_q_type": "shell"}, ["-r"], "rocket_launch"),
    "offline without -r": ({"_fw_q_type": "shell", "rocket_launch": OFFLINE}, [], "-r"),
    "reserve without singleshot": (
        {"_fw_q_type": "shell", "rocket_launch": "afw rlaunch rapidfire"},
        ["-r"],
        "singleshot",
    ),
    "bad override key": (
        {"_fw_q_type": "SLURM", "rocket_launch": OFFLINE, "_q_commands_override": {"x": "y"}},
        ["-r"],
        "_q_commands_override",
    ),
}


def _assert_nothing_reserved(tmp_path: Path) -> None:
    for fw_id, info in launch_info(store_url(tmp_path)).items():
        assert info["state"] == "READY", (fw_id, info)
        assert info["launch_ids"] == [] and info["archived"] == [], info
        assert info["runs"] == {}, info
    assert not list(tmp_path.glob("block_*")), "no block dir for a refused qlaunch"


@pytest.mark.parametrize("command", ["rapidfire", "singleshot"])
@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_bad_qadapter_fails_with_one_line(tmp_path: Path, case: str, command: str) -> None:
    doc, flags, expected = BAD_CONFIGS[case]
    add_singles(store_url(tmp_path), ["a", "b"])
    qfile = write_qadapter(tmp_path / "my_qadapter.yaml", **doc)
    result = afw("qlaunch", "-q", str(qfile), *flags, command, env=qenv(tmp_path), cwd=tmp_path)
    assert expected in one_line_error(result)
    _assert_nothing_reserved(tmp_path)


def test_fw_id_without_reserve_is_refused(tmp_path: Path) -> None:
    (fw_id,) = add_singles(store_url(tmp_path), ["a"])
    write_qadapter(
        tmp_path / "my_qadapter.yaml", _fw_q_type="shell", rocket_launch="afw rlaunch singleshot"
    )
    result = afw("qlaunch", "singleshot", "-f", str(fw_id), env=qenv(tmp_path), cwd=tmp_path)
    assert "-f/--fw-id needs reservation mode" in one_line_error(result)
    _assert_nothing_reserved(tmp_path)


@pytest.mark.parametrize(
    "content, expected",
    [(None, "no queue adapter file"), ("a: [1,\n", "malformed YAML"), ("- 1\n", "mapping")],
)
def test_missing_or_malformed_file(tmp_path: Path, content: str | None, expected: str) -> None:
    add_singles(store_url(tmp_path), ["a"])
    if content is not None:
        (tmp_path / "my_qadapter.yaml").write_text(content)
    result = afw("qlaunch", "-r", "rapidfire", env=qenv(tmp_path), cwd=tmp_path)
    assert expected in one_line_error(result)
    _assert_nothing_reserved(tmp_path)


def test_explicit_file_not_found(tmp_path: Path) -> None:
    result = afw(
        "qlaunch", "-q", str(tmp_path / "nope.yaml"), "-r", "singleshot", env=qenv(tmp_path)
    )
    assert "queue adapter file not found" in one_line_error(result)


@pytest.mark.parametrize("command", [["singleshot"], ["rapidfire", "--sleep", "0"]])
def test_failed_submission_releases_the_reservation(tmp_path: Path, command: list[str]) -> None:
    """submit_cmd `false`: one line, the Firework READY again, launch archived, run forgotten."""
    (fw_id,) = add_singles(store_url(tmp_path), ["a"])
    write_qadapter(
        tmp_path / "my_qadapter.yaml",
        _fw_q_type="SLURM",
        rocket_launch=OFFLINE,
        _q_commands_override={"submit_cmd": "false"},
    )
    result = afw("qlaunch", "-r", *command, env=qenv(tmp_path), cwd=tmp_path)
    line = one_line_error(result)
    assert f"Firework {fw_id}" in line and "reservation released" in line, line
    info = launch_info(store_url(tmp_path))[fw_id]
    assert info["state"] == "READY" and info["launch_ids"] == []
    (archived,) = info["archived"]
    assert info["runs"][archived].deprecated, "the offline run must be forgotten"
    assert not info["runs"][archived].completed
