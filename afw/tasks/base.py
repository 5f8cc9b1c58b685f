"""The Firetask base class.

As in FireWorks, a Firetask is a dict of its parameters with a ``_fw_name``. ``run_task(spec)``
returns an :class:`~afw.action.FWAction` or ``None``; it may be ``async def`` (run on the event
loop) or a plain ``def`` (run in a worker thread, so FireWorks-style blocking tasks are fine).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, TypeVar

from afw.action import FWAction
from afw.errors import TaskParamError

__all__ = ["Firetask", "explicit_serialize"]


class Firetask(dict[str, Any]):
    """Base class of every Firetask.

    Subclasses set ``_fw_name`` (their FireWorks name), ``required_params`` and, to reject unknown
    parameters, ``optional_params``. Parameters are validated when the task is built, so a bad
    workflow file fails at ``lpad add``, not on a compute node.
    """

    _fw_name: ClassVar[str] = ""
    required_params: ClassVar[Sequence[str]] = ()
    optional_params: ClassVar[Sequence[str] | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.__dict__.get("_fw_name"):
            cls._fw_name = f"{{{{{cls.__module__}.{cls.__qualname__}}}}}"

    def __init__(self, *args: Mapping[str, Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pop("_fw_name", None)
        self.validate()

    @property
    def fw_name(self) -> str:
        return self._fw_name

    def validate(self) -> None:
        """Check required and (if declared) allowed parameters."""
        name = type(self).__name__
        missing = [p for p in self.required_params if p not in self]
        if missing:
            raise TaskParamError(f"{name}: missing required parameter(s) {', '.join(missing)}")
        if self.optional_params is not None:
            allowed = {*self.required_params, *self.optional_params}
            unknown = sorted(k for k in self if k not in allowed and not k.startswith("_"))
            if unknown:
                raise TaskParamError(f"{name}: unknown parameter(s) {', '.join(unknown)}")

    def run_task(self, fw_spec: dict[str, Any]) -> FWAction | Any | None:
        """Run the task. Override with ``def`` or ``async def``."""
        raise NotImplementedError(f"{type(self).__name__} does not implement run_task")

    def to_dict(self) -> dict[str, Any]:
        """The FireWorks task dict: parameters plus ``_fw_name``."""
        return {**self, "_fw_name": self._fw_name}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Firetask:
        return cls({k: v for k, v in data.items() if k != "_fw_name"})

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {dict(self)!r}>"


_T = TypeVar("_T", bound=type[Firetask])


def explicit_serialize(cls: _T) -> _T:
    """Give a task the explicit ``{{module.Class}}`` name (FireWorks' decorator of that name)."""
    cls._fw_name = f"{{{{{cls.__module__}.{cls.__qualname__}}}}}"
    return cls
