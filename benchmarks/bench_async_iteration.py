"""What handing out items one at a time costs an asyncio consumer, with no I/O at all.

    python benchmarks/bench_async_iteration.py [--items 1000000] [--runs 7]

The items (short tags, ``v0000001``...) are already parsed, in batches of 3,000 as a
stream would have them. Each design is consumed by ``async for`` (the plain ``for`` loop
by ``for``); the figure is the time to walk them all, medians of ``--runs``, interleaved
in one process. It bounds any per-item async iterator: ``iter_tags`` cannot hand out
items faster than the cheapest design here, whatever its parser does.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine, table

BATCH = 3_000


def batches_of(items: int) -> list[list[str]]:
    tags = [f"v{i:07d}" for i in range(items)]
    return [tags[start : start + BATCH] for start in range(0, items, BATCH)]


async def generator(batches: list[list[str]]) -> AsyncIterator[str]:
    """What ``iter_tags`` is: an async generator yielding from each parsed batch."""
    for batch in batches:
        for item in batch:
            yield item


class _Ready:
    """An awaitable that is done at once: awaiting it suspends nothing."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def __await__(self) -> Generator[None, None, str]:
        yield from ()
        return self.value


class _ClassIterator:
    """A class-based async iterator over the batches; subclasses wrap each item."""

    def __init__(self, batches: list[list[str]]) -> None:
        self._items: Iterator[str] = iter(())
        self._batches = iter(batches)

    def __aiter__(self) -> _ClassIterator:
        return self

    def __anext__(self) -> Awaitable[str]:
        item = next(self._items, None)
        if item is None:
            batch = next(self._batches, None)
            if batch is None:
                raise StopAsyncIteration
            self._items = iter(batch)
            item = next(self._items)
        return self._awaitable(item)

    def _awaitable(self, item: str) -> Awaitable[str]:
        raise NotImplementedError


class ReadyAwaitable(_ClassIterator):
    """``__anext__`` hands back an awaitable that is already done."""

    def _awaitable(self, item: str) -> Awaitable[str]:
        return _Ready(item)


class DoneFuture(_ClassIterator):
    """``__anext__`` hands back a future with its result already set."""

    def __init__(self, batches: list[list[str]]) -> None:
        super().__init__(batches)
        self._loop = asyncio.get_running_loop()

    def _awaitable(self, item: str) -> Awaitable[str]:
        future: asyncio.Future[str] = self._loop.create_future()
        future.set_result(item)
        return future


class CoroutineNext:
    """``async def __anext__``: a coroutine per item, whose return asyncio reads without
    raising StopIteration (an async generator's ``yield`` raises one per item)."""

    __slots__ = ("_items", "_batches")

    def __init__(self, batches: list[list[str]]) -> None:
        self._items: Iterator[str] = iter(())
        self._batches = iter(batches)

    def __aiter__(self) -> CoroutineNext:
        return self

    async def __anext__(self) -> str:
        for item in self._items:
            return item
        for batch in self._batches:
            self._items = iter(batch)
            for item in self._items:
                return item
        raise StopAsyncIteration


async def batch_generator(batches: list[list[str]]) -> AsyncIterator[list[str]]:
    """What ``iter_tags(...).batches()`` is: an async generator yielding each batch."""
    for batch in batches:
        yield batch


async def walk_batches(batches: list[list[str]]) -> int:
    count = 0
    async for batch in batch_generator(batches):
        for _ in batch:
            count += 1
    return count


async def walk(design: Callable[[list[list[str]]], Any], batches: list[list[str]]) -> int:
    count = 0
    async for _ in design(batches):
        count += 1
    return count


async def run(items: int, runs: int) -> dict[str, list[float]]:
    batches = batches_of(items)

    async def plain_loop() -> int:
        count = 0
        for batch in batches:
            for _ in batch:
                count += 1
        return count

    designs: dict[str, Callable[[], Awaitable[int]]] = {
        "plain for loop over the batches (no async)": plain_loop,
        "async generator (what iter_tags is)": lambda: walk(generator, batches),
        "async generator of batches, a for loop in each (.batches())": lambda: walk_batches(
            batches
        ),
        "class, __anext__ returns a ready awaitable": lambda: walk(ReadyAwaitable, batches),
        "class, __anext__ returns a done Future": lambda: walk(DoneFuture, batches),
        "class, async def __anext__": lambda: walk(CoroutineNext, batches),
    }
    times: dict[str, list[float]] = {name: [] for name in designs}
    for _ in range(runs):
        for name, design in designs.items():
            started = time.perf_counter()
            counted = await design()
            times[name].append(time.perf_counter() - started)
            assert counted == items, (name, counted)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    times = asyncio.run(run(args.items, args.runs))
    rows = [[name, f"{statistics.median(t):.3f} s"] for name, t in times.items()]
    print(f"{args.items:,} items in batches of {BATCH:,}, medians of {args.runs}; {machine()}")
    print(table(["design", "time to walk every item"], rows))


if __name__ == "__main__":
    main()
