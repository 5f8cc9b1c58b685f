"""Scenario ``checkout``: reserve N Fireworks and write their launch dirs with K workers.

afw: K coroutines in one process, each looping ``reserve_fw`` → ``FW.json`` + ``FW_offline.json``
(atomic writes) → ``add_offline_run``, the offline part of ``afw qlaunch -r`` per job. FireWorks
2.1.4 (MongoDB only): K processes looping ``reserve_fw`` → ``setup_offline_job``. Both start
from N single-Firework workflows with the same specs, added untimed by their own ``add_wfs`` /
``bulk_add_wfs``.
"""

from __future__ import annotations

import shutil
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

__all__ = ["checkout"]


def _one(
    opts: Options, target: Any, side: str, n: int, k: int, fws_file: str, profile: bool = False
) -> dict[str, Any]:
    name = target.new_name(f"co{k}{side[:2]}")
    where = None
    if profile and opts.profile is not None:
        where = opts.profile / f"checkout-{target.kind}-{n}-k{k}.txt"
    root = opts.workdir / "checkout" / name
    try:
        if side == "afw":
            args = {
                "task": "checkout",
                "store": target.url(name),
                "k": k,
                "root": str(root),
                "fws_file": fws_file,
            }
            result = run_afw(args, opts.workdir / "run", profile=where)
        else:
            args = {
                "uri": target.server,
                "db": name,
                "k": k,
                "root": str(root),
                "fws_file": fws_file,
            }
            result = run_fireworks(
                fireworks_python(opts.install), "checkout", args, opts.workdir / "fwrun"
            )
    finally:
        target.drop(name)
        shutil.rmtree(root, ignore_errors=True)
    result["ok"] = int(result["ops"]) == n
    log(f"  {side} K={k}: {result['ops']} reservations in {result['wall_s']:.3f} s")
    return result


def checkout(opts: Options, notes: list[str]) -> list[dict[str, Any]]:
    rows = []
    for target in targets(opts):
        sides = ["afw"] + (["fireworks"] if target.kind == "mongo" and opts.fireworks else [])
        for n in sizes_for(opts, target, "checkout", notes):
            fws_file = str(fireworks_specs(n, opts.workdir / f"checkout-fws-{n}.json"))
            for k in opts.ks:
                log(f"checkout on {target.label}: N={n}, K={k}, sides {sides}")
                got: dict[str, list[dict[str, Any]]] = {side: [] for side in sides}
                for r in range(opts.repeat):
                    for side in sides if r % 2 == 0 else sides[::-1]:
                        got[side].append(_one(opts, target, side, n, k, fws_file))
                if opts.profile is not None:  # an extra run, not among the figures
                    _one(opts, target, "afw", n, k, fws_file, profile=True)
                ratio = fireworks_ratio(got)
                for side in sides:
                    ok = all(x["ok"] for x in got[side])
                    if not ok:
                        notes.append(f"checkout {side} on {target.label} K={k}: not all reserved")
                    rows.append(
                        make_row(
                            "checkout",
                            target.label,
                            side,
                            n,
                            f"K={k}",
                            got[side],
                            ok=ok,
                            k=k,
                            ratio=ratio if side == "afw" else None,
                        )
                    )
    return rows
