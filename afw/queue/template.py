"""Submission-script templates with FireWorks' ``$${name}`` placeholders.

Rules (FireWorks users' own template files keep working):

* ``$${name}`` (or ``$$name``) is replaced by the value of ``name``;
* a line with any placeholder whose value is unset (missing, ``None`` or ``""``) is dropped, so a
  template can list every option and only the configured ones remain;
* on directive lines (starting with ``#``, e.g. ``#SBATCH``) values are inserted as they are, but a
  line break in a value is refused because it would start a new script line;
* on shell lines, paths and the job name (:data:`QUOTED_KEYS`) are shell-quoted; the other values
  (``pre_rocket``, ``rocket_launch``, ...) are the user's own shell code and go in unchanged.
"""

from __future__ import annotations

import functools
import importlib.resources
import re
import shlex
from collections.abc import Mapping
from typing import Any

from afw.errors import ConfigError

__all__ = [
    "DEFAULT_JOB_NAME",
    "QUOTED_KEYS",
    "builtin_template",
    "placeholders",
    "render_template",
    "sanitize_job_name",
]

DEFAULT_JOB_NAME = "FW_job"
QUOTED_KEYS = frozenset({"launch_dir", "logdir", "job_name"})

# Braced names may contain "-" because FireWorks' SLURM template has ``gpu-bind``.
_PLACEHOLDER = re.compile(r"\$\$(?:\{(?P<braced>[A-Za-z_][\w-]*)\}|(?P<named>[A-Za-z_]\w*))")
_JOB_NAME_CHARS = frozenset("-_.() abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")


def sanitize_job_name(name: object, maxlen: int = 20) -> str:
    """A job name safe for every scheduler: FireWorks' character set, spaces as ``_``, cut short.

    Falls back to ``FW_job`` when nothing usable is left.
    """
    text = "" if name is None else str(name).replace(" ", "_")
    kept = "".join(c for c in text if c in _JOB_NAME_CHARS)[: max(maxlen, 1)]
    return kept or DEFAULT_JOB_NAME


@functools.cache
def builtin_template(name: str) -> str:
    """The text of ``afw/queue/templates/<name>.txt`` (read once, then cached)."""
    resource = importlib.resources.files("afw.queue") / "templates" / f"{name}.txt"
    return resource.read_text(encoding="utf-8")


def placeholders(template: str) -> set[str]:
    """The names of all placeholders in ``template``."""
    return {_name(m) for m in _PLACEHOLDER.finditer(template)}


def render_template(template: str, values: Mapping[str, Any]) -> str:
    """Fill ``template`` with ``values`` following the module rules; returns the script text."""
    texts = {k: _as_text(v) for k, v in values.items() if v is not None and v != ""}
    lines: list[str] = []
    for line in template.splitlines():
        names = [_name(m) for m in _PLACEHOLDER.finditer(line)]
        if any(n not in texts for n in names):
            continue
        lines.append(_fill(line, texts) if names else line)
    return "\n".join(lines) + "\n"


def _name(match: re.Match[str]) -> str:
    return match.group("braced") or match.group("named")


def _fill(line: str, texts: Mapping[str, str]) -> str:
    directive = line.lstrip().startswith("#")

    def insert(match: re.Match[str]) -> str:
        name = _name(match)
        value = texts[name]
        if directive:
            if "\n" in value or "\r" in value:
                raise ConfigError(f"queue option {name!r} contains a line break; not allowed there")
            return value
        return shlex.quote(value) if name in QUOTED_KEYS else value

    return _PLACEHOLDER.sub(insert, line)


def _as_text(value: object) -> str:
    # YAML lists (exclude_nodes: [n1, n2]) become the comma lists schedulers expect.
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return str(value)
