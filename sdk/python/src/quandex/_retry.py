"""The retry policy: which failures are retried and how long to wait before the next attempt.

The one retry loop, ``BaseClient._send``, asks this module; both clients run that loop. A stream
is retried only until its response headers arrive, never after.
"""

from __future__ import annotations

import email.utils
import random as _random
import time
from collections.abc import Mapping
from typing import Callable

import httpx

from ._constants import INITIAL_RETRY_DELAY, MAX_RETRY_AFTER, MAX_RETRY_DELAY, RETRY_JITTER, SHOULD_RETRY_HEADER
from ._exceptions import APIError

__all__ = ["parse_retry_after", "retry_delay", "should_retry_error", "should_retry_transport_error"]


def should_retry_error(error: APIError) -> bool:
    """Whether an error answer is worth another attempt."""
    # The server knows best: it sends `x-should-retry: false` where waiting cannot help.
    hint = error.headers.get(SHOULD_RETRY_HEADER, "").strip().lower()
    if hint == "false":
        return False
    if hint == "true":
        return True
    if error.status == 429:
        # Only the per-second limit clears within seconds. A daily quota resets at midnight UTC
        # and `auth_rate_limited` punishes bad keys, so re-sending would only burn attempts.
        # A 429 without a Quandex code (e.g. from a proxy) is treated as a plain rate limit.
        return error.code in (None, "rate_limit_exceeded")
    return error.status == 503


def should_retry_transport_error(exc: httpx.TransportError) -> bool:
    """Whether a failure before any answer arrived is worth another attempt."""
    # A read timeout means the server took the request and is probably still generating:
    # re-sending would run the same expensive generation again. Everything else (refused,
    # reset, DNS, connect/pool/write timeouts) happened before the server could do real work.
    return not isinstance(exc, httpx.ReadTimeout)


def retry_delay(
    retries_done: int,
    headers: Mapping[str, str] | None = None,
    *,
    random: Callable[[], float] = _random.random,
) -> float:
    """Seconds to wait before retry number ``retries_done + 1``.

    ``Retry-After`` wins when present, capped at 60 s. Otherwise exponential backoff from 0.5 s,
    doubling up to 8 s, shortened by up to 25% of jitter so clients that failed together do not
    come back together.
    """
    retry_after = parse_retry_after(headers.get("retry-after") if headers is not None else None)
    if retry_after is not None:
        return min(retry_after, MAX_RETRY_AFTER)
    backoff = min(INITIAL_RETRY_DELAY * 2.0**retries_done, MAX_RETRY_DELAY)
    return backoff * (1.0 - RETRY_JITTER * random())


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` as seconds: the integer form Quandex sends, or an HTTP date. None if invalid."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - time.time()
        return max(seconds, 0.0)
    # float() accepts "nan" and "inf"; neither is a wait time.
    if seconds != seconds or seconds < 0 or seconds == float("inf"):
        return None
    return seconds
