"""Streamed generations: ``Stream`` / ``AsyncStream``, the decoder from SSE bytes to chunks, and
``read_chunks`` / ``aread_chunks``, which feed it from an open response.

The decoder holds all the stream logic (frames, ``[DONE]``, error events, a cut stream), so the
two readers only differ in how they iterate bytes and close; ``Stream`` and ``AsyncStream`` only
adapt a generator to the two iterator protocols.

Closing a stream closes its HTTP response, and the server stops generating when the connection
goes away. Breaking out of a ``for`` loop over a sync ``Stream`` closes it at once (CPython
finalises the generator immediately). For an ``AsyncStream`` Python can only schedule the close
on the event loop, which happens a moment later; call ``await stream.aclose()`` or use
``async with`` to close it before the next line runs.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Awaitable, Generator, Iterator, Mapping
from typing import Any, Callable, Generic, TypeVar

import httpx

from ._exceptions import APIConnectionError, QuandexError, make_connection_error, make_stream_error
from ._sse import SSEDecoder
from .types.generate_chunk import GenerateChunk

__all__ = ["AsyncStream", "ChunkDecoder", "Stream", "aread_chunks", "read_chunks"]

T = TypeVar("T")


class ChunkDecoder:
    """Bytes of a ``text/event-stream`` response in, ``GenerateChunk`` objects out.

    ``data: [DONE]`` ends the stream; an ``event: error`` frame raises the matching ``APIError``.
    """

    def __init__(self, headers: Mapping[str, str] | None = None) -> None:
        self._sse = SSEDecoder()
        self._headers = headers
        self.done = False
        """True once ``[DONE]`` arrived; later bytes are ignored."""
        self._finished = False

    def feed(self, data: bytes) -> Iterator[GenerateChunk]:
        """Yields the chunks completed by ``data``. A generator, so an error event raises only after
        the chunks that came before it in the same read have been handed out."""
        for event in self._sse.feed(data):
            if self.done:
                return
            if event.event == "error":
                raise make_stream_error(_parse_json(event.data, allow_text=True), self._headers)
            if event.data == "[DONE]":
                self.done = True
                return
            if event.event != "message":
                continue  # an event type this SDK version does not know; skip it
            chunk = GenerateChunk.from_json(_parse_json(event.data))
            if chunk.finish_reason is not None:
                self._finished = True
            yield chunk

    def end(self) -> None:
        """Call at end of input: raises if the stream stopped before its final chunk."""
        if not self.done and not self._finished:
            raise APIConnectionError("The stream ended before the final chunk; the connection was cut.")


def _parse_json(data: str, allow_text: bool = False) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        if allow_text:
            return data
        raise QuandexError(f"Unexpected response from the server: stream event is not JSON: {data[:200]!r}") from None


def read_chunks(open_response: Callable[[], httpx.Response]) -> Generator[GenerateChunk, None, None]:
    """Opens the response on the first ``next()`` (the request goes out then), yields its chunks
    and closes it however the generator ends: the end of the stream, an error, or ``close()``."""
    response = open_response()
    try:
        decoder = ChunkDecoder(response.headers)
        try:
            for data in response.iter_bytes():
                yield from decoder.feed(data)
                if decoder.done:
                    return
        except httpx.TransportError as exc:
            # Headers already came, so this is never retried: the generation has started.
            raise make_connection_error(exc, response.request) from exc
        decoder.end()
    finally:
        # The connection goes away, and with it the server's generation.
        response.close()


async def aread_chunks(open_response: Callable[[], Awaitable[httpx.Response]]) -> AsyncGenerator[GenerateChunk, None]:
    """The twin of ``read_chunks`` for an async response."""
    response = await open_response()
    try:
        decoder = ChunkDecoder(response.headers)
        try:
            async for data in response.aiter_bytes():
                for chunk in decoder.feed(data):
                    yield chunk
                if decoder.done:
                    return
        except httpx.TransportError as exc:
            raise make_connection_error(exc, response.request) from exc
        decoder.end()
    finally:
        await response.aclose()


class Stream(Generic[T]):
    """A synchronous iterator over streamed chunks, read once. Use as a context manager or call
    ``close()`` to stop the generation early."""

    def __init__(self, generator: Generator[T, None, None]) -> None:
        self._generator = generator

    def __iter__(self) -> Stream[T]:
        return self

    def __next__(self) -> T:
        return next(self._generator)

    def close(self) -> None:
        """Closes the HTTP response; the server stops generating. Safe to call twice."""
        self._generator.close()

    def __enter__(self) -> Stream[T]:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        self.close()


class AsyncStream(Generic[T]):
    """An async iterator over streamed chunks, read once. The request is sent on the first
    iteration. Use ``async with`` or ``await aclose()`` to stop the generation promptly."""

    def __init__(self, generator: AsyncGenerator[T, None]) -> None:
        self._generator = generator

    def __aiter__(self) -> AsyncStream[T]:
        return self

    async def __anext__(self) -> T:
        return await self._generator.__anext__()

    async def aclose(self) -> None:
        """Closes the HTTP response now; the server stops generating. Safe to call twice."""
        await self._generator.aclose()

    async def __aenter__(self) -> AsyncStream[T]:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        await self.aclose()
