"""Tag matching and version order: pure functions, tested with hypothesis and examples."""

from __future__ import annotations

import random

import pytest
import semver
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from runai_registry_async import TagFilter, latest, sort_tags, version_key

numbers = st.integers(0, 30)
identifier = st.one_of(
    numbers.map(str),
    st.text(alphabet="abcrz-", min_size=1, max_size=4).filter(lambda s: not s.isdigit()),
)
semver_strings = st.builds(
    lambda major, minor, patch, pre, build: (
        f"{major}.{minor}.{patch}"
        + (f"-{'.'.join(pre)}" if pre else "")
        + (f"+{'.'.join(build)}" if build else "")
    ),
    numbers,
    numbers,
    numbers,
    st.lists(identifier, max_size=3),
    st.lists(identifier, max_size=2),
)
any_tags = st.one_of(
    semver_strings,
    semver_strings.map(lambda v: "v" + v),
    st.text(alphabet="v0123456789.-+abcrz_", max_size=12),
    st.text(max_size=8),
)


def valid_semver(text: str) -> bool:
    try:
        semver.Version.parse(text)
    except ValueError:
        return False
    return True


@settings(max_examples=500)
@given(a=semver_strings, b=semver_strings)
def test_agrees_with_semver_precedence(a: str, b: str) -> None:
    assume(valid_semver(a) and valid_semver(b))  # e.g. no leading zeros
    expected = semver.Version.parse(a).compare(b)
    if expected < 0:
        assert version_key(a) < version_key(b)
    elif expected > 0:
        assert version_key(a) > version_key(b)


@given(a=any_tags, b=any_tags, c=any_tags)
def test_a_total_order(a: str, b: str, c: str) -> None:
    ka, kb, kc = version_key(a), version_key(b), version_key(c)
    assert (ka == kb) == (a == b)  # two different tags never tie
    assert (ka < kb) != (kb < ka) or a == b
    if ka <= kb <= kc:
        assert ka <= kc


@given(tags=st.lists(any_tags, max_size=30))
def test_sorting_does_not_depend_on_input_order(tags: list[str]) -> None:
    ordered = sort_tags(tags)
    shuffled = tags[:]
    random.Random(0).shuffle(shuffled)
    assert sort_tags(shuffled) == ordered
    assert sort_tags(ordered) == ordered
    assert sort_tags(tags, reverse=True) == ordered[::-1]
    everything = TagFilter(skip_artefacts=False)
    assert latest(tags, matching=everything) == (ordered[-1] if tags else None)


def test_the_documented_examples() -> None:
    tags = ["build-10", "1.10.1", "latest", "2.0.0", "v1.9.2", "build-9", "2.0.0-rc.1", "v1.10.0"]
    assert sort_tags(tags) == [
        "v1.9.2",
        "v1.10.0",
        "1.10.1",
        "2.0.0-rc.1",
        "2.0.0",
        "build-9",
        "build-10",
        "latest",
    ]
    assert sort_tags(["1.2.0.1", "1.2", "1.2.0"]) == ["1.2", "1.2.0", "1.2.0.1"]
    assert sort_tags(["b", "a10", "a9"], order="lexical") == ["a10", "a9", "b"]
    assert sort_tags(["2.0.0-rc.10", "2.0.0-rc.9", "2.0.0-beta"]) == [
        "2.0.0-beta",
        "2.0.0-rc.9",
        "2.0.0-rc.10",
    ]
    with pytest.raises(ValueError, match="order must be"):
        sort_tags(tags, order="newest")  # type: ignore[arg-type]


def test_latest_with_and_without_prereleases_and_filters() -> None:
    tags = ["1.0.0", "1.1.0", "2.0.0-rc.1", "1.1.0-slim", "nightly", "sha256-" + "a" * 64 + ".sig"]
    assert latest(tags) == "nightly"  # anything unparsable sorts after versions
    assert latest(tags, matching=TagFilter(include=["*.*.*"])) == "2.0.0-rc.1"
    assert latest(tags, matching=TagFilter(include=["*.*.*"]), prereleases=False) == "1.1.0"
    assert latest(tags, order="lexical") == "nightly"  # the .sig artefact is no image
    everything = TagFilter(skip_artefacts=False)
    assert latest(tags, order="lexical", matching=everything) == "sha256-" + "a" * 64 + ".sig"
    assert latest([]) is None
    assert latest(["x"], matching=TagFilter(include=["y*"])) is None


def test_filters_match_whole_tags() -> None:
    cuda = TagFilter(include=["*-cuda12*"], exclude=["*-rc*"])
    tags = [
        "1.0-cuda12.1",
        "1.1-cuda12.2-rc1",
        "1.0-cuda11.8",
        "sha256-" + "0" * 64,
        "1.0-cuda12.1.sig",
        "x-cuda12",
    ]
    assert cuda.select(tags) == ["1.0-cuda12.1", "x-cuda12"]
    assert TagFilter().select(tags) == [
        "1.0-cuda12.1",
        "1.1-cuda12.2-rc1",
        "1.0-cuda11.8",
        "x-cuda12",
    ]
    assert len(TagFilter(skip_artefacts=False).select(tags)) == len(tags)
    regex = TagFilter(include=[r"v?\d+\.\d+"], regex=True)
    assert regex.select(["1.2", "v3.4", "1.2.3", "x1.2"]) == ["1.2", "v3.4"]
    assert TagFilter(include="3.*").include == ("3.*",)
    with pytest.raises(ValueError, match="regular expression"):
        TagFilter(include=["("], regex=True)
    with pytest.raises(ValueError, match="non-empty"):
        TagFilter(include=[""])


@pytest.mark.parametrize(
    ("tag_filter", "hint"),
    [
        (TagFilter(include=["*-cuda12.1-*"]), "-cuda12.1-"),
        (TagFilter(include=["v1.?.*-alpine"]), "-alpine"),
        (TagFilter(include=["[0-9]*"]), None),
        (TagFilter(include=["*"]), None),
        (TagFilter(), None),
        (TagFilter(include=["a*", "b*"]), None),
        (TagFilter(include=["cuda12-runtime"], regex=True), "cuda12-runtime"),
        (TagFilter(include=[r"cuda\d+"], regex=True), None),
    ],
)
def test_server_hints(tag_filter: TagFilter, hint: str | None) -> None:
    assert tag_filter.server_hint() == hint


@given(
    pattern=st.text(alphabet="ab1.-*?", min_size=1, max_size=8),
    tags=st.lists(st.text(alphabet="ab1.-", max_size=10), max_size=40),
)
def test_every_matching_tag_contains_the_server_hint(pattern: str, tags: list[str]) -> None:
    tag_filter = TagFilter(include=[pattern])
    hint = tag_filter.server_hint()
    for tag in tag_filter.select(tags):
        assert hint is None or hint in tag


@pytest.mark.parametrize("digit", ["\u00b9", "\u00b2", "\u0663", "\u0661", "\uff11"])
def test_only_ascii_digits_are_numbers(digit: str) -> None:
    # str.isdigit() is true for superscripts: int() then raised ValueError.
    tags = [f"v{digit}", f"1.{digit}", f"a{digit}b", "a1b", "1.2", digit]
    assert sorted(sort_tags(tags)) == sorted(tags)
    assert sort_tags(["a2b", f"a{digit}b", "a10b"]) == ["a2b", "a10b", f"a{digit}b"]
