"""Scenarios ``recover`` and ``recover-vs-fireworks``.

``recover``: per store and N, a fresh store holding N reserved offline runs and their launch
dirs (afw format by default); a first ``recover_offline`` sweep, then a second one with nothing
changed (what a cron job pays in steady state). Each sweep is a fresh process.

``recover-vs-fireworks``: the same N runs (FireWorks format by default, which both read) on the
MongoDB-wire server, recovered by afw and by FireWorks 2.1.4's ``lpad recover_offline``,
alternating which goes first; each side gets a freshly generated database.
"""

from __future__ import annotations

import re
from typing import Any

from benchmarks.plan import DEFAULT_SHAPE, Mix
from benchmarks.results import make_row
from benchmarks.runner import run_afw, run_fireworks
from benchmarks.scenarios.common import (
    Options,
    Target,
    check_states,
    fireworks_ratio,
    log,
    make_plan_for,
    prepare_recovery_state,
    sizes_for,
    targets,
)
from benchmarks.services import fireworks_python

__all__ = ["recover", "recover_vs_fireworks"]


def _afw_sweeps(opts: Options, url: str) -> tuple[dict[str, Any], dict[str, Any]]:
    args: dict[str, Any] = {
        "task": "recover",
        "store": url,
        "batch_size": opts.batch_size,
        "concurrency": opts.concurrency,
    }
    cwd = opts.workdir / "run"
    first = run_afw(args, cwd)
    second = run_afw(args, cwd)
    return first, second


def _profile_sweep(opts: Options, target: Target, plan: Any, fmt: str, tag: str) -> None:
    """Extra, profiled sweeps (first and second) on a fresh copy of the state; their times are
    not among the figures (profiling slows them down)."""
    if opts.profile is None:
        return
    name = target.new_name("prof")
    prepare_recovery_state(opts, target, name, plan, fmt)
    try:
        args = {
            "task": "recover",
            "store": target.url(name),
            "batch_size": opts.batch_size,
            "concurrency": opts.concurrency,
        }
        for sweep in (1, 2):
            path = opts.profile / f"recover-{tag}-sweep{sweep}.txt"
            run_afw(args, opts.workdir / "run", profile=path)
            log(f"  profile: {path}")
    finally:
        target.drop(name)


def _fw_sweeps(opts: Options, target: Target, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    python = fireworks_python(opts.install)
    args = {"uri": target.server, "db": name, "workdir": str(opts.workdir / "fwrun")}
    cwd = opts.workdir / "fwrun"
    first = run_fireworks(python, "recover", args, cwd)
    second = run_fireworks(python, "recover", args, cwd)
    return first, second


def _note_problems(side: str, label: str, n: int, problems: list[str], notes: list[str]) -> None:
    if problems:
        text = f"{side} on {label}, N={n}: unexpected states after sweep 1: {'; '.join(problems)}"
        log("WARNING " + text)
        notes.append(text)


PHASES = ("sweep 1", "sweep 2 (unchanged)")


def variant(opts: Options) -> str:
    """`` [mix; shape; format]`` for runs that differ from the defaults ("" otherwise)."""
    parts = []
    if opts.mix != Mix():
        parts.append(opts.mix.label())
    if opts.shape != DEFAULT_SHAPE:
        parts.append("shape " + ",".join(f"{size}:{share:g}" for size, share in opts.shape))
    if opts.fmt:
        parts.append(f"{opts.fmt} dirs")
    return f" [{'; '.join(parts)}]" if parts else ""


def recover(opts: Options, notes: list[str]) -> list[dict[str, Any]]:
    rows = []
    fmt = opts.fmt or "afw"
    for target in targets(opts):
        for n in sizes_for(opts, target, "recover", notes):
            plan = make_plan_for(opts, n)
            log(f"recover on {target.label}: {plan.describe()}")
            sweeps: list[tuple[dict[str, Any], dict[str, Any]]] = []
            setup: dict[str, Any] = {}
            for _ in range(opts.repeat):
                name = target.new_name(f"rec{n}")
                setup = prepare_recovery_state(opts, target, name, plan, fmt)
                try:
                    first, second = _afw_sweeps(opts, target.url(name))
                finally:
                    target.drop(name)
                problems = check_states(plan, first.get("fw_states", {}))
                _note_problems("afw", target.label, n, problems, notes)
                first["ok"] = not problems
                sweeps.append((first, second))
                log(f"  sweep 1 {first['wall_s']:.3f} s, sweep 2 {second['wall_s']:.3f} s")
            slug = re.sub(r"[^A-Za-z0-9.=]+", "_", variant(opts)).strip("_")
            _profile_sweep(
                opts, target, plan, fmt, f"{target.kind}-{n}" + (f"-{slug}" if slug else "")
            )
            ok = all(s[0]["ok"] for s in sweeps)
            common = {"format": fmt, "mix": plan.mix.label(), "setup": setup, "ok": ok}
            for i, phase in enumerate(PHASES):
                label = phase + variant(opts)
                runs = [s[i] for s in sweeps]
                rows.append(make_row("recover", target.label, "afw", n, label, runs, **common))
    return rows


def recover_vs_fireworks(opts: Options, notes: list[str]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    fmt = opts.fmt or "fireworks"
    kinds = [s for s in opts.stores if s != "sqlite"]
    if not kinds or not opts.fireworks:
        notes.append("skipped: needs a MongoDB store (--store mongo) and the FireWorks side")
        return rows
    target = targets(opts, kinds[:1])[0]
    for n in sizes_for(opts, target, "recover-vs-fireworks", notes):
        plan = make_plan_for(opts, n)
        log(f"recover-vs-fireworks on {target.label}: {plan.describe()}")
        got: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = {"afw": [], "fireworks": []}
        for r in range(opts.repeat):
            for side in ("afw", "fireworks") if r % 2 == 0 else ("fireworks", "afw"):
                name = target.new_name(f"vs{n}{side[:2]}")
                prepare_recovery_state(opts, target, name, plan, fmt)
                try:
                    if side == "afw":
                        pair = _afw_sweeps(opts, target.url(name))
                    else:
                        pair = _fw_sweeps(opts, target, name)
                finally:
                    target.drop(name)
                problems = check_states(plan, pair[0].get("fw_states", {}))
                _note_problems(side, target.label, n, problems, notes)
                pair[0]["ok"] = not problems
                got[side].append(pair)
                took = f"sweep 1 {pair[0]['wall_s']:.3f} s, sweep 2 {pair[1]['wall_s']:.3f} s"
                log(f"  {side}: {took}")
        for i, phase in enumerate(PHASES):
            ratio = fireworks_ratio({side: [p[i] for p in got[side]] for side in got})
            for side in ("afw", "fireworks"):
                ok = all(p[0]["ok"] for p in got[side])
                rows.append(
                    make_row(
                        "recover-vs-fireworks",
                        target.label,
                        side,
                        n,
                        phase + variant(opts),
                        [p[i] for p in got[side]],
                        format=fmt,
                        ok=ok,
                        ratio=ratio if side == "afw" else None,
                    )
                )
    return rows
