"""The bounded incremental parser, with no I/O: any chunking gives orjson's answer."""

from __future__ import annotations

import tracemalloc
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runai_registry_async._http._jsonstream import MAX_DEPTH, ArrayParser, JsonStreamError

MiB = 1024 * 1024


def require_key(key: str) -> Any:
    def check(envelope: dict[str, Any]) -> None:
        if not isinstance(envelope.get(key), list):
            raise ValueError(f"envelope: {key} is {type(envelope.get(key)).__name__}")

    return check


def parser(key: str = "tags", *, strings: bool = True, **limits: int) -> ArrayParser:
    return ArrayParser(
        key,
        strings=strings,
        keep=frozenset({"name"}),
        check_envelope=require_key(key),
        max_item_bytes=limits.get("max_item", MiB),
        max_total_bytes=limits.get("max_total", 256 * MiB),
    )


def parse(body: bytes, cuts: list[int], **kwargs: Any) -> tuple[list[Any], dict[str, Any]]:
    p = parser(**kwargs)
    items: list[Any] = []
    start = 0
    for cut in [*sorted(set(cuts)), len(body)]:
        items += p.feed(body[start:cut])
        start = cut
    return items, p.finish()


# Tags that stress the scanner: quotes, backslashes, \u escapes, astral characters
# (surrogate pairs when escaped), brackets and commas inside strings.
tag_text = st.text(
    alphabet=st.sampled_from(
        ["a", '"', "\\", ",", "]", "[", "{", "}", " ", "\u00e9", "\U0001f600", "\n", "\x00"]
    ),
    max_size=12,
)


def body_of(tags: list[str], *, ascii_only: bool, spaced: bool) -> bytes:
    sep = b" ,\n " if spaced else b","
    dumped = (_ascii(t) if ascii_only else orjson.dumps(t) for t in tags)
    return b'{"name":"r","tags":[' + sep.join(dumped) + b"]}"


def _ascii(value: str) -> bytes:
    import json

    return json.dumps(value, ensure_ascii=True).encode()  # \uXXXX, surrogate pairs included


@settings(max_examples=300, deadline=None)
@given(
    tags=st.lists(tag_text, max_size=30),
    cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=12),
    ascii_only=st.booleans(),
    spaced=st.booleans(),
)
def test_any_chunking_of_a_tag_list_gives_orjsons_answer(
    tags: list[str], cuts: list[int], ascii_only: bool, spaced: bool
) -> None:
    body = body_of(tags, ascii_only=ascii_only, spaced=spaced)
    items, envelope = parse(body, [c % (len(body) + 1) for c in cuts])
    assert items == orjson.loads(body)["tags"] == tags
    assert envelope == {"name": "r"}


def test_every_split_offset_of_escapes_and_surrogate_pairs() -> None:
    tags = ['a\\"b', "\U0001f600x", 'q"', "\\", "x\u2028y", ""] * 3
    for ascii_only in (False, True):
        body = body_of(tags, ascii_only=ascii_only, spaced=False)
        for cut in range(len(body) + 1):
            assert parse(body, [cut])[0] == tags
        for cut in range(0, len(body), 3):
            assert parse(body, list(range(cut, len(body), 5)))[0] == tags


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | tag_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(tag_text, inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(
    entries=st.lists(json_values, max_size=8),
    before=st.dictionaries(st.sampled_from(["x", "name", "y"]), json_values, max_size=2),
    cuts=st.lists(st.integers(min_value=0, max_value=5000), max_size=10),
)
def test_any_chunking_of_an_object_list_gives_orjsons_answer(
    entries: list[Any], before: dict[str, Any], cuts: list[int]
) -> None:
    body = orjson.dumps({**before, "entries": entries})
    items, envelope = parse(body, [c % (len(body) + 1) for c in cuts], key="entries", strings=False)
    assert items == orjson.loads(body)["entries"]
    assert envelope == ({"name": before["name"]} if "name" in before else {})


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"tags": 5}', "envelope: tags is int"),
        (b'{"tags": null}', "envelope: tags is NoneType"),
        (b'{"name": "r"}', "envelope: tags is NoneType"),
        (b'["a"]', "expected a JSON object"),
        (b'{"tags": ["a", 5]}', r"expected a string, got int @ \$.tags\[1\]"),
        (b'{"tags": ["a",]}', "invalid JSON"),
        (b'{"tags": ["a"]} trailing', "data after the JSON object"),
        (b'{"tags": ["a"', "body ended before"),
        (b'{"tags": ["\\x"]}', "invalid JSON"),
        (b'{"tags": [], "tags": []}', "appears twice"),
        (b'{"tags": ["\xff\xfe"]}', "invalid JSON"),
    ],
)
def test_bodies_a_whole_read_rejects_are_rejected(body: bytes, message: str) -> None:
    for size in (1, 3, len(body)):
        with pytest.raises((JsonStreamError, ValueError), match=message):
            parse(body, list(range(size, len(body), size)))


def test_errors_give_a_byte_offset_and_never_body_text() -> None:
    body = b'{"tags": ["ok", "password=hunter2\xff"]}'
    with pytest.raises(JsonStreamError) as caught:
        parse(body, [20])
    assert "hunter2" not in str(caught.value)
    assert "(byte 16)" in str(caught.value)
    assert caught.value.__context__ is None  # orjson's exception holds the whole body


def test_deep_nesting_stops_at_the_depth_limit_in_bounded_memory() -> None:
    # 10 KiB of "[" drove ijson to ~500 MiB (a prefix string per level).
    body = b'{"tags":' + b"[" * 10 * 1024
    tracemalloc.start()
    try:
        with pytest.raises(JsonStreamError, match=f"nested deeper than {MAX_DEPTH}"):
            parse(body, list(range(0, len(body), 4096)))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < MiB


def test_nesting_up_to_the_limit_is_accepted() -> None:
    depth = MAX_DEPTH - 2  # the object and the array take two levels
    body = b'{"tags":[' + b"[" * depth + b"]" * depth + b"]}"
    assert parse(body, [20, 40], strings=False)[0] == [orjson.loads(b"[" * depth + b"]" * depth)]


@pytest.mark.parametrize("where", ["element", "other key"])
def test_one_huge_value_stops_at_the_item_limit(where: str) -> None:
    p = parser(max_item=MiB)
    p.feed(b'{"tags":["' if where == "element" else b'{"junk":"')
    tracemalloc.start()
    try:
        with pytest.raises(JsonStreamError, match="a value larger than 1048576 bytes"):
            for _ in range(200 * 16):  # 200 MiB, were it all accepted
                p.feed(b"a" * 65536)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * MiB


def test_an_element_over_the_limit_is_refused_on_the_fast_path_too() -> None:
    big = "x" * 3000
    body = orjson.dumps({"tags": ["a", big, "b", "c"]})
    with pytest.raises(JsonStreamError, match="larger than 2048"):
        parse(body, [], max_item=2048)


def test_the_total_is_capped() -> None:
    p = parser(max_total=100_000)
    p.feed(b'{"tags":[')
    with pytest.raises(JsonStreamError, match="body larger than 100000 bytes"):
        for _ in range(100):
            p.feed(b'"abcdefgh",' * 1000)


def test_white_space_between_elements_is_not_buffered() -> None:
    # The parser stayed before the white space after a comma: every chunk of it was kept
    # and scanned again (16 MiB of spaces took 3.7 s; 32 MiB, 16 s).
    p = parser()
    p.feed(b'{"name": "r", "tags": ["x",')
    tracemalloc.start()
    try:
        for _ in range(128):
            assert p.feed(b" " * 65536) == []
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < MiB, f"{peak} bytes for 8 MiB of white space"
    assert p.feed(b'"y"]}') == ["y"]
    assert p.finish() == {"name": "r"}


def test_a_non_string_element_cut_at_a_chunk_end_is_named_when_it_completes() -> None:
    # The cut element was taken for part of the batch: StopIteration, seen by the
    # caller's generator as RuntimeError.
    p = parser()
    assert p.feed(b'{"name":"team/app","tags":["1.0{",1') == ["1.0{"]
    with pytest.raises(JsonStreamError, match=r"expected a string, got int @ \$\.tags\[1\]"):
        p.feed(b"]}")


@pytest.mark.parametrize("cuts", [[], [600]], ids=["one chunk", "split"])
def test_the_item_limit_counts_bytes_not_characters(cuts: list[int]) -> None:
    tag = "\u20ac" * 600  # 1,800 bytes in UTF-8, 600 characters
    body = b'{"name":"r","tags":["a",' + orjson.dumps(tag) + b',"b"]}'
    with pytest.raises(JsonStreamError, match="a value larger than 1024 bytes"):
        parse(body, cuts, max_item=1024)


# --- the stream against the whole read: same items, same verdict ---------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**62), 2**62)
    | st.floats(allow_nan=False, allow_infinity=False)
    | tag_text
)
elements = st.one_of(
    tag_text,
    tag_text,
    json_scalars,
    st.recursive(json_scalars, lambda c: st.lists(c, max_size=2), max_leaves=3),
)
white = st.sampled_from(["", " ", "\n", "  \t ", " " * 70])


@st.composite
def documents(draw: st.DrawFn) -> bytes:
    """A tags body, good or bad: random elements and white space, the key maybe wrong."""
    space = draw(white)
    tags = draw(st.lists(elements, max_size=8))
    parts = [orjson.dumps(tag).decode() for tag in tags]
    array = "[" + space + ("," + space).join(parts) + space + "]"
    value = draw(st.sampled_from([array, array, array, '""', "{}", "5"]))
    name = draw(st.sampled_from(['"r"', '"r"', "5"]))
    return f'{{{space}"name":{name},{space}"tags":{space}{value}{space}}}'.encode()


@settings(max_examples=400, deadline=None)
@given(body=documents(), cuts=st.lists(st.integers(min_value=0, max_value=600), max_size=10))
def test_any_body_any_chunking_the_stream_agrees_with_the_whole_read(
    body: bytes, cuts: list[int]
) -> None:
    from runai_registry_async import DecodeError, RepositoryTags
    from runai_registry_async._converter import body_decoder, structure

    try:
        whole: Any = body_decoder(RepositoryTags)(body, "op").tags
    except DecodeError:
        whole = "rejected"
    p = ArrayParser(
        "tags",
        strings=True,
        keep=frozenset({"name"}),
        check_envelope=lambda data: structure(data, RepositoryTags, operation="op"),
        max_item_bytes=MiB,
        max_total_bytes=MiB,
    )
    streamed: Any = []
    try:
        start = 0
        for cut in [*sorted({c % (len(body) + 1) for c in cuts}), len(body)]:
            streamed += p.feed(body[start:cut])
            start = cut
        p.finish()
    except (JsonStreamError, DecodeError):
        streamed = "rejected"
    assert streamed == whole
