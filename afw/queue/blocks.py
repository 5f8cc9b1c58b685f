"""``block_*`` / ``launcher_*`` directories of ``qlaunch rapidfire`` (FireWorks' layout).

Every rapidfire job gets its own ``launcher_<UTC %Y-%m-%d-%H-%M-%S-%f>`` dir inside the current
``block_<timestamp>`` dir of the launch dir. The newest existing block is reused until it holds
``maxjobs_block`` launcher dirs; then a new block is started.
"""

from __future__ import annotations

import posixpath

import anyio

from afw.fs.base import FileSystem
from afw.timeutil import datestamp

__all__ = ["BlockDirs"]


class BlockDirs:
    """Hands out launcher-dir paths in ``root``'s current block; safe for concurrent callers.

    :meth:`reserve` only picks a free name (a job may end up somewhere else, through
    ``spec._launch_dir``); :meth:`release` gives the slot back when the name was not used.
    """

    def __init__(
        self, fs: FileSystem, root: str, maxjobs_block: int, block_dir: str | None = None
    ) -> None:
        self.fs = fs
        self.root = root
        self.maxjobs_block = max(maxjobs_block, 1)
        self._block = None if block_dir is None else posixpath.join(root, block_dir)
        self._count: int | None = None
        self._last = ""
        self._lock = anyio.Lock()

    @property
    def block(self) -> str | None:
        """The block dir in use (``None`` before the first :meth:`reserve`)."""
        return self._block

    async def reserve(self) -> str:
        """The path of a new, not yet created, launcher dir in the current block."""
        async with self._lock:
            if self._count is None:
                await self._open()
            elif self._count >= self.maxjobs_block:
                await self._new_block()
            assert self._block is not None
            path = await self._free_name(self._block, "launcher_")
            self._count = (self._count or 0) + 1
            return path

    def release(self) -> None:
        """Give back the slot of a launcher dir that was never created."""
        if self._count:
            self._count -= 1

    async def _open(self) -> None:
        if self._block is None:
            names = await self.fs.listdir(self.root) if await self.fs.exists(self.root) else []
            blocks = [n for n in names if n.startswith("block_")]
            if not blocks:
                await self._new_block()
                return
            self._block = posixpath.join(self.root, blocks[-1])  # the names sort by time
        await self.fs.makedirs(self._block)
        entries = await self.fs.listdir(self._block)
        self._count = sum(1 for n in entries if n.startswith("launcher_"))
        if self._count >= self.maxjobs_block:
            await self._new_block()

    async def _new_block(self) -> None:
        self._block = await self._free_name(self.root, "block_")
        await self.fs.makedirs(self._block)
        self._count = 0

    async def _free_name(self, parent: str, prefix: str) -> str:
        # Unique within this process by construction; the existence check covers another
        # qlaunch working in the same dir (FireWorks retries on such clashes too).
        while True:
            path = posixpath.join(parent, prefix + datestamp())
            if path != self._last and not await self.fs.exists(path):
                self._last = path
                return path
            await anyio.sleep(0.001)
