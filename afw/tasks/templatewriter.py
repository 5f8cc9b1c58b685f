"""TemplateWriterTask: render a Jinja2 template into a file (FireWorks ``TemplateWriterTask``)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anyio
import jinja2

from afw.errors import TaskError, TaskParamError
from afw.tasks.base import Firetask
from afw.tasks.context import resolve

__all__ = ["TemplateWriterTask"]

_PARAMS = ("template_file", "context", "output_file", "append", "template_dir", "use_global_spec")


def _check(params: Mapping[str, Any]) -> None:
    for name in ("template_file", "output_file"):
        if not isinstance(params.get(name), str) or not params[name]:
            raise TaskParamError(f"TemplateWriterTask: {name} must be given as a path")
    if not isinstance(params.get("context"), Mapping):
        raise TaskParamError("TemplateWriterTask: context must be given as a mapping")
    if params.get("template_dir") is not None and not isinstance(params["template_dir"], str):
        raise TaskParamError("TemplateWriterTask: template_dir must be a path")


def _render(template: Path, context: Mapping[str, Any], output: Path, append: bool) -> None:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(template.parent), autoescape=True)
    try:
        text = env.get_template(template.name).render(context)
    except jinja2.TemplateNotFound as exc:
        raise TaskError(f"TemplateWriterTask: template {template} not found") from exc
    except jinja2.TemplateError as exc:
        raise TaskError(f"TemplateWriterTask: cannot render {template}: {exc}") from exc
    try:
        with open(output, "a" if append else "w", encoding="utf-8") as stream:
            stream.write(text)
    except OSError as exc:
        raise TaskError(f"TemplateWriterTask: cannot write {output}: {exc.strerror}") from exc


class TemplateWriterTask(Firetask):
    """Render ``template_file`` (in ``template_dir``, else the launch dir) with ``context``.

    The output goes to ``output_file``, appended when ``append``. Autoescaping is on, as in
    FireWorks. With ``use_global_spec`` the parameters are read from the spec (falling back to
    the task's own), so they are only checked when the task runs.
    """

    _fw_name = "TemplateWriterTask"
    required_params = ()
    optional_params = _PARAMS

    def validate(self) -> None:
        super().validate()
        if not self.get("use_global_spec"):
            _check(self)

    def _params(self, fw_spec: Mapping[str, Any]) -> dict[str, Any]:
        if not self.get("use_global_spec"):
            return dict(self)
        return {**self, **{k: fw_spec[k] for k in _PARAMS if k in fw_spec}}

    async def run_task(self, fw_spec: dict[str, Any]) -> None:
        params = self._params(fw_spec)
        _check(params)
        folder = params.get("template_dir")
        template = (
            resolve(folder) / params["template_file"]
            if folder
            else resolve(params["template_file"])
        )
        output = resolve(params["output_file"])
        append = bool(params.get("append", False))
        await anyio.to_thread.run_sync(_render, template, dict(params["context"]), output, append)
