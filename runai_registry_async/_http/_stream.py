"""A response body read chunk by chunk, its top-level array handed out as it completes.

The parsing is ``_jsonstream``'s; this module adds the reading, the conversion of each
item and the errors. Memory stays bounded by one chunk plus one item, whatever the
size of the body, and the limits on depth, item size and total size hold throughout.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Any, TypeVar

import aiohttp

from .._converter import structure
from .._errors import DecodeError, RunaiError, TransportError
from .._secrets import detached
from ._deadline import Deadline
from ._jsonstream import ArrayParser, JsonStreamError

CHUNK_SIZE = 64 * 1024

#: The default cap on one streamed item (a tag, a registry), or any other top-level value.
DEFAULT_MAX_ITEM_BYTES = 1024 * 1024

Convert = Callable[[Any, int], Any]

T = TypeVar("T")


class Stream(AsyncIterator[T]):
    """What the ``iter_*`` methods return: an async iterator of the items as they arrive.

    ``async for batch in stream.batches()`` hands out the same items a list at a time,
    each list what one network read completed: ``async for`` then costs once per list
    rather than once per item, for the speed of a whole read in the memory of a stream.
    A stream is iterated once, one way or the other; the request goes out when the
    iteration starts. Leaving the loop early, or ``aclose``, closes the response.

    Args:
        open_: Made by the client, not by hand: starts the request, for items
            (False) or batches (True).
    """

    __slots__ = ("_open", "_generator", "_batched")

    def __init__(self, open_: Callable[[bool], AsyncGenerator[Any, None]]) -> None:
        # ``open_(batched)`` starts the one generator: items, or lists of them.
        self._open: Callable[[bool], AsyncGenerator[Any, None]] | None = open_
        self._generator: AsyncGenerator[Any, None] | None = None
        self._batched = False

    def __aiter__(self) -> AsyncIterator[T]:
        # The generator itself, not this object: no method of ours runs per item.
        return self._started(batched=False)

    async def __anext__(self) -> T:
        item: T = await self._started(batched=False).__anext__()
        return item

    def batches(self) -> AsyncIterator[list[T]]:
        """The items a list at a time (never an empty list)."""
        return self._started(batched=True)

    async def aclose(self) -> None:
        """Close the response now; the stream then ends where it stands."""
        self._open = None
        if self._generator is not None:
            await self._generator.aclose()

    def _started(self, *, batched: bool) -> AsyncGenerator[Any, None]:
        if self._open is None:
            return _ended()  # closed: nothing more, either way
        generator = self._generator
        if generator is None:
            generator = self._generator = self._open(batched)
            self._batched = batched
        elif batched != self._batched:
            way = "a batch" if self._batched else "an item"
            raise RuntimeError(f"this stream is already being iterated {way} at a time")
        return generator


async def _ended() -> AsyncGenerator[Any, None]:
    return
    yield  # an async generator that yields nothing


class ItemStream:
    """The items under ``key`` (a top-level array) of a JSON object being received.

    ``envelope`` is the class a whole read of the body would decode into: the body's
    shape is checked against it, so a stream rejects what the ``list_*`` twin rejects,
    with the same error. With ``convert`` None every item must be a string; otherwise
    ``convert(item, index)`` turns each into what is handed out.
    """

    __slots__ = (
        "_response",
        "_operation",
        "_convert",
        "_parser",
        "_count",
        "_ended",
        "_failed",
        "_deadline",
    )

    def __init__(
        self,
        response: aiohttp.ClientResponse,
        key: str,
        *,
        envelope: type,
        keep: frozenset[str] = frozenset(),
        convert: Convert | None,
        operation: str,
        max_item_bytes: int,
        max_total_bytes: int,
        deadline: Deadline | None = None,
    ) -> None:
        self._response = response
        self._deadline = deadline
        self._operation = operation
        self._convert = convert

        def check_envelope(data: dict[str, Any]) -> None:
            structure(data, envelope, operation=operation)

        self._parser = ArrayParser(
            key,
            strings=convert is None,
            keep=keep,
            check_envelope=check_envelope,
            max_item_bytes=max_item_bytes,
            max_total_bytes=max_total_bytes,
        )
        self._count = 0  # items converted: the index a conversion error names
        self._ended = False
        # An item that failed to convert, raised once the items before it are handed out.
        self._failed: DecodeError | None = None

    async def next_batch(self) -> list[Any] | None:
        """The items completed by the next chunk(s); None once the body has ended."""
        while not self._ended:
            if self._failed is not None:
                raise detached(self._failed)
            try:
                batch = self._take(await self._read_chunk())
            except RunaiError as exc:
                # The frames below hold the body; the error goes on without them.
                raise detached(exc)  # noqa: B904 - the same exception
            if isinstance(batch, DecodeError):
                raise batch
            if batch:
                return batch
        return None

    async def _read_chunk(self) -> bytes:
        error: RunaiError
        deadline = self._deadline
        try:
            if deadline is None:
                return await self._response.content.read(CHUNK_SIZE)
            return await asyncio.wait_for(
                self._response.content.read(CHUNK_SIZE), max(0.0, deadline.left())
            )
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            if deadline is not None and deadline.left() <= 0:
                error = deadline.exceeded(self._operation, 1, None)
            else:
                error = TransportError(
                    f"{self._operation}: body broke off: {type(exc).__name__}",
                    operation=self._operation,
                )
        raise error

    def _take(self, chunk: bytes) -> list[Any] | DecodeError:
        reason: str
        try:
            if not chunk:
                self._ended = True
                self._parser.finish()
                return []
            items = self._parser.feed(chunk)
        except JsonStreamError as exc:
            reason = str(exc)  # a fixed reason and a byte offset, never body text
        else:
            if self._convert is None:
                return items
            return self._converted(items, self._convert)
        return DecodeError(f"{self._operation}: {reason}", operation=self._operation)

    def _converted(self, items: list[Any], convert: Convert) -> list[Any]:
        converted = []
        for item in items:
            try:
                converted.append(convert(item, self._count))
            except DecodeError as exc:
                self._failed = exc
                break
            self._count += 1
        return converted

    def close(self) -> None:
        """Drop the connection: the rest of the body is not read."""
        self._response.close()
