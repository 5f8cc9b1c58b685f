"""Dataflow tasks: gather spec values (JoinDictTask, JoinListTask) and import data files.

Spec keys name a top-level key or a nested one written ``a->b->c`` (the DictMod path syntax).
The join tasks only touch the spec, so they run on the event loop, not in a worker thread.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anyio
import yaml

from afw.action import FWAction
from afw.errors import TaskError, TaskParamError
from afw.tasks.base import Firetask
from afw.tasks.context import resolve

__all__ = ["ImportDataTask", "JoinDictTask", "JoinListTask", "spec_value"]

_MISSING = object()


def spec_value(spec: Mapping[str, Any], key: str, default: Any = _MISSING) -> Any:
    """The value at ``key`` (``a->b`` for nested keys); :class:`TaskError` when absent."""
    node: Any = spec
    for part in key.split("->"):
        if not isinstance(node, Mapping) or part not in node:
            if default is not _MISSING:
                return default
            raise TaskError(f"the spec has no key {key!r}", key=key)
        node = node[part]
    return node


def _set_nested(doc: dict[str, Any], key: str, value: Any) -> None:
    *heads, last = key.split("->")
    for part in heads:
        child = doc.get(part)
        if not isinstance(child, dict):
            child = doc[part] = {}
        doc = child
    doc[last] = value


def _check_keys(task: Firetask, name: str) -> None:
    value = task[name]
    if not (isinstance(value, list) and all(isinstance(k, str) and k for k in value)):
        raise TaskParamError(f"{type(task).__name__}: {name} must be a list of spec keys")


def _check_output(task: Firetask) -> None:
    if not (isinstance(task["output"], str) and task["output"]):
        raise TaskParamError(f"{type(task).__name__}: output must be a spec key")


class JoinDictTask(Firetask):
    """Gather spec values into a dict at ``output`` (merged into an existing one).

    ``rename`` maps an input key to the key it takes in the output dict.
    """

    _fw_name = "JoinDictTask"
    required_params = ("inputs", "output")
    optional_params = ("rename",)

    def validate(self) -> None:
        super().validate()
        _check_keys(self, "inputs")
        _check_output(self)
        if not isinstance(self.get("rename") or {}, Mapping):
            raise TaskParamError("JoinDictTask: rename must be a mapping")

    async def run_task(self, fw_spec: dict[str, Any]) -> FWAction:
        output = copy.deepcopy(spec_value(fw_spec, self["output"], {}))
        if not isinstance(output, dict):
            raise TaskError(f"JoinDictTask: spec key {self['output']!r} is not a dict")
        rename: Mapping[str, str] = self.get("rename") or {}
        for key in self["inputs"]:
            _set_nested(output, rename.get(key, key), spec_value(fw_spec, key))
        return FWAction(update_spec={self["output"]: output})


class JoinListTask(Firetask):
    """Gather spec values into a list at ``output`` (appended to an existing one)."""

    _fw_name = "JoinListTask"
    required_params = ("inputs", "output")
    optional_params = ()

    def validate(self) -> None:
        super().validate()
        _check_keys(self, "inputs")
        _check_output(self)

    async def run_task(self, fw_spec: dict[str, Any]) -> FWAction:
        output = copy.deepcopy(spec_value(fw_spec, self["output"], []))
        if not isinstance(output, list):
            raise TaskError(f"JoinListTask: spec key {self['output']!r} is not a list")
        output.extend(spec_value(fw_spec, key) for key in self["inputs"])
        return FWAction(update_spec={self["output"]: output})


def _load_data(path: Path) -> Any:
    try:
        with open(path, encoding="utf-8") as stream:
            return json.load(stream) if path.suffix == ".json" else yaml.safe_load(stream)
    except OSError as exc:
        raise TaskError(f"ImportDataTask: cannot read {path}: {exc.strerror}") from exc
    except (ValueError, yaml.YAMLError) as exc:
        raise TaskError(f"ImportDataTask: cannot parse {path}: {exc}") from exc


class ImportDataTask(Firetask):
    """Load a JSON or YAML file into the spec at ``mapstring`` (``a/b/c``).

    A loaded dict is merged into a dict already at that place; the top-level key is returned
    whole in ``update_spec``.
    """

    _fw_name = "ImportDataTask"
    required_params = ("filename", "mapstring")
    optional_params = ()

    def validate(self) -> None:
        super().validate()
        filename, mapstring = self["filename"], self["mapstring"]
        if not isinstance(filename, str) or Path(filename).suffix not in (".json", ".yaml", ".yml"):
            raise TaskParamError("ImportDataTask: filename must be a .json, .yaml or .yml file")
        if not isinstance(mapstring, str) or not all(mapstring.split("/")):
            raise TaskParamError(f"ImportDataTask: bad mapstring {mapstring!r} (want a/b/c)")

    async def run_task(self, fw_spec: dict[str, Any]) -> FWAction:
        data = await anyio.to_thread.run_sync(_load_data, resolve(self["filename"]))
        top, *rest = self["mapstring"].split("/")
        root = {top: copy.deepcopy(fw_spec[top])} if top in fw_spec else {}
        node, keys = root, [top, *rest]
        for key in keys[:-1]:
            child = node.setdefault(key, {})
            if not isinstance(child, dict):
                raise TaskError(f"ImportDataTask: spec key {key!r} is not a dict")
            node = child
        leaf = keys[-1]
        if isinstance(data, dict) and isinstance(node.get(leaf), dict):
            node[leaf].update(data)
        else:
            node[leaf] = data
        return FWAction(update_spec={top: root[top]})
