"""afw: an asyncio, filesystem-first re-implementation of the FireWorks workflow manager.

The public API is re-exported here. Heavy modules (stores, SSH) are imported only when used:
``import afw`` imports neither pymongo nor asyncssh.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "AfwError": "afw.errors",
    "ConfigError": "afw.errors",
    "NotFoundError": "afw.errors",
    "QueryError": "afw.errors",
    "SerializationError": "afw.errors",
    "StateError": "afw.errors",
    "StoreError": "afw.errors",
    "StoreUnavailableError": "afw.errors",
    "TaskError": "afw.errors",
    "TaskParamError": "afw.errors",
    "WorkflowError": "afw.errors",
    "FWAction": "afw.action",
    "Firework": "afw.firework",
    "Launch": "afw.launch",
    "Workflow": "afw.workflow",
    "FWorker": "afw.fworker",
    "LaunchPad": "afw.launchpad",
    "Rocket": "afw.rocket",
    "run_offline": "afw.rocket",
    "rapidfire": "afw.launcher",
    "RapidfireOptions": "afw.launcher",
    "recover_offline": "afw.recovery",
    "RecoverySummary": "afw.recovery",
    "RerunReport": "afw.reruns",
    "Firetask": "afw.tasks.base",
    "explicit_serialize": "afw.tasks.base",
    "ScriptTask": "afw.tasks.script",
    "PyTask": "afw.tasks.pytask",
    "load_workflow_file": "afw.serialize",
    "STATE_RANKS": "afw.states",
}

__all__ = ["__version__", *_EXPORTS]

if TYPE_CHECKING:
    from afw.action import FWAction
    from afw.errors import (
        AfwError,
        ConfigError,
        NotFoundError,
        QueryError,
        SerializationError,
        StateError,
        StoreError,
        StoreUnavailableError,
        TaskError,
        TaskParamError,
        WorkflowError,
    )
    from afw.firework import Firework
    from afw.fworker import FWorker
    from afw.launch import Launch
    from afw.launcher import RapidfireOptions, rapidfire
    from afw.launchpad import LaunchPad
    from afw.recovery import RecoverySummary, recover_offline
    from afw.reruns import RerunReport
    from afw.rocket import Rocket, run_offline
    from afw.serialize import load_workflow_file
    from afw.states import STATE_RANKS
    from afw.tasks.base import Firetask, explicit_serialize
    from afw.tasks.pytask import PyTask
    from afw.tasks.script import ScriptTask
    from afw.workflow import Workflow


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'afw' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
