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

    Nothing is created here: a block dir appears with its first launcher dir (``makedirs``), so
    names handed out for reservations that found nothing leave no empty block behind.
    :meth:`release` gives a slot back when its name was not used.
    """

    def __init__(
        self, fs: FileSystem, root: str, maxjobs_block: int, block_dir: str | None = None
    ) -> None:
        self.fs = fs
        self.root = root
        self.maxjobs_block = max(maxjobs_block, 1)
        self._block = None if block_dir is None else posixpath.join(root, block_dir)
        self._counts: dict[str, int] = {}
        self._last = ""
        self._lock = anyio.Lock()

    @property
    def block(self) -> str | None:
        """The block dir in use (``None`` before the first :meth:`reserve`)."""
        return self._block

    async def reserve(self) -> str:
        """The path of a new, not yet created, launcher dir in the current block."""
        async with self._lock:
            if self._block is None or self._block not in self._counts:
                await self._open()
            assert self._block is not None
            if self._counts[self._block] >= self.maxjobs_block:
                self._block = await self._free_name(self.root, "block_")
                self._counts[self._block] = 0
            path = await self._free_name(self._block, "launcher_")
            self._counts[self._block] += 1
            return path

    def release(self, path: str) -> None:
        """Give back the slot of launcher dir ``path``, which was never created."""
        block = posixpath.dirname(path)
        if self._counts.get(block):
            self._counts[block] -= 1

    async def _open(self) -> None:
        """Start with the given block, else the newest existing one, else a new one."""
        if self._block is None:
            names = await self.fs.listdir(self.root) if await self.fs.exists(self.root) else []
            blocks = [n for n in names if n.startswith("block_")]  # the names sort by time
            if not blocks:
                self._block = await self._free_name(self.root, "block_")
                self._counts[self._block] = 0
                return
            self._block = posixpath.join(self.root, blocks[-1])
        exists = await self.fs.exists(self._block)
        entries = await self.fs.listdir(self._block) if exists else []
        self._counts[self._block] = sum(1 for n in entries if n.startswith("launcher_"))

    async def _free_name(self, parent: str, prefix: str) -> str:
        # Unique within this process by construction; the existence check covers another
        # qlaunch working in the same dir (FireWorks retries on such clashes too).
        while True:
            path = posixpath.join(parent, prefix + datestamp())
            if path != self._last and not await self.fs.exists(path):
                self._last = path
                return path
            await anyio.sleep(0.001)
