"""``QuandexClient`` (async) and ``Quandex``, its synchronous twin with the same methods."""

from __future__ import annotations

import asyncio
import time
from typing import Any, AsyncGenerator, Awaitable, Callable, Dict, Generator, List, Mapping, Optional, Type, Union

import httpx

from ._base_client import (
    BaseClient,
    RequestSpec,
    TimeoutTypes,
    connection_error,
    decode_json,
    error_from_response,
    generate_body,
)
from ._constants import DEFAULT_MAX_RETRIES, DEFAULT_STREAM_READ_TIMEOUT
from ._exceptions import APITimeoutError, QuandexError
from ._retry import retry_delay, should_retry_error, should_retry_transport_error
from ._streaming import AsyncStream, ChunkDecoder, Stream
from .types import GenerateChunk, GenerateResponse, ModelEntry, ModelList, ModelStatsDict, StatsResponse

__all__ = ["QuandexClient", "Quandex"]

_DEFAULT_READY_TIMEOUT = 300.0
_DEFAULT_POLL_INTERVAL = 0.5


async def _async_sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


def _join_model_stats(entry: ModelEntry, stats: Any) -> ModelStatsDict:
    """The model's entry plus its stats, which the server keys by canonical id (never by alias)."""
    joined: Dict[str, Any] = dict(entry.to_dict())
    models = stats.get("models") if isinstance(stats, dict) else None
    model_stats = models.get(entry.id) if isinstance(models, dict) else None
    if isinstance(model_stats, dict):
        for key, value in model_stats.items():
            joined.setdefault(key, value)  # on a clash the model entry wins
    return joined  # type: ignore[return-value]


class QuandexClient(BaseClient):
    """Async client for the Quandex JAN API.

    ``async with QuandexClient() as client:`` closes its connections on exit; without ``with``,
    call ``await client.close()``. A caller-supplied ``http_client`` is left open: its owner
    closes it.
    """

    def __init__(
        self,
        *,
        api_key: Optional[str] = None,
        base_url: Optional[str] = None,
        timeout: Optional[TimeoutTypes] = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        stream_read_timeout: Optional[float] = DEFAULT_STREAM_READ_TIMEOUT,
        http_client: Optional[httpx.AsyncClient] = None,
        default_headers: Optional[Mapping[str, str]] = None,
        _sleep: Optional[Callable[[float], Awaitable[Any]]] = None,
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

    # -- lifecycle --------------------------------------------------------------------------

    async def close(self) -> None:
        """Closes the connection pool (unless ``http_client`` was passed in)."""
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> QuandexClient:
        return self

    async def __aexit__(self, exc_type: Optional[Type[BaseException]], exc: Optional[BaseException], tb: Any) -> None:
        await self.close()

    # -- generation -------------------------------------------------------------------------

    async def generate(
        self,
        *,
        model: str,
        prompt: str,
        temperature: Optional[float] = None,
        max_tokens: Optional[int] = None,
        metal_optimize: Optional[bool] = None,
        top_p: Optional[float] = None,
        top_k: Optional[int] = None,
        stop: Union[str, List[str], None] = None,
        seed: Optional[int] = None,
        repeat_penalty: Optional[float] = None,
        ignore_eos: Optional[bool] = None,
        max_retries: Optional[int] = None,
        timeout: Optional[TimeoutTypes] = None,
    ) -> GenerateResponse:
        """Generates text (``POST /v1/generate``). Parameters left as None use the server default."""
        body = generate_body(
            model=model, prompt=prompt, stream=False, temperature=temperature, max_tokens=max_tokens,
            metal_optimize=metal_optimize, top_p=top_p, top_k=top_k, stop=stop, seed=seed,
            repeat_penalty=repeat_penalty, ignore_eos=ignore_eos,
        )  # fmt: skip
        spec = self._spec("POST", "/generate", body, max_retries=max_retries, timeout=timeout)
        return GenerateResponse.from_json(await self._request_json(spec))

    def stream_generate(
        self,
        *,
        model: str,
        prompt: str,
        temperature: Optional[float] = None,
        max_tokens: Optional[int] = None,
        metal_optimize: Optional[bool] = None,
        top_p: Optional[float] = None,
        top_k: Optional[int] = None,
        stop: Union[str, List[str], None] = None,
        seed: Optional[int] = None,
        repeat_penalty: Optional[float] = None,
        ignore_eos: Optional[bool] = None,
        max_retries: Optional[int] = None,
        timeout: Optional[TimeoutTypes] = None,
        stream_read_timeout: Optional[float] = None,
    ) -> AsyncStream[GenerateChunk]:
        """Streams a generation: ``async for chunk in client.stream_generate(...)``.

        Not a coroutine: the request goes out on the first iteration, and errors raise there.
        Each chunk has ``.text`` and ``.finish_reason``; the last also ``.usage`` and
        ``.metal_stats``. Retries stop once the response headers arrive. Leaving the loop
        early closes the connection, which stops the generation; ``async with`` or
        ``await stream.aclose()`` does so immediately rather than on the next loop turn.
        """
        body = generate_body(
            model=model, prompt=prompt, stream=True, temperature=temperature, max_tokens=max_tokens,
            metal_optimize=metal_optimize, top_p=top_p, top_k=top_k, stop=stop, seed=seed,
            repeat_penalty=repeat_penalty, ignore_eos=ignore_eos,
        )  # fmt: skip
        spec = self._spec(
            "POST", "/generate", body, max_retries=max_retries, timeout=timeout,
            stream=True, stream_read_timeout=stream_read_timeout,
        )  # fmt: skip
        return AsyncStream(self._stream_chunks(spec))

    async def _stream_chunks(self, spec: RequestSpec) -> AsyncGenerator[GenerateChunk, None]:
        response = await self._send(spec)
        try:
            decoder = ChunkDecoder(response.headers)
            try:
                async for data in response.aiter_bytes():
                    for chunk in decoder.feed(data):
                        yield chunk
                    if decoder.done:
                        return
            except httpx.TransportError as exc:
                # Headers already came, so this is never retried: the generation has started.
                raise connection_error(exc, response.request) from exc
            decoder.end()
        finally:
            # Runs on normal end, on error and when the consumer closes us: the connection goes
            # away, and with it the server's generation.
            await response.aclose()

    # -- models and stats -------------------------------------------------------------------

    async def list_models(self, *, max_retries: Optional[int] = None, timeout: Optional[TimeoutTypes] = None) -> ModelList:
        """``GET /v1/models``."""
        return ModelList.from_json(await self._request_json(self._spec("GET", "/models", max_retries=max_retries, timeout=timeout)))

    async def get_model(self, model: str, *, max_retries: Optional[int] = None, timeout: Optional[TimeoutTypes] = None) -> ModelEntry:
        """``GET /v1/models/{model}``; ``model`` may be an alias."""
        spec = self._spec("GET", self._model_path(model), max_retries=max_retries, timeout=timeout)
        return ModelEntry.from_json(await self._request_json(spec))

    async def load_model(self, model: str, *, max_retries: Optional[int] = None, timeout: Optional[TimeoutTypes] = None) -> ModelEntry:
        """Starts loading a model (``POST /v1/models/{model}/load``, scope ``generate``).
        Returns at once with status ``loading`` or ``ready``; see ``wait_until_ready``."""
        spec = self._spec("POST", self._model_path(model, "/load"), max_retries=max_retries, timeout=timeout)
        return ModelEntry.from_json(await self._request_json(spec))

    async def unload_model(self, model: str, *, max_retries: Optional[int] = None, timeout: Optional[TimeoutTypes] = None) -> ModelEntry:
        """Unloads a model (``POST /v1/models/{model}/unload``, scope ``admin``)."""
        spec = self._spec("POST", self._model_path(model, "/unload"), max_retries=max_retries, timeout=timeout)
        return ModelEntry.from_json(await self._request_json(spec))

    async def get_stats(self, *, max_retries: Optional[int] = None, timeout: Optional[TimeoutTypes] = None) -> StatsResponse:
        """``GET /v1/stats``: device, engine, server and per-model traffic."""
        return StatsResponse.from_json(await self._request_json(self._spec("GET", "/stats", max_retries=max_retries, timeout=timeout)))

    async def get_model_stats(
        self, model: str, *, max_retries: Optional[int] = None, timeout: Optional[TimeoutTypes] = None
    ) -> ModelStatsDict:
        """One model's ``/v1/models`` entry (``memory_usage``, ``status``, ...) joined with its
        ``/v1/stats`` entry (``requests_per_second``, ``average_latency``, ...). Aliases work."""
        # The server resolves the alias; its answer carries the canonical id the stats use.
        entry = await self.get_model(model, max_retries=max_retries, timeout=timeout)
        stats = await self._request_json(self._spec("GET", "/stats", max_retries=max_retries, timeout=timeout))
        return _join_model_stats(entry, stats)

    async def get_usage(self, *, max_retries: Optional[int] = None, timeout: Optional[TimeoutTypes] = None) -> Dict[str, Any]:
        """``GET /v1/usage``: this key's limits and consumption, as the server sends them."""
        return await self._request_json(self._spec("GET", "/usage", max_retries=max_retries, timeout=timeout))  # type: ignore[no-any-return]

    async def wait_until_ready(
        self, model: str, timeout: float = _DEFAULT_READY_TIMEOUT, *, poll_interval: float = _DEFAULT_POLL_INTERVAL
    ) -> ModelEntry:
        """Loads ``model`` if it is ``unloaded`` (or in ``error``, to try again) and polls until it
        is ``ready``.

        :raises QuandexError: the load failed (status ``error``); the message has the reason.
        :raises APITimeoutError: not ready within ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        entry = await self.get_model(model)
        if entry.status in ("unloaded", "error"):
            entry = await self.load_model(model)
        while entry.status != "ready":
            if entry.status == "error":
                raise QuandexError(f"Model '{model}' failed to load: {entry.error or 'no reason given'}")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise APITimeoutError(f"Model '{model}' was not ready after {timeout:g} s (status '{entry.status}').")
            await self._sleep(min(poll_interval, remaining))
            entry = await self.get_model(model)
            if entry.status == "unloaded":  # evicted or unloaded by someone else meanwhile
                entry = await self.load_model(model)
        return entry

    # -- transport --------------------------------------------------------------------------

    async def _request_json(self, spec: RequestSpec) -> Any:
        response = await self._send(spec)
        return decode_json(response)

    async def _send(self, spec: RequestSpec) -> httpx.Response:
        """Sends ``spec`` with retries and returns the 2xx response (still open if streaming)."""
        retries_done = 0
        while True:
            request = self._http.build_request(
                spec.method, self._url(spec.path), json=spec.body, headers=self._headers(), timeout=spec.timeout
            )
            try:
                response = await self._http.send(request, stream=spec.stream)
            except httpx.TransportError as exc:
                if retries_done < spec.max_retries and should_retry_transport_error(exc):
                    delay = retry_delay(retries_done)
                    self._log_retry(spec, delay, exc)
                    await self._sleep(delay)
                    retries_done += 1
                    continue
                raise connection_error(exc, request) from exc
            if response.is_success:
                return response
            try:
                await response.aread()
            except httpx.TransportError as exc:
                raise connection_error(exc, request) from exc
            finally:
                await response.aclose()
            error = error_from_response(response)
            if retries_done < spec.max_retries and should_retry_error(error):
                delay = retry_delay(retries_done, error.headers)
                self._log_retry(spec, delay, error)
                await self._sleep(delay)
                retries_done += 1
                continue
            raise error


class Quandex(BaseClient):
    """Synchronous twin of ``QuandexClient``: the same methods, without ``await``.

    ``with Quandex() as client:`` closes its connections on exit; otherwise call
    ``client.close()``. A caller-supplied ``http_client`` is left open.
    """

    def __init__(
        self,
        *,
        api_key: Optional[str] = None,
        base_url: Optional[str] = None,
        timeout: Optional[TimeoutTypes] = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        stream_read_timeout: Optional[float] = DEFAULT_STREAM_READ_TIMEOUT,
        http_client: Optional[httpx.Client] = None,
        default_headers: Optional[Mapping[str, str]] = None,
        _sleep: Optional[Callable[[float], Any]] = None,
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

    def close(self) -> None:
        """Closes the connection pool (unless ``http_client`` was passed in)."""
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Quandex:
        return self

    def __exit__(self, exc_type: Optional[Type[BaseException]], exc: Optional[BaseException], tb: Any) -> None:
        self.close()

    def generate(
        self,
        *,
        model: str,
        prompt: str,
        temperature: Optional[float] = None,
        max_tokens: Optional[int] = None,
        metal_optimize: Optional[bool] = None,
        top_p: Optional[float] = None,
        top_k: Optional[int] = None,
        stop: Union[str, List[str], None] = None,
        seed: Optional[int] = None,
        repeat_penalty: Optional[float] = None,
        ignore_eos: Optional[bool] = None,
        max_retries: Optional[int] = None,
        timeout: Optional[TimeoutTypes] = None,
    ) -> GenerateResponse:
        """Generates text (``POST /v1/generate``). Parameters left as None use the server default."""
        body = generate_body(
            model=model, prompt=prompt, stream=False, temperature=temperature, max_tokens=max_tokens,
            metal_optimize=metal_optimize, top_p=top_p, top_k=top_k, stop=stop, seed=seed,
            repeat_penalty=repeat_penalty, ignore_eos=ignore_eos,
        )  # fmt: skip
        spec = self._spec("POST", "/generate", body, max_retries=max_retries, timeout=timeout)
        return GenerateResponse.from_json(self._request_json(spec))

    def stream_generate(
        self,
        *,
        model: str,
        prompt: str,
        temperature: Optional[float] = None,
        max_tokens: Optional[int] = None,
        metal_optimize: Optional[bool] = None,
        top_p: Optional[float] = None,
        top_k: Optional[int] = None,
        stop: Union[str, List[str], None] = None,
        seed: Optional[int] = None,
        repeat_penalty: Optional[float] = None,
        ignore_eos: Optional[bool] = None,
        max_retries: Optional[int] = None,
        timeout: Optional[TimeoutTypes] = None,
        stream_read_timeout: Optional[float] = None,
    ) -> Stream[GenerateChunk]:
        """Streams a generation: ``for chunk in client.stream_generate(...)``. The request goes out
        on the first iteration; leaving the loop closes the connection and stops the generation."""
        body = generate_body(
            model=model, prompt=prompt, stream=True, temperature=temperature, max_tokens=max_tokens,
            metal_optimize=metal_optimize, top_p=top_p, top_k=top_k, stop=stop, seed=seed,
            repeat_penalty=repeat_penalty, ignore_eos=ignore_eos,
        )  # fmt: skip
        spec = self._spec(
            "POST", "/generate", body, max_retries=max_retries, timeout=timeout,
            stream=True, stream_read_timeout=stream_read_timeout,
        )  # fmt: skip
        return Stream(self._stream_chunks(spec))

    def _stream_chunks(self, spec: RequestSpec) -> Generator[GenerateChunk, None, None]:
        response = self._send(spec)
        try:
            decoder = ChunkDecoder(response.headers)
            try:
                for data in response.iter_bytes():
                    yield from decoder.feed(data)
                    if decoder.done:
                        return
            except httpx.TransportError as exc:
                raise connection_error(exc, response.request) from exc
            decoder.end()
        finally:
            response.close()

    def list_models(self, *, max_retries: Optional[int] = None, timeout: Optional[TimeoutTypes] = None) -> ModelList:
        """``GET /v1/models``."""
        return ModelList.from_json(self._request_json(self._spec("GET", "/models", max_retries=max_retries, timeout=timeout)))

    def get_model(self, model: str, *, max_retries: Optional[int] = None, timeout: Optional[TimeoutTypes] = None) -> ModelEntry:
        """``GET /v1/models/{model}``; ``model`` may be an alias."""
        spec = self._spec("GET", self._model_path(model), max_retries=max_retries, timeout=timeout)
        return ModelEntry.from_json(self._request_json(spec))

    def load_model(self, model: str, *, max_retries: Optional[int] = None, timeout: Optional[TimeoutTypes] = None) -> ModelEntry:
        """Starts loading a model (``POST /v1/models/{model}/load``, scope ``generate``)."""
        spec = self._spec("POST", self._model_path(model, "/load"), max_retries=max_retries, timeout=timeout)
        return ModelEntry.from_json(self._request_json(spec))

    def unload_model(self, model: str, *, max_retries: Optional[int] = None, timeout: Optional[TimeoutTypes] = None) -> ModelEntry:
        """Unloads a model (``POST /v1/models/{model}/unload``, scope ``admin``)."""
        spec = self._spec("POST", self._model_path(model, "/unload"), max_retries=max_retries, timeout=timeout)
        return ModelEntry.from_json(self._request_json(spec))

    def get_stats(self, *, max_retries: Optional[int] = None, timeout: Optional[TimeoutTypes] = None) -> StatsResponse:
        """``GET /v1/stats``: device, engine, server and per-model traffic."""
        return StatsResponse.from_json(self._request_json(self._spec("GET", "/stats", max_retries=max_retries, timeout=timeout)))

    def get_model_stats(
        self, model: str, *, max_retries: Optional[int] = None, timeout: Optional[TimeoutTypes] = None
    ) -> ModelStatsDict:
        """One model's ``/v1/models`` entry joined with its ``/v1/stats`` entry. Aliases work."""
        entry = self.get_model(model, max_retries=max_retries, timeout=timeout)
        stats = self._request_json(self._spec("GET", "/stats", max_retries=max_retries, timeout=timeout))
        return _join_model_stats(entry, stats)

    def get_usage(self, *, max_retries: Optional[int] = None, timeout: Optional[TimeoutTypes] = None) -> Dict[str, Any]:
        """``GET /v1/usage``: this key's limits and consumption, as the server sends them."""
        return self._request_json(self._spec("GET", "/usage", max_retries=max_retries, timeout=timeout))  # type: ignore[no-any-return]

    def wait_until_ready(
        self, model: str, timeout: float = _DEFAULT_READY_TIMEOUT, *, poll_interval: float = _DEFAULT_POLL_INTERVAL
    ) -> ModelEntry:
        """Loads ``model`` if needed and polls until it is ``ready``; see ``QuandexClient.wait_until_ready``."""
        deadline = time.monotonic() + timeout
        entry = self.get_model(model)
        if entry.status in ("unloaded", "error"):
            entry = self.load_model(model)
        while entry.status != "ready":
            if entry.status == "error":
                raise QuandexError(f"Model '{model}' failed to load: {entry.error or 'no reason given'}")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise APITimeoutError(f"Model '{model}' was not ready after {timeout:g} s (status '{entry.status}').")
            self._sleep(min(poll_interval, remaining))
            entry = self.get_model(model)
            if entry.status == "unloaded":
                entry = self.load_model(model)
        return entry

    def _request_json(self, spec: RequestSpec) -> Any:
        return decode_json(self._send(spec))

    def _send(self, spec: RequestSpec) -> httpx.Response:
        """Sends ``spec`` with retries and returns the 2xx response (still open if streaming)."""
        retries_done = 0
        while True:
            request = self._http.build_request(
                spec.method, self._url(spec.path), json=spec.body, headers=self._headers(), timeout=spec.timeout
            )
            try:
                response = self._http.send(request, stream=spec.stream)
            except httpx.TransportError as exc:
                if retries_done < spec.max_retries and should_retry_transport_error(exc):
                    delay = retry_delay(retries_done)
                    self._log_retry(spec, delay, exc)
                    self._sleep(delay)
                    retries_done += 1
                    continue
                raise connection_error(exc, request) from exc
            if response.is_success:
                return response
            try:
                response.read()
            except httpx.TransportError as exc:
                raise connection_error(exc, request) from exc
            finally:
                response.close()
            error = error_from_response(response)
            if retries_done < spec.max_retries and should_retry_error(error):
                delay = retry_delay(retries_done, error.headers)
                self._log_retry(spec, delay, error)
                self._sleep(delay)
                retries_done += 1
                continue
            raise error
