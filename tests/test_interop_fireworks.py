"""afw and FireWorks 2.1.4 sharing one MongoDB database.

FireWorks runs in its own venv (``fireworks_python``) through the tests/helpers/fw_*.py scripts
and its ``lpad`` console script; afw runs as the ``afw`` program. Both point at the same fresh
database through one FireWorks-style ``my_launchpad.yaml`` (``host`` URI, ``uri_mode``, ``name``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

HELPERS = Path(__file__).resolve().parent / "helpers"
AFW = [sys.executable, "-m", "afw"]


# -- plumbing ------------------------------------------------------------------------------------


class Shared:
    """One database seen by both tools."""

    def __init__(self, fireworks_python: Path, uri: str, dbname: str, where: Path) -> None:
        self.python = fireworks_python
        self.uri = uri
        self.dbname = dbname
        self.where = where
        self.lp_file = where / "my_launchpad.yaml"
        doc = {"host": uri, "name": dbname, "uri_mode": True, "strm_lvl": "ERROR"}
        self.lp_file.write_text(yaml.safe_dump(doc))

    def fireworks(
        self, script: str, *args: Any, timeout: float = 180, cwd: Path | None = None
    ) -> Any:
        """Run a FireWorks helper; its last stdout line is JSON."""
        argv = [str(self.python), str(HELPERS / script), self.uri, self.dbname, *map(str, args)]
        proc = subprocess.run(
            argv, cwd=cwd or self.where, capture_output=True, text=True, timeout=timeout
        )
        assert proc.returncode == 0, (
            f"{script} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
        )
        return json.loads(proc.stdout.strip().splitlines()[-1])

    def fw_lpad(self, *args: str) -> Any:
        """FireWorks' own ``lpad -l my_launchpad.yaml ...`` (JSON output)."""
        lpad = self.python.parent / "lpad"
        argv = [str(lpad), "-l", str(self.lp_file), "--loglvl", "ERROR", *args]
        proc = subprocess.run(argv, cwd=self.where, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr[-3000:]
        return json.loads(proc.stdout)

    def afw(self, *args: str, timeout: float = 180, cwd: Path | None = None) -> Any:
        """``afw <family> -l my_launchpad.yaml <args>``; JSON stdout parsed when there is some."""
        family, *rest = args
        argv = [*AFW, family, "-l", str(self.lp_file), *rest]
        proc = subprocess.run(
            argv, cwd=cwd or self.where, capture_output=True, text=True, timeout=timeout
        )
        assert proc.returncode == 0, f"afw {args} failed:\n{proc.stderr[-4000:]}"
        out = proc.stdout.strip()
        return json.loads(out) if out.startswith(("[", "{")) else out

    def write_wf(self, name: str, doc: dict[str, Any]) -> Path:
        path = self.where / name
        path.write_text(json.dumps(doc))
        return path


@pytest.fixture
def shared(fireworks_python: Path, fresh_mongo_db: tuple[str, str], tmp_path: Path) -> Shared:
    uri, dbname = fresh_mongo_db
    return Shared(fireworks_python, uri, dbname, tmp_path)


def diamond() -> dict[str, Any]:
    """power → (root, hello) → floor, passing data down through update_spec."""

    def py(func: str, store: str, inputs: list[str] = (), args: list[Any] = (), out: bool = True):
        task: dict[str, Any] = {"_fw_name": "PyTask", "func": func, "stored_data_varname": store}
        if inputs:
            task["inputs"] = list(inputs)
        if args:
            task["args"] = list(args)
        if out:
            task["outputs"] = [store]
        return {"_tasks": [task]}

    echo = {"_fw_name": "ScriptTask", "script": "echo hello", "store_stdout": True}
    return {
        "name": "interop diamond",
        "metadata": {"suite": "interop"},
        "fws": [
            {"fw_id": -1, "name": "power", "spec": py("math.pow", "power", args=[2, 10])},
            {"fw_id": -2, "name": "root", "spec": py("math.sqrt", "root", inputs=["power"])},
            {"fw_id": -3, "name": "hello", "spec": {"_tasks": [echo], "_priority": 2}},
            {"fw_id": -4, "name": "floor", "spec": py("math.floor", "floor", ["root"], out=False)},
        ],
        "links": {"-1": [-2, -3], "-2": [-4], "-3": [-4]},
    }


def check_diamond(view: dict[str, Any]) -> None:
    """FireWorks' view (fw_dump.py) of a finished diamond."""
    assert view["state"] == "COMPLETED"
    fws = {fw["name"]: fw for fw in view["fws"].values()}
    assert {name: fw["state"] for name, fw in fws.items()} == dict.fromkeys(
        ("power", "root", "hello", "floor"), "COMPLETED"
    )
    for fw in fws.values():
        assert [la["state"] for la in fw["launches"]] == ["COMPLETED"]
    assert fws["power"]["launches"][0]["stored_data"] == {"power": 1024.0}
    assert fws["root"]["launches"][0]["stored_data"] == {"root": 32.0}
    assert fws["floor"]["launches"][0]["stored_data"] == {"floor": 32}
    assert fws["hello"]["launches"][0]["stored_data"]["stdout"] == "hello\n"
    assert fws["root"]["spec"]["power"] == 1024.0
    assert fws["hello"]["spec"]["power"] == 1024.0
    assert fws["floor"]["spec"]["root"] == 32.0


# -- scenarios -----------------------------------------------------------------------------------


def test_fireworks_adds_afw_runs(shared: Shared) -> None:
    """(1) FireWorks add_wf → afw rlaunch rapidfire → FireWorks sees it all COMPLETED."""
    (mapping,) = shared.fireworks("fw_add.py", "--reset", shared.write_wf("wf.json", diamond()))
    shared.afw("rlaunch", "rapidfire", "--sleep", "0.2", cwd=shared.where)
    view = shared.fireworks("fw_dump.py", mapping["-1"])
    check_diamond(view)
    assert sorted(view["links"][str(mapping["-1"])]) == sorted([mapping["-2"], mapping["-3"]])


def test_afw_adds_fireworks_runs(shared: Shared) -> None:
    """(2) afw lpad add → FireWorks rapidfire → afw sees it COMPLETED (and FireWorks agrees)."""
    shared.afw("lpad", "add", str(shared.write_wf("wf.json", diamond())))
    launched = shared.fireworks("fw_rapidfire.py", shared.where / "fw_runs", 1)
    assert launched == 4
    fws = shared.afw("lpad", "get_fws", "-d", "more")
    assert {fw["name"]: fw["state"] for fw in fws} == dict.fromkeys(
        ("power", "root", "hello", "floor"), "COMPLETED"
    )
    (wf,) = shared.afw("lpad", "get_wflows", "-d", "more")
    assert wf["state"] == "COMPLETED" and wf["states_list"] == "CO-CO-CO-CO"
    (floor,) = shared.afw("lpad", "get_fws", "-n", "floor", "-d", "all")
    assert floor["spec"]["root"] == 32.0
    assert floor["launches"][0]["action"]["stored_data"] == {"floor": 32}
    check_diamond(shared.fireworks("fw_dump.py", 1))


def fan(width: int, markers: Path) -> dict[str, Any]:
    """start → ``width`` parallel Fireworks → end; every run leaves a unique marker file."""

    def fw(fw_id: int, name: str) -> dict[str, Any]:
        script = f"mktemp {markers}/{name}.XXXXXX"
        return {"fw_id": fw_id, "name": name,
                "spec": {"_tasks": [{"_fw_name": "ScriptTask", "script": script}]}}  # fmt: skip

    middle = [fw(-(i + 2), f"mid{i:02d}") for i in range(width)]
    return {
        "name": "mixed fan",
        "metadata": {},
        "fws": [fw(-1, "start"), *middle, fw(-(width + 2), "end")],
        "links": {
            "-1": [m["fw_id"] for m in middle],
            **{str(m["fw_id"]): [-(width + 2)] for m in middle},
        },
    }


def test_mixed_rockets_run_each_firework_once(shared: Shared) -> None:
    """(3) FireWorks and afw rockets pull from one workflow at the same time."""
    markers = shared.where / "markers"
    markers.mkdir()
    width, per_tool = 28, 3
    wf_file = shared.write_wf("fan.json", fan(width, markers))
    (mapping,) = shared.fireworks("fw_add.py", "--reset", wf_file)
    procs = []
    for i in range(per_tool):
        fw_dir = shared.where / f"fw{i}"
        argv = [str(shared.python), str(HELPERS / "fw_rapidfire.py"), shared.uri, shared.dbname,
                str(fw_dir), "1"]  # fmt: skip
        procs.append(("fireworks", subprocess.Popen(argv, cwd=shared.where, stdout=subprocess.PIPE,
                                                    stderr=subprocess.PIPE, text=True)))  # fmt: skip
        afw_dir = shared.where / f"afw{i}"
        afw_dir.mkdir()
        argv = [*AFW, "rlaunch", "-l", str(shared.lp_file), "rapidfire", "--sleep", "0.5"]
        procs.append(("afw", subprocess.Popen(argv, cwd=afw_dir, stdout=subprocess.PIPE,
                                              stderr=subprocess.PIPE, text=True)))  # fmt: skip
    for tool, proc in procs:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, f"{tool} rocket failed:\n{out[-2000:]}\n{err[-4000:]}"
    runs = Counter(path.name.split(".")[0] for path in markers.iterdir())
    names = ["start", "end", *(f"mid{i:02d}" for i in range(width))]
    assert runs == dict.fromkeys(names, 1), "every Firework must run exactly once"
    fw_view = shared.fireworks("fw_dump.py", mapping["-1"])
    afw_fws = shared.afw("lpad", "get_fws", "-d", "less")
    assert fw_view["state"] == "COMPLETED"
    assert (
        {fw["name"]: fw["state"] for fw in fw_view["fws"].values()}
        == {fw["name"]: fw["state"] for fw in afw_fws}
        == dict.fromkeys(names, "COMPLETED")
    )
    (afw_wf,) = shared.afw("lpad", "get_wflows", "-d", "less")
    assert afw_wf["state"] == fw_view["state"]
    ran_by_afw = sum(
        1 for i in range(per_tool) for _ in (shared.where / f"afw{i}").glob("launcher_*")
    )
    ran_by_fw = sum(
        1 for i in range(per_tool) for _ in (shared.where / f"fw{i}").glob("launcher_*")
    )
    assert ran_by_afw + ran_by_fw == width + 2
    print(f"afw ran {ran_by_afw}, FireWorks ran {ran_by_fw}")


def test_get_fws_query_matches_fireworks(shared: Shared) -> None:
    """``afw lpad get_fws -q ... -d ids`` returns what FireWorks' ``lpad get_fws -q`` does."""
    wfs = []
    for n in range(3):
        fws = [
            {
                "fw_id": -(i + 1),
                "name": f"w{n}f{i}",
                "spec": {
                    "_tasks": [{"_fw_name": "ScriptTask", "script": "true"}],
                    **({"_priority": (i * 3 + n) % 9} if i % 4 else {}),
                },
            }  # fmt: skip
            for i in range(8)
        ]
        doc = {"name": f"q{n}", "fws": fws, "links": {}, "metadata": {}}
        wfs.append(shared.write_wf(f"wf{n}.json", doc))
    shared.fireworks("fw_add.py", "--reset", *wfs[:2])
    shared.afw("lpad", "add", str(wfs[2]))
    for query in ('{"spec._priority": {"$gte": 5}}', '{"name": {"$regex": "^w1"}}', "{}"):
        ours = shared.afw("lpad", "get_fws", "-q", query, "-d", "ids")
        theirs = shared.fw_lpad("get_fws", "-q", query, "-d", "ids")
        theirs = theirs if isinstance(theirs, list) else [theirs]
        assert ours == sorted(theirs), query
        assert ours, query
