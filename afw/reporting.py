"""Where a Rocket reports progress: the LaunchPad (online) or the launch dir (offline).

Online, a database that cannot be reached for a heartbeat or checkpoint is logged and the run
goes on; if it cannot be reached at completion, the result is written atomically to
``FW_action.json`` in the launch dir (so ``recover_offline`` can bring it back) and the Rocket
fails with :class:`~afw.errors.StoreUnavailableError`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

import anyio.to_thread

from afw.errors import StoreError, StoreUnavailableError
from afw.fs.writer import OfflineRunWriter
from afw.timeutil import now_iso

if TYPE_CHECKING:
    from afw.launchpad import LaunchPad

__all__ = ["OfflineReporter", "OnlineReporter", "Reporter"]

log = logging.getLogger("afw.rocket")


class Reporter(Protocol):
    """The Rocket's outlet for start, checkpoints, heartbeats and the final result."""

    async def start(self) -> None: ...

    async def checkpoint(self, checkpoint: Mapping[str, Any]) -> None: ...

    async def ping(self) -> None: ...

    async def finish(self, state: str, action: Mapping[str, Any]) -> None: ...


class OnlineReporter:
    """Reports to a LaunchPad; falls back to ``FW_action.json`` when the store is gone."""

    def __init__(self, launchpad: LaunchPad, launch_id: int, fw_id: int, launch_dir: str) -> None:
        self.launchpad = launchpad
        self.launch_id = launch_id
        self.fw_id = fw_id
        self.launch_dir = launch_dir
        self.started_on = now_iso()
        self.last_checkpoint: dict[str, Any] | None = None

    async def start(self) -> None:
        self.started_on = now_iso()

    async def checkpoint(self, checkpoint: Mapping[str, Any]) -> None:
        self.last_checkpoint = dict(checkpoint)
        try:
            await self.launchpad.ping_launch(self.launch_id, checkpoint=self.last_checkpoint)
        except StoreError as exc:
            log.warning("launch %s: could not record checkpoint: %s", self.launch_id, exc)

    async def ping(self) -> None:
        try:
            await self.launchpad.ping_launch(self.launch_id)
        except StoreError as exc:
            log.warning("launch %s: heartbeat failed: %s", self.launch_id, exc)

    async def finish(self, state: str, action: Mapping[str, Any]) -> None:
        try:
            await self.launchpad.complete_launch(self.launch_id, action, state)
        except StoreError as exc:
            await anyio.to_thread.run_sync(self._save_locally, state, action)
            raise StoreUnavailableError(
                f"launch {self.launch_id}: could not store the result ({exc}); it was saved to "
                f"{self.launch_dir}/FW_action.json for recover_offline",
                launch_id=self.launch_id,
                fw_id=self.fw_id,
            ) from exc

    def _save_locally(self, state: str, action: Mapping[str, Any]) -> None:
        writer = OfflineRunWriter(self.launch_dir, launch_id=self.launch_id, fw_id=self.fw_id)
        writer.start(self.started_on)
        if self.last_checkpoint is not None:
            writer.checkpoint(self.last_checkpoint)
        writer.finish(state, action)


class OfflineReporter:
    """Reports through the launch-dir files only (``rlaunch singleshot --offline``)."""

    def __init__(self, writer: OfflineRunWriter) -> None:
        self.writer = writer

    async def start(self) -> None:
        await anyio.to_thread.run_sync(self.writer.start)

    async def checkpoint(self, checkpoint: Mapping[str, Any]) -> None:
        await anyio.to_thread.run_sync(self.writer.checkpoint, checkpoint)

    async def ping(self) -> None:
        await anyio.to_thread.run_sync(self.writer.ping)

    async def finish(self, state: str, action: Mapping[str, Any]) -> None:
        await anyio.to_thread.run_sync(self.writer.finish, state, action)
