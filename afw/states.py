"""Firework and launch states with FireWorks' ranks."""

from __future__ import annotations

from typing import Final, Literal

__all__ = [
    "ALL_STATES",
    "STATE_RANKS",
    "State",
    "check_state",
]

State = Literal[
    "ARCHIVED",
    "FIZZLED",
    "DEFUSED",
    "PAUSED",
    "WAITING",
    "READY",
    "RESERVED",
    "RUNNING",
    "COMPLETED",
]

STATE_RANKS: Final[dict[str, int]] = {
    "ARCHIVED": -2,
    "FIZZLED": -1,
    "DEFUSED": 0,
    "PAUSED": 0,
    "WAITING": 1,
    "READY": 2,
    "RESERVED": 3,
    "RUNNING": 4,
    "COMPLETED": 5,
}

ALL_STATES: Final[tuple[str, ...]] = tuple(STATE_RANKS)


def check_state(value: str) -> str:
    """Return ``value`` upper-cased if it is a known state, else raise ``ValueError``."""
    state = value.upper()
    if state not in STATE_RANKS:
        raise ValueError(f"unknown state {value!r}; expected one of {', '.join(ALL_STATES)}")
    return state
