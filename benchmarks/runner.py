"""Running one measured side in a fresh process and reading its result line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.profiling import py_spy, summarize, wrap
from benchmarks.services import REPO, BenchError

__all__ = ["MARK", "run_afw", "run_fireworks"]

MARK = "BENCH-RESULT "
TIMEOUT = 4 * 3600


def _run(argv: list[str], cwd: Path, what: str) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    start = time.perf_counter()
    proc = subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False
    )
    elapsed = time.perf_counter() - start
    lines = [line for line in proc.stdout.splitlines() if line.startswith(MARK)]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip()[-3000:]
        raise BenchError(f"{what} failed (exit {proc.returncode}):\n{tail}")
    result: dict[str, Any] = json.loads(lines[-1][len(MARK) :])
    result["process_s"] = elapsed
    return result


def run_afw(args: dict[str, Any], cwd: Path, profile: Path | None = None) -> dict[str, Any]:
    """``python -m benchmarks.afw_side ARGS`` with this interpreter (afw's venv).

    ``profile``: write a profile summary there (py-spy over every thread when installed, else
    an in-process profiler); profiled runs are slower, so their times are not the figures.
    """
    cwd.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "benchmarks.afw_side"]
    if profile is not None:
        profile.parent.mkdir(parents=True, exist_ok=True)
        raw = profile.with_suffix(".pyspy")
        if py_spy() is not None:
            result = _run([*wrap(argv, raw), json.dumps(args)], cwd, f"afw {args['task']}")
            profile.write_text(summarize(raw))
            return result
        args = {**args, "profile": str(profile)}
    return _run([*argv, json.dumps(args)], cwd, f"afw {args['task']}")


def run_fireworks(python: Path, script: str, args: dict[str, Any], cwd: Path) -> dict[str, Any]:
    """``FIREWORKS_PYTHON -m benchmarks.fw_side.SCRIPT ARGS`` (FireWorks' venv, no afw)."""
    cwd.mkdir(parents=True, exist_ok=True)
    argv = [str(python), "-m", f"benchmarks.fw_side.{script}", json.dumps(args)]
    return _run(argv, cwd, f"FireWorks {script}")
