"""Incremental parsing of the top-level array of one JSON object, in bounded memory. No I/O.

A response such as ``{"name": "team/app", "tags": ["1.0", "1.1", ...]}`` arrives in chunks.
``ArrayParser`` finds where complete elements of the array end (fast paths for runs of
strings; ``_jsonscan.ValueScanner`` for the rest), then hands every complete run of
elements to orjson in one call. Only bytes of an unfinished element stay
buffered, so memory is one chunk plus one element, and three limits hold on any body:
nesting depth, the size of one element (or any other top-level value), and the total.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import orjson

from .._converter import first_non_string
from ._jsonscan import (
    CLOSE_ARRAY,
    CLOSE_OBJECT,
    COLON,
    COMMA,
    LIMIT,
    MAX_DEPTH,
    OPEN_ARRAY,
    OPEN_OBJECT,
    QUOTE,
    STRING_SOURCE,
    WS,
    ScanError,
    ValueScanner,
)

__all__ = ["MAX_DEPTH", "ArrayParser", "JsonStreamError"]

# A run of complete string elements, each followed by its comma: most of a tag list
# matched in one C call, so a million short tags cost no Python loop per tag.
_STRING_RUN = re.compile(rb"(?:[ \t\r\n]*" + STRING_SOURCE + rb"[ \t\r\n]*,)+", re.DOTALL)

# Where the parser stands between chunks.
_START, _KEY_OR_END, _KEY, COLON_NEXT, _VALUE, _ARRAY, _ELEMENT_OR_END = range(7)
_ELEMENT, _AFTER_ELEMENT, _AFTER_VALUE, _DONE = range(7, 11)


_SCHEMA = "response does not match the schema"


class JsonStreamError(ValueError):
    """The body is not acceptable JSON; the message gives a fixed reason and a byte offset."""

    def __init__(self, reason: str, *, kind: str = "invalid JSON") -> None:
        super().__init__(f"{kind}: {reason}")


class ArrayParser:
    """Feeds on chunks of ``{..., key: [...], ...}`` and returns the array's elements.

    ``strings=True`` requires every element to be a string. Other top-level keys named
    in ``keep`` are parsed and kept in ``envelope`` (every other value is checked as
    JSON and dropped). ``check_envelope`` is called with the kept values and the array
    (as ``[]``) at the end, or with the actual value as soon as the key turns out to hold
    something other than an array; it raises when the shape is wrong.
    """

    __slots__ = (
        "_key",
        "_strings",
        "_keep",
        "_check_envelope",
        "_max_item",
        "_max_total",
        "_buf",
        "_pos",
        "_offset",
        "_state",
        "_current_key",
        "_scanner",
        "_seen_key",
        "_count",
        "envelope",
        "total",
    )

    def __init__(
        self,
        key: str,
        *,
        strings: bool,
        keep: frozenset[str] = frozenset(),
        check_envelope: Callable[[dict[str, Any]], object],
        max_item_bytes: int,
        max_total_bytes: int,
    ) -> None:
        self._key = key
        self._strings = strings
        self._keep = keep
        self._check_envelope = check_envelope
        self._max_item = max_item_bytes
        self._max_total = max_total_bytes
        self._buf = bytearray()
        self._pos = 0
        self._offset = 0  # bytes of the body before self._buf
        self._state = _START
        self._current_key = ""
        self._scanner = ValueScanner(self._buf, max_item_bytes=max_item_bytes)
        self._seen_key = False
        self._count = 0  # elements handed out
        self.envelope: dict[str, Any] = {}
        self.total = 0

    def feed(self, chunk: bytes) -> list[Any]:
        """The elements completed by ``chunk`` (possibly none)."""
        self.total += len(chunk)
        if self.total > self._max_total:
            raise JsonStreamError(f"body larger than {self._max_total} bytes", kind=LIMIT)
        # In place: a large unfinished item arriving in many small chunks is not copied
        # once per chunk.
        if self._pos:
            self._offset += self._pos
            del self._buf[: self._pos]
            self._scanner.shift(self._pos)
            self._pos = 0
        self._buf += chunk
        items: list[Any] = []
        self._run(items)
        return items

    def finish(self) -> dict[str, Any]:
        """Check that the body ended where the object did; returns ``envelope``."""
        self._pos = WS.match(self._buf, self._pos).end()  # type: ignore[union-attr]
        if self._state != _DONE:
            raise self._error("body ended before the JSON object did")
        return self.envelope

    # --- the state machine -----------------------------------------------------------------

    def _run(self, items: list[Any]) -> None:
        buf = self._buf
        while True:
            state = self._state
            if state in (_ELEMENT, _ELEMENT_OR_END):
                if not self._elements(items):
                    return
                continue
            pos = WS.match(buf, self._pos).end()  # type: ignore[union-attr]
            self._pos = pos
            if pos >= len(buf):
                return
            byte = buf[pos]
            if state == _START:
                if byte != OPEN_OBJECT:
                    raise self._error("expected a JSON object @ $", kind=_SCHEMA)
                self._pos, self._state = pos + 1, _KEY_OR_END
            elif state in (_KEY_OR_END, _KEY):
                if byte == CLOSE_OBJECT and state == _KEY_OR_END:
                    self._close_object()
                    continue
                self._expect(byte == QUOTE, "expected a key")
                end = self._value_end(pos, depth=1)
                if end is None:
                    return
                self._current_key = self._loads(pos, end)
                self._pos, self._state = end, COLON_NEXT
            elif state == COLON_NEXT:
                self._expect(byte == COLON, "expected ':'")
                self._pos = pos + 1
                self._state = _ARRAY if self._current_key == self._key else _VALUE
            elif state == _ARRAY:
                if self._seen_key:
                    raise self._error(f"key {self._key!r} appears twice", kind=_SCHEMA)
                self._seen_key = True
                if byte != OPEN_ARRAY:
                    # Not an array: the envelope check raises the same error as a whole read.
                    self._state = _VALUE
                    continue
                self._pos, self._state = pos + 1, _ELEMENT_OR_END
            elif state == _VALUE:
                end = self._value_end(pos, depth=1)
                if end is None:
                    return
                value = self._loads(pos, end)
                if self._current_key == self._key:
                    self._check_envelope({**self.envelope, self._key: value})
                    raise self._error(f"expected an array @ $.{self._key}", kind=_SCHEMA)
                if self._current_key in self._keep:
                    self.envelope[self._current_key] = value
                self._pos, self._state = end, _AFTER_VALUE
            elif state in (_AFTER_VALUE, _AFTER_ELEMENT):
                if state == _AFTER_ELEMENT and byte != COMMA:
                    self._expect(byte == CLOSE_ARRAY, "expected ',' or ']'")
                    self._pos, self._state = pos + 1, _AFTER_VALUE
                elif state == _AFTER_ELEMENT:
                    self._pos, self._state = pos + 1, _ELEMENT
                elif byte == COMMA:
                    self._pos, self._state = pos + 1, _KEY
                else:
                    self._expect(byte == CLOSE_OBJECT, "expected ',' or '}'")
                    self._close_object()
            else:  # _DONE: only white space may follow
                raise self._error("data after the JSON object")

    def _close_object(self) -> None:
        self._pos += 1
        self._state = _DONE
        if not self._seen_key:
            self._check_envelope(self.envelope)
        else:
            self._check_envelope({**self.envelope, self._key: []})

    def _elements(self, items: list[Any]) -> bool:
        """Take every complete element in the buffer; False when more data is needed."""
        buf, pos = self._buf, self._pos
        first = pos = WS.match(buf, pos).end()  # type: ignore[union-attr]
        # Past the white space now: kept, it would be buffered and scanned again on
        # every chunk (time quadratic in its length).
        self._pos = first
        if pos >= len(buf):
            return False
        if self._state == _ELEMENT_OR_END and buf[pos] == CLOSE_ARRAY:
            self._pos, self._state = pos + 1, _AFTER_VALUE
            return True
        # An element still arriving is resumed where its scan stopped: scanning it from
        # its start on every chunk would cost time quadratic in its size.
        resuming = self._scanner.resuming(first)
        if self._strings:
            if resuming:
                # Most chunks end inside a string: finish it alone, so that the rest of
                # the chunk can take the fast path below on the next turn.
                if self._take_resumed_string(first, items):
                    return True
            elif self._take_string_run(first, items):
                return True
        last_end = -1  # end of the last complete element of this run
        mixed = False  # an element not matched as a string
        while True:
            if self._strings and not resuming:
                run = _STRING_RUN.match(buf, pos)
                # A run longer than one item may hold an item over the limit: one by one.
                if run is not None and run.end() - pos <= self._max_item:
                    pos = run.end()  # just past a comma
                    last_end = pos - 1
            pos = WS.match(buf, pos).end()  # type: ignore[union-attr]
            if pos >= len(buf):
                break
            mixed = mixed or buf[pos] != QUOTE
            end = self._value_end(pos, depth=2)
            resuming = False
            if end is None:
                break
            after = WS.match(buf, end).end()  # type: ignore[union-attr]
            if after >= len(buf):
                last_end = end
                pos = end
                break
            if buf[after] != COMMA:
                last_end = end
                pos = end
                break
            last_end, pos = end, after + 1
        if last_end < 0:
            return False
        batch = self._loads(first, last_end, wrap=True)
        # (``mixed`` may come from an element still arriving, which is not in the batch.)
        index = first_non_string(batch) if self._strings and mixed else None
        if index is not None:
            found = type(batch[index]).__name__
            raise JsonStreamError(
                f"expected a string, got {found} @ $.{self._key}[{self._count + index}]",
                kind=_SCHEMA,
            )
        self._count += len(batch)
        items.extend(batch)
        # Past the last element taken; the comma (if any) is consumed by _AFTER_ELEMENT.
        self._pos, self._state = last_end, _AFTER_ELEMENT
        return True

    def _take_resumed_string(self, first: int, items: list[Any]) -> bool:
        """The element whose scan a chunk boundary interrupted, if it is now complete and
        a comma follows it; False leaves it to the exact scanner."""
        buf = self._buf
        end = self._value_end(first, depth=2)  # resumes the scan; checks the item limit
        if end is None:
            return False
        after = WS.match(buf, end).end()  # type: ignore[union-attr]
        if after >= len(buf) or buf[after] != COMMA:
            return False
        element = self._loads(first, end)
        if type(element) is not str:
            raise JsonStreamError(
                f"expected a string, got {type(element).__name__} @ $.{self._key}[{self._count}]",
                kind=_SCHEMA,
            )
        self._count += 1
        items.append(element)
        self._pos, self._state = end, _AFTER_ELEMENT
        return True

    def _take_string_run(self, first: int, items: list[Any]) -> bool:
        """The fast path of a string array: everything up to its last ``",`` in one call.

        A prefix of an array's elements parses as ``[prefix]`` only if it ends exactly
        after an element: were that quote escaped or an opening one, the string would
        not be closed. So a wrong cut fails here and the exact scanner takes over.
        Without ``[`` or ``{`` in the cut nothing nests, so depth needs no count.
        """
        buf = self._buf
        cut = buf.rfind(b'",', first)
        if cut <= first or buf.find(b"[", first, cut) >= 0 or buf.find(b"{", first, cut) >= 0:
            return False
        try:
            batch = orjson.loads(b"[" + buf[first : cut + 1] + b"]")
        except orjson.JSONDecodeError:
            return False
        if first_non_string(batch) is not None:
            return False  # the exact scanner names the element
        if cut - first > self._max_item and _longest_possible(batch) > self._max_item:
            return False  # likewise for an element that may be over the limit
        self._count += len(batch)
        items.extend(batch)
        self._pos, self._state = cut + 1, _AFTER_ELEMENT
        return True

    # --- helpers -------------------------------------------------------------------------------

    def _value_end(self, start: int, *, depth: int) -> int | None:
        try:
            return self._scanner.value_end(start, depth=depth)
        except ScanError as exc:
            raise self._error(exc.reason, exc.at, kind=exc.kind) from None

    def _loads(self, start: int, end: int, *, wrap: bool = False) -> Any:
        data = self._buf[start:end]
        try:
            return orjson.loads(b"[" + data + b"]" if wrap else data)
        except orjson.JSONDecodeError as exc:
            # Only the reason and where: orjson's exception holds the whole document.
            reason, where = exc.msg, start + max(0, exc.pos - (1 if wrap else 0))
        raise self._error(reason, where)

    def _expect(self, condition: bool, reason: str) -> None:
        if not condition:
            raise self._error(reason)

    def _error(
        self, reason: str, at: int | None = None, *, kind: str = "invalid JSON"
    ) -> JsonStreamError:
        where = self._offset + (self._pos if at is None else at)
        return JsonStreamError(f"{reason} (byte {where})", kind=kind)


def _longest_possible(strings: list[str]) -> int:
    """The most bytes any of ``strings`` can have taken in the JSON text: the limit is
    in bytes, and one character is at most 6 of them (a ``\\uXXXX`` escape), quotes apart."""
    return 6 * max(map(len, strings), default=0) + 2
