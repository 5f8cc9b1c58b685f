"""Running one Firetask directly, as the rocket would, for the tests of the built-in tasks."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from afw.tasks.context import TaskContext, task_context


async def run(task: Any, launch_dir: Path, spec: dict[str, Any] | None = None) -> Any:
    """Run ``task`` with ``launch_dir`` as its launch dir; await it if ``run_task`` is async."""
    token = task_context.set(TaskContext(launch_dir=launch_dir))
    try:
        result = task.run_task(spec if spec is not None else {})
        return await result if inspect.isawaitable(result) else result
    finally:
        task_context.reset(token)
