"""Scheduler adapters by FireWorks ``_fw_q_type`` name."""

from __future__ import annotations

from collections.abc import Mapping

from afw.errors import ConfigError
from afw.queue.adapter import SchedulerAdapter
from afw.queue.base import BaseAdapter
from afw.queue.lsf import LSFAdapter
from afw.queue.pbs import PBSAdapter
from afw.queue.sge import SGEAdapter
from afw.queue.shell import ShellAdapter
from afw.queue.slurm import SlurmAdapter

__all__ = ["ADAPTERS", "Q_TYPES", "canonical_q_type", "make_adapter", "register_adapter"]

ADAPTERS: dict[str, type[BaseAdapter]] = {
    "SLURM": SlurmAdapter,
    "PBS": PBSAdapter,
    "SGE": SGEAdapter,
    "LoadSharingFacility": LSFAdapter,
    "shell": ShellAdapter,
}
_ALIASES = {"torque": "PBS", "lsf": "LoadSharingFacility"}
# FireWorks knows these, afw does not (yet): say so instead of calling them misspelt.
_UNSUPPORTED = ("Cobalt", "LoadLeveler", "MOAB")

Q_TYPES = ("SLURM", "PBS", "Torque", "SGE", "LoadSharingFacility", "LSF", "shell")
"""The ``_fw_q_type`` values afw accepts (case does not matter)."""


def register_adapter(name: str, adapter: type[BaseAdapter]) -> None:
    """Make ``adapter`` available as ``_fw_q_type: <name>``."""
    ADAPTERS[name] = adapter


def canonical_q_type(name: object) -> str:
    """The registry key for ``name`` (``lsf`` -> ``LoadSharingFacility``), else ConfigError."""
    wanted = str(name).strip().lower()
    wanted = _ALIASES.get(wanted, wanted).lower()
    for key in ADAPTERS:
        if key.lower() == wanted:
            return key
    accepted = ", ".join(Q_TYPES)
    if str(name).strip().lower() in {u.lower() for u in _UNSUPPORTED}:
        raise ConfigError(f"_fw_q_type {name!r} is not supported by afw; use one of: {accepted}")
    raise ConfigError(f"unknown _fw_q_type {name!r}; use one of: {accepted}")


def make_adapter(
    q_type: str, commands_override: Mapping[str, str] | None = None
) -> SchedulerAdapter:
    """The adapter for ``q_type`` with FireWorks ``_q_commands_override`` applied."""
    adapter = ADAPTERS[canonical_q_type(q_type)]()
    return adapter.with_commands(commands_override) if commands_override else adapter
