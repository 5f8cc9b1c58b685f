"""Queue systems: sans-I/O scheduler adapters, their configuration, and the client running them.

* :mod:`afw.queue.adapter`: the :class:`SchedulerAdapter` interface and :class:`JobState`;
  one module per scheduler (``slurm``, ``pbs``, ``sge``, ``lsf``, ``shell``), picked by name
  through :func:`make_adapter`;
* :mod:`afw.queue.config`: :class:`QueueConfig`, read from a FireWorks ``my_qadapter.yaml``;
* :mod:`afw.queue.client`: :class:`QueueClient`, which runs an adapter's commands through a
  :class:`CommandRunner` (local processes here, SSH elsewhere);
* :mod:`afw.queue.once`: the wrapper that makes a remote submission safe to re-run after a
  dropped connection (``QueueClient(..., submit_once=True)``).
"""

from __future__ import annotations

from afw.queue.adapter import CommandResult, JobState, SchedulerAdapter
from afw.queue.base import BaseAdapter
from afw.queue.client import CommandRunner, LocalCommandRunner, QueueClient
from afw.queue.config import QueueConfig, load_queue_config
from afw.queue.lsf import LSFAdapter
from afw.queue.pbs import PBSAdapter
from afw.queue.registry import Q_TYPES, canonical_q_type, make_adapter, register_adapter
from afw.queue.sge import SGEAdapter
from afw.queue.shell import ShellAdapter
from afw.queue.slurm import SlurmAdapter
from afw.queue.template import render_template, sanitize_job_name

__all__ = [
    "Q_TYPES",
    "BaseAdapter",
    "CommandResult",
    "CommandRunner",
    "JobState",
    "LSFAdapter",
    "LocalCommandRunner",
    "PBSAdapter",
    "QueueClient",
    "QueueConfig",
    "SGEAdapter",
    "SchedulerAdapter",
    "ShellAdapter",
    "SlurmAdapter",
    "canonical_q_type",
    "load_queue_config",
    "make_adapter",
    "register_adapter",
    "render_template",
    "sanitize_job_name",
]
