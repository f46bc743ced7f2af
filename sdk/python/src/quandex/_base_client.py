"""What the sync and async clients share: configuration, request building, error decoding.

Everything here is free of I/O; ``_client.py`` adds the two transports and their retry loops.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Union
from urllib.parse import quote

import httpx

from ._constants import API_KEY_ENV, BASE_URL_ENV, DEFAULT_BASE_URL, DEFAULT_TIMEOUT
from ._exceptions import APIConnectionError, APIError, APITimeoutError, QuandexError, make_api_error
from ._version import __version__

__all__ = ["BaseClient", "RequestSpec", "TimeoutTypes"]

log = logging.getLogger("quandex")

TimeoutTypes = Union[float, httpx.Timeout]
"""Seconds for every phase, or an ``httpx.Timeout`` for each phase apart.
``httpx.Timeout(None)`` disables timeouts; ``None`` as an argument means "the client default"."""


@dataclass(frozen=True)
class RequestSpec:
    """One logical request; the retry loop may send it several times."""

    method: str
    path: str
    body: Optional[Dict[str, Any]]
    max_retries: int
    timeout: httpx.Timeout
    stream: bool = False


class BaseClient:
    api_key: str
    base_url: str
    """Up to and including ``/v1``, without a trailing slash."""
    timeout: httpx.Timeout
    max_retries: int
    stream_read_timeout: Optional[float]

    def __init__(
        self,
        *,
        api_key: Optional[str],
        base_url: Optional[str],
        timeout: Optional[TimeoutTypes],
        max_retries: int,
        stream_read_timeout: Optional[float],
        default_headers: Optional[Mapping[str, str]],
    ) -> None:
        api_key = api_key if api_key is not None else os.environ.get(API_KEY_ENV)
        if not api_key:
            raise QuandexError(f"No API key: pass api_key= or set the {API_KEY_ENV} environment variable.")
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        self.api_key = api_key
        self.base_url = (base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL).rstrip("/")
        self.timeout = DEFAULT_TIMEOUT if timeout is None else httpx.Timeout(timeout)
        self.max_retries = max_retries
        self.stream_read_timeout = stream_read_timeout
        self._default_headers = dict(default_headers or {})

    def _headers(self) -> Dict[str, str]:
        # Sent per request rather than set on the httpx client, so a caller's own http_client works.
        return {
            "Authorization": f"Bearer {self.api_key}",
            "Accept": "application/json",
            "User-Agent": f"quandex-python/{__version__}",
            **self._default_headers,
        }

    def _url(self, path: str) -> str:
        return self.base_url + path

    @staticmethod
    def _model_path(model: str, action: str = "") -> str:
        # Model ids may contain "/" or "%"; escape everything so the id stays one path segment.
        return f"/models/{quote(model, safe='')}{action}"

    def _spec(
        self,
        method: str,
        path: str,
        body: Optional[Dict[str, Any]] = None,
        *,
        max_retries: Optional[int] = None,
        timeout: Optional[TimeoutTypes] = None,
        stream: bool = False,
        stream_read_timeout: Optional[float] = None,
    ) -> RequestSpec:
        base = self.timeout if timeout is None else httpx.Timeout(timeout)
        if stream:
            # httpx applies the read timeout to each socket read, i.e. to each chunk here: a
            # stalled stream then raises instead of hanging. Connect/write/pool keep the
            # caller's values; the per-chunk read timeout replaces a whole-answer one.
            read = stream_read_timeout if stream_read_timeout is not None else self.stream_read_timeout
            base = httpx.Timeout(connect=base.connect, read=read, write=base.write, pool=base.pool)
        retries = self.max_retries if max_retries is None else max_retries
        if retries < 0:
            raise ValueError("max_retries must be >= 0")
        return RequestSpec(method, path, body, retries, base, stream)

    def _log_retry(self, spec: RequestSpec, delay: float, reason: object) -> None:
        log.info("Retrying %s %s in %.2f s: %s", spec.method, spec.path, delay, reason)


def generate_body(
    *,
    model: str,
    prompt: str,
    stream: bool,
    temperature: Optional[float],
    max_tokens: Optional[int],
    metal_optimize: Optional[bool],
    top_p: Optional[float],
    top_k: Optional[int],
    stop: Union[str, List[str], None],
    seed: Optional[int],
    repeat_penalty: Optional[float],
    ignore_eos: Optional[bool],
) -> Dict[str, Any]:
    """The JSON body of ``POST /v1/generate``. None means "server default" and is left out,
    because the server rejects unknown fields and validates the types of the ones it gets."""
    optional: Dict[str, Any] = {
        "temperature": temperature,
        "max_tokens": max_tokens,
        "metal_optimize": metal_optimize,
        "top_p": top_p,
        "top_k": top_k,
        "stop": stop,
        "seed": seed,
        "repeat_penalty": repeat_penalty,
        "ignore_eos": ignore_eos,
    }
    body: Dict[str, Any] = {"model": model, "prompt": prompt}
    body.update((key, value) for key, value in optional.items() if value is not None)
    if stream:
        body["stream"] = True
    return body


def decode_json(response: httpx.Response) -> Any:
    """The JSON of a successful answer, or a QuandexError naming what came instead."""
    try:
        return response.json()
    except ValueError:
        raise QuandexError(
            f"Unexpected response from the server: {response.request.method} {response.request.url} "
            f"answered {response.status_code} with a body that is not JSON: {response.text[:200]!r}"
        ) from None


def error_from_response(response: httpx.Response) -> APIError:
    """The typed error for a non-2xx answer whose body has been read."""
    try:
        body: Any = json.loads(response.content) if response.content else None
    except ValueError:
        body = response.text
    return make_api_error(response.status_code, body, response.headers)


def connection_error(exc: httpx.TransportError, request: Optional[httpx.Request]) -> APIConnectionError:
    if isinstance(exc, httpx.TimeoutException):
        return APITimeoutError(f"Request timed out ({type(exc).__name__}).", request=request)
    return APIConnectionError(f"Connection error: {str(exc) or type(exc).__name__}", request=request)
