"""Helpers shared by the FireWorks-side scripts (FireWorks venv: no afw here)."""

from __future__ import annotations

import json
import resource
import sys
import time
from collections import Counter
from typing import Any

from pymongo import monitoring

__all__ = ["COUNTER", "MARK", "CommandCounter", "args", "emit", "launchpad", "peak_rss_mb"]

MARK = "BENCH-RESULT "


class CommandCounter(monitoring.CommandListener):
    """Counts started commands by name (same as :class:`benchmarks.counting.CommandCounter`)."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.counts[event.command_name] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


COUNTER = CommandCounter()
monitoring.register(COUNTER)  # before any client exists: FireWorks' own clients are counted


def args() -> dict[str, Any]:
    """The JSON argument the harness passes."""
    return dict(json.loads(sys.argv[1]))


def launchpad(uri: str, dbname: str) -> Any:
    """FireWorks' LaunchPad on ``dbname`` at ``uri`` (quiet logging)."""
    from fireworks import LaunchPad

    return LaunchPad(host=uri, uri_mode=True, name=dbname, strm_lvl="ERROR")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def emit(result: dict[str, Any]) -> None:
    """Print the result line the harness parses (FireWorks may print other lines before)."""
    result.setdefault("peak_rss_mb", peak_rss_mb())
    result.setdefault("side", "fireworks")
    print(MARK + json.dumps(result), flush=True)


def timer() -> float:
    return time.perf_counter()
