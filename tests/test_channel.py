"""The crawl's results channel on its own: order, the bound, waiting, cancellation."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runai_registry_async._channel import Channel


async def run_ready_tasks() -> None:
    """Let every task that can run, run: nothing here waits on I/O or on time."""
    for _ in range(10):
        await asyncio.sleep(0)


async def test_items_come_out_in_the_order_they_went_in() -> None:
    channel: Channel[int] = Channel(maxsize=3)
    for item in (1, 2, 3):
        await channel.put(item)
    assert [await channel.get() for _ in range(3)] == [1, 2, 3]
    assert len(channel) == 0


async def test_get_waits_for_an_item() -> None:
    channel: Channel[str] = Channel(maxsize=1)
    reader = asyncio.create_task(channel.get())
    await run_ready_tasks()
    assert not reader.done()
    await channel.put("x")
    assert await reader == "x"


async def test_writers_wait_while_it_is_full_and_each_get_frees_one() -> None:
    channel: Channel[int] = Channel(maxsize=2)
    writers = [asyncio.create_task(channel.put(n)) for n in range(5)]
    await run_ready_tasks()
    assert len(channel) == 2
    assert sum(w.done() for w in writers) == 2
    assert await channel.get() == 0
    await run_ready_tasks()
    assert len(channel) == 2  # exactly one writer let in
    assert sum(w.done() for w in writers) == 3
    assert [await channel.get() for _ in range(4)] == [1, 2, 3, 4]
    await asyncio.gather(*writers)


async def test_offer_adds_only_while_there_is_room() -> None:
    channel: Channel[int] = Channel(maxsize=2)
    assert channel.offer(1)
    assert channel.offer(2)
    assert not channel.offer(3)  # full: refused at once, nothing added
    assert len(channel) == 2
    assert [await channel.get(), await channel.get()] == [1, 2]
    assert channel.offer(4)


async def test_offer_wakes_a_waiting_reader() -> None:
    channel: Channel[str] = Channel(maxsize=1)
    reader = asyncio.create_task(channel.get())
    await run_ready_tasks()
    assert not reader.done()
    assert channel.offer("x")
    assert await reader == "x"


async def test_a_writer_cancelled_after_its_wake_up_passes_the_free_slot_on() -> None:
    channel: Channel[str] = Channel(maxsize=1)
    await channel.put("first")
    woken = asyncio.create_task(channel.put("cancelled"))
    waiting = asyncio.create_task(channel.put("second"))
    await run_ready_tasks()
    assert await channel.get() == "first"  # wakes `woken`...
    woken.cancel()  # ...which is cancelled before it runs
    await run_ready_tasks()
    assert woken.cancelled()
    assert waiting.done()  # without the hand-on it would wait for ever
    assert await channel.get() == "second"


async def test_a_cancelled_reader_leaves_the_channel_usable() -> None:
    channel: Channel[int] = Channel(maxsize=1)
    reader = asyncio.create_task(channel.get())
    await run_ready_tasks()
    reader.cancel()
    await run_ready_tasks()
    await channel.put(7)  # sets no result on the cancelled reader's future
    assert await channel.get() == 7


def test_maxsize_must_be_positive() -> None:
    with pytest.raises(ValueError, match="maxsize"):
        Channel(maxsize=0)


@given(
    maxsize=st.integers(1, 5),
    writers=st.integers(1, 6),
    per_writer=st.integers(0, 8),
)
def test_every_item_arrives_once_within_the_bound(
    maxsize: int, writers: int, per_writer: int
) -> None:
    async def main() -> tuple[list[tuple[int, int]], int]:
        channel: Channel[tuple[int, int]] = Channel(maxsize)
        largest = 0

        async def write(writer: int) -> None:
            nonlocal largest
            for n in range(per_writer):
                # Odd writers offer first, as the crawl's workers do; even ones just put.
                if not (writer % 2 and channel.offer((writer, n))):
                    await channel.put((writer, n))
                largest = max(largest, len(channel))

        tasks = [asyncio.create_task(write(w)) for w in range(writers)]
        received = [await channel.get() for _ in range(writers * per_writer)]
        await asyncio.gather(*tasks)
        return received, largest

    received, largest = asyncio.run(main())
    assert sorted(received) == [(w, n) for w in range(writers) for n in range(per_writer)]
    for w in range(writers):  # each writer's items in its own order
        assert [n for v, n in received if v == w] == list(range(per_writer))
    assert largest <= maxsize
