"""Firetasks: the base class, the registry and the built-in tasks (imported on demand)."""

from __future__ import annotations

from afw.tasks.base import Firetask, explicit_serialize
from afw.tasks.registry import BUILTIN_TASKS, load_task, task_class, validate_task_dicts

__all__ = [
    "BUILTIN_TASKS",
    "Firetask",
    "explicit_serialize",
    "load_task",
    "task_class",
    "validate_task_dicts",
]
