"""Matching and ordering tag names: pure functions, no I/O.

The API returns tag names only (no digests, no dates), so "newest" here means newest by
version order. ``version_key`` is a total order over every string:

=====================================  ==========================================
tags                                   order
=====================================  ==========================================
``v1.9.2``, ``v1.10.0``, ``1.10.1``    numeric parts numerically; a leading ``v``
                                       is ignored
``2.0.0-rc.1``, ``2.0.0-rc.2``,        a pre-release before its release; semver
``2.0.0``                              2.0.0 precedence throughout
``1.2``, ``1.2.0``, ``1.2.0.1``        missing parts count as 0, extra parts last
``build-9``, ``build-10``, ``latest``  after every version, text in order with its
                                       numeric runs compared as numbers
=====================================  ==========================================

Strings of equal precedence (``1.0.0+a`` and ``1.0.0+b``, ``v1.0`` and ``1.0``) are
ordered by the string itself, so that no two different tags compare equal.
"""

from __future__ import annotations

import fnmatch
import re
import warnings
from collections.abc import Iterable
from typing import Any, Literal

from attrs import field, frozen

__all__ = ["TagFilter", "latest", "sort_tags", "version_key"]


_IDENTIFIER = r"[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*"
_VERSION = re.compile(
    rf"[vV]?(?P<release>[0-9]+(?:\.[0-9]+)*)(?:-(?P<pre>{_IDENTIFIER}))?"
    rf"(?:\+(?P<build>{_IDENTIFIER}))?"
)
# ASCII digits only: \d and str.isdigit() also take "¹" and "٣", which int() refuses or
# reads as numbers no registry means.
_RUNS = re.compile(r"[0-9]+|[^0-9]+")
_REGEX_SPECIAL = frozenset(".^$*+?{}[]\\|()")
# cosign and digest-style artefacts stored as tags, not images.
_ARTEFACTS = re.compile(r"(?:sha256|sha512)-[0-9a-f]{16,}(?:\.\w+)?|.*\.(?:sig|att|sbom)")


def version_key(tag: str) -> tuple[Any, ...]:
    """A sort key putting tags in version order: ``v1.9.2 < v1.10.0 < 1.10.1``,
    ``2.0.0-rc.1 < 2.0.0`` (semver precedence), ``build-9 < build-10``, and anything that
    is not a version after every version.

    Args:
        tag: The tag.

    Example:
        ```python
        max(["1.9", "1.10", "latest"], key=version_key)  # "latest"; use latest() to skip it
        ```
    """
    match = _VERSION.fullmatch(tag)
    if match is None:
        return (1, _natural(tag), tag)
    release = tuple(int(part) for part in match["release"].split("."))
    if len(release) < 3:
        release += (0,) * (3 - len(release))
    pre = match["pre"]
    # A version without a pre-release ranks above every one with one (semver 11.3).
    pre_key = (1,) if pre is None else (0, *(_identifier(part) for part in pre.split(".")))
    return (0, release, pre_key, tag)


def _identifier(part: str) -> tuple[int, int | str]:
    # semver 11.4: numeric identifiers numerically, below alphanumeric ones (ASCII order).
    return (0, int(part)) if _is_number(part) else (1, part)


def _natural(text: str) -> tuple[tuple[int, int | str], ...]:
    return tuple((0, int(run)) if _is_number(run) else (1, run) for run in _RUNS.findall(text))


def _is_number(text: str) -> bool:
    return text.isascii() and text.isdigit()


def renamed_argument(
    value: TagFilter | None, former: TagFilter | None, *, old: str, new: str
) -> TagFilter | None:
    """``value``, or ``former``, passed under the deprecated name ``old`` (with a
    ``DeprecationWarning``: it goes in the next minor version)."""
    if former is None:
        return value
    if value is not None:
        raise TypeError(f"pass {new}= only ({old}= is its former name)")
    warnings.warn(f"{old}= is deprecated, use {new}=", DeprecationWarning, stacklevel=3)
    return former


def sort_tags(
    tags: Iterable[str], *, order: Literal["version", "lexical"] = "version", reverse: bool = False
) -> list[str]:
    """``tags`` sorted by ``version_key`` (or plain string order); stable for duplicates.

    Args:
        tags: The tags.
        order: ``"version"`` or ``"lexical"``.
        reverse: Newest first.

    Raises:
        ValueError: An unknown ``order``.

    Example:
        ```python
        sort_tags(["v1.10.0", "1.10.1", "v1.9.2"])  # ['v1.9.2', 'v1.10.0', '1.10.1']
        ```
    """
    if order == "version":
        return sorted(tags, key=version_key, reverse=reverse)
    if order == "lexical":
        return sorted(tags, reverse=reverse)
    raise ValueError(f"order must be 'version' or 'lexical', got {order!r}")


def latest(
    tags: Iterable[str],
    *,
    order: Literal["version", "lexical"] = "version",
    prereleases: bool = True,
    matching: TagFilter | None = None,
    filter: TagFilter | None = None,
) -> str | None:
    """The newest of ``tags`` by ``order``, or None when there is none.

    Args:
        tags: The tags.
        order: ``"version"`` (see ``version_key``) or ``"lexical"``.
        prereleases: False skips versions with a pre-release part (``2.0.0-rc.1``).
        matching: Only the tags it matches (default ``TagFilter()``: every tag but
            digest-style tags and cosign artefacts, which are not images).
        filter: The former name of ``matching`` (deprecated).

    Raises:
        ValueError: An unknown ``order``.
    """
    matching = renamed_argument(matching, filter, old="filter", new="matching")
    keep = (matching or _EVERY_IMAGE).matches
    candidates = (t for t in tags if keep(t))
    if not prereleases:
        candidates = (t for t in candidates if not _is_prerelease(t))
    if order == "version":
        return max(candidates, key=version_key, default=None)
    if order == "lexical":
        return max(candidates, default=None)
    raise ValueError(f"order must be 'version' or 'lexical', got {order!r}")


def _is_prerelease(tag: str) -> bool:
    match = _VERSION.fullmatch(tag)
    return match is not None and match["pre"] is not None


def _patterns(value: str | Iterable[str]) -> tuple[str, ...]:
    patterns = (value,) if isinstance(value, str) else tuple(value)
    for pattern in patterns:
        if not isinstance(pattern, str) or not pattern:
            raise ValueError("patterns must be non-empty strings")
    return patterns


@frozen
class TagFilter:
    """Which tags to keep: glob (or, with ``regex=True``, regular expression) patterns.

    A tag is kept when it matches any ``include`` pattern (every tag, with none) and no
    ``exclude`` pattern. Patterns match the whole tag, case-sensitively. With
    ``skip_artefacts`` (the default) digest-style tags and cosign artefacts
    (``sha256-...``, ``*.sig``, ``*.att``, ``*.sbom``) are dropped too.
    """

    include: tuple[str, ...] = field(default=(), converter=_patterns)
    exclude: tuple[str, ...] = field(default=(), converter=_patterns)
    regex: bool = False
    skip_artefacts: bool = True
    _compiled: tuple[tuple[re.Pattern[str], ...], tuple[re.Pattern[str], ...]] = field(
        init=False, repr=False, eq=False
    )

    def __attrs_post_init__(self) -> None:
        try:
            compiled = tuple(
                tuple(re.compile(p if self.regex else fnmatch.translate(p)) for p in patterns)
                for patterns in (self.include, self.exclude)
            )
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
        object.__setattr__(self, "_compiled", compiled)

    def matches(self, tag: str) -> bool:
        """Whether ``tag`` is kept.

        Args:
            tag: The tag.
        """
        include, exclude = self._compiled
        if self.skip_artefacts and _ARTEFACTS.fullmatch(tag):
            return False
        if include and not any(p.fullmatch(tag) for p in include):
            return False
        return not any(p.fullmatch(tag) for p in exclude)

    def select(self, tags: Iterable[str]) -> list[str]:
        """The tags kept, in their order.

        Args:
            tags: The tags.
        """
        return [tag for tag in tags if self.matches(tag)]

    def server_hint(self) -> str | None:
        """The longest text every kept tag must contain, for the server's ``searchName``.

        The server filters by substring; this pre-filter lets it drop most tags before
        they travel, and the exact match then runs locally. None when there is no such
        text (no include pattern, several, or a regular expression that is not literal).
        """
        if len(self.include) != 1:
            return None
        pattern = self.include[0]
        if self.regex:
            return None if _REGEX_SPECIAL.intersection(pattern) else pattern
        literals = re.split(r"\*|\?|\[[^\]]*\]", pattern)
        best = max(literals, key=len)
        return best or None


_EVERY_IMAGE = TagFilter()
