"""What every scenario shares: options, store targets, state generation, checks."""

from __future__ import annotations

import hashlib
import json
import shutil
import statistics
import sys
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import anyio

from benchmarks.generate import fresh_store, populate, reservation_epoch, write_dirs
from benchmarks.plan import DEFAULT_SHAPE, Mix, Plan, make_plan
from benchmarks.services import BenchError, drop_database, mongo_server, with_db

__all__ = [
    "Options",
    "Target",
    "check_states",
    "expected_states",
    "fireworks_ratio",
    "fireworks_specs",
    "log",
    "make_plan_for",
    "prepare_recovery_state",
    "sizes_for",
    "targets",
]


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


@dataclass
class Options:
    """The command line, resolved."""

    ns: list[int]
    stores: list[str] = field(default_factory=lambda: ["sqlite", "mongo"])
    mongo: str | None = None
    ks: list[int] = field(default_factory=lambda: [1, 4, 16])
    repeat: int = 1
    mix: Mix = field(default_factory=Mix)
    shape: tuple[tuple[int, float], ...] = DEFAULT_SHAPE
    fmt: str | None = None
    workdir: Path = Path("/tmp/afw-bench")
    fireworks: bool = True
    profile: Path | None = None
    quick: bool = False
    install: bool = True
    batch_size: int = 500
    concurrency: int = 4
    mongo_max_n: int | None = None


@dataclass
class Target:
    """A store kind to run on: SQLite files in the work dir, or databases on a MongoDB server."""

    kind: str
    label: str
    workdir: Path
    server: str | None = None

    def new_name(self, prefix: str) -> str:
        return f"afwbench_{prefix}_{uuid.uuid4().hex[:8]}"

    def url(self, name: str) -> str:
        if self.server is None:
            return f"sqlite:///{self.workdir / 'stores' / name}.sqlite"
        return with_db(self.server, name)

    def drop(self, name: str) -> None:
        if self.server is None:
            for suffix in ("", "-wal", "-shm"):
                (self.workdir / "stores" / f"{name}.sqlite{suffix}").unlink(missing_ok=True)
        else:
            drop_database(self.server, name)


SECANTUS_CAPS = {"recover": 10_000, "recover-vs-fireworks": 1000, "checkout": 500, "fanin": 1000}
"""Largest N per scenario on a SecantusDB server, whose ``find_one_and_update`` slows down as a
collection grows (checkout at N = 5,000 would take hours per worker count there); a real
mongod has no cap. ``--mongo-max-n`` overrides (0: no cap)."""


def sizes_for(opts: Options, target: Target, scenario: str, notes: list[str]) -> list[int]:
    """The sizes to run on ``target``: all of ``opts.ns`` except above the MongoDB cap, where
    ``recover`` skips them and the other scenarios run at the cap instead."""
    cap = opts.mongo_max_n
    if cap is None and target.label.startswith("secantusdb"):
        cap = SECANTUS_CAPS[scenario]
    if target.kind != "mongo" or not cap or all(n <= cap for n in opts.ns):
        return list(opts.ns)
    big = [n for n in opts.ns if n > cap]
    if scenario == "recover":
        notes.append(f"{scenario} on {target.label}: N = {big} skipped (cap {cap}, --mongo-max-n)")
        return [n for n in opts.ns if n <= cap]
    notes.append(
        f"{scenario} on {target.label}: N = {big} run at the cap N = {cap} (--mongo-max-n)"
    )
    return sorted({min(n, cap) for n in opts.ns})


def targets(opts: Options, kinds: list[str] | None = None) -> list[Target]:
    """The stores named by ``--store`` (``sqlite``, ``mongo`` or a ``mongodb://`` server)."""
    out = []
    for name in kinds or opts.stores:
        if name == "sqlite":
            out.append(Target("sqlite", "sqlite", opts.workdir))
        elif name == "mongo" or name.startswith("mongodb"):
            explicit = name if name.startswith("mongodb") else opts.mongo
            uri, kind = mongo_server(explicit, opts.workdir, opts.install)
            out.append(Target("mongo", kind, opts.workdir, uri))
        else:
            raise BenchError(f"unknown store {name!r}: use sqlite, mongo or mongodb://HOST:PORT")
    return out


def _plan_key(plan: Plan, fmt: str) -> str:
    text = json.dumps([plan.n, plan.mix.label(), plan.shape, fmt, len(plan.runs)])
    return hashlib.sha1(text.encode()).hexdigest()[:10]


async def _generate(url: str, plan: Plan, root: str, epoch: datetime) -> Any:
    store = await fresh_store(url)
    try:
        return await populate(store, plan, root, epoch)
    finally:
        await store.close()


def prepare_recovery_state(
    opts: Options, target: Target, name: str, plan: Plan, fmt: str
) -> dict[str, Any]:
    """Fill store ``name`` with ``plan``'s runs; write their launch dirs unless a complete copy
    for the same plan and format exists (the dirs are never changed by a sweep)."""
    root = opts.workdir / f"dirs-{fmt}-{plan.n}-{_plan_key(plan, fmt)}"
    marker = root / ".bench-complete.json"
    cached = json.loads(marker.read_text()) if marker.exists() else None
    epoch = datetime.fromisoformat(cached["epoch"]) if cached else reservation_epoch()
    gen = anyio.run(_generate, target.url(name), plan, str(root), epoch)
    info: dict[str, Any] = {"generate_store_s": gen.seconds, "dirs": str(root)}
    if cached and cached["first_launch_id"] == gen.first_launch_id:
        info["dirs_cached"] = True
        return info
    log(f"writing {plan.n:,} launch dirs ({fmt} format) under {root}")
    if root.exists():
        shutil.rmtree(root)
    info["write_dirs_s"] = write_dirs(gen, fmt)
    marker.write_text(
        json.dumps({"epoch": epoch.isoformat(), "first_launch_id": gen.first_launch_id})
    )
    return info


def expected_states(plan: Plan) -> dict[str, int]:
    counts = plan.counts()
    return {
        "COMPLETED": counts["completed"],
        "FIZZLED": counts["fizzled"],
        "RUNNING": counts["running"],
        "RESERVED": counts["queued"],
    }


def check_states(plan: Plan, found: dict[str, int]) -> list[str]:
    """Differences between the Firework states after a first sweep and what the plan implies."""
    problems = []
    for state, want in expected_states(plan).items():
        got = int(found.get(state, 0))
        if got != want:
            problems.append(f"{state}: {got} Fireworks, expected {want}")
    return problems


def fireworks_specs(n: int, path: Path) -> Path:
    """``[{"name", "spec"}]`` for ``n`` one-Firework jobs, shared by the afw and FireWorks
    sides of the checkout and fan-in scenarios."""
    from benchmarks.content import tasks_for
    from benchmarks.generate import spec_for

    entries = [
        {"name": f"job-{i}", "spec": {"_tasks": tasks_for(i), **spec_for(i, 1)}} for i in range(n)
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(entries))
    return path


def fireworks_ratio(got: dict[str, list[dict[str, Any]]]) -> float | None:
    """Median FireWorks wall time over median afw wall time (None without a FireWorks side)."""
    if not got.get("fireworks") or not got.get("afw"):
        return None
    fw = statistics.median(float(x["wall_s"]) for x in got["fireworks"])
    return fw / max(statistics.median(float(x["wall_s"]) for x in got["afw"]), 1e-9)


def make_plan_for(opts: Options, n: int) -> Plan:
    return make_plan(n, opts.mix, opts.shape)
