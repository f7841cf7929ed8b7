"""Keeping secrets out of reprs, tracebacks and error text.

Three tools: ``Secret`` holds a value that must not show in a repr (a frame local
rendered by ``traceback`` with ``capture_locals``, rich or sentry is a repr);
``detached`` cuts an error loose from the frames below it and from the exception it
replaced, which may hold a body or a header; ``snippet`` and ``key_names``
describe a body for an error message with every secret-looking value blanked.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any, Generic, TypeVar
from urllib.parse import parse_qsl, quote, quote_plus

import orjson

T = TypeVar("T")
E = TypeVar("E", bound=BaseException)

_HIDDEN = "***"


class Secret(Generic[T]):
    """A value whose repr and str never show it; ``.value`` hands it over."""

    __slots__ = ("value",)

    def __init__(self, value: T) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__


def detached(error: E) -> E:
    """``error`` without its traceback, cause or context, ready to ``raise``.

    The frames it passed through and the exception it replaced (aiohttp's holds the
    request headers, orjson's the whole body) stay behind.
    """
    error.__traceback__ = None
    error.__cause__ = None
    error.__context__ = None
    error.__suppress_context__ = True
    return error


_SECRET_KEY = (
    r"[\w.-]*(?:token|secret|password|passwd|pwd|passphrase|credential|authorization"
    r"|api[_-]?key)[\w.-]*"
)
# A secret-looking key and what follows it, in JSON ("k": v), a form or query (k=v) or
# plain text (k: v). The value runs to the end of a string (escapes included), to a
# delimiter, or (for an object or array) is handled by _value_end.
_KEYED = re.compile(
    r"""(?P<key>["']?""" + _SECRET_KEY + r"""["']?\s*[:=]\s*)(?P<value>"(?:[^"\\]|\\.)*"?"""
    r"""|'(?:[^'\\]|\\.)*'?|[\[{]|[^\s&,;"'<>}\]]*)""",
    re.IGNORECASE | re.DOTALL,
)
_SCHEME_CREDENTIAL = re.compile(r"\b(Bearer|Basic)\s+[^\s\"'<>,;&]+", re.IGNORECASE)
_SECRET_NAME = re.compile(_SECRET_KEY, re.IGNORECASE)


def redact(text: str) -> str:
    """``text`` with the value of every secret-looking key and bearer credential blanked."""
    text = _SCHEME_CREDENTIAL.sub(lambda m: f"{m.group(1)} {_HIDDEN}", text)
    out: list[str] = []
    pos = 0
    for match in _KEYED.finditer(text):
        if match.start() < pos:
            continue  # inside a value already blanked
        out.append(text[pos : match.end("key")])
        value = match.group("value")
        if value in ("{", "["):
            pos = _container_end(text, match.start("value"))
        else:
            pos = match.end("value")
        out.append(f'"{_HIDDEN}"' if value[:1] in "\"'{[" else _HIDDEN)
    out.append(text[pos:])
    return "".join(out)


def _container_end(text: str, start: int) -> int:
    """Where the object or array at ``start`` ends; the end of ``text`` if it does not."""
    depth = 0
    quote = ""
    escaped = False
    for index in range(start, len(text)):
        char = text[index]
        if quote:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
            if depth == 0:
                return index + 1
    return len(text)


#: How deep a body is shown in an error message; deeper values are elided. A hostile
#: body nests as deep as its parser allows, and the walk below must not recurse that far.
_SHOWN_DEPTH = 8


def _redact_json(data: Any, depth: int = 0) -> Any:
    if isinstance(data, (dict, list)) and depth >= _SHOWN_DEPTH:
        return "..."
    if isinstance(data, dict):
        return {
            key: _HIDDEN if _SECRET_NAME.fullmatch(str(key)) else _redact_json(value, depth + 1)
            for key, value in data.items()
        }
    if isinstance(data, list):
        return [_redact_json(item, depth + 1) for item in data]
    if isinstance(data, str):
        return redact(data)
    return data


#: Shorter secrets are blanked only where they stand alone, not inside a longer word:
#: a one-letter test token would otherwise blank that letter everywhere.
_SHORT_SECRET = 8


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every exact secret (and its JSON- or URL-escaped form) blanked."""
    for secret in secrets:
        if not secret:
            continue
        forms = {secret, orjson.dumps(secret).decode()[1:-1], quote(secret), quote_plus(secret)}
        for form in sorted(forms, key=len, reverse=True):
            if len(form) >= _SHORT_SECRET:
                text = text.replace(form, _HIDDEN)
            else:
                alone = rf"(?<![A-Za-z0-9]){re.escape(form)}(?![A-Za-z0-9])"
                text = re.sub(alone, _HIDDEN, text)
    return text


def sent_secrets(authorization: str | None, body: bytes | None) -> list[str]:
    """The secrets a request carries: its bearer token, and every value of a
    secret-looking key in its JSON or form body (a password, a client secret)."""
    found: list[str] = []
    if authorization:
        found.append(authorization.partition(" ")[2] or authorization)
    if body:
        try:
            data: Any = orjson.loads(body)
        except orjson.JSONDecodeError:
            data = dict(parse_qsl(body.decode("utf-8", "replace")))
        found.extend(_secret_values(data))
    return found


def _secret_values(data: Any, depth: int = 0) -> Iterator[str]:
    if depth > _SHOWN_DEPTH:
        return
    if isinstance(data, dict):
        for key, value in data.items():
            if isinstance(value, str) and _SECRET_NAME.fullmatch(str(key)):
                yield value
            else:
                yield from _secret_values(value, depth + 1)
    elif isinstance(data, list):
        for item in data:
            yield from _secret_values(item, depth + 1)


def snippet(body: bytes, limit: int = 200) -> str:
    """A short, printable excerpt of a response body for error messages, secrets blanked."""
    try:
        text = orjson.dumps(_redact_json(orjson.loads(body))).decode()
    except (orjson.JSONDecodeError, TypeError):
        text = redact(body[: limit * 4].decode("utf-8", "replace"))
    text = " ".join(text.split())
    return repr(text[:limit] + ("..." if len(text) > limit else ""))


def key_names(body: bytes) -> str:
    """What a body is, without any of its values: for answers that may hold a credential."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return f"a {len(body)}-byte body that is not JSON"
    if isinstance(data, dict):
        names = ", ".join(repr(str(key))[:40] for key in list(data)[:20])
        return f"a JSON object with keys {names}" if names else "an empty JSON object"
    return f"JSON {type(data).__name__}, not an object"
