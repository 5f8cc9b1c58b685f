"""Running a Firework's task list: checkpoints, action merging, failures (FireWorks semantics)."""

from __future__ import annotations

import copy
import inspect
import os
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio.to_thread

from afw.action import FWAction
from afw.dictmod import apply_mods
from afw.errors import AfwError, SerializationError
from afw.reporting import Reporter
from afw.serialize import load_document
from afw.tasks.context import TaskContext, task_context
from afw.tasks.registry import load_task

__all__ = ["Progress", "failure_action", "run_tasks"]


@dataclass
class Progress:
    """What the tasks have produced so far (the checkpoint's content)."""

    task_n: int = 0
    stored_data: dict[str, Any] = field(default_factory=dict)
    update_spec: dict[str, Any] = field(default_factory=dict)
    mod_spec: list[dict[str, Any]] = field(default_factory=list)
    last: FWAction = field(default_factory=FWAction)
    current_task: dict[str, Any] | None = None

    @classmethod
    def from_recovery(cls, recovery: Mapping[str, Any] | None) -> Progress:
        if not recovery:
            return cls()
        return cls(
            task_n=int(recovery.get("_task_n") or 0),
            stored_data=dict(recovery.get("_all_stored_data") or {}),
            update_spec=dict(recovery.get("_all_update_spec") or {}),
            mod_spec=list(recovery.get("_all_mod_spec") or []),
        )

    def checkpoint(self, cwd: str) -> dict[str, Any]:
        return copy.deepcopy(
            {
                "_task_n": self.task_n,
                "_all_stored_data": self.stored_data,
                "_all_update_spec": self.update_spec,
                "_all_mod_spec": self.mod_spec,
                "_cwd": cwd,
            }
        )

    def merge(self, action: FWAction, spec: dict[str, Any]) -> None:
        self.stored_data.update(action.stored_data)
        self.update_spec.update(action.update_spec)
        self.mod_spec.extend(action.mod_spec)
        spec.update(action.update_spec)
        apply_mods(action.mod_spec, spec)
        self.last = action

    def final_action(self) -> FWAction:
        last = self.last
        return FWAction(
            stored_data=self.stored_data,
            exit=last.exit,
            update_spec=self.update_spec,
            mod_spec=self.mod_spec,
            additions=last.additions,
            detours=last.detours,
            append_wfs=last.append_wfs,
            defuse_children=last.defuse_children,
            defuse_workflow=last.defuse_workflow,
            propagate=last.propagate,
        )


def failure_action(
    task: Mapping[str, Any] | None, exc: BaseException | None, message: str
) -> FWAction:
    """The FIZZLED action FireWorks records: ``_message``, ``_task``, ``_exception``."""
    details: Any = None
    if exc is not None:
        to_dict = getattr(exc, "to_dict", None)
        details = to_dict() if callable(to_dict) else None
        if details is None and isinstance(exc, AfwError) and exc.context:
            details = {k: v for k, v in exc.context.items() if isinstance(v, str | int | float)}
    stack = "".join(traceback.format_exception(exc)) if exc is not None else message
    return FWAction(
        stored_data={
            "_message": message,
            "_task": dict(task) if task is not None else None,
            "_exception": {"_stacktrace": stack, "_details": details},
        },
        exit=True,
    )


def _file_action(launch_dir: Path) -> FWAction | None:
    for name in ("FWAction.json", "FWAction.yaml"):
        path = launch_dir / name
        if path.is_file():
            doc = load_document(path)
            if not isinstance(doc, dict):
                raise SerializationError(f"{path}: an FWAction must be a mapping")
            return FWAction.from_dict(doc)
    return None


def _as_action(result: Any) -> FWAction:
    if result is None:
        return FWAction()
    if isinstance(result, FWAction):
        return result
    if isinstance(result, Mapping):
        return FWAction.from_dict(result)
    raise SerializationError(f"a task returned {type(result).__name__}, not an FWAction")


async def _call_task(task: Any, spec: dict[str, Any]) -> Any:
    if inspect.iscoroutinefunction(task.run_task):
        return await task.run_task(spec)
    result = await anyio.to_thread.run_sync(task.run_task, spec, abandon_on_cancel=True)
    if inspect.isawaitable(result):
        return await result
    return result


def _attach(task: Any, spec: Mapping[str, Any], extras: Mapping[str, Any]) -> None:
    if spec.get("_add_launchpad_and_fw_id"):
        task.fw_id = extras.get("fw_id")
        task.launchpad = extras.get("launchpad")
    if spec.get("_add_fworker"):
        task.fworker = extras.get("fworker")


async def run_tasks(
    tasks: list[dict[str, Any]],
    spec: dict[str, Any],
    progress: Progress,
    reporter: Reporter,
    ctx: TaskContext,
    extras: Mapping[str, Any],
    *,
    track_cwd: bool = True,
) -> tuple[str, FWAction]:
    """Run the tasks from ``progress.task_n`` on; returns the final state and action.

    Each checkpoint records the process's working directory as ``_cwd`` when ``track_cwd`` (a
    Rocket that ``chdir``s: a task may move elsewhere, FireWorks #269), else the launch dir.
    """
    for index in range(progress.task_n, len(tasks)):
        progress.task_n = index
        progress.current_task = tasks[index]
        cwd = _cwd(ctx) if track_cwd else str(ctx.launch_dir)
        await reporter.checkpoint(progress.checkpoint(cwd))
        token = task_context.set(ctx)
        try:
            task = load_task(tasks[index])
            _attach(task, spec, extras)
            result = await _call_task(task, spec)
            action = await anyio.to_thread.run_sync(_file_action, ctx.launch_dir) or _as_action(
                result
            )
        except Exception as exc:
            return "FIZZLED", failure_action(tasks[index], exc, "runtime error during task")
        finally:
            task_context.reset(token)
        progress.merge(action, spec)
        if action.skip_remaining_tasks:
            break
    progress.current_task = None
    return "COMPLETED", progress.final_action()


def _cwd(ctx: TaskContext) -> str:
    try:
        return os.getcwd()
    except OSError:
        return str(ctx.launch_dir)
