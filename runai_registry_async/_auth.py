"""Bearer tokens: static, OAuth2 client credentials, or any async callable.

Every way in ends in one ``TokenCache``: the token is reused until shortly before it
expires, fetched single-flight (any number of concurrent requests that find it stale
cause one fetch), and dropped when the server rejects it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Literal, Union
from urllib.parse import urlencode

import orjson
from attrs import field, frozen

from ._errors import DecodeError, snippet

if TYPE_CHECKING:
    from ._transport import Transport

TokenFactory = Callable[[], Awaitable[str]]
Auth = Union["ClientCredentials", TokenFactory]

# Refresh this long before expiry (or a tenth of the lifetime, if that is shorter), so a
# token does not expire between being read and reaching the server.
_REFRESH_MARGIN = 30.0


def _hidden(_: object) -> str:
    return "'***'"


@frozen
class ClientCredentials:
    """Log in as an application with its client id and secret.

    ``endpoint="v1"`` posts JSON to ``/api/v1/token`` (``accessToken``, ``expiresIn``);
    ``endpoint="v2"`` posts an OAuth2 form to ``/api/v2/token`` (``access_token``,
    ``expires_in``), which newer control planes prefer. The secret never shows in a repr.
    """

    client_id: str
    client_secret: str = field(repr=_hidden)
    endpoint: Literal["v1", "v2"] = "v1"

    def __attrs_post_init__(self) -> None:
        if not self.client_id or not self.client_secret:
            raise ValueError("client_id and client_secret must not be empty")
        if self.endpoint not in ("v1", "v2"):
            raise ValueError(f"endpoint must be 'v1' or 'v2', got {self.endpoint!r}")

    async def fetch(self, transport: Transport) -> tuple[str, float | None]:
        """Get a new token and its lifetime in seconds."""
        if self.endpoint == "v1":
            path, token_key, expiry_key = "/api/v1/token", "accessToken", "expiresIn"
            body = orjson.dumps(
                {
                    "grantType": "client_credentials",
                    "clientId": self.client_id,
                    "clientSecret": self.client_secret,
                }
            )
            content_type = "application/json"
        else:
            path, token_key, expiry_key = "/api/v2/token", "access_token", "expires_in"
            body = urlencode(
                {
                    "grant_type": "client_credentials",
                    "client_id": self.client_id,
                    "client_secret": self.client_secret,
                }
            ).encode()
            content_type = "application/x-www-form-urlencoded"
        raw = await transport.send_unauthenticated("POST", path, body, content_type)
        return _read_token(raw, token_key, expiry_key, operation=f"POST {path}")


def _read_token(
    raw: bytes, token_key: str, expiry_key: str, *, operation: str
) -> tuple[str, float | None]:
    try:
        data: Any = orjson.loads(raw)
    except orjson.JSONDecodeError:
        data = None
    token = data.get(token_key) if isinstance(data, dict) else None
    if not isinstance(token, str) or not token:
        # The body holds no usable token, so a snippet of it is safe to show.
        raise DecodeError(
            f"{operation}: no {token_key} in the answer: {snippet(raw)}", operation=operation
        )
    expires = data.get(expiry_key)
    lifetime = (
        float(expires)
        if isinstance(expires, (int, float)) and not isinstance(expires, bool)
        else None
    )
    return token, lifetime


class TokenCache:
    """The current bearer token, fetched single-flight and refreshed before expiry."""

    __slots__ = ("_fetch", "_token", "_expires_at", "_lock", "refreshable")

    def __init__(
        self, fetch: Callable[[], Awaitable[tuple[str, float | None]]] | None, token: str | None
    ) -> None:
        self._fetch = fetch
        self._token = token
        self._expires_at = float("inf")
        self._lock = asyncio.Lock()
        self.refreshable = fetch is not None

    def __repr__(self) -> str:
        return f"<TokenCache refreshable={self.refreshable} has_token={self._token is not None}>"

    def current(self) -> str | None:
        """The token, if it can be sent without fetching a new one (the fast path)."""
        token = self._token
        if token is not None and time.monotonic() < self._expires_at:
            return token
        return None

    async def get(self) -> str | None:
        """The token to send now, fetching one if there is none or it is about to expire."""
        token = self.current()
        if token is not None or self._fetch is None:
            return token if token is not None else self._token
        async with self._lock:
            # Whoever held the lock before us may have fetched already.
            if self._token is not None and time.monotonic() < self._expires_at:
                return self._token
            token, lifetime = await self._fetch()
            self._token = token
            self._expires_at = (
                float("inf")
                if lifetime is None
                else time.monotonic() + lifetime - min(_REFRESH_MARGIN, lifetime / 10)
            )
            return token

    def reject(self, token: str | None) -> bool:
        """Forget ``token`` after a 401; True when a new one can be fetched."""
        if self._fetch is None:
            return False
        if token is not None and token == self._token:
            self._token = None
        return True


def token_cache(token: str | None, auth: Auth | None, transport: Transport) -> TokenCache:
    """The one TokenCache behind whichever of ``token=`` and ``auth=`` the caller used."""
    if token is not None and auth is not None:
        raise ValueError("pass either token= or auth=, not both")
    if token is not None:
        if not isinstance(token, str) or not token:
            raise ValueError("token must be a non-empty string")
        return TokenCache(None, token)
    if auth is None:
        return TokenCache(None, None)
    if isinstance(auth, ClientCredentials):
        credentials = auth

        async def fetch_credentials() -> tuple[str, float | None]:
            return await credentials.fetch(transport)

        return TokenCache(fetch_credentials, None)
    if callable(auth):
        factory = auth

        async def fetch_from_callable() -> tuple[str, float | None]:
            token = await factory()
            if not isinstance(token, str) or not token:
                raise ValueError("the auth callable must return a non-empty string")
            return token, None

        return TokenCache(fetch_from_callable, None)
    raise ValueError(
        f"auth must be ClientCredentials or an async callable, not {type(auth).__name__}"
    )
