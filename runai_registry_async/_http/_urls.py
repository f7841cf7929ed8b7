"""Paths and query strings, validated and encoded before anything is sent."""

from __future__ import annotations

import re
import uuid
from urllib.parse import quote

REGISTRIES = "/api/v1/asset/registries"

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")

# `repository` and `searchName` are allowReserved in the spec: "/" may travel raw. Every
# other reserved character (& # % + = ? and space) is percent-encoded so that the server
# decodes exactly the string the caller passed.
_RESERVED_OK = "/"
# Values made only of these need no encoding: most names, so `quote` is skipped for them.
_PLAIN = re.compile(r"[A-Za-z0-9_.~-]*").fullmatch
_PLAIN_OR_SLASH = re.compile(r"[A-Za-z0-9_.~/-]*").fullmatch


def registry_path(asset_id: str | uuid.UUID) -> str:
    """The path of one registry; ``asset_id`` must be a UUID (str or ``uuid.UUID``)."""
    return f"{REGISTRIES}/{checked_id(asset_id)}"


def checked_id(asset_id: object) -> str:
    if isinstance(asset_id, uuid.UUID):
        return str(asset_id)
    if isinstance(asset_id, str) and _UUID.fullmatch(asset_id):
        return asset_id.lower()
    raise ValueError(f"asset_id must be a UUID, got {asset_id!r}")


def encode(key: str, value: object, *, allow_reserved: bool = False) -> str:
    """``value`` percent-encoded for a query string; it must be a string."""
    if type(value) is not str:
        if not isinstance(value, str):
            raise ValueError(f"{key} must be a string, not {type(value).__name__}")
        value = str(value)
    if (_PLAIN_OR_SLASH if allow_reserved else _PLAIN)(value):
        return value
    return quote(value, safe=_RESERVED_OK if allow_reserved else "")


def query(*, allow_reserved: bool = False, **params: str | None) -> str:
    """``?k=v&...`` for the parameters that are not None, each value percent-encoded."""
    parts = [
        f"{key}={encode(key, value, allow_reserved=allow_reserved)}"
        for key, value in params.items()
        if value is not None
    ]
    return "?" + "&".join(parts) if parts else ""
