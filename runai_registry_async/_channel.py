"""A bounded channel from many writers to one reader: how a crawl's workers hand their
results to the loop that yields them."""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class Channel(Generic[T]):
    """``asyncio.Queue(maxsize)`` for a single reader, in a fraction of its calls per item.

    ``put`` waits only while the channel is full, ``get`` only while it is empty; each
    item taken frees one waiting writer. Nothing is counted for ``join``.
    """

    __slots__ = ("_items", "_maxsize", "_reader", "_writers")

    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be at least 1, got {maxsize}")
        self._items: deque[T] = deque()
        self._maxsize = maxsize
        self._reader: asyncio.Future[None] | None = None
        self._writers: deque[asyncio.Future[None]] = deque()

    def __len__(self) -> int:
        return len(self._items)

    def offer(self, item: T) -> bool:
        """Add ``item`` if there is room now; False, and nothing added, if it is full."""
        if len(self._items) >= self._maxsize:
            return False
        self._items.append(item)
        reader = self._reader
        if reader is not None:
            self._reader = None
            if not reader.done():
                reader.set_result(None)
        return True

    async def put(self, item: T) -> None:
        """Add ``item`` once there is room for it."""
        while not self.offer(item):
            waiter = asyncio.get_running_loop().create_future()
            self._writers.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self._wake_writer()  # woken, then cancelled: the free slot goes on
                raise

    async def get(self) -> T:
        """The oldest item, once there is one."""
        while not self._items:
            reader = self._reader = asyncio.get_running_loop().create_future()
            await reader
        if self._writers:
            self._wake_writer()
        return self._items.popleft()

    def _wake_writer(self) -> None:
        while self._writers:
            waiter = self._writers.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
