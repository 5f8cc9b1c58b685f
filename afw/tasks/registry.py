"""Finding a Firetask class from its ``_fw_name``.

Lookup order: FireWorks legacy aliases; the built-in tasks by their FireWorks names; classes
registered through the ``afw.tasks`` entry-point group (``name = "pkg.module:Class"``);
``{{module.Class}}`` explicit names (FireWorks' own module paths map to afw's built-ins).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from functools import cache
from importlib.metadata import entry_points
from typing import Any

from afw.errors import SerializationError, TaskParamError
from afw.tasks.base import Firetask

__all__ = ["BUILTIN_TASKS", "load_task", "task_class", "validate_task_dicts"]

BUILTIN_TASKS: dict[str, str] = {
    "ScriptTask": "afw.tasks.script:ScriptTask",
    "PyTask": "afw.tasks.pytask:PyTask",
    "FileWriteTask": "afw.tasks.fileio:FileWriteTask",
    "FileDeleteTask": "afw.tasks.fileio:FileDeleteTask",
    "FileTransferTask": "afw.tasks.fileio:FileTransferTask",
    "CompressDirTask": "afw.tasks.archive:CompressDirTask",
    "DecompressDirTask": "afw.tasks.archive:DecompressDirTask",
    "ArchiveDirTask": "afw.tasks.archive:ArchiveDirTask",
    "TemplateWriterTask": "afw.tasks.templatewriter:TemplateWriterTask",
    "JoinDictTask": "afw.tasks.dataflow:JoinDictTask",
    "JoinListTask": "afw.tasks.dataflow:JoinListTask",
    "ImportDataTask": "afw.tasks.dataflow:ImportDataTask",
}

# Old names FireWorks still accepts (its FW_NAME_UPDATES).
_ALIASES = {
    "Script Task": "ScriptTask",
    "Transfer Task": "FileTransferTask",
    "Template Writer Task": "TemplateWriterTask",
    "Dupe Finder Exact": "DupeFinderExact",
}


def _import(target: str) -> type[Firetask]:
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
        cls = getattr(module, attr)
    except (ImportError, AttributeError) as exc:
        raise SerializationError(f"cannot import task {target!r}: {exc}") from exc
    if not (isinstance(cls, type) and issubclass(cls, Firetask)):
        raise SerializationError(f"{target!r} is not a Firetask class")
    return cls


@cache
def _entry_points() -> dict[str, str]:
    return {ep.name: ep.value for ep in entry_points(group="afw.tasks")}


def task_class(fw_name: str) -> type[Firetask]:
    """The class for ``fw_name``; :class:`SerializationError` when unknown."""
    name = _ALIASES.get(fw_name, fw_name)
    if name in BUILTIN_TASKS:
        return _import(BUILTIN_TASKS[name])
    registered = _entry_points().get(name)
    if registered is not None:
        return _import(registered)
    if name.startswith("{{") and name.endswith("}}"):
        path = name[2:-2]
        module_name, _, cls_name = path.rpartition(".")
        if module_name.split(".")[0] == "fireworks" and cls_name in BUILTIN_TASKS:
            return _import(BUILTIN_TASKS[cls_name])
        return _import(f"{module_name}:{cls_name}")
    raise SerializationError(f"unknown Firetask _fw_name {fw_name!r}")


def load_task(data: Mapping[str, Any]) -> Firetask:
    """Instantiate (and so validate) a task from its dict."""
    fw_name = data.get("_fw_name")
    if not isinstance(fw_name, str):
        raise SerializationError(f"task without a _fw_name: {dict(data)!r}")
    return task_class(fw_name).from_dict(data)


def validate_task_dicts(tasks: Any, where: str) -> None:
    """Check that every task dict names a known task with valid parameters."""
    if not isinstance(tasks, list):
        raise SerializationError(f"{where}: spec._tasks must be a list")
    for task in tasks:
        if not isinstance(task, Mapping):
            raise SerializationError(f"{where}: a task must be a mapping, got {task!r}")
        try:
            load_task(task)
        except TaskParamError as exc:
            raise TaskParamError(f"{where}: {exc}") from exc
        except SerializationError as exc:
            raise SerializationError(f"{where}: {exc}") from exc
