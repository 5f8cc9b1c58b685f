"""Scenario ``fanin``: one workflow with N parents and one child; the parents are checked out
and completed one by one (each completion refreshes the child, which waits for all of them).
FireWorks 2.1.4 needed 40 s for 500 parents in a user report; here both run on the same server.
"""

from __future__ import annotations

from typing import Any

from benchmarks.results import make_row
from benchmarks.runner import run_afw, run_fireworks
from benchmarks.scenarios.common import (
    Options,
    fireworks_ratio,
    fireworks_specs,
    log,
    sizes_for,
    targets,
)
from benchmarks.services import fireworks_python

__all__ = ["fanin"]


def _one(
    opts: Options, target: Any, side: str, n: int, fws_file: str, profile: bool = False
) -> dict[str, Any]:
    name = target.new_name(f"fan{n}{side[:2]}")
    where = None
    if profile and opts.profile is not None:
        where = opts.profile / f"fanin-{target.kind}-{n}.txt"
    try:
        if side == "afw":
            args = {"task": "fanin", "store": target.url(name), "fws_file": fws_file}
            result = run_afw(args, opts.workdir / "run", profile=where)
        else:
            args = {"uri": target.server, "db": name, "fws_file": fws_file}
            result = run_fireworks(
                fireworks_python(opts.install), "fanin", args, opts.workdir / "fwrun"
            )
    finally:
        target.drop(name)
    result["ok"] = result.get("child_state") == "READY"
    log(
        f"  {side}: {result['ops']} completions in {result['wall_s']:.3f} s "
        f"(child {result.get('child_state')})"
    )
    return result


def fanin(opts: Options, notes: list[str]) -> list[dict[str, Any]]:
    rows = []
    for target in targets(opts):
        sides = ["afw"] + (["fireworks"] if target.kind == "mongo" and opts.fireworks else [])
        for n in sizes_for(opts, target, "fanin", notes):
            fws_file = str(fireworks_specs(n + 1, opts.workdir / f"fanin-fws-{n}.json"))
            log(f"fanin on {target.label}: {n} parents, sides {sides}")
            got: dict[str, list[dict[str, Any]]] = {side: [] for side in sides}
            for r in range(opts.repeat):
                for side in sides if r % 2 == 0 else sides[::-1]:
                    got[side].append(_one(opts, target, side, n, fws_file))
            if opts.profile is not None:  # an extra run, not among the figures
                _one(opts, target, "afw", n, fws_file, profile=True)
            ratio = fireworks_ratio(got)
            for side in sides:
                ok = all(x["ok"] for x in got[side])
                if not ok:
                    notes.append(f"fanin {side} on {target.label}: the child is not READY")
                rows.append(
                    make_row(
                        "fanin",
                        target.label,
                        side,
                        n,
                        "checkout+complete",
                        got[side],
                        ok=ok,
                        ratio=ratio if side == "afw" else None,
                    )
                )
    return rows
