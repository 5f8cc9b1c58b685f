"""Benchmark results: rows, the machine they ran on, the JSON files and the markdown table.

Each ``python -m benchmarks run`` writes ``results/<scenario>-<timestamp>.json`` (``rows`` plus
``machine``, ``command``, ``params``, ``notes``) and regenerates ``results/latest.md`` from the
newest file of every scenario.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.counting import data_commands
from benchmarks.services import REPO

__all__ = [
    "SCENARIO_ORDER",
    "format_table",
    "latest_results",
    "machine_info",
    "make_row",
    "save",
    "write_latest",
]

SCENARIO_ORDER = ("recover", "recover-vs-fireworks", "checkout", "fanin")
HEADER = (
    "| scenario | store | side | N | K / phase | wall s | CPU s | db wait s | ops/s | peak RSS MB "
    "| cmds/op | FireWorks / afw |"
)


def _git_rev() -> str:
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=False)
        return done.stdout.strip()

    rev = git("rev-parse", "--short", "HEAD") or "unknown"
    return rev + ("+dirty" if git("status", "--porcelain", "--", "afw") else "")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gb() -> float:
    try:
        import psutil

        return round(float(psutil.virtual_memory().total) / 2**30, 1)
    except ImportError:
        return 0.0


def _filesystem(path: Path) -> str:
    best, kind = "", "unknown"
    try:
        for line in Path("/proc/mounts").read_text().splitlines():
            _dev, mount, fstype, *_ = line.split()
            if str(path.resolve()).startswith(mount) and len(mount) > len(best):
                best, kind = mount, fstype
    except OSError:
        pass
    return f"{kind} ({best})"


def machine_info(workdir: Path) -> dict[str, Any]:
    """nproc, CPU, memory, Python, afw git revision, the work dir's filesystem, and the load
    average when the run ended (other work on the machine skews wall times)."""
    return {
        "nproc": os.cpu_count(),
        "cpu": _cpu_model(),
        "memory_gb": _memory_gb(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "afw_rev": _git_rev(),
        "workdir_fs": _filesystem(workdir),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
    }


def make_row(
    scenario: str,
    store: str,
    side: str,
    n: int,
    phase: str,
    results: Sequence[Mapping[str, Any]],
    **extra: Any,
) -> dict[str, Any]:
    """One table row from the repeats of one measurement (the median run represents them)."""
    walls = [float(r["wall_s"]) for r in results]
    median = sorted(results, key=lambda r: float(r["wall_s"]))[len(results) // 2]
    ops = max(int(median.get("ops") or 0), 1)
    commands = dict(median.get("commands") or {})
    calls = sum((median.get("store_calls") or {}).values())
    row: dict[str, Any] = {
        "scenario": scenario,
        "store": store,
        "side": side,
        "n": n,
        "phase": phase,
        "wall_s": statistics.median(walls),
        "walls": walls,
        "process_s": float(median.get("process_s") or 0.0),
        "cpu_s": float(median.get("cpu_s") or 0.0),
        "ops": int(median.get("ops") or 0),
        "rate": int(median.get("ops") or 0) / max(statistics.median(walls), 1e-9),
        "peak_rss_mb": max(float(r.get("peak_rss_mb") or 0.0) for r in results),
        "commands": commands,
        "commands_per_op": data_commands(commands) / ops if commands else None,
        "command_wait_s": sum((median.get("command_s") or {}).values()) or None,
        "store_calls_per_op": calls / ops if calls else None,
        "sql_per_op": (median.get("sql_statements") or 0) / ops or None,
        "raw": list(results),
    }
    row.update(extra)
    return row


def _cmds(row: Mapping[str, Any]) -> str:
    if row.get("commands_per_op") is not None:
        return f"{row['commands_per_op']:.3g}"
    if row.get("sql_per_op") is not None:
        return f"{row['store_calls_per_op'] or 0:.3g} calls, {row['sql_per_op']:.3g} SQL"
    return "-"


def _fmt(value: float) -> str:
    return f"{value:.3g}" if value < 100 else f"{value:,.0f}"


def format_table(rows: Iterable[Mapping[str, Any]]) -> str:
    """A markdown table of ``rows``."""
    lines = [HEADER, "|" + "---|" * HEADER.count(" | ") + "---|"]
    for r in rows:
        ratio = r.get("ratio")
        flag = "" if r.get("ok", True) else " (!)"
        wait = r.get("command_wait_s")
        lines.append(
            f"| {r['scenario']} | {r['store']} | {r['side']}{flag} | {r['n']:,} | {r['phase']} "
            f"| {_fmt(r['wall_s'])} | {_fmt(r.get('cpu_s') or 0.0)} "
            f"| {_fmt(wait) if wait else '-'} | {_fmt(r['rate'])} | {r['peak_rss_mb']:.0f} "
            f"| {_cmds(r)} | {f'{ratio:.1f}x' if ratio else '-'} |"
        )
    return "\n".join(lines)


def save(out: Path, scenario: str, payload: dict[str, Any]) -> Path:
    """Write ``<scenario>-<timestamp>.json`` into ``out`` and refresh ``latest.md``."""
    out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = out / f"{scenario}-{stamp}.json"
    path.write_text(json.dumps(payload, indent=1, default=str))
    write_latest(out)
    return path


def _row_key(row: Mapping[str, Any]) -> tuple[Any, ...]:
    return (row["store"], row["side"], row["n"], row["phase"])


def latest_results(out: Path) -> dict[str, dict[str, Any]]:
    """Per scenario, the newest measurement of every (store, side, N, phase) found in ``out``.

    Runs made at different times (say, SQLite and MongoDB separately) are merged; quick (smoke)
    runs only count when there is no full run of that scenario. The result lists the files and
    commands it drew on, newest first.
    """
    payloads = [
        json.loads(path.read_text()) | {"file": path.name} for path in sorted(out.glob("*-*.json"))
    ]
    merged: dict[str, dict[str, Any]] = {}
    for scenario in SCENARIO_ORDER:
        mine = [p for p in payloads if p.get("scenario") == scenario]
        full = [p for p in mine if not p.get("quick")]
        rows: dict[tuple[Any, ...], dict[str, Any]] = {}
        used: list[dict[str, Any]] = []
        for payload in reversed(full or mine):
            fresh = [r for r in payload["rows"] if _row_key(r) not in rows]
            if fresh:
                rows.update((_row_key(r), r) for r in fresh)
                used.append(payload)
        if used:
            order = {
                key: n
                for n, key in enumerate(_row_key(r) for p in reversed(used) for r in p["rows"])
            }
            merged[scenario] = {
                **used[0],
                "rows": sorted(rows.values(), key=lambda r: order[_row_key(r)]),
                "sources": [
                    {k: p.get(k) for k in ("file", "command", "started", "machine", "mongo_server")}
                    for p in used
                ],
                "notes": [note for p in used for note in p.get("notes", [])],
            }
    return merged


def write_latest(out: Path) -> Path:
    """``latest.md``: per scenario, its newest table with the command and the machine."""
    parts = ["# Latest benchmark results", "", "Regenerated by `python -m benchmarks`.", ""]
    for scenario, payload in sorted(
        latest_results(out).items(), key=lambda kv: SCENARIO_ORDER.index(kv[0])
    ):
        parts += [f"## {scenario}", "", format_table(payload["rows"]), ""]
        parts += [f"* {note}" for note in payload.get("notes", [])]
        parts += ["", "Produced by:", ""]
        for src in payload["sources"]:
            m = src.get("machine") or {}
            parts.append(
                f"* `{src['command']}` ({src['started']}, {src['file']}): {m.get('nproc')} cores "
                f"({m.get('cpu')}), {m.get('memory_gb')} GB, Python {m.get('python')}, afw "
                f"{m.get('afw_rev')}, work dir on {m.get('workdir_fs')}, load average at the end "
                f"{m.get('loadavg')}; MongoDB server: {src.get('mongo_server') or '-'}."
            )
        parts.append("")
    path = out / "latest.md"
    path.write_text("\n".join(parts))
    return path
