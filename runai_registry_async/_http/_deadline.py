"""A call's deadline, and the one way to fit an attempt's timeout into what is left."""

from __future__ import annotations

import functools
import math
import time

import aiohttp

from .._errors import DeadlineExceeded, RunaiError


class Deadline:
    """When a whole call must be over: token fetch, every attempt, every wait."""

    __slots__ = ("seconds", "expires_at")

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expires_at = time.monotonic() + seconds

    def left(self) -> float:
        return self.expires_at - time.monotonic()

    def spent(self, operation: str) -> DeadlineExceeded:
        """The error of a try that found no time left to start (the retry loop that
        made the tries sets ``attempts`` and ``last_error``)."""
        return DeadlineExceeded(
            f"{operation}: deadline of {self.seconds:g} s passed before the next attempt "
            "could start",
            operation=operation,
        )

    def exceeded(
        self, operation: str, attempts: int, last_error: RunaiError | None
    ) -> DeadlineExceeded:
        tries = f"{attempts} attempt{'s' if attempts != 1 else ''}"
        last = f"; the last failed with: {last_error}" if last_error is not None else ""
        return DeadlineExceeded(
            f"{operation}: deadline of {self.seconds:g} s passed after {tries}{last}",
            operation=operation,
            attempts=attempts,
            last_error=last_error,
        )


def checked_timeout(timeout: float, name: str = "timeout") -> float:
    """``timeout`` as a float, if it is a finite positive number of seconds."""
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, (int, float))
        or not 0 < timeout < math.inf
    ):
        raise ValueError(f"{name} must be a finite positive number of seconds, got {timeout!r}")
    return float(timeout)


@functools.cache
def attempt_timeout(seconds: float, stream: bool) -> aiohttp.ClientTimeout:
    """aiohttp's timeout for one attempt of ``seconds``: connect and total, or for a
    stream (which may take long in total) connect and each wait for data."""
    if stream:
        return aiohttp.ClientTimeout(total=None, sock_connect=seconds, sock_read=seconds)
    return aiohttp.ClientTimeout(total=seconds, sock_connect=seconds)


def within(
    deadline: Deadline | None, seconds: float, timeout: aiohttp.ClientTimeout, operation: str
) -> tuple[float, aiohttp.ClientTimeout]:
    """``seconds`` and ``timeout`` for one attempt, cut to what is left of ``deadline``
    if that is less; ``DeadlineExceeded`` if nothing is left."""
    if deadline is None:
        return seconds, timeout
    left = deadline.left()
    if left >= seconds:
        return seconds, timeout
    if left <= 0:
        raise deadline.spent(operation)
    return left, aiohttp.ClientTimeout(
        total=None if timeout.total is None else left,
        sock_connect=left,
        sock_read=None if timeout.sock_read is None else min(timeout.sock_read, left),
    )
