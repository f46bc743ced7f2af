"""Everything the sync and async clients share, written once: configuration, request building, the
retry loop, decoding, error mapping and each public method's logic.

Each public method ``x()`` of ``Quandex`` and ``QuandexClient`` runs the flow ``BaseClient._x()``
(see ``_flow.py``): the flows here decide what to send and what the answers mean, and only the
clients' ``_run`` does the I/O, blocking or awaited.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Callable, TypeVar, Union, cast
from urllib.parse import quote

import httpx

from ._constants import API_KEY_ENV, BASE_URL_ENV, DEFAULT_BASE_URL, DEFAULT_TIMEOUT
from ._exceptions import APIError, APITimeoutError, QuandexError, make_connection_error, make_response_error
from ._flow import Flow, ReadBody, Send, Sleep
from ._retry import retry_delay, should_retry_error, should_retry_transport_error
from ._version import __version__
from .types import GenerateResponse, ModelEntry, ModelList, ModelStatsDict, StatsResponse

__all__ = ["BaseClient", "RequestSpec", "TimeoutTypes"]

log = logging.getLogger("quandex")

T = TypeVar("T")

TimeoutTypes = Union[float, httpx.Timeout]
"""Seconds for every phase, or an ``httpx.Timeout`` for each phase apart.
``httpx.Timeout(None)`` disables timeouts; ``None`` as an argument means "the client default"."""


@dataclass(frozen=True)
class RequestSpec:
    """One logical request; the retry loop may send it several times."""

    method: str
    path: str
    body: dict[str, Any] | None
    max_retries: int
    timeout: httpx.Timeout
    stream: bool = False


class BaseClient:
    api_key: str
    base_url: str
    """Up to and including ``/v1``, without a trailing slash."""
    timeout: httpx.Timeout
    max_retries: int
    stream_read_timeout: float | None
    _http: httpx.Client | httpx.AsyncClient
    """Set by the subclass; used here only to build requests, which needs no I/O."""

    def __init__(
        self,
        *,
        api_key: str | None,
        base_url: str | None,
        timeout: TimeoutTypes | None,
        max_retries: int,
        stream_read_timeout: float | None,
        default_headers: Mapping[str, str] | None,
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

    # -- building requests ----------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        # Sent per request rather than set on the httpx client, so a caller's own http_client works.
        return {
            "Authorization": f"Bearer {self.api_key}",
            "Accept": "application/json",
            "User-Agent": f"quandex-python/{__version__}",
            **self._default_headers,
        }

    @staticmethod
    def _model_path(model: str, action: str = "") -> str:
        # Model ids may contain "/" or "%"; escape everything so the id stays one path segment.
        return f"/models/{quote(model, safe='')}{action}"

    def _spec(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        max_retries: int | None = None,
        timeout: TimeoutTypes | None = None,
        stream: bool = False,
        stream_read_timeout: float | None = None,
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

    def _generate_spec(
        self,
        *,
        stream: bool,
        model: str,
        prompt: str,
        temperature: float | None,
        max_tokens: int | None,
        metal_optimize: bool | None,
        top_p: float | None,
        top_k: int | None,
        stop: str | list[str] | None,
        seed: int | None,
        repeat_penalty: float | None,
        ignore_eos: bool | None,
        max_retries: int | None,
        timeout: TimeoutTypes | None,
        stream_read_timeout: float | None = None,
    ) -> RequestSpec:
        # None means "server default" and is left out: the server rejects unknown fields and
        # validates the types of the ones it gets.
        optional: dict[str, Any] = {
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
        body: dict[str, Any] = {"model": model, "prompt": prompt}
        body.update((key, value) for key, value in optional.items() if value is not None)
        if stream:
            body["stream"] = True
        return self._spec(
            "POST", "/generate", body, max_retries=max_retries, timeout=timeout, stream=stream, stream_read_timeout=stream_read_timeout
        )

    # -- sending: the retry loop ----------------------------------------------------------------

    def _send(self, spec: RequestSpec) -> Flow[httpx.Response]:
        """Sends ``spec`` with retries; returns the 2xx response, still open if streaming."""
        retries_done = 0
        while True:
            request = self._http.build_request(
                spec.method, self.base_url + spec.path, json=spec.body, headers=self._headers(), timeout=spec.timeout
            )
            failure: Exception
            try:
                response: httpx.Response = yield Send(request, spec.stream)
            except httpx.TransportError as exc:
                if retries_done >= spec.max_retries or not should_retry_transport_error(exc):
                    raise make_connection_error(exc, request) from exc
                failure, delay = exc, retry_delay(retries_done)
            else:
                if response.is_success:
                    return response
                error = yield from _read_error(response, request)
                if retries_done >= spec.max_retries or not should_retry_error(error):
                    raise error
                failure, delay = error, retry_delay(retries_done, error.headers)
            log.info("Retrying %s %s in %.2f s: %s", spec.method, spec.path, delay, failure)
            yield Sleep(delay)
            retries_done += 1

    def _request(self, spec: RequestSpec, parse: Callable[[Any], T]) -> Flow[T]:
        response = yield from self._send(spec)
        try:
            data = response.json()
        except ValueError:
            raise QuandexError(
                f"Unexpected response from the server: {response.request.method} {response.request.url} "
                f"answered {response.status_code} with a body that is not JSON: {response.text[:200]!r}"
            ) from None
        return parse(data)

    # -- the public methods' logic --------------------------------------------------------------

    def _generate(self, spec: RequestSpec) -> Flow[GenerateResponse]:
        return (yield from self._request(spec, GenerateResponse.from_json))

    def _list_models(self, max_retries: int | None, timeout: TimeoutTypes | None) -> Flow[ModelList]:
        spec = self._spec("GET", "/models", max_retries=max_retries, timeout=timeout)
        return (yield from self._request(spec, ModelList.from_json))

    def _get_model(self, model: str, max_retries: int | None = None, timeout: TimeoutTypes | None = None) -> Flow[ModelEntry]:
        spec = self._spec("GET", self._model_path(model), max_retries=max_retries, timeout=timeout)
        return (yield from self._request(spec, ModelEntry.from_json))

    def _load_model(self, model: str, max_retries: int | None = None, timeout: TimeoutTypes | None = None) -> Flow[ModelEntry]:
        spec = self._spec("POST", self._model_path(model, "/load"), max_retries=max_retries, timeout=timeout)
        return (yield from self._request(spec, ModelEntry.from_json))

    def _unload_model(self, model: str, max_retries: int | None, timeout: TimeoutTypes | None) -> Flow[ModelEntry]:
        spec = self._spec("POST", self._model_path(model, "/unload"), max_retries=max_retries, timeout=timeout)
        return (yield from self._request(spec, ModelEntry.from_json))

    def _get_stats(self, max_retries: int | None, timeout: TimeoutTypes | None) -> Flow[StatsResponse]:
        spec = self._spec("GET", "/stats", max_retries=max_retries, timeout=timeout)
        return (yield from self._request(spec, StatsResponse.from_json))

    def _get_model_stats(self, model: str, max_retries: int | None, timeout: TimeoutTypes | None) -> Flow[ModelStatsDict]:
        # The server resolves an alias; its answer carries the canonical id the stats are keyed by.
        entry = yield from self._get_model(model, max_retries, timeout)
        stats = yield from self._request(self._spec("GET", "/stats", max_retries=max_retries, timeout=timeout), _json_value)
        joined: dict[str, Any] = dict(entry.to_dict())
        models = stats.get("models") if isinstance(stats, dict) else None
        model_stats = models.get(entry.id) if isinstance(models, dict) else None
        if isinstance(model_stats, dict):
            for key, value in model_stats.items():
                joined.setdefault(key, value)  # on a clash the model entry wins
        return cast(ModelStatsDict, joined)

    def _get_usage(self, max_retries: int | None, timeout: TimeoutTypes | None) -> Flow[dict[str, Any]]:
        spec = self._spec("GET", "/usage", max_retries=max_retries, timeout=timeout)
        # Handed over as the server sent it; the shape is the server's to evolve.
        return cast("dict[str, Any]", (yield from self._request(spec, _json_value)))

    # -- admin: keys (scope ``admin``) --------------------------------------------------------
    # Key records are handed over as the server sends them (``id``, ``prefix``, ``scopes``,
    # ``expires_at``, ``last_used_at``, ``previous_key_expires_at``...); ``key`` only on create and rotate.

    def _list_keys(self, max_retries: int | None, timeout: TimeoutTypes | None) -> Flow[list[dict[str, Any]]]:
        spec = self._spec("GET", "/admin/keys", max_retries=max_retries, timeout=timeout)
        listing = cast("dict[str, Any]", (yield from self._request(spec, _json_value)))
        return cast("list[dict[str, Any]]", listing["data"])

    def _create_key(self, body: dict[str, Any], max_retries: int | None, timeout: TimeoutTypes | None) -> Flow[dict[str, Any]]:
        # Never retried: a lost answer would leave a key whose secret nobody saw.
        spec = self._spec("POST", "/admin/keys", body, max_retries=0 if max_retries is None else max_retries, timeout=timeout)
        return cast("dict[str, Any]", (yield from self._request(spec, _json_value)))

    def _rotate_key(
        self, key_id: str, grace_seconds: int | None, max_retries: int | None, timeout: TimeoutTypes | None
    ) -> Flow[dict[str, Any]]:
        body = {} if grace_seconds is None else {"grace_seconds": grace_seconds}
        # Never retried: a second rotation would end the grace of the secret clients still use.
        retries = 0 if max_retries is None else max_retries
        spec = self._spec("POST", f"/admin/keys/{quote(key_id, safe='')}/rotate", body, max_retries=retries, timeout=timeout)
        return cast("dict[str, Any]", (yield from self._request(spec, _json_value)))

    def _revoke_key(self, key_id: str, max_retries: int | None, timeout: TimeoutTypes | None) -> Flow[dict[str, Any]]:
        spec = self._spec("DELETE", f"/admin/keys/{quote(key_id, safe='')}", max_retries=max_retries, timeout=timeout)
        return cast("dict[str, Any]", (yield from self._request(spec, _json_value)))

    def _wait_until_ready(self, model: str, timeout: float, poll_interval: float) -> Flow[ModelEntry]:
        deadline = time.monotonic() + timeout
        entry = yield from self._get_model(model)
        if entry.status in ("unloaded", "error"):
            entry = yield from self._load_model(model)
        while entry.status != "ready":
            if entry.status == "error":
                raise QuandexError(f"Model '{model}' failed to load: {entry.error or 'no reason given'}")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise APITimeoutError(f"Model '{model}' was not ready after {timeout:g} s (status '{entry.status}').")
            yield Sleep(min(poll_interval, remaining))
            entry = yield from self._get_model(model)
            if entry.status == "unloaded":  # evicted or unloaded by someone else meanwhile
                entry = yield from self._load_model(model)
        return entry


def _read_error(response: httpx.Response, request: httpx.Request) -> Flow[APIError]:
    """The typed error for a non-2xx answer, once its body is read."""
    try:
        yield ReadBody(response)
    except httpx.TransportError as exc:
        raise make_connection_error(exc, request) from exc
    return make_response_error(response)


def _json_value(data: Any) -> Any:
    """For answers handed to the caller as plain JSON."""
    return data
