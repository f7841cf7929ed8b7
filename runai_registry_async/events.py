"""What a client reports to its event hooks: ``RegistryClient(event_hooks=[hook])``.

A hook is a plain function called with each event, on the event loop, as it happens; it
should be quick (schedule slow work with ``asyncio.create_task``). A hook that raises is
logged and never breaks the request. Events are frozen and carry no secret: URLs have no
user info, and nothing of a header or a body is in them. ``operation`` names the
client's method (``"list_tags"``), or ``"token"`` for a token request.

    def hook(event: Event) -> None:
        if isinstance(event, ResponseReceived):
            print(event.method, event.url, event.status, f"{event.elapsed * 1000:.0f} ms")

    async with RegistryClient(url, token=token, event_hooks=[hook]) as client:
        ...
"""

from __future__ import annotations

from collections.abc import Callable

from attrs import frozen

__all__ = [
    "CrawlProgress",
    "Event",
    "EventHook",
    "RequestFailed",
    "RequestSent",
    "ResponseReceived",
    "RetryScheduled",
    "Throttled",
    "TokenFetched",
]


@frozen(kw_only=True)
class RequestSent:
    """An HTTP request is going out: each try is one, and so is the second send after a
    401 that a new token answers."""

    operation: str
    method: str
    url: str
    #: 1 for the first request of a call, 2 for the next...
    attempt: int


@frozen(kw_only=True)
class ResponseReceived:
    """The status and headers of a request's answer arrived (any status, errors too)."""

    operation: str
    method: str
    url: str
    attempt: int
    status: int
    #: Seconds from sending to the answer's headers.
    elapsed: float


@frozen(kw_only=True)
class RequestFailed:
    """A request got no answer: it could not connect, timed out, or was cancelled."""

    operation: str
    method: str
    url: str
    attempt: int
    #: What went wrong, in a word or two (``"timeout"``, ``"TransportError"``...).
    error: str
    elapsed: float


@frozen(kw_only=True)
class RetryScheduled:
    """A failed try will be tried again after ``wait`` seconds."""

    operation: str
    method: str
    url: str
    #: The try that failed (1 for the first).
    attempt: int
    wait: float
    #: Why, in a few words (``"HTTP 503"``, ``"HTTP 429, Retry-After 2"``, ``"timed out"``).
    reason: str


@frozen(kw_only=True)
class Throttled:
    """The server said "slow down": a 429, or a 503 with ``Retry-After``."""

    operation: str
    method: str
    url: str
    status: int
    #: The ``Retry-After`` it asked for, in seconds, if it said one.
    retry_after: float | None


@frozen(kw_only=True)
class TokenFetched:
    """A new token was fetched (``error`` is None), or fetching one failed."""

    operation: str
    elapsed: float
    error: str | None


@frozen(kw_only=True)
class CrawlProgress:
    """A crawl yielded one more result: its counts so far (see ``CrawlStats``)."""

    registries: int
    repositories_found: int
    repositories_done: int
    tags: int
    errors: int
    requests: int
    elapsed: float


Event = (
    RequestSent
    | ResponseReceived
    | RequestFailed
    | RetryScheduled
    | Throttled
    | TokenFetched
    | CrawlProgress
)
#: Called with each event; what it returns is ignored.
EventHook = Callable[[Event], object]
