"""PyTask: call a Python function named by its dotted path (FireWorks ``PyTask``)."""

from __future__ import annotations

import builtins
import functools
import importlib
import inspect
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import anyio

from afw.action import FWAction
from afw.errors import TaskError, TaskParamError
from afw.tasks.base import Firetask
from afw.tasks.dataflow import spec_value

__all__ = ["PyTask", "import_callable"]


def _try_import(name: str) -> Any:
    """The module ``name``, or None when no module has that name."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (name == exc.name or name.startswith(exc.name + ".")):
            return None
        raise TaskParamError(f"PyTask: importing {name!r} failed: {exc}") from exc
    except Exception as exc:
        raise TaskParamError(f"PyTask: importing {name!r} failed: {exc!r}") from exc


def _locate(path: str) -> tuple[Any, list[str]]:
    """The module ``path`` starts with and the attribute names that follow it."""
    if ":" in path:
        module_name, _, attrs = path.partition(":")
        cuts: list[tuple[str, list[str]]] = [(module_name, attrs.split("."))]
    elif "." in path:
        parts = path.split(".")
        cuts = [(".".join(parts[:n]), parts[n:]) for n in range(len(parts) - 1, 0, -1)]
    else:
        return builtins, [path]
    for module_name, names in cuts:
        module = _try_import(module_name)
        if module is not None:
            return module, names
    raise TaskParamError(f"PyTask: cannot import a module for func {path!r}")


def import_callable(path: Any) -> Callable[..., Any]:
    """The function named ``path``: ``pkg.mod.func``, ``pkg.mod:Class.method`` or a builtin."""
    if not isinstance(path, str) or not path:
        raise TaskParamError(f"PyTask: func must be a dotted path, got {path!r}")
    target, names = _locate(path)
    for name in names:
        try:
            target = getattr(target, name)
        except AttributeError as exc:
            raise TaskParamError(f"PyTask: cannot find func {path!r}: {exc}") from exc
    if not callable(target):
        raise TaskParamError(f"PyTask: func {path!r} is not callable")
    return target  # type: ignore[no-any-return]


def _check_types(task: Mapping[str, Any]) -> None:
    kinds = {"args": (list, tuple), "kwargs": (dict,), "inputs": (list,), "outputs": (list,)}
    for name, kind in kinds.items():
        if name in task and not isinstance(task[name], kind):
            raise TaskParamError(f"PyTask: {name} must be a {kind[0].__name__}")
    for name in ("inputs", "outputs"):
        if not all(isinstance(key, str) and key for key in task.get(name, [])):
            raise TaskParamError(f"PyTask: {name} must be spec keys (strings)")


class PyTask(Firetask):
    """Call ``func(*args, *inputs, **kwargs)``.

    ``inputs`` are spec keys whose values are appended to ``args``. A returned FWAction is passed
    through; else the result goes to ``stored_data[stored_data_varname]`` and to the ``outputs``
    spec keys (one output takes the result, several take its items; with ``chunk_number`` they
    are ``_push``-ed instead). With ``auto_kwargs`` every other parameter is a keyword argument.
    Coroutine functions are awaited; other functions run in a worker thread. ``func`` is
    imported when the task is built, so a wrong path fails at ``lpad add``.
    """

    _fw_name = "PyTask"
    required_params = ("func",)
    optional_params: ClassVar[tuple[str, ...]] = (
        "args",
        "kwargs",
        "auto_kwargs",
        "stored_data_varname",
        "inputs",
        "outputs",
        "chunk_number",
    )

    def validate(self) -> None:
        if self.get("auto_kwargs"):
            if "func" not in self:
                raise TaskParamError("PyTask: missing required parameter(s) func")
        else:
            super().validate()
        _check_types(self)
        import_callable(self["func"])

    def _kwargs(self) -> dict[str, Any]:
        kwargs = dict(self.get("kwargs") or {})
        if self.get("auto_kwargs"):
            known = {*self.required_params, *type(self).optional_params}
            kwargs.update({k: v for k, v in self.items() if k not in known and k[:1] != "_"})
        return kwargs

    async def run_task(self, fw_spec: dict[str, Any]) -> FWAction | None:
        func = import_callable(self["func"])
        args = [*self.get("args", []), *(spec_value(fw_spec, k) for k in self.get("inputs", []))]
        kwargs = self._kwargs()
        if inspect.iscoroutinefunction(func):
            result = await func(*args, **kwargs)
        else:
            result = await anyio.to_thread.run_sync(functools.partial(func, *args, **kwargs))
        if inspect.isawaitable(result):
            result = await result
        return self._action(result)

    def _action(self, result: Any) -> FWAction | None:
        if isinstance(result, FWAction):
            return result
        outputs: list[str] = self.get("outputs") or []
        values = [result] if len(outputs) == 1 else self._unpack(result, len(outputs))
        update_spec: dict[str, Any] = {}
        mod_spec: list[dict[str, Any]] = []
        for key, value in zip(outputs, values, strict=True):
            if self.get("chunk_number") is None:
                update_spec[key] = value
            else:
                mod_spec.append({"_push": {key: value}})
        varname = self.get("stored_data_varname")
        stored = {varname: result} if varname else {}
        if not (outputs or stored):
            return None
        return FWAction(stored_data=stored, update_spec=update_spec, mod_spec=mod_spec)

    def _unpack(self, result: Any, count: int) -> list[Any]:
        if count == 0:
            return []
        if not isinstance(result, list | tuple) or len(result) != count:
            raise TaskError(
                f"PyTask: {self['func']} must return {count} values for outputs "
                f"{self['outputs']}, got {result!r}"
            )
        return list(result)
