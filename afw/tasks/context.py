"""The running task's context: its launch directory and Firework ids.

Several Rockets may run concurrently in one process (``rlaunch multi``, embedding), so the
process-wide current directory cannot say where a task works. The Rocket sets this context
variable for every task; built-in tasks resolve relative paths against :func:`launch_dir` and
start subprocesses there. (A single Rocket in a process also ``chdir``s, for FireWorks tasks.)
"""

from __future__ import annotations

import os
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

__all__ = ["TaskContext", "current", "launch_dir", "resolve", "task_context"]


@dataclass(frozen=True)
class TaskContext:
    """Where and for which launch a task runs."""

    launch_dir: Path
    fw_id: int | None = None
    launch_id: int | None = None


task_context: ContextVar[TaskContext | None] = ContextVar("afw_task_context", default=None)


def current() -> TaskContext | None:
    return task_context.get()


def launch_dir() -> Path:
    """The running task's launch dir (the current directory outside a Rocket)."""
    ctx = task_context.get()
    return ctx.launch_dir if ctx else Path(os.getcwd())


def resolve(path: str | os.PathLike[str]) -> Path:
    """``path`` made absolute against the task's launch dir (``~`` and ``$VARS`` expanded)."""
    expanded = Path(os.path.expandvars(os.path.expanduser(os.fspath(path))))
    return expanded if expanded.is_absolute() else launch_dir() / expanded
