"""Helpers shared by the FireWorks-side scripts (FireWorks venv: no afw here)."""

from __future__ import annotations

import json
import resource
import sys
import time
from collections import Counter
from typing import Any

from pymongo import monitoring

__all__ = [
    "COUNTER",
    "MARK",
    "CommandCounter",
    "args",
    "emit",
    "launchpad",
    "load_fireworks",
    "peak_rss_mb",
    "timer",
]

MARK = "BENCH-RESULT "


class CommandCounter(monitoring.CommandListener):
    """Counts started commands by name (same as :class:`benchmarks.counting.CommandCounter`)."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.micros: Counter[str] = Counter()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.counts[event.command_name] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        self.micros[event.command_name] += event.duration_micros

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        self.micros[event.command_name] += event.duration_micros

    def reset(self) -> None:
        self.counts.clear()
        self.micros.clear()

    def seconds(self) -> dict[str, float]:
        """Seconds spent waiting for replies, per command name."""
        return {name: us / 1e6 for name, us in self.micros.items()}


COUNTER = CommandCounter()
monitoring.register(COUNTER)  # before any client exists: FireWorks' own clients are counted


def args() -> dict[str, Any]:
    """The JSON argument the harness passes."""
    return dict(json.loads(sys.argv[1]))


def launchpad(uri: str, dbname: str) -> Any:
    """FireWorks' LaunchPad on ``dbname`` at ``uri`` (quiet logging)."""
    from fireworks import LaunchPad

    return LaunchPad(host=uri, uri_mode=True, name=dbname, strm_lvl="ERROR")


def load_fireworks(path: str) -> list[Any]:
    """FireWorks ``Firework`` objects (ids -1, -2, ...) from ``[{"name", "spec"}]`` in ``path``."""
    from fireworks import Firework
    from fireworks.utilities.fw_serializers import load_object

    with open(path) as handle:
        entries = json.load(handle)
    fws = []
    for n, entry in enumerate(entries):
        spec = dict(entry["spec"])
        tasks = [load_object(t) for t in spec.pop("_tasks")]
        fws.append(Firework(tasks, spec, name=entry["name"], fw_id=-(n + 1)))
    return fws


def peak_rss_mb() -> float:
    """This process's peak RSS: ``VmHWM`` (``ru_maxrss`` would include the RSS of the parent at
    fork time, which Linux carries across ``exec``)."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def emit(result: dict[str, Any]) -> None:
    """Print the result line the harness parses (FireWorks may print other lines before)."""
    result.setdefault("peak_rss_mb", peak_rss_mb())
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result.setdefault("cpu_s", usage.ru_utime + usage.ru_stime)
    result.setdefault("side", "fireworks")
    print(MARK + json.dumps(result), flush=True)


def timer() -> float:
    return time.perf_counter()
