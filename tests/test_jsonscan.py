"""The exact scanner under the streaming parser: where a value ends, across chunks."""

from __future__ import annotations

import pytest

from runai_registry_async._http._jsonscan import MAX_DEPTH, ScanError, ValueScanner


def scanner(data: bytes, max_item_bytes: int = 1 << 20) -> tuple[ValueScanner, bytearray]:
    buf = bytearray(data)
    return ValueScanner(buf, max_item_bytes=max_item_bytes), buf


@pytest.mark.parametrize(
    ("data", "end"),
    [
        (b'"a\\"b", 1', 6),
        (b'{"k": ["]", {"x": "}"}]}, 2', 24),
        (b"-12.5e3,", 7),
        (b"true]", 4),
    ],
)
def test_the_end_of_a_complete_value(data: bytes, end: int) -> None:
    assert scanner(data)[0].value_end(0, depth=1) == end


@pytest.mark.parametrize("first", [b'{"a": "x', b'"x'])
def test_a_value_cut_by_the_data_ends_once_the_rest_arrives(first: bytes) -> None:
    scan, buf = scanner(first)
    assert scan.value_end(0, depth=1) is None
    assert scan.resuming(0)
    rest = b'y\\"z"}' if first.startswith(b"{") else b'y\\"z"'
    buf += rest + b', "b"'
    assert scan.value_end(0, depth=1) == len(first + rest)
    assert not scan.resuming(0)


def test_a_number_at_the_end_of_the_data_may_go_on() -> None:
    scan, buf = scanner(b"12")
    assert scan.value_end(0, depth=1) is None
    buf += b"3,"
    assert scan.value_end(0, depth=1) == 3


def test_dropping_the_front_of_the_buffer_keeps_the_resumed_scan() -> None:
    scan, buf = scanner(b'xxxx["ab')
    assert scan.value_end(4, depth=1) is None
    del buf[:4]
    scan.shift(4)
    buf += b'c"]'
    assert scan.resuming(0)
    assert scan.value_end(0, depth=1) == len(b'["abc"]')


def test_nesting_past_the_limit_is_refused_where_it_happens() -> None:
    data = b"[" * (MAX_DEPTH + 5)
    with pytest.raises(ScanError, match=f"nested deeper than {MAX_DEPTH}") as caught:
        scanner(data)[0].value_end(0, depth=1)
    assert caught.value.at == MAX_DEPTH - 1  # the bracket that went one level too deep
    assert caught.value.kind == "response over a limit"


@pytest.mark.parametrize("data", [b'"' + b"a" * 20 + b'"', b'"' + b"a" * 20])
def test_a_value_over_the_item_limit_is_refused_finished_or_not(data: bytes) -> None:
    with pytest.raises(ScanError, match="a value larger than 10 bytes"):
        scanner(data, max_item_bytes=10)[0].value_end(0, depth=1)


def test_an_unexpected_character_says_where() -> None:
    with pytest.raises(ScanError, match="unexpected character") as caught:
        scanner(b"  )")[0].value_end(2, depth=1)
    assert caught.value.at == 2
