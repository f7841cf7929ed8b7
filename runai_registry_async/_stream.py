"""Incremental JSON parsing of a response body with ijson's C backend.

Items are handed out in batches of whatever one network chunk completed, so memory
stays bounded by one chunk plus the items in it, whatever the size of the body.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import ijson

from ._converter import first_non_string
from ._errors import DecodeError, TransportError

CHUNK_SIZE = 64 * 1024


class ItemStream:
    """The items under ``key`` (a top-level array) of a JSON object being received.

    With ``strings=True`` every item must be a string; otherwise items are handed out
    as decoded JSON for the caller to structure.
    """

    __slots__ = (
        "_response",
        "_key",
        "_strings",
        "_operation",
        "_items",
        "_count",
        "_parser",
        "_key_seen",
        "_top_events",
        "_top_parser",
    )

    def __init__(
        self,
        response: aiohttp.ClientResponse,
        key: str,
        *,
        strings: bool,
        operation: str,
    ) -> None:
        self._response = response
        self._key = key
        self._strings = strings
        self._operation = operation
        self._items: list[Any] = ijson.sendable_list()
        self._count = 0
        self._parser = ijson.items_coro(self._items, f"{key}.item", use_float=True)
        # A second parser watches only for the top-level key, so that a body without it
        # is an error rather than an empty list. It is fed only until the key shows up.
        self._key_seen = False
        self._top_events: list[Any] = ijson.sendable_list()
        self._top_parser: Any = ijson.parse_coro(self._top_events)

    async def next_batch(self) -> list[Any] | None:
        """The items completed by the next chunk(s); None once the body has ended."""
        while True:
            try:
                chunk = await self._response.content.read(CHUNK_SIZE)
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                raise TransportError(
                    f"{self._operation}: body broke off: {type(exc).__name__}",
                    operation=self._operation,
                ) from None
            if not chunk:
                self._finish()
                return None
            self._feed(chunk)
            if self._items:
                return self._take_batch()

    def _take_batch(self) -> list[Any]:
        items, first = self._items, self._count
        self._count += len(items)
        index = first_non_string(items) if self._strings else None
        if index is None:
            batch = items[:]
        else:
            found = type(items[index]).__name__
            raise DecodeError(
                f"{self._operation}: response does not match the schema: "
                f"expected a string, got {found} @ $.{self._key}[{first + index}]",
                operation=self._operation,
            )
        del items[:]
        return batch

    def _feed(self, chunk: bytes) -> None:
        try:
            self._parser.send(chunk)
            if not self._key_seen:
                self._top_parser.send(chunk)
                self._key_seen = ("", "map_key", self._key) in self._top_events
                del self._top_events[:]
        except ijson.JSONError as exc:
            raise self._invalid(exc) from None

    def _finish(self) -> None:
        try:
            self._parser.close()
        except ijson.JSONError as exc:
            raise self._invalid(exc) from None
        if not self._key_seen:
            raise DecodeError(
                f"{self._operation}: response does not match the schema: "
                f"required field missing @ $.{self._key}",
                operation=self._operation,
            )

    def _invalid(self, exc: Exception) -> DecodeError:
        # ijson's message quotes the body after its first line; that could hold a secret.
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return DecodeError(f"{self._operation}: invalid JSON: {reason}", operation=self._operation)

    def close(self) -> None:
        """Drop the connection: the rest of the body is not read."""
        self._response.close()
