"""The four benchmark scenarios; each takes :class:`Options` and returns table rows."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from benchmarks.scenarios.checkout import checkout
from benchmarks.scenarios.common import Options
from benchmarks.scenarios.fanin import fanin
from benchmarks.scenarios.recover import recover, recover_vs_fireworks

__all__ = ["DEFAULTS", "QUICK", "SCENARIOS", "Options"]

Scenario = Callable[[Options, list[str]], list[dict[str, Any]]]

SCENARIOS: dict[str, Scenario] = {
    "recover": recover,
    "recover-vs-fireworks": recover_vs_fireworks,
    "checkout": checkout,
    "fanin": fanin,
}

DEFAULTS: dict[str, dict[str, Any]] = {
    "recover": {"ns": [1000, 10_000, 100_000]},
    "recover-vs-fireworks": {"ns": [1000], "repeat": 3},
    "checkout": {"ns": [5000], "ks": [1, 4, 16]},
    "fanin": {"ns": [1000]},
}
"""The issue's sizes."""

QUICK: dict[str, dict[str, Any]] = {
    "recover": {"ns": [24], "shape": ((1, 0.5), (10, 0.5))},
    "recover-vs-fireworks": {"ns": [6], "repeat": 1, "shape": ((1, 0.5), (10, 0.5))},
    "checkout": {"ns": [8], "ks": [1, 2]},
    "fanin": {"ns": [5]},
}
"""Small sizes for the smoke run (``all --quick``, the test suite)."""
