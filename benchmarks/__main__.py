"""``python -m benchmarks``: run the scenarios, print and save the results, plot them.

::

    python -m benchmarks run recover --n 1000,10000,100000 --store sqlite,mongo
    python -m benchmarks run recover-vs-fireworks --n 1000 --repeat 3
    python -m benchmarks run checkout --n 5000 --k 1,4,16
    python -m benchmarks run fanin --n 1000
    python -m benchmarks all --quick          # every scenario at small N (the smoke set)
    python -m benchmarks plot                 # results/recover_scaling.png from the latest runs
    python -m benchmarks table                # regenerate results/latest.md
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.plan import Mix, parse_shape
from benchmarks.services import REPO, BenchError

RESULTS = REPO / "benchmarks" / "results"


def _ints(text: str) -> list[int]:
    return [int(part.replace("_", "")) for part in text.split(",") if part.strip()]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=__doc__.split("::")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    from benchmarks.scenarios import SCENARIOS

    run = sub.add_parser("run", help="run one scenario")
    run.add_argument("scenario", choices=sorted(SCENARIOS))
    every = sub.add_parser("all", help="run every scenario")
    for p in (run, every):
        p.add_argument("--n", type=_ints, help="sizes, comma separated (default: the issue's)")
        p.add_argument("--store", help="sqlite, mongo or a mongodb:// server; comma separated")
        p.add_argument(
            "--mongo",
            help="MongoDB server URI (default: $AFW_BENCH_MONGODB_URI, else a private SecantusDB)",
        )
        p.add_argument("--k", type=_ints, help="checkout: concurrent workers (default 1,4,16)")
        p.add_argument("--repeat", type=int, help="measurements per point (median reported)")
        p.add_argument("--mix", type=Mix.parse, help="run states, e.g. completed=0.7,running=0.3")
        p.add_argument("--shape", type=parse_shape, help="workflow sizes, e.g. 1:0.2,10:0.8")
        p.add_argument("--format", choices=("afw", "fireworks"), help="launch-dir format")
        p.add_argument("--workdir", type=Path, help="launch dirs and SQLite files (local disk)")
        p.add_argument("--out", type=Path, default=RESULTS, help="results directory")
        p.add_argument("--no-fireworks", action="store_true", help="skip the FireWorks side")
        p.add_argument("--no-install", action="store_true", help="never run services install")
        p.add_argument(
            "--profile",
            action="store_true",
            help="add a profiled afw run per point (summary in OUT/profiles/)",
        )
        p.add_argument("--quick", action="store_true", help="small sizes (the smoke set)")
        p.add_argument("--batch-size", type=int, default=500, help="recover_offline batch size")
        p.add_argument("--concurrency", type=int, default=4, help="recover_offline readers")
        p.add_argument(
            "--mongo-max-n",
            type=int,
            help="largest N on MongoDB (0: no cap; "
            "default on SecantusDB: recover 10,000, checkout 500)",
        )
    for name in ("plot", "table"):
        p = sub.add_parser(name, help=f"{name} from the latest results")
        p.add_argument("--out", type=Path, default=RESULTS)
    return parser


def _options(scenario: str, ns: argparse.Namespace) -> Any:
    from benchmarks.scenarios import DEFAULTS, QUICK, Options

    base = dict((QUICK if ns.quick else DEFAULTS)[scenario])
    given = {"ns": ns.n, "ks": ns.k, "repeat": ns.repeat, "mix": ns.mix, "shape": ns.shape}
    base.update({k: v for k, v in given.items() if v is not None})
    workdir = ns.workdir or Path(os.environ.get("AFW_BENCH_WORKDIR", "/tmp/afw-bench"))
    return Options(
        **base,
        stores=ns.store.split(",") if ns.store else ["sqlite", "mongo"],
        mongo=ns.mongo,
        fmt=ns.format,
        workdir=workdir.absolute(),
        fireworks=not ns.no_fireworks,
        profile=(ns.out / "profiles") if ns.profile else None,
        quick=ns.quick,
        install=not ns.no_install,
        batch_size=ns.batch_size,
        concurrency=ns.concurrency,
        mongo_max_n=ns.mongo_max_n,
    )


def _run(scenario: str, ns: argparse.Namespace, command: str) -> bool:
    from benchmarks.results import format_table, machine_info, save
    from benchmarks.scenarios import SCENARIOS
    from benchmarks.services import _server

    opts = _options(scenario, ns)
    opts.workdir.mkdir(parents=True, exist_ok=True)
    notes: list[str] = []
    started = datetime.now(UTC).isoformat(timespec="seconds")
    rows = SCENARIOS[scenario](opts, notes)
    if not rows:
        print(f"\n## {scenario}: nothing run ({'; '.join(notes)})\n")
        return True
    params = {k: v for k, v in vars(opts).items() if k not in ("workdir", "profile")}
    params["mix"] = opts.mix.label()
    payload = {
        "scenario": scenario,
        "command": command,
        "started": started,
        "quick": opts.quick,
        "params": params,
        "mongo_server": _server.get("kind"),
        "machine": machine_info(opts.workdir),
        "rows": rows,
        "notes": notes,
    }
    path = save(ns.out, scenario, payload)
    print(f"\n## {scenario}\n\n{format_table(rows)}\n")
    for note in notes:
        print(f"* {note}")
    print(f"saved {path}")
    return all(row.get("ok", True) for row in rows)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # A busy machine (or a SecantusDB server filling up) answers slowly: afw's 5 s default
    # for reaching the server is meant for the CLI, not for a benchmark.
    os.environ.setdefault("AFW_MONGO_TIMEOUT_MS", "120000")
    ns = _parser().parse_args(argv)
    command = "python -m benchmarks " + shlex.join(argv)
    try:
        if ns.command in ("plot", "table"):
            from benchmarks.plot import plot_recover
            from benchmarks.results import write_latest

            print(write_latest(ns.out) if ns.command == "table" else plot_recover(ns.out))
            return 0
        from benchmarks.scenarios import SCENARIOS

        names = [ns.scenario] if ns.command == "run" else list(SCENARIOS)
        outcomes = [_run(name, ns, command) for name in names]  # every one runs
        ok = all(outcomes)
        if any(name.startswith("recover") for name in names):
            from benchmarks.plot import plot_recover

            print(f"plot: {plot_recover(ns.out)}")
    except BenchError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 2
    if not ok:
        print("some measurements ended in an unexpected state (rows marked (!))", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
