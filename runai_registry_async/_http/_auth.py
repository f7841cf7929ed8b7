"""Bearer tokens: static, OAuth2 client credentials, or any async callable.

Every way in ends in one ``AuthFlow`` around one ``TokenCache``: the token is reused
until shortly before it expires, fetched single-flight (any number of concurrent
requests that find it stale share one fetch, and its token or its error), and dropped,
and the request sent once more, when the server rejects it. Tokens travel as ``Secret``
so that no frame local shows one.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Literal, TypeVar, Union
from urllib.parse import urlencode

import orjson
from attrs import field, frozen

from .._errors import DecodeError, RunaiError, TransportError, UnauthorizedError
from .._secrets import Secret, key_names
from ._retry import OnRetry, RetryBudget, RetryPolicy, with_retries

if TYPE_CHECKING:
    from ._telemetry import Telemetry
    from ._transport import Transport

R = TypeVar("R")
log = logging.getLogger("runai_registry_async")

TokenFactory = Callable[[], Awaitable[str]]
Auth = Union["ClientCredentials", TokenFactory]
Fetch = Callable[[], Awaitable[tuple[Secret[str], float | None]]]

# Refresh this long before expiry (or a tenth of the lifetime, if that is shorter), so a
# token does not expire between being read and reaching the server.
_REFRESH_MARGIN = 30.0
#: A token is reused for at least this many seconds, whatever its ``expiresIn`` says
#: (an ``expiresIn`` of 0 would otherwise cost a token request per call). A token that
#: really expired sooner is refreshed on the 401 it gets.
MIN_TOKEN_REUSE = 5.0

# aiohttp refuses header values with these; better said when the token is given.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _hidden(_: object) -> str:
    return "'***'"


def token_problem(token: object) -> str | None:
    """What makes ``token`` unusable as a bearer token, or None; never quotes it."""
    if not isinstance(token, str) or not token:
        return f"must be a non-empty string, not {type(token).__name__}"
    if _CONTROL.search(token):
        return "contains a control character (CR, LF, NUL...) and cannot be sent in a header"
    return None


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
        if not isinstance(self.client_id, str) or not isinstance(self.client_secret, str):
            raise ValueError("client_id and client_secret must be strings")
        if not self.client_id or not self.client_secret:
            raise ValueError("client_id and client_secret must not be empty")
        if self.endpoint not in ("v1", "v2"):
            raise ValueError(f"endpoint must be 'v1' or 'v2', got {self.endpoint!r}")

    @property
    def path(self) -> str:
        """The token endpoint's path, below the base URL's."""
        return "/api/v1/token" if self.endpoint == "v1" else "/api/v2/token"

    async def _fetch(
        self, transport: Transport, timeout: float
    ) -> tuple[Secret[str], float | None]:
        """Get a new token and its lifetime in seconds (the client calls this; a single
        try, which the client retries under its policy).

        Args:
            transport: The client's transport, which sends the token request.
            timeout: Seconds for the request.
        """
        path = self.path
        if self.endpoint == "v1":
            token_key, expiry_key = "accessToken", "expiresIn"
            body = Secret(
                orjson.dumps(
                    {
                        "grantType": "client_credentials",
                        "clientID": self.client_id,
                        "clientSecret": self.client_secret,
                    }
                )
            )
            content_type = "application/json"
        else:
            token_key, expiry_key = "access_token", "expires_in"
            body = Secret(
                urlencode(
                    {
                        "grant_type": "client_credentials",
                        "client_id": self.client_id,
                        "client_secret": self.client_secret,
                    }
                ).encode()
            )
            content_type = "application/x-www-form-urlencoded"
        raw = await transport.send_unauthenticated(
            "POST", path, body, content_type, timeout=timeout
        )
        found = read_token(raw, token_key, expiry_key)
        if isinstance(found, str):
            operation = f"POST {transport.base_path}{path}"
            raise DecodeError(f"{operation}: {found}", operation=operation)
        return found


def read_token(
    raw: Secret[bytes], token_key: str, expiry_key: str
) -> tuple[Secret[str], float | None] | str:
    """The token and its lifetime, or what is wrong with the answer (key names only)."""
    try:
        data: Any = orjson.loads(raw.value)
    except orjson.JSONDecodeError:
        data = None
    token: Secret[Any] = Secret(data.get(token_key) if isinstance(data, dict) else None)
    if token_problem(token.value) is not None:
        return f"no usable {token_key} in the answer, {key_names(raw.value)}"
    expires = data.get(expiry_key)
    lifetime = (
        float(expires)
        if isinstance(expires, (int, float)) and not isinstance(expires, bool)
        else None
    )
    return token, lifetime


class TokenCache:
    """The current bearer token, fetched single-flight and refreshed before expiry."""

    __slots__ = ("_fetch", "_token", "_expires_at", "_inflight", "_clock", "refreshable")

    def __init__(
        self,
        fetch: Fetch | None,
        token: Secret[str] | None,
        *,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._fetch = fetch
        self._clock = time.monotonic if clock is None else clock
        self._token = token
        self._expires_at = float("inf")
        self._inflight: asyncio.Future[Secret[str]] | None = None
        self.refreshable = fetch is not None

    def __repr__(self) -> str:
        return f"<TokenCache refreshable={self.refreshable} has_token={self._token is not None}>"

    def current(self) -> Secret[str] | None:
        """The token, if it can be sent without fetching a new one (the fast path)."""
        token = self._token
        if token is not None and self._clock() < self._expires_at:
            return token
        return None

    async def get(self, timeout: float) -> Secret[str] | None:
        """The token to send now, fetching one if there is none or it is about to expire.

        Every caller that finds the token stale waits for the same fetch and gets its
        token or its exception; each waits at most ``timeout`` seconds (the fetch goes
        on for the others).
        """
        token = self.current()
        if token is not None or self._fetch is None:
            return token  # a static token never expires; None means no auth at all
        inflight = self._inflight
        if inflight is None:
            inflight = self._inflight = asyncio.ensure_future(self._refresh(self._fetch))
            inflight.add_done_callback(_retrieve)
        error: RunaiError
        try:
            return await asyncio.wait_for(asyncio.shield(inflight), timeout)
        except asyncio.TimeoutError:
            error = TransportError(
                f"timed out after {timeout:g} s waiting for a token",
                operation="token",
                timed_out=True,
            )
        raise error

    async def _refresh(self, fetch: Fetch) -> Secret[str]:
        try:
            token, lifetime = await fetch()
            reuse = (
                float("inf")
                if lifetime is None
                else max(MIN_TOKEN_REUSE, lifetime - min(_REFRESH_MARGIN, lifetime / 10))
            )
            self._token, self._expires_at = token, self._clock() + reuse
            return token
        finally:
            self._inflight = None

    def reject(self, token: Secret[str] | None) -> bool:
        """Forget ``token`` after a 401; True when a new one can be fetched."""
        if self._fetch is None:
            return False
        if token is not None and token is self._token:
            self._token = None
        return True


def _retrieve(future: asyncio.Future[Any]) -> None:
    # A fetch whose every waiter timed out: its error is not "never retrieved".
    if not future.cancelled():
        future.exception()


class AuthFlow:
    """Authentication, as one stage of the pipeline: the token each request carries, and
    the one retry with a new token that a 401 is worth (as httpx's auth flows do).

    Every token a client has comes from here: a static ``token=``, or one fetched (by
    ``ClientCredentials`` or an async callable) single-flight, reused until shortly
    before it expires, and fetched again when the server rejects it.
    """

    __slots__ = ("tokens",)

    def __init__(self, tokens: TokenCache) -> None:
        self.tokens = tokens

    def __repr__(self) -> str:
        return f"<AuthFlow refreshable={self.tokens.refreshable}>"

    async def send(
        self, send: Callable[[Secret[str] | None], Awaitable[R]], limit: float, operation: str
    ) -> R:
        """``send(token)``; after a 401 that rejected a token that can be replaced,
        ``send(new token)`` once more, at once. ``limit`` bounds each wait for a token."""
        tokens = self.tokens
        token = tokens.current() or await tokens.get(limit)
        try:
            return await send(token)
        except UnauthorizedError:
            if not tokens.reject(token):
                raise
        log.debug("%s: token rejected, retrying once with a fresh one", operation)
        return await send(await tokens.get(limit))


def auth_flow(
    token: Secret[str] | None,
    auth: Auth | None,
    transport: Transport,
    *,
    timeout: float,
    retry: RetryPolicy,
    budget: RetryBudget | None = None,
    on_retry: OnRetry | None = None,
    telemetry: Telemetry | None = None,
) -> AuthFlow:
    """The one AuthFlow behind whichever of ``token=`` and ``auth=`` the caller used.

    A token request may take ``timeout`` seconds and is retried under ``retry``: every
    waiter shares one fetch and its one sequence of attempts.
    """
    if token is not None and auth is not None:
        raise ValueError("pass either token= or auth=, not both")
    if token is not None:
        problem = token_problem(token.value)
        if problem is not None:
            raise ValueError(f"token {problem}")
        return AuthFlow(TokenCache(None, token))
    if auth is None:
        return AuthFlow(TokenCache(None, None))
    if isinstance(auth, ClientCredentials):
        credentials = auth

        def fetch_credentials() -> Awaitable[tuple[Secret[str], float | None]]:
            return with_retries(
                lambda: credentials._fetch(transport, timeout),
                retry,
                operation=f"POST {transport.base_path}{credentials.path}",
                idempotent=True,
                budget=budget,
                on_retry=on_retry,
            )

        url = transport.base_url + credentials.path
        return AuthFlow(TokenCache(_reported(fetch_credentials, telemetry, url), None))
    if callable(auth):
        factory = auth

        async def fetch_from_callable() -> tuple[Secret[str], float | None]:
            token = Secret(await factory())
            problem = token_problem(token.value)
            if problem is not None:
                raise ValueError(f"the token from the auth callable {problem}")
            return token, None

        return AuthFlow(TokenCache(_reported(fetch_from_callable, telemetry, None), None))
    raise ValueError(
        f"auth must be ClientCredentials or an async callable, not {type(auth).__name__}"
    )


def _reported(fetch: Fetch, telemetry: Telemetry | None, url: str | None) -> Fetch:
    """``fetch``, each call reported to ``telemetry`` (a span, an event, a count)."""
    return fetch if telemetry is None else telemetry.fetching_token(fetch, url=url)
