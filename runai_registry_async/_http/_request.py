"""What a call is, as the pipeline sees it (``Request``), and the client settings that
decide what a call leaves unsaid (``Settings``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

import aiohttp
from attrs import define, frozen

from .._errors import RunaiError
from .._secrets import Secret
from ._deadline import Deadline, checked_timeout
from ._retry import NO_RETRY, USE_CLIENT_DEFAULT, RetryPolicy
from ._transport import Transport

T = TypeVar("T")

#: Turns a whole 2xx body into the result: ``decode(body, operation)``.
Decode = Callable[[bytes, str], T]
#: Opens a 2xx response as a stream: ``open_stream(transport, response, operation)``.
Opener = Callable[[Transport, aiohttp.ClientResponse, str], Awaitable[T]]


@define
class Request(Generic[T]):
    """One call, as the pipeline sees it: what to send and how to treat the answer.
    Built once per call and never changed after (not frozen: a frozen attrs class costs
    a call per field to build, on every request).

    Exactly one of ``decode`` (read the whole body) and ``open_stream`` (hand over the
    response unread) is set. ``on_throttled`` is told of each 429 or 503 this request
    meets, retries included (the crawl's adaptive concurrency listens).
    """

    method: str
    path: str
    operation: str
    timeout: float
    retry: RetryPolicy
    deadline: Deadline | None = None
    decode: Decode[T] | None = None
    open_stream: Opener[T] | None = None
    body: Secret[bytes] | None = None
    cacheable: bool = False
    on_throttled: Callable[[], None] | None = None
    #: The client's method (``list_tags``) and the path as the spec writes it
    #: (``.../{AssetId}/repositories/tags``): what telemetry names the call by.
    name: str = ""
    route: str = ""

    @property
    def idempotent(self) -> bool:
        return self.method != "POST"


@frozen
class Settings:
    """A client's configuration, checked once when it is built, and what it decides for
    each call that does not say otherwise."""

    timeout: float
    retry: RetryPolicy
    max_item_bytes: int
    base_path: str

    def timeout_of(self, timeout: float | None) -> float:
        """A call's timeout: its own, checked, or the client's."""
        return self.timeout if timeout is None else checked_timeout(timeout)

    def policy_of(self, retry: object) -> RetryPolicy:
        """A call's retry policy: its own, none (``None``), or the client's
        (``USE_CLIENT_DEFAULT``, or ``...``, which 0.2 took for it)."""
        if retry is USE_CLIENT_DEFAULT or retry is ...:
            return self.retry
        if retry is None:
            return NO_RETRY
        if not isinstance(retry, RetryPolicy):
            raise ValueError(f"retry must be a RetryPolicy or None, not {type(retry).__name__}")
        return retry

    def operation(self, method: str, path: str, naming: str = "") -> str:
        """What error messages call a request: the full path, base path included, and
        ``naming`` (which repository)."""
        return f"{method} {self.base_path}{path.partition('?')[0]}{naming}"


class Counters:
    """What a client has done, over its life."""

    __slots__ = ("retries", "throttled")

    def __init__(self) -> None:
        self.retries = 0  # requests retried
        self.throttled = 0  # 429 and 503 answers

    def count_retry(self, attempt: int, wait: float, error: RunaiError) -> None:
        self.retries += 1
