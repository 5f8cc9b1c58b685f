"""The lifecycle shared by afw's async resources (filesystems, SSH pools, remote sessions).

``async with`` closes them on exit (:class:`AsyncCloseable`); the ones with
:class:`GuardedCloseable` also refuse use after :meth:`~AsyncCloseable.aclose` with a
:class:`~afw.errors.StateError` naming the class.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

from afw.errors import StateError

__all__ = ["AsyncCloseable", "GuardedCloseable"]


class AsyncCloseable:
    """An async context manager whose exit calls :meth:`aclose`."""

    async def aclose(self) -> None:
        """Release what the object holds."""
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class GuardedCloseable(AsyncCloseable):
    """An :class:`AsyncCloseable` that refuses to be entered or used once closed.

    Implementations set ``_closed`` in :meth:`aclose` and call :meth:`_check_open` before work.
    """

    _closed: bool = False

    async def __aenter__(self) -> Self:
        self._check_open()
        return self

    def _check_open(self) -> None:
        if self._closed:
            raise StateError(f"this {type(self).__name__} is closed; create a new one")
