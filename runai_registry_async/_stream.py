"""A response body read chunk by chunk, its top-level array handed out as it completes.

The parsing is ``_jsonstream``'s; this module adds the reading, the conversion of each
item and the errors. Memory stays bounded by one chunk plus one item, whatever the
size of the body, and the limits on depth, item size and total size hold throughout.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import aiohttp

from ._converter import structure
from ._errors import DecodeError, RunaiError, TransportError
from ._jsonstream import ArrayParser, JsonStreamError
from ._retry import Deadline
from ._secrets import detached

CHUNK_SIZE = 64 * 1024

#: The default cap on one streamed item (a tag, a registry), or any other top-level value.
DEFAULT_MAX_ITEM_BYTES = 1024 * 1024

Convert = Callable[[Any, int], Any]


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
