"""Reading and writing FireWorks-format JSON and YAML documents."""

from __future__ import annotations

import datetime
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson
import yaml

from afw.errors import AfwError, SerializationError
from afw.firework import Firework
from afw.tasks.registry import validate_task_dicts
from afw.workflow import Workflow

__all__ = [
    "dump_json",
    "dump_yaml",
    "json_default",
    "load_document",
    "load_workflow",
    "load_workflow_file",
    "parse_document",
]

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def json_default(value: Any) -> Any:
    """orjson fallback: objects with ``to_dict`` (tasks, actions) and sets."""
    as_dict = getattr(value, "to_dict", None)
    if callable(as_dict):
        return as_dict()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"cannot serialize {type(value).__name__}")


def dump_json(doc: Any, *, indent: bool = False) -> bytes:
    """JSON bytes (orjson); non-string dict keys are written as strings."""
    option = orjson.OPT_NON_STR_KEYS | (orjson.OPT_INDENT_2 if indent else 0)
    return orjson.dumps(doc, default=json_default, option=option)


def dump_yaml(doc: Any) -> str:
    return str(yaml.dump(orjson.loads(dump_json(doc)), Dumper=_Dumper, sort_keys=False))


def _plain(value: Any) -> Any:
    """YAML turns ISO timestamps into datetimes; FireWorks documents keep them as strings."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    return value


def parse_document(text: str | bytes, fmt: str, where: str) -> Any:
    """Parse JSON or YAML text; errors become one-line :class:`SerializationError`."""
    if fmt == "json":
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise SerializationError(f"{where}: malformed JSON: {exc}") from exc
    try:
        return _plain(yaml.load(text, Loader=_Loader))  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        detail = str(exc).replace("\n", " ")
        raise SerializationError(f"{where}: malformed YAML: {detail}") from exc


def load_document(path: str | os.PathLike[str]) -> Any:
    """Load a ``.json``, ``.yaml`` or ``.yml`` file (other names: JSON first, then YAML)."""
    file = Path(path)
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise SerializationError(f"{file}: cannot read: {exc.strerror or exc}") from exc
    suffix = file.suffix.lower()
    if suffix == ".json":
        return parse_document(data, "json", str(file))
    if suffix in (".yaml", ".yml"):
        return parse_document(data, "yaml", str(file))
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return parse_document(data, "yaml", str(file))


def load_workflow(doc: Any, where: str = "workflow") -> Workflow:
    """A validated Workflow from a FireWorks workflow dict or bare Firework dict."""
    if not isinstance(doc, dict):
        raise SerializationError(f"{where}: expected a mapping, got {type(doc).__name__}")
    try:
        wf = Workflow.from_dict(doc)
    except AfwError as exc:
        raise type(exc)(f"{where}: {exc}") from exc
    except (KeyError, TypeError, ValueError) as exc:
        raise SerializationError(f"{where}: invalid workflow document: {exc}") from exc
    _validate_tasks(wf.fws.values(), where)
    return wf


def _validate_tasks(fws: Iterable[Firework], where: str) -> None:
    for fw in fws:
        validate_task_dicts(fw.spec.get("_tasks", []), f"{where}: Firework {fw.name!r}")


def load_workflow_file(path: str | os.PathLike[str]) -> Workflow:
    """Load and validate a FireWorks workflow (or Firework) file."""
    return load_workflow(load_document(path), str(path))
