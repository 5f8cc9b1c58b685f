"""``afw lpad rerun_fws`` end to end: selectors (-i/-n/-s/-q/-lm on both stores), one store
update per workflow (counted on the real SQLite store), dry runs, warnings and bad input."""

from __future__ import annotations

import inspect
import os
import sqlite3
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from clihelp import REPO, afw, one_line_error

import afw.cli.lpad_rerun as lpad_rerun
from afw import Firework, FWorker, LaunchPad, Workflow
from afw.cli.main import main
from afw.db import make_store
from afw.rocket import Rocket

STEP = "{{helpers.rerun_tasks.StepTask}}"
FAIL = "{{helpers.tasks.FailTask}}"
ADD_CHILD = "{{helpers.rerun_tasks.AddChildTask}}"
MY_ERROR = '{"action.stored_data._exception._stacktrace": {"$regex": "MyError"}}'


class CountingStore:
    """A transparent proxy over a real store: counts its operations, and on SQLite the SELECT
    statements the connection runs (a measurement of the real store, not a stand-in)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.url = inner.url
        self.calls: Counter[str] = Counter()
        self.selects = 0

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if name.startswith("_") or not inspect.iscoroutinefunction(attr):
            return attr
        return self._counted(name, attr)

    def _counted(self, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        async def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            return await method(*args, **kwargs)

        return counted

    async def open(self) -> None:
        await self._inner.open()
        conn = getattr(self._inner, "_conn", None)
        if isinstance(conn, sqlite3.Connection):
            conn.set_trace_callback(self._statement)

    def _statement(self, sql: str) -> None:
        self.selects += sql.lstrip().upper().startswith("SELECT")

    def reset(self) -> None:
        self.calls.clear()
        self.selects = 0


def _env(url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "AFW_LAUNCHPAD": url,
        "AFW_HOME": str(tmp_path / "home"),
        "PYTHONPATH": os.pathsep.join([str(REPO / "tests"), os.environ.get("PYTHONPATH", "")]),
    }


async def _fizzle_all(lp: LaunchPad, directory: Path) -> list[int]:
    """Check out every READY Firework and end its launch FIZZLED in task 2, with a checkpoint."""
    fizzled = []
    while True:
        fw, launch_id = await lp.checkout_fw(FWorker(), str(directory))
        if fw is None or launch_id is None:
            return fizzled
        checkpoint = {"_task_n": 1, "_all_stored_data": {"t1": fw.fw_id}}
        await lp.ping_launch(launch_id, checkpoint=checkpoint)
        failed = {"stored_data": {"_message": "runtime error during task"}, "exit": True}
        await lp.complete_launch(launch_id, failed, "FIZZLED")
        fizzled.append(fw.fw_id)


async def _wide_workflow(url: str, tmp_path: Path, n: int) -> list[int]:
    """One workflow of ``n`` FIZZLED Fireworks, each with a WAITING child."""
    parents = [Firework.create([{"_fw_name": STEP, "key": "p", "log": "x"}]) for _ in range(n)]
    kids = [
        Firework.create([{"_fw_name": STEP, "key": "c", "log": "x"}], parents=p) for p in parents
    ]
    async with LaunchPad(url) as lp:
        await lp.add_wf(Workflow.create(parents + kids))
        return await _fizzle_all(lp, tmp_path / "runs")


@pytest.mark.anyio
@pytest.mark.parametrize("task_level", [False, True])
async def test_bulk_rerun_loads_and_writes_the_workflow_once(
    tmp_path: Path, task_level: bool
) -> None:
    selects = []
    for n in (5, 50):
        url = f"sqlite:///{tmp_path / f'lp{n}.sqlite'}"
        fizzled = await _wide_workflow(url, tmp_path, n)
        assert len(fizzled) == n
        store = CountingStore(make_store(url))
        async with LaunchPad(store) as lp:
            ids = await lp.get_fw_ids({"state": "FIZZLED"})
            assert isinstance(ids, list) and len(ids) == n
            store.reset()
            done = await lp.rerun_fws(ids, task_level=task_level)
            assert sorted(done) == sorted(ids)
            assert store.calls["update_workflow"] == 1
            assert store.calls["load_workflow"] == 0
            # One read to group the ids, one to look for duplicates, one (task level) to check
            # every Firework can resume: per command, not per Firework.
            assert sum(store.calls.values()) == (4 if task_level else 3), store.calls
            selects.append(store.selects)
            assert await lp.get_fw_ids({"state": "READY"}, count_only=True) == n
    assert selects[0] == selects[1], "SELECTs grew with the number of Fireworks"


def test_cli_rerun_by_state_is_one_update_per_workflow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'lp.sqlite'}"
    anyio.run(_wide_workflow, url, tmp_path, 50)
    stores: list[CountingStore] = []

    def counted_launchpad() -> LaunchPad:
        stores.append(CountingStore(make_store(url)))
        return LaunchPad(stores[-1])

    monkeypatch.setattr(lpad_rerun, "launchpad", counted_launchpad)
    assert main(["lpad", "rerun_fws", "-s", "FIZZLED", "--task-level", "--dry-run"]) == 0
    assert stores[-1].calls["update_workflow"] == 0 and stores[-1].calls["load_workflow"] == 1
    err = capsys.readouterr().err
    assert "would rerun 50 Firework(s)" in err and "nothing changed" in err
    assert main(["lpad", "rerun_fws", "-s", "FIZZLED"]) == 0
    assert stores[-1].calls["update_workflow"] == 1
    assert stores[-1].calls["load_workflow"] == 0
    assert "rerun_fws: 50 Firework(s) rerun" in capsys.readouterr().err


async def _failures(url: str, tmp_path: Path) -> dict[str, int]:
    """Fireworks whose current launch failed with MyError (two), another error, none; and one
    that failed with MyError but was rerun since (its launch is archived)."""
    log = tmp_path / "ran.log"
    specs = {
        "my1": [{"_fw_name": FAIL, "message": "MyError one"}],
        "my2": [{"_fw_name": STEP, "key": "s", "log": str(log)}, {"_fw_name": FAIL}],
        "other": [{"_fw_name": STEP, "key": "o", "log": str(log), "unless_file": "/nonexistent"}],
        "ok": [{"_fw_name": STEP, "key": "k", "log": str(log)}],
        "old": [{"_fw_name": FAIL}],
    }
    ids: dict[str, int] = {}
    async with LaunchPad(url) as lp:
        for name, tasks in specs.items():
            fw = Firework.create(tasks, name=name)
            ids[name] = next(iter((await lp.add_wf(fw)).values()))
            directory = tmp_path / name
            directory.mkdir()
            rocket = Rocket(lp, FWorker(), ids[name], launch_dir=str(directory), chdir=True)
            result = await rocket.run()
            assert result is not None
            assert result.state == ("COMPLETED" if name == "ok" else "FIZZLED")
        await lp.rerun_fw(ids["old"])
    return ids


def test_rerun_by_error_message_in_launch_mode(store_url: str, tmp_path: Path) -> None:
    ids = anyio.run(_failures, store_url, tmp_path)
    env = _env(store_url, tmp_path)
    wanted = sorted([ids["my1"], ids["my2"]])
    preview = afw("lpad", "get_fws", "-q", MY_ERROR, "-lm", "-d", "ids", env=env)
    assert preview.returncode == 0, preview.stderr
    assert sorted(preview.json()) == wanted
    dry = afw("lpad", "rerun_fws", "-q", MY_ERROR, "-lm", "--dry-run", env=env)
    assert dry.returncode == 0, dry.stderr
    assert sorted(dry.json()["would_rerun"]) == wanted
    done = afw("lpad", "rerun_fws", "-q", MY_ERROR, "-lm", env=env)
    assert done.returncode == 0, done.stderr
    assert sorted(done.json()) == wanted
    states = afw("lpad", "get_fws", "-d", "more", env=env).json()
    by_name = {row["name"]: row["state"] for row in states}
    expected = {"my1": "READY", "my2": "READY", "other": "FIZZLED", "ok": "COMPLETED"}
    assert by_name == {**expected, "old": "READY"}
    # Launch mode with -s: Fireworks whose current launch is FIZZLED.
    fizzled = afw("lpad", "get_fws", "-s", "FIZZLED", "-lm", "-d", "ids", env=env)
    assert fizzled.json() == [ids["other"]]


def test_selectors_ids_name_dry_run_and_warning(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'lp.sqlite'}"
    env = _env(url, tmp_path)
    log = tmp_path / "ran.log"

    async def setup() -> list[int]:
        tasks = [[{"_fw_name": STEP, "key": f"k{i}", "log": str(log)}] for i in range(3)]
        fws = [Firework.create(t, name=f"fw{i}") for i, t in enumerate(tasks)]
        adder = Firework.create([{"_fw_name": ADD_CHILD, "log": str(log)}], name="adder")
        async with LaunchPad(url) as lp:
            out = [next(iter((await lp.add_wf(fw)).values())) for fw in [*fws, adder]]
            for fw_id in out:
                rocket = Rocket(lp, FWorker(), fw_id, launch_dir=str(tmp_path), chdir=True)
                assert (await rocket.run()) is not None
        return out

    a, b, c, adder = anyio.run(setup)
    before = afw("lpad", "get_fws", "-d", "more", env=env).json()
    dry = afw("lpad", "rerun_fws", "-i", f"{a},{b}", "-i", str(c), "--dry-run", env=env)
    assert dry.returncode == 0, dry.stderr
    assert dry.json() == {"would_rerun": [a, b, c]}
    assert "nothing changed" in dry.stderr
    assert afw("lpad", "get_fws", "-d", "more", env=env).json() == before

    by_name = afw("lpad", "rerun_fws", "-n", "fw1", env=env)
    assert by_name.json() == [b]
    warned = afw("lpad", "rerun_fws", "-i", str(adder), env=env)
    assert warned.returncode == 0, warned.stderr
    warnings = [ln for ln in warned.stderr.splitlines() if ln.startswith("warning:")]
    assert len(warnings) == 1 and f"[{adder}]" in warnings[0] and "not undo" in warnings[0]
    assert len(warned.json()) == 2  # the adder and the Firework it added


BAD_ARGS = [
    [],  # no selector
    ["-s", "PAUSED"],  # an empty selection
    ["-q", "{bad json"],
    ["-q", '{"action.stored_data._exception._stacktrace": {"$regex": "("}}', "-lm"],
    ["-q", '{"spec.x": {"$frobnicate": 1}}'],
    ["-s", "NOT_A_STATE"],
    ["-n", "fw0", "-lm"],  # launches have no name: would otherwise select everything
    ["-i", "1", "-s", "FIZZLED"],
    ["-i", "x"],
    ["-s", "FIZZLED", "--copy-data"],  # needs --task-level
    ["-s", "FIZZLED", "--task-level", "-cp", "-pd"],
    ["-s", "FIZZLED", "--task-level", "--clear-recovery"],
    ["-i", "999"],
]


def test_bad_input_prints_one_line_and_changes_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'lp.sqlite'}"
    env = _env(url, tmp_path)

    async def setup() -> None:
        async with LaunchPad(url) as lp:
            await lp.add_wf(Firework.create([{"_fw_name": FAIL}], name="fw0"))
            rocket = Rocket(lp, FWorker(), launch_dir=str(tmp_path), chdir=False)
            assert (await rocket.run()) is not None

    anyio.run(setup)
    before = afw("lpad", "get_fws", "-d", "all", env=env).json()
    for args in BAD_ARGS:
        line = one_line_error(afw("lpad", "rerun_fws", *args, env=env))
        assert line.startswith("afw: error: "), (args, line)
    assert afw("lpad", "get_fws", "-d", "all", env=env).json() == before


def test_task_level_refusal_is_one_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'lp.sqlite'}"
    env = _env(url, tmp_path)

    async def setup() -> None:
        async with LaunchPad(url) as lp:
            await lp.add_wf(Firework.create([{"_fw_name": FAIL}], name="never ran"))
            _fw, launch_id = await lp.checkout_fw(FWorker(), str(tmp_path))
            assert launch_id is not None
            await lp.mark_fizzled(launch_id)

    anyio.run(setup)
    line = one_line_error(afw("lpad", "rerun_fws", "-s", "FIZZLED", "--task-level", env=env))
    assert "no checkpoint" in line and "nothing was rerun" in line
    assert afw("lpad", "get_fws", "-s", "FIZZLED", "-d", "count", env=env).stdout.strip() == "1"


def test_copy_data_warns_about_an_unseen_previous_dir(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'lp.sqlite'}"
    env = _env(url, tmp_path)
    gone = tmp_path / "gone"

    async def setup() -> None:
        async with LaunchPad(url) as lp:
            await lp.add_wf(Workflow.create([Firework.create([{"_fw_name": FAIL}])]))
            await _fizzle_all(lp, gone)

    anyio.run(setup)
    result = afw("lpad", "rerun_fws", "-s", "FIZZLED", "--task-level", "-cp", env=env)
    assert result.returncode == 0, result.stderr
    assert f"warning: previous launch dir {gone} is not visible from here" in result.stderr


def test_rerun_help_documents_the_options(tmp_path: Path) -> None:
    shown = afw(
        "lpad", "rerun-fws", "-h", env=_env(f"sqlite:///{tmp_path / 'lp.sqlite'}", tmp_path)
    )
    assert shown.returncode == 0, shown.stderr
    for flag in ("--task-level", "--copy-data", "--previous-dir", "--clear-recovery", "-lm"):
        assert flag in shown.stdout
