"""``QuandexClient`` (async) and ``Quandex``, its synchronous twin with the same methods.

Why the two are this thin: every method's logic (requests, retries, decoding, error mapping, the
model-stats join, the wait-for-ready polling) is written once in ``BaseClient`` as a flow, a
generator that yields the I/O it needs (``_flow.py``). Each class here only runs those flows, with
``httpx.AsyncClient`` or ``httpx.Client``, and spells out its public signatures.

The alternative, generating the sync file from the async one with unasync, writes nothing twice
by hand, but it checks in a generated copy of the whole client, which needs a build step, renaming
rules and a drift test, and doubles the code to read and type-check. With flows, what exists twice
is each public signature with a one-line body (test_sync_client.py keeps the signatures the same)
and the short loop that performs a flow's steps.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Mapping
from typing import Any, Callable

import httpx

from ._base_client import BaseClient, TimeoutTypes
from ._constants import DEFAULT_MAX_RETRIES, DEFAULT_POLL_INTERVAL, DEFAULT_READY_TIMEOUT, DEFAULT_STREAM_READ_TIMEOUT
from ._flow import Flow, T, arun_flow, run_flow
from ._streaming import AsyncStream, Stream, aread_chunks, read_chunks
from .types import GenerateChunk, GenerateResponse, ModelEntry, ModelList, ModelStatsDict, StatsResponse

__all__ = ["Quandex", "QuandexClient"]


async def _async_sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


class QuandexClient(BaseClient):
    """Async client for the Quandex JAN API.

    ``async with QuandexClient() as client:`` closes its connections on exit; without ``with``,
    call ``await client.close()``. A caller-supplied ``http_client`` is left open: its owner
    closes it.
    """

    _http: httpx.AsyncClient

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: TimeoutTypes | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        stream_read_timeout: float | None = DEFAULT_STREAM_READ_TIMEOUT,
        http_client: httpx.AsyncClient | None = None,
        default_headers: Mapping[str, str] | None = None,
        _sleep: Callable[[float], Awaitable[Any]] | None = None,
    ) -> None:
        """
        :param api_key: Sent as ``Authorization: Bearer``. Defaults to ``$QUANDEX_API_KEY``.
        :param base_url: Server URL including ``/v1``. Defaults to ``$QUANDEX_BASE_URL``, then
            ``http://localhost:8000/v1``.
        :param timeout: Per-phase timeout in seconds, or an ``httpx.Timeout``. Defaults to 600 s
            (connect 5 s): a non-streaming generate answers only when the whole text is done.
        :param max_retries: Retries after 429 ``rate_limit_exceeded``, 503 and connection errors.
            Defaults to 2.
        :param stream_read_timeout: Longest wait for the next chunk of a stream, in seconds.
            Defaults to 60 s. None waits forever.
        :param http_client: An ``httpx.AsyncClient`` to send requests with (proxies, TLS, ...).
        :param default_headers: Extra headers sent with every request.
        :param _sleep: Replaces ``asyncio.sleep`` between retries; for tests.
        """
        if http_client is not None and not isinstance(http_client, httpx.AsyncClient):
            raise TypeError("QuandexClient needs an httpx.AsyncClient; use Quandex with an httpx.Client")
        super().__init__(
            api_key=api_key,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            stream_read_timeout=stream_read_timeout,
            default_headers=default_headers,
        )
        self._owns_http = http_client is None
        self._http = http_client if http_client is not None else httpx.AsyncClient()
        self._sleep: Callable[[float], Awaitable[Any]] = _sleep if _sleep is not None else _async_sleep

    async def _run(self, flow: Flow[T]) -> T:
        return await arun_flow(flow, self._http, self._sleep)

    # -- lifecycle ------------------------------------------------------------------------------

    async def close(self) -> None:
        """Closes the connection pool (unless ``http_client`` was passed in)."""
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> QuandexClient:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        await self.close()

    # -- generation -----------------------------------------------------------------------------

    async def generate(
        self,
        *,
        model: str,
        prompt: str,
        temperature: float | None = None,
        max_tokens: int | None = None,
        metal_optimize: bool | None = None,
        top_p: float | None = None,
        top_k: int | None = None,
        stop: str | list[str] | None = None,
        seed: int | None = None,
        repeat_penalty: float | None = None,
        ignore_eos: bool | None = None,
        max_retries: int | None = None,
        timeout: TimeoutTypes | None = None,
    ) -> GenerateResponse:
        """Generates text (``POST /v1/generate``). Parameters left as None use the server default."""
        spec = self._generate_spec(
            stream=False, model=model, prompt=prompt, temperature=temperature, max_tokens=max_tokens,
            metal_optimize=metal_optimize, top_p=top_p, top_k=top_k, stop=stop, seed=seed,
            repeat_penalty=repeat_penalty, ignore_eos=ignore_eos, max_retries=max_retries, timeout=timeout,
        )  # fmt: skip
        return await self._run(self._generate(spec))

    def stream_generate(
        self,
        *,
        model: str,
        prompt: str,
        temperature: float | None = None,
        max_tokens: int | None = None,
        metal_optimize: bool | None = None,
        top_p: float | None = None,
        top_k: int | None = None,
        stop: str | list[str] | None = None,
        seed: int | None = None,
        repeat_penalty: float | None = None,
        ignore_eos: bool | None = None,
        max_retries: int | None = None,
        timeout: TimeoutTypes | None = None,
        stream_read_timeout: float | None = None,
    ) -> AsyncStream[GenerateChunk]:
        """Streams a generation: ``async for chunk in client.stream_generate(...)``.

        Not a coroutine: the request goes out on the first iteration, and errors raise there.
        Each chunk has ``.text`` and ``.finish_reason``; the last also ``.usage`` and
        ``.metal_stats``. Retries stop once the response headers arrive. Leaving the loop
        early closes the connection, which stops the generation; ``async with`` or
        ``await stream.aclose()`` does so immediately rather than on the next loop turn.
        """
        spec = self._generate_spec(
            stream=True, model=model, prompt=prompt, temperature=temperature, max_tokens=max_tokens,
            metal_optimize=metal_optimize, top_p=top_p, top_k=top_k, stop=stop, seed=seed,
            repeat_penalty=repeat_penalty, ignore_eos=ignore_eos, max_retries=max_retries, timeout=timeout,
            stream_read_timeout=stream_read_timeout,
        )  # fmt: skip
        # A callable, not a coroutine made now: one never iterated would warn "never awaited".
        return AsyncStream(aread_chunks(lambda: self._run(self._send(spec))))

    # -- models and stats -----------------------------------------------------------------------

    async def list_models(self, *, max_retries: int | None = None, timeout: TimeoutTypes | None = None) -> ModelList:
        """``GET /v1/models``."""
        return await self._run(self._list_models(max_retries, timeout))

    async def get_model(self, model: str, *, max_retries: int | None = None, timeout: TimeoutTypes | None = None) -> ModelEntry:
        """``GET /v1/models/{model}``; ``model`` may be an alias."""
        return await self._run(self._get_model(model, max_retries, timeout))

    async def load_model(self, model: str, *, max_retries: int | None = None, timeout: TimeoutTypes | None = None) -> ModelEntry:
        """Starts loading a model (``POST /v1/models/{model}/load``, scope ``generate``).
        Returns at once with status ``loading`` or ``ready``; see ``wait_until_ready``."""
        return await self._run(self._load_model(model, max_retries, timeout))

    async def unload_model(self, model: str, *, max_retries: int | None = None, timeout: TimeoutTypes | None = None) -> ModelEntry:
        """Unloads a model (``POST /v1/models/{model}/unload``, scope ``admin``)."""
        return await self._run(self._unload_model(model, max_retries, timeout))

    async def get_stats(self, *, max_retries: int | None = None, timeout: TimeoutTypes | None = None) -> StatsResponse:
        """``GET /v1/stats``: device, engine, server and per-model traffic."""
        return await self._run(self._get_stats(max_retries, timeout))

    async def get_model_stats(self, model: str, *, max_retries: int | None = None, timeout: TimeoutTypes | None = None) -> ModelStatsDict:
        """One model's ``/v1/models`` entry (``memory_usage``, ``status``, ...) joined with its
        ``/v1/stats`` entry (``requests_per_second``, ``average_latency``, ...). Aliases work."""
        return await self._run(self._get_model_stats(model, max_retries, timeout))

    async def get_usage(self, *, max_retries: int | None = None, timeout: TimeoutTypes | None = None) -> dict[str, Any]:
        """``GET /v1/usage``: this key's limits and consumption, as the server sends them."""
        return await self._run(self._get_usage(max_retries, timeout))

    # -- admin: keys (scope ``admin``) ---------------------------------------------------------

    async def list_keys(self, *, max_retries: int | None = None, timeout: TimeoutTypes | None = None) -> list[dict[str, Any]]:
        """``GET /v1/admin/keys``: every key, never a secret."""
        return await self._run(self._list_keys(max_retries, timeout))

    async def create_key(
        self,
        name: str,
        *,
        scopes: list[str] | None = None,
        expires_at: str | None = None,
        max_retries: int | None = None,
        timeout: TimeoutTypes | None = None,
    ) -> dict[str, Any]:
        """``POST /v1/admin/keys``. The answer's ``key`` is the secret, shown this once.
        ``expires_at`` (ISO 8601) makes the key stop working by itself. Not retried unless asked."""
        body: dict[str, Any] = {
            "name": name,
            **({"scopes": scopes} if scopes is not None else {}),
            **({"expires_at": expires_at} if expires_at is not None else {}),
        }
        return await self._run(self._create_key(body, max_retries, timeout))

    async def rotate_key(
        self, key_id: str, *, grace_seconds: int | None = None, max_retries: int | None = None, timeout: TimeoutTypes | None = None
    ) -> dict[str, Any]:
        """``POST /v1/admin/keys/{id}/rotate``: a new secret (the answer's ``key``); the old one keeps
        working for ``grace_seconds`` (the server's default: 3600; 0 ends it at once). Not retried unless asked."""
        return await self._run(self._rotate_key(key_id, grace_seconds, max_retries, timeout))

    async def revoke_key(self, key_id: str, *, max_retries: int | None = None, timeout: TimeoutTypes | None = None) -> dict[str, Any]:
        """``DELETE /v1/admin/keys/{id}``: the key stops working at once."""
        return await self._run(self._revoke_key(key_id, max_retries, timeout))

    async def wait_until_ready(
        self, model: str, timeout: float = DEFAULT_READY_TIMEOUT, *, poll_interval: float = DEFAULT_POLL_INTERVAL
    ) -> ModelEntry:
        """Loads ``model`` if it is ``unloaded`` (or in ``error``, to try again) and polls until it
        is ``ready``.

        :raises QuandexError: the load failed (status ``error``); the message has the reason.
        :raises APITimeoutError: not ready within ``timeout`` seconds.
        """
        return await self._run(self._wait_until_ready(model, timeout, poll_interval))


class Quandex(BaseClient):
    """Synchronous twin of ``QuandexClient``: the same methods, without ``await``.

    ``with Quandex() as client:`` closes its connections on exit; otherwise call
    ``client.close()``. A caller-supplied ``http_client`` is left open.
    """

    _http: httpx.Client

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: TimeoutTypes | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        stream_read_timeout: float | None = DEFAULT_STREAM_READ_TIMEOUT,
        http_client: httpx.Client | None = None,
        default_headers: Mapping[str, str] | None = None,
        _sleep: Callable[[float], Any] | None = None,
    ) -> None:
        """Parameters as for ``QuandexClient``; ``http_client`` is an ``httpx.Client``."""
        if http_client is not None and not isinstance(http_client, httpx.Client):
            raise TypeError("Quandex needs an httpx.Client; use QuandexClient with an httpx.AsyncClient")
        super().__init__(
            api_key=api_key,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            stream_read_timeout=stream_read_timeout,
            default_headers=default_headers,
        )
        self._owns_http = http_client is None
        self._http = http_client if http_client is not None else httpx.Client()
        self._sleep: Callable[[float], Any] = _sleep if _sleep is not None else time.sleep

    def _run(self, flow: Flow[T]) -> T:
        return run_flow(flow, self._http, self._sleep)

    def close(self) -> None:
        """Closes the connection pool (unless ``http_client`` was passed in)."""
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Quandex:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        self.close()

    def generate(
        self,
        *,
        model: str,
        prompt: str,
        temperature: float | None = None,
        max_tokens: int | None = None,
        metal_optimize: bool | None = None,
        top_p: float | None = None,
        top_k: int | None = None,
        stop: str | list[str] | None = None,
        seed: int | None = None,
        repeat_penalty: float | None = None,
        ignore_eos: bool | None = None,
        max_retries: int | None = None,
        timeout: TimeoutTypes | None = None,
    ) -> GenerateResponse:
        """Generates text (``POST /v1/generate``). Parameters left as None use the server default."""
        spec = self._generate_spec(
            stream=False, model=model, prompt=prompt, temperature=temperature, max_tokens=max_tokens,
            metal_optimize=metal_optimize, top_p=top_p, top_k=top_k, stop=stop, seed=seed,
            repeat_penalty=repeat_penalty, ignore_eos=ignore_eos, max_retries=max_retries, timeout=timeout,
        )  # fmt: skip
        return self._run(self._generate(spec))

    def stream_generate(
        self,
        *,
        model: str,
        prompt: str,
        temperature: float | None = None,
        max_tokens: int | None = None,
        metal_optimize: bool | None = None,
        top_p: float | None = None,
        top_k: int | None = None,
        stop: str | list[str] | None = None,
        seed: int | None = None,
        repeat_penalty: float | None = None,
        ignore_eos: bool | None = None,
        max_retries: int | None = None,
        timeout: TimeoutTypes | None = None,
        stream_read_timeout: float | None = None,
    ) -> Stream[GenerateChunk]:
        """Streams a generation: ``for chunk in client.stream_generate(...)``. The request goes out
        on the first iteration; leaving the loop closes the connection and stops the generation."""
        spec = self._generate_spec(
            stream=True, model=model, prompt=prompt, temperature=temperature, max_tokens=max_tokens,
            metal_optimize=metal_optimize, top_p=top_p, top_k=top_k, stop=stop, seed=seed,
            repeat_penalty=repeat_penalty, ignore_eos=ignore_eos, max_retries=max_retries, timeout=timeout,
            stream_read_timeout=stream_read_timeout,
        )  # fmt: skip
        return Stream(read_chunks(lambda: self._run(self._send(spec))))

    def list_models(self, *, max_retries: int | None = None, timeout: TimeoutTypes | None = None) -> ModelList:
        """``GET /v1/models``."""
        return self._run(self._list_models(max_retries, timeout))

    def get_model(self, model: str, *, max_retries: int | None = None, timeout: TimeoutTypes | None = None) -> ModelEntry:
        """``GET /v1/models/{model}``; ``model`` may be an alias."""
        return self._run(self._get_model(model, max_retries, timeout))

    def load_model(self, model: str, *, max_retries: int | None = None, timeout: TimeoutTypes | None = None) -> ModelEntry:
        """Starts loading a model (``POST /v1/models/{model}/load``, scope ``generate``)."""
        return self._run(self._load_model(model, max_retries, timeout))

    def unload_model(self, model: str, *, max_retries: int | None = None, timeout: TimeoutTypes | None = None) -> ModelEntry:
        """Unloads a model (``POST /v1/models/{model}/unload``, scope ``admin``)."""
        return self._run(self._unload_model(model, max_retries, timeout))

    def get_stats(self, *, max_retries: int | None = None, timeout: TimeoutTypes | None = None) -> StatsResponse:
        """``GET /v1/stats``: device, engine, server and per-model traffic."""
        return self._run(self._get_stats(max_retries, timeout))

    def get_model_stats(self, model: str, *, max_retries: int | None = None, timeout: TimeoutTypes | None = None) -> ModelStatsDict:
        """One model's ``/v1/models`` entry joined with its ``/v1/stats`` entry. Aliases work."""
        return self._run(self._get_model_stats(model, max_retries, timeout))

    def get_usage(self, *, max_retries: int | None = None, timeout: TimeoutTypes | None = None) -> dict[str, Any]:
        """``GET /v1/usage``: this key's limits and consumption, as the server sends them."""
        return self._run(self._get_usage(max_retries, timeout))

    # -- admin: keys (scope ``admin``) ---------------------------------------------------------

    def list_keys(self, *, max_retries: int | None = None, timeout: TimeoutTypes | None = None) -> list[dict[str, Any]]:
        """``GET /v1/admin/keys``: every key, never a secret."""
        return self._run(self._list_keys(max_retries, timeout))

    def create_key(
        self,
        name: str,
        *,
        scopes: list[str] | None = None,
        expires_at: str | None = None,
        max_retries: int | None = None,
        timeout: TimeoutTypes | None = None,
    ) -> dict[str, Any]:
        """``POST /v1/admin/keys``. The answer's ``key`` is the secret, shown this once.
        ``expires_at`` (ISO 8601) makes the key stop working by itself. Not retried unless asked."""
        body: dict[str, Any] = {
            "name": name,
            **({"scopes": scopes} if scopes is not None else {}),
            **({"expires_at": expires_at} if expires_at is not None else {}),
        }
        return self._run(self._create_key(body, max_retries, timeout))

    def rotate_key(
        self, key_id: str, *, grace_seconds: int | None = None, max_retries: int | None = None, timeout: TimeoutTypes | None = None
    ) -> dict[str, Any]:
        """``POST /v1/admin/keys/{id}/rotate``: a new secret (the answer's ``key``); the old one keeps
        working for ``grace_seconds`` (the server's default: 3600; 0 ends it at once). Not retried unless asked."""
        return self._run(self._rotate_key(key_id, grace_seconds, max_retries, timeout))

    def revoke_key(self, key_id: str, *, max_retries: int | None = None, timeout: TimeoutTypes | None = None) -> dict[str, Any]:
        """``DELETE /v1/admin/keys/{id}``: the key stops working at once."""
        return self._run(self._revoke_key(key_id, max_retries, timeout))

    def wait_until_ready(
        self, model: str, timeout: float = DEFAULT_READY_TIMEOUT, *, poll_interval: float = DEFAULT_POLL_INTERVAL
    ) -> ModelEntry:
        """Loads ``model`` if needed and polls until it is ``ready``; see ``QuandexClient.wait_until_ready``."""
        return self._run(self._wait_until_ready(model, timeout, poll_interval))
