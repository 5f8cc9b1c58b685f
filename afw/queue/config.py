"""``QueueConfig``: a FireWorks ``my_qadapter.yaml`` (CommonAdapter) as validated, frozen data.

Accepted keys (FireWorks 2.1 names)::

    _fw_name: CommonAdapter          # optional; another adapter class is refused
    _fw_q_type: SLURM                # or PBS, Torque, SGE, LoadSharingFacility, LSF, shell
    _fw_q_name: my_cluster           # optional label
    _fw_template_file: ~/my.txt      # or template_file: a custom template with $${name} fields
    _fw_timeout: 5                   # seconds allowed to queue queries
    _q_commands_override: {submit_cmd: sbatch, status_cmd: squeue}
    rocket_launch: rlaunch -w my_fworker.yaml singleshot [--offline]   # required
    logdir: /path/to/logs
    nodes: 1                         # ...and any other template variable

Other keys starting with ``_`` are ignored, as FireWorks does.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from afw.errors import ConfigError
from afw.queue.adapter import SchedulerAdapter
from afw.queue.registry import canonical_q_type, make_adapter
from afw.queue.template import placeholders

__all__ = ["DEFAULT_TIMEOUT", "QueueConfig", "load_queue_config"]

DEFAULT_TIMEOUT = 5.0
_ADAPTER_NAMES = frozenset({"CommonAdapter"})


@dataclass(frozen=True)
class QueueConfig:
    """One queue adapter configuration; template variables live in ``options``."""

    q_type: str
    rocket_launch: str
    options: Mapping[str, Any] = field(default_factory=dict)
    q_name: str | None = None
    template_file: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    commands_override: Mapping[str, str] = field(default_factory=dict)
    logdir: str | None = None
    job_name_maxlen: int = 20

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, job_name_maxlen: int = 20) -> QueueConfig:
        """Validate a ``my_qadapter.yaml`` mapping; ConfigError names the offending key."""
        if not isinstance(data, Mapping):
            raise ConfigError(f"a queue adapter must be a mapping, not {type(data).__name__}")
        _check_adapter_name(data.get("_fw_name"))
        if data.get("_fw_q_type") is None:
            raise ConfigError("queue adapter: missing _fw_q_type (e.g. SLURM, PBS, SGE, shell)")
        config = cls(
            q_type=canonical_q_type(data["_fw_q_type"]),
            rocket_launch=_rocket_launch(data.get("rocket_launch")),
            options={k: v for k, v in data.items() if not k.startswith("_") and k not in _OWN},
            q_name=_optional_str(data, "_fw_q_name"),
            template_file=_template_file(data),
            timeout=_timeout(data.get("_fw_timeout")),
            commands_override=_overrides(data.get("_q_commands_override")),
            logdir=_optional_str(data, "logdir"),
            job_name_maxlen=job_name_maxlen,
        )
        make_adapter(config.q_type, config.commands_override)  # a bad override fails here
        return config

    def to_dict(self) -> dict[str, Any]:
        """The FireWorks form (``from_dict(to_dict())`` gives an equal config)."""
        data: dict[str, Any] = {"_fw_name": "CommonAdapter", "_fw_q_type": self.q_type}
        optional = {
            "_fw_q_name": self.q_name,
            "_fw_template_file": self.template_file,
            "logdir": self.logdir,
            "_q_commands_override": dict(self.commands_override) or None,
        }
        data.update({k: v for k, v in optional.items() if v is not None})
        data["_fw_timeout"] = self.timeout
        data["rocket_launch"] = self.rocket_launch
        data.update(self.options)
        return data

    def merge(self, overrides: Mapping[str, Any] | None) -> QueueConfig:
        """This config updated with a Firework's ``spec._queueadapter`` (FireWorks' dict update)."""
        if not overrides:
            return self
        if not isinstance(overrides, Mapping):
            raise ConfigError("spec._queueadapter must be a mapping")
        return QueueConfig.from_dict(
            {**self.to_dict(), **overrides}, job_name_maxlen=self.job_name_maxlen
        )

    @property
    def offline(self) -> bool:
        """True when ``rocket_launch`` asks for offline mode (``--offline``)."""
        return "--offline" in self.rocket_launch.split()

    @property
    def queue(self) -> str | None:
        """The ``queue`` option (partition), used when counting a user's jobs."""
        value = self.options.get("queue")
        return None if value is None or value == "" else str(value)

    @property
    def adapter(self) -> SchedulerAdapter:
        """The scheduler adapter, with ``_q_commands_override`` applied."""
        return make_adapter(self.q_type, self.commands_override)

    def template_values(self, launch_dir: str, job_name: str | None = None) -> dict[str, Any]:
        """The values a template sees: the options plus rocket_launch, logdir and launch_dir."""
        values: dict[str, Any] = dict(self.options)
        values.update(rocket_launch=self.rocket_launch, logdir=self.logdir, launch_dir=launch_dir)
        if job_name is not None:
            values["job_name"] = job_name
        return values

    def unused_options(self, template: str) -> list[str]:
        """Options ``template`` never uses: likely typos, worth a warning (FireWorks warns too)."""
        used = placeholders(template)
        return sorted(k for k in self.options if k not in used)

    def load_template(self) -> str:
        """The custom template file's text, else the adapter's built-in template.

        Reads a small local file: async callers should call it once, in a worker thread.
        """
        if self.template_file is None:
            return self.adapter.template()
        path = Path(os.path.expandvars(self.template_file)).expanduser()
        try:
            return path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(
                f"cannot read queue template file {path}: {exc.strerror or exc}", path=str(path)
            ) from exc

    def render_script(
        self, launch_dir: str, *, job_name: str | None = None, template: str | None = None
    ) -> str:
        """The submission script for ``launch_dir`` (default template: :meth:`load_template`)."""
        text = self.load_template() if template is None else template
        values = self.template_values(launch_dir, job_name)
        return self.adapter.render_script(
            values, template=text, job_name_maxlen=self.job_name_maxlen
        )


_OWN = frozenset({"rocket_launch", "logdir", "template_file"})


def _check_adapter_name(name: object) -> None:
    if name is None:
        return
    # "{{fireworks.user_objects.queue_adapters.common_adapter.CommonAdapter}}" is fine too.
    short = str(name).strip("{} ").rsplit(".", 1)[-1]
    if short not in _ADAPTER_NAMES:
        raise ConfigError(
            f"unsupported queue adapter _fw_name {name!r}: afw reads CommonAdapter files "
            "(set _fw_q_type to choose the scheduler)"
        )


def _rocket_launch(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(
            "queue adapter: missing rocket_launch (e.g. 'rlaunch -w my_fworker.yaml singleshot')"
        )
    return value.strip()


def _optional_str(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str | int | float):
        raise ConfigError(f"queue adapter: {key} must be a string")
    return str(value)


def _template_file(data: Mapping[str, Any]) -> str | None:
    first = _optional_str(data, "_fw_template_file")
    return first if first is not None else _optional_str(data, "template_file")


def _timeout(value: object) -> float:
    if value is None:
        return DEFAULT_TIMEOUT
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigError(f"queue adapter: _fw_timeout must be a positive number, not {value!r}")
    return float(value)


def _overrides(value: object) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ConfigError(
            "queue adapter: _q_commands_override must map names to commands, "
            "e.g. {submit_cmd: sbatch, status_cmd: squeue}"
        )
    return dict(value)


class _Loader(yaml.SafeLoader):
    """SafeLoader that keeps ``walltime: 24:00:00`` a string.

    PyYAML follows YAML 1.1, where ``24:00:00`` is the base-60 integer 86400; FireWorks reads these
    files with a YAML 1.2 parser, where it is the string a scheduler expects.
    """


_SEXAGESIMAL = re.compile(r"^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$")
_Loader.yaml_implicit_resolvers = {
    first: ([("tag:yaml.org,2002:str", _SEXAGESIMAL)] if first in "-+0123456789" else [])
    + list(resolvers)
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_queue_config(path: str | os.PathLike[str], *, job_name_maxlen: int = 20) -> QueueConfig:
    """Read and validate a ``my_qadapter.yaml``; every problem is one ConfigError line."""
    where = Path(path).expanduser()
    try:
        text = where.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"cannot read queue adapter file {where}: {exc.strerror or exc}", path=str(where)
        ) from exc
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506  (a SafeLoader subclass)
    except yaml.YAMLError as exc:
        raise ConfigError(
            f"malformed YAML in {where}: {_yaml_problem(exc)}", path=str(where)
        ) from exc
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: a queue adapter file must hold a mapping", path=str(where))
    try:
        config = QueueConfig.from_dict(data, job_name_maxlen=job_name_maxlen)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc.message}", path=str(where)) from exc
    if config.template_file is not None:
        config.load_template()
    return config


def _yaml_problem(exc: yaml.YAMLError) -> str:
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    mark = getattr(exc, "problem_mark", None)
    return f"{problem} (line {mark.line + 1}, column {mark.column + 1})" if mark else str(problem)
