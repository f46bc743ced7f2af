"""stream_generate: chunks, the end of the stream, closing early, and stalled streams."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Callable

import httpx
import pytest

from quandex import APIConnectionError, APITimeoutError, GenerateChunk, Quandex, QuandexClient, QuandexError
from quandex._streaming import ChunkDecoder
from tests.fakes import ChunkedBody, ScriptedServer, chunk, sse_frame, sse_generation, sse_response


async def collect(stream: AsyncIterator[GenerateChunk]) -> list[GenerateChunk]:
    return [c async for c in stream]


async def test_chunks_then_final_chunk_with_usage(make_client: Callable[..., QuandexClient]) -> None:
    server = ScriptedServer(sse_response(sse_generation("Once", " upon")))
    chunks = await collect(make_client(server).stream_generate(model="llama-3.2", prompt="Write a story", seed=7))
    assert [(c.text, c.finish_reason) for c in chunks] == [("Once", None), (" upon", None), ("", "stop")]
    assert chunks[0].usage is None and chunks[0].metal_stats is None
    final = chunks[-1]
    assert final.usage is not None and final.usage.total_tokens == 5
    assert final.metal_stats is not None and final.metal_stats.backend == "cpu"
    assert final["choices"][0]["finish_reason"] == "stop"
    assert server.bodies() == [{"model": "llama-3.2", "prompt": "Write a story", "seed": 7, "stream": True}]


async def test_pings_and_awkward_splits_do_not_matter(make_client: Callable[..., QuandexClient]) -> None:
    data = b": ping\n\n" + b"".join(sse_generation("h\u00e9llo", " w\u00f6rld"))
    parts = [data[i : i + 3] for i in range(0, len(data), 3)]  # cuts lines, CRLFs and characters
    chunks = await collect(make_client(ScriptedServer(sse_response(parts))).stream_generate(model="m", prompt="p"))
    assert "".join(c.text for c in chunks) == "h\u00e9llo w\u00f6rld"


async def test_done_ends_the_stream_without_reading_further(make_client: Callable[..., QuandexClient]) -> None:
    body = ChunkedBody([*sse_generation("a"), sse_frame(chunk("after done"))])
    server = ScriptedServer(httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=body))
    chunks = await collect(make_client(server).stream_generate(model="m", prompt="p"))
    assert [c.text for c in chunks] == ["a", ""]
    assert body.parts_read == 3 and body.closed


async def test_stream_cut_before_the_final_chunk_raises(make_client: Callable[..., QuandexClient]) -> None:
    server = ScriptedServer(sse_response([sse_frame(chunk("Once"))]))
    with pytest.raises(APIConnectionError, match="ended before the final chunk"):
        await collect(make_client(server).stream_generate(model="m", prompt="p"))


async def test_final_chunk_without_done_is_accepted(make_client: Callable[..., QuandexClient]) -> None:
    server = ScriptedServer(sse_response([sse_frame(chunk("a")), sse_frame(chunk("", "length"))]))
    chunks = await collect(make_client(server).stream_generate(model="m", prompt="p"))
    assert chunks[-1].finish_reason == "length"


async def test_event_that_is_not_json_raises(make_client: Callable[..., QuandexClient]) -> None:
    server = ScriptedServer(sse_response([b"data: {oops\n\n"]))
    with pytest.raises(QuandexError, match="not JSON"):
        await collect(make_client(server).stream_generate(model="m", prompt="p"))


async def test_chunks_before_an_error_event_in_the_same_read_are_delivered(make_client: Callable[..., QuandexClient]) -> None:
    error = {"error": {"code": "internal_error", "message": "engine crashed", "type": "server_error", "param": None}}
    server = ScriptedServer(sse_response([sse_frame(chunk("kept")) + sse_frame(error, event="error")]))
    received = []
    with pytest.raises(QuandexError, match="engine crashed"):
        async for c in make_client(server).stream_generate(model="m", prompt="p"):
            received.append(c.text)
    assert received == ["kept"]


async def test_request_is_lazy_and_uses_the_per_chunk_read_timeout(make_client: Callable[..., QuandexClient]) -> None:
    server = ScriptedServer(sse_response(sse_generation("a")), sse_response(sse_generation("b")))
    client = make_client(server, stream_read_timeout=12.0, timeout=30.0)
    stream = client.stream_generate(model="m", prompt="p")
    assert server.requests == []  # nothing is sent until the loop starts
    await collect(stream)
    await collect(client.stream_generate(model="m", prompt="p", stream_read_timeout=3.0))
    first, second = (r.extensions["timeout"] for r in server.requests)
    assert first == {"connect": 30.0, "read": 12.0, "write": 30.0, "pool": 30.0}
    assert second["read"] == 3.0


# -- closing early -----------------------------------------------------------------------------


def endless_body() -> ChunkedBody:
    return ChunkedBody([sse_frame(chunk(f"token{i} ")) for i in range(1000)])


def streaming(body: ChunkedBody) -> ScriptedServer:
    return ScriptedServer(httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=body))


async def test_aclose_closes_the_response_at_once(make_client: Callable[..., QuandexClient]) -> None:
    body = endless_body()
    stream = make_client(streaming(body)).stream_generate(model="m", prompt="p")
    async for _ in stream:
        break
    await stream.aclose()
    assert body.closed and body.parts_read == 1
    await stream.aclose()  # a second close is harmless


async def test_async_with_closes_the_response_at_once(make_client: Callable[..., QuandexClient]) -> None:
    body = endless_body()
    async with make_client(streaming(body)).stream_generate(model="m", prompt="p") as stream:
        async for c in stream:
            assert c.text == "token0 "
            break
    assert body.closed


async def test_breaking_out_of_the_loop_closes_the_response(make_client: Callable[..., QuandexClient]) -> None:
    body = endless_body()
    async for _ in make_client(streaming(body)).stream_generate(model="m", prompt="p"):
        break
    # Python finalises an abandoned async generator by scheduling its aclose() on the loop.
    for _ in range(10):
        if body.closed:
            break
        await asyncio.sleep(0)
    assert body.closed and body.parts_read == 1


def test_sync_break_closes_the_response_immediately(make_sync_client: Callable[..., Quandex]) -> None:
    body = endless_body()
    for _ in make_sync_client(streaming(body)).stream_generate(model="m", prompt="p"):
        break
    assert body.closed and body.parts_read == 1


# -- a real socket that stalls -----------------------------------------------------------------


class StallingServer:
    """A raw HTTP server that sends the stream's headers and first chunk, then goes silent.
    Records when the client hangs up, which is what stops a real server's generation."""

    def __init__(self) -> None:
        self.hung_up = asyncio.Event()
        self._server: asyncio.AbstractServer

    async def __aenter__(self) -> str:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/v1"

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
        await reader.readexactly(length)
        frame = sse_frame(chunk("first"))
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
        writer.write(b"%x\r\n%s\r\n" % (len(frame), frame))
        await writer.drain()
        if await reader.read(1) == b"":  # blocks until the client closes the connection
            self.hung_up.set()
        writer.close()


async def test_stalled_stream_raises_timeout_and_hangs_up() -> None:
    server = StallingServer()
    async with server as base_url:
        async with QuandexClient(api_key="k", base_url=base_url, stream_read_timeout=0.3) as client:
            received: list[str] = []
            started = time.monotonic()
            with pytest.raises(APITimeoutError):
                async for c in client.stream_generate(model="m", prompt="p"):
                    received.append(c.text)
            assert received == ["first"]
            assert 0.25 <= time.monotonic() - started < 5
        await asyncio.wait_for(server.hung_up.wait(), 5)


async def test_stalled_stream_sync_client_raises_timeout() -> None:
    server = StallingServer()
    async with server as base_url:

        def consume() -> tuple[list[str], type]:
            received: list[str] = []
            with Quandex(api_key="k", base_url=base_url, stream_read_timeout=0.3) as client:
                try:
                    for c in client.stream_generate(model="m", prompt="p"):
                        received.append(c.text)
                except Exception as exc:  # returned to the test to assert on
                    return received, type(exc)
            return received, type(None)

        received, error = await asyncio.get_running_loop().run_in_executor(None, consume)
        assert (received, error) == (["first"], APITimeoutError)
        await asyncio.wait_for(server.hung_up.wait(), 5)


async def test_breaking_closes_the_real_connection() -> None:
    server = StallingServer()
    async with server as base_url, QuandexClient(api_key="k", base_url=base_url, stream_read_timeout=30) as client:
        async with client.stream_generate(model="m", prompt="p") as stream:
            async for c in stream:
                assert c.text == "first"
                break
        await asyncio.wait_for(server.hung_up.wait(), 5)


def test_decoder_ignores_everything_after_done() -> None:
    decoder = ChunkDecoder()
    same_read = sse_frame(chunk("a")) + sse_frame("[DONE]") + sse_frame(chunk("same read"))
    assert [c.text for c in decoder.feed(same_read)] == ["a"]
    assert decoder.done
    assert list(decoder.feed(sse_frame(chunk("next read")))) == []
    decoder.end()  # complete: no error
