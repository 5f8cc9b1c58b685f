"""Shared CLI plumbing: global options, selection flags, output, and error reporting."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar

import anyio
from cyclopts import Parameter

from afw.config import StoreConfig, load_fworker, locate_launchpad
from afw.db.query import parse_query
from afw.errors import ConfigError, QueryError, StateError
from afw.fworker import FWorker
from afw.launchpad import LaunchPad
from afw.serialize import dump_json
from afw.states import check_state

__all__ = [
    "GLOBALS",
    "Globals",
    "IdsOpt",
    "LaunchModeOpt",
    "NameOpt",
    "PasswordOpt",
    "QueryOpt",
    "StateOpt",
    "emit",
    "fw_selection",
    "launchpad",
    "parse_ids",
    "require_ids",
    "run_async",
]

T = TypeVar("T")


@dataclass
class Globals:
    """Options given before the command (``afw lpad -l FILE get_fws``)."""

    launchpad_file: str | None = None
    fworker_file: str | None = None
    verbose: bool = False
    json: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def store_config(self) -> StoreConfig:
        return locate_launchpad(self.launchpad_file)

    def fworker(self) -> FWorker:
        return load_fworker(self.fworker_file)


GLOBALS = Globals()

IdsOpt = Annotated[
    list[str] | None,
    Parameter(name=["-i", "--fw-id", "--fw_id"], help="Firework ids (comma-separated or repeated)"),
]
NameOpt = Annotated[str | None, Parameter(name=["-n", "--name"], help="exact name")]
StateOpt = Annotated[str | None, Parameter(name=["-s", "--state"], help="state, e.g. FIZZLED")]
QueryOpt = Annotated[
    str | None, Parameter(name=["-q", "--query"], help="MongoDB-style filter as JSON")
]
PasswordOpt = Annotated[str | None, Parameter(show=False)]
"""FireWorks' ``--password`` on bulk commands: accepted for compatibility, not checked."""
LaunchModeOpt = Annotated[
    bool,
    Parameter(
        name=["-lm", "--launch-mode", "--launches-mode", "--launches_mode"],
        negative="",
        help="run -s/-q against the current launches instead of the Fireworks",
    ),
]


def run_async(fn: Callable[[], Awaitable[T]]) -> T:
    """Run one coroutine function to completion (the CLI is afw's only sync edge)."""
    return anyio.run(fn)


def launchpad() -> LaunchPad:
    return LaunchPad(GLOBALS.store_config())


def parse_ids(values: Sequence[str] | None) -> list[int]:
    """``-i 1,2 -i 3`` → ``[1, 2, 3]``; anything else is a one-line error."""
    ids: list[int] = []
    for value in values or []:
        for raw in str(value).split(","):
            part = raw.strip()
            if not part:
                continue
            try:
                ids.append(int(part))
            except ValueError:
                raise ConfigError(f"not a Firework id: {part!r}") from None
    return ids


def fw_selection(
    ids: Sequence[str] | None,
    name: str | None,
    state: str | None,
    query: str | None,
    *,
    launch_mode: bool = False,
    required: bool = False,
) -> tuple[list[int] | None, dict[str, Any]]:
    """Turn selection flags into explicit ids or a filter (FireWorks' rules).

    Returns ``(ids, {})`` for ``-i`` and ``(None, filter)`` otherwise.
    """
    fw_ids = parse_ids(ids)
    if fw_ids and (name or state or query):
        raise ConfigError("-i cannot be combined with -n, -s or -q")
    if fw_ids:
        return fw_ids, {}
    if required and not (name or state or query):
        raise ConfigError("select Fireworks with -i, -n, -s or -q")
    if launch_mode and name:
        # FireWorks ignores -n here, which would select every Firework with a launch.
        raise ConfigError("-n cannot be combined with -lm (launches have no name)")
    flt: dict[str, Any] = {}
    if query:
        try:
            flt.update(parse_query(query))
        except QueryError:
            raise
        except Exception as exc:
            raise QueryError(f"query is not valid JSON: {exc}") from exc
    if state:
        try:
            flt["state"] = check_state(state)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    if name and not launch_mode:
        flt["name"] = name
    return None, flt


def require_ids(ids: Sequence[int], what: str = "Fireworks", outcome: str = "changed") -> None:
    """Fail with one line when the selection matched nothing (so nothing was ``outcome``)."""
    if not ids:
        raise StateError(f"no {what} match the selection; nothing {outcome}")


def emit(value: Any, *, table: Callable[[Any], None] | None = None) -> None:
    """Print ``value``: a rich table on a terminal when one is given, JSON otherwise."""
    if table is not None and not GLOBALS.json and sys.stdout.isatty():
        table(value)
        return
    if isinstance(value, int | str) and not isinstance(value, bool):
        print(value)
        return
    sys.stdout.write(dump_json(value, indent=True).decode() + "\n")
