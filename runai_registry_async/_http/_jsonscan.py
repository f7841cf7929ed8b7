"""Where one JSON value ends, in a buffer that grows chunk by chunk. No I/O.

``ValueScanner`` is the exact scanner under ``ArrayParser``'s fast paths: it skips
strings with one regular expression and counts brackets, and a value cut by the end of
the data is resumed where its scan stopped (scanning it from its start on every chunk
would cost time quadratic in its size). It enforces two of the parser's limits as it
goes: nesting depth and the size of one value.
"""

from __future__ import annotations

import re

#: Deepest nesting accepted anywhere in a streamed body (the top-level object is 1).
MAX_DEPTH = 64

WS = re.compile(rb"[ \t\r\n]*")
STRING_SOURCE = rb'"[^"\\]*(?:\\.[^"\\]*)*"'
# The body of a string from just after its opening quote: stops at the closing quote, at
# the end of the data, or before a lone trailing backslash (a split escape).
_STRING_BODY = re.compile(rb'[^"\\]*(?:\\.[^"\\]*)*', re.DOTALL)
_STRUCTURAL = re.compile(rb'["\[\]{}]')
_SCALAR = re.compile(rb"[-+.0-9A-Za-z]+")

QUOTE, COMMA, COLON = 0x22, 0x2C, 0x3A
OPEN_OBJECT, CLOSE_OBJECT, OPEN_ARRAY, CLOSE_ARRAY = 0x7B, 0x7D, 0x5B, 0x5D

LIMIT = "response over a limit"


class ScanError(Exception):
    """What is wrong at byte ``at`` of the buffer; the parser adds where that is in
    the body."""

    def __init__(self, reason: str, at: int, kind: str = "invalid JSON") -> None:
        super().__init__(reason)
        self.reason, self.at, self.kind = reason, at, kind


class ValueScanner:
    """Finds the ends of values in ``buf``, which the parser grows in place (and cuts
    at the front, telling ``shift``)."""

    __slots__ = ("_buf", "_max_item", "_scan")

    def __init__(self, buf: bytearray, *, max_item_bytes: int) -> None:
        self._buf = buf
        self._max_item = max_item_bytes
        # A value being scanned across chunks: (start, resume position, depth there).
        self._scan: tuple[int, int, int] | None = None

    def shift(self, by: int) -> None:
        """The parser dropped the first ``by`` bytes of the buffer."""
        scan = self._scan
        if scan is not None:
            self._scan = scan[0] - by, scan[1] - by, scan[2]

    def resuming(self, start: int) -> bool:
        """Whether the value at ``start`` is one whose scan ran out of data before."""
        return self._scan is not None and self._scan[0] == start

    def value_end(self, start: int, *, depth: int) -> int | None:
        """The end of the JSON value at ``start``; None if it has not all arrived yet."""
        buf = self._buf
        byte = buf[start]
        if byte == QUOTE:
            end = self._string_end(start)
        elif byte in (OPEN_OBJECT, OPEN_ARRAY):
            end = self._container_end(start, depth)
        else:
            match = _SCALAR.match(buf, start)
            if match is None:
                raise ScanError("unexpected character", start)
            # A number may go on in the next chunk.
            end = match.end() if match.end() < len(buf) else None
        if end is None:
            if len(buf) - start > self._max_item:
                raise ScanError(f"a value larger than {self._max_item} bytes", start, LIMIT)
        elif end - start > self._max_item:
            raise ScanError(f"a value larger than {self._max_item} bytes", start, LIMIT)
        return end

    def _string_end(self, start: int) -> int | None:
        buf, scan = self._buf, self._scan
        # Resume where the last chunk ran out: a long string is scanned once, not per chunk.
        pos = scan[1] if scan is not None and scan[0] == start else start + 1
        body = _STRING_BODY.match(buf, pos).end()  # type: ignore[union-attr]
        if body < len(buf) and buf[body] == QUOTE:
            self._scan = None
            return body + 1
        self._scan = (start, body, 0)
        return None

    def _container_end(self, start: int, depth: int) -> int | None:
        buf = self._buf
        scan = self._scan
        if scan is not None and scan[0] == start:
            _, pos, level = scan  # resume where the last chunk ran out
        else:
            pos, level = start, depth
        while True:
            match = _STRUCTURAL.search(buf, pos)
            if match is None:
                self._scan = (start, len(buf), level)
                return None
            at = match.start()
            byte = buf[at]
            if byte == QUOTE:
                body = _STRING_BODY.match(buf, at + 1).end()  # type: ignore[union-attr]
                if body >= len(buf) or buf[body] != QUOTE:
                    self._scan = (start, at, level)
                    return None
                pos = body + 1
            elif byte in (OPEN_OBJECT, OPEN_ARRAY):
                level += 1
                if level > MAX_DEPTH:
                    raise ScanError(f"nested deeper than {MAX_DEPTH} levels", at, LIMIT)
                pos = at + 1
            else:
                level -= 1
                pos = at + 1
                if level == depth:
                    self._scan = None
                    return pos
