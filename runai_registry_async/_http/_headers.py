"""The headers every request carries: which the caller may set, and how a request's are
made from the client's fixed ones, its token and its body."""

from __future__ import annotations

import platform
import re
from collections.abc import Mapping

import aiohttp

from .._secrets import Secret
from .._version import __version__

#: What every request says it is sent by.
USER_AGENT = (
    f"runai-registry-async/{__version__} aiohttp/{aiohttp.__version__} "
    f"python/{platform.python_version()}"
)
# Headers the client sets itself (per request, or by aiohttp from the body and URL).
_RESERVED_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "host",
        "content-length",
        "content-type",
        "transfer-encoding",
    }
)


def fixed_headers(extra: Mapping[str, str] | None) -> dict[str, str]:
    """``User-Agent`` and the caller's ``extra`` headers (which may replace it), checked:
    never one the client sets itself, such as ``Authorization``."""
    headers = {"User-Agent": USER_AGENT}
    if extra is None:
        return headers
    if not isinstance(extra, Mapping):
        raise ValueError(f"headers must be a mapping, not {type(extra).__name__}")
    for name, value in extra.items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise ValueError("headers must map strings to strings")
        if not _TOKEN(name):
            raise ValueError(f"{name[:40]!r} is not a valid header name")
        if name.lower() in _RESERVED_HEADERS:
            raise ValueError(
                f"headers may not set {name}: the client sets it (the token: token= or auth=)"
            )
        if _CONTROL(value):
            raise ValueError(f"the value of header {name} holds a control character")
        headers[name] = value
    return headers


_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+").fullmatch
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]").search


def request_headers(
    fixed: Mapping[str, str], token: Secret[str] | None, has_body: bool
) -> dict[str, str]:
    """The headers of a request: the client's fixed ones, the token, the body's type."""
    headers = {"Accept": "application/json", **fixed}
    if token is not None:
        headers["Authorization"] = f"Bearer {token.value}"
    if has_body:
        headers["Content-Type"] = "application/json"
    return headers
