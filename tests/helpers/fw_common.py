"""Shared by the fw_*.py helper scripts, which run under the FireWorks 2.1.4 venv python
(``fireworks_python`` fixture), never under afw's: they speak for FireWorks in interop tests."""

from __future__ import annotations

import json
import sys
from typing import Any

from fireworks import LaunchPad


def launchpad(uri: str, name: str) -> LaunchPad:
    """FireWorks' LaunchPad on the test database (URI mode, quiet)."""
    return LaunchPad(host=uri, name=name, uri_mode=True, strm_lvl="ERROR")


def emit(value: Any) -> None:
    """One JSON document on stdout for the test to parse."""
    sys.stdout.write(json.dumps(value, default=str, sort_keys=True) + "\n")
    sys.stdout.flush()
