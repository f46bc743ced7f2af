"""Fakes for the unit tests: canned server answers, streamed bodies and a scripted transport."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any, Callable, Union

import httpx

API_KEY = "qdx_test_key"
BASE_URL = "http://quandex.test/v1"


def generate_response(text: str = "Once upon a time", model: str = "llama-3.2") -> dict[str, Any]:
    return {
        "id": "gen_abc123",
        "model": model,
        "choices": [{"text": text, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 4, "total_tokens": 9},
        "metal_stats": metal_stats(),
    }


def metal_stats() -> dict[str, Any]:
    return {
        "backend": "cpu",
        "mps_allocated": "0B",
        "mps_allocated_bytes": 0,
        "batch_size": 1,
        "processing_time": "120ms",
        "processing_time_ms": 120.4,
        "queue_time_ms": 0.1,
        "tokens_per_second": 830.1,
        "gpu_layers": 0,
    }


def model_entry(id: str = "llama-3.2", status: str = "ready", aliases: Sequence[str] = (), error: str | None = None) -> dict[str, Any]:
    return {
        "id": id,
        "status": status,
        "metal_optimized": False,
        "memory_usage": "12MB" if status == "ready" else "0B",
        "memory_bytes": 12_000_000 if status == "ready" else 0,
        "aliases": list(aliases),
        "context_size": 512,
        "parallel": 2,
        "backend": "cpu" if status == "ready" else None,
        "gpu_layers": 0,
        "size_bytes": 1_185_376,
        "error": error,
    }


def model_stats(requests_per_second: float = 10.0) -> dict[str, Any]:
    return {
        "requests_per_second": requests_per_second,
        "average_latency": "100ms",
        "average_latency_ms": 100.0,
        "error_rate": "0.01%",
        "error_rate_ratio": 0.0001,
        "p50_latency_ms": 90.0,
        "p95_latency_ms": 150.0,
        "output_tokens_per_second": 42.0,
        "active_sequences": 0,
        "queue_depth": 0,
        "requests_total": 600,
        "errors_total": 0,
        "completion_tokens_total": 2520,
    }


def stats_response(models: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "metal_device": {
            "name": "Test CPU",
            "backend": "cpu",
            "memory_allocated": "12MB",
            "memory_allocated_bytes": 12_000_000,
            "memory_available": "12GB",
            "memory_available_bytes": 12_000_000_000,
            "temperature": None,
            "temperature_celsius": None,
        },
        "engine": {"name": "node-llama-cpp", "version": "3.0.0", "build": "prebuilt", "llama_cpp_release": "b1", "threads": 2},
        "server": {"uptime_seconds": 12.5, "queue_depth": 0, "max_queue": 64, "active_sequences": 0, "rss_bytes": 1},
        "models": {"llama-3.2": model_stats()} if models is None else models,
    }


def error_response(
    status: int, code: str, *, message: str = "boom", type: str = "x", param: str | None = None, headers: dict[str, str] | None = None
) -> httpx.Response:
    body = {"error": {"code": code, "message": message, "type": type, "param": param}}
    return httpx.Response(status, json=body, headers={"x-request-id": "req_1", **(headers or {})})


def sse_frame(data: str | dict[str, Any], event: str | None = None) -> bytes:
    text = data if isinstance(data, str) else json.dumps(data)
    prefix = f"event: {event}\n" if event else ""
    return f"{prefix}data: {text}\n\n".encode()


def chunk(text: str, finish_reason: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"id": "gen_s1", "model": "llama-3.2", "choices": [{"text": text, "finish_reason": finish_reason}]}
    if finish_reason is not None:
        body["usage"] = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
        body["metal_stats"] = metal_stats()
    return body


def sse_generation(*texts: str) -> list[bytes]:
    """A well-formed stream: one frame per text, a final frame, then [DONE]."""
    return [sse_frame(chunk(t)) for t in texts] + [sse_frame(chunk("", "stop")), sse_frame("[DONE]")]


class ChunkedBody(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A response body that arrives in the given pieces; an exception in the list is raised when
    reached (a dropped connection mid-stream). Records whether the client closed it."""

    def __init__(self, parts: Sequence[bytes | Exception]) -> None:
        self.parts = list(parts)
        self.closed = False
        self.parts_read = 0

    def _next_parts(self) -> Iterator[bytes]:
        for part in self.parts:
            if self.closed:
                return
            if isinstance(part, Exception):
                raise part
            self.parts_read += 1
            yield part

    def __iter__(self) -> Iterator[bytes]:
        yield from self._next_parts()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for part in self._next_parts():
            yield part

    def close(self) -> None:
        self.closed = True

    async def aclose(self) -> None:
        self.closed = True


def sse_response(parts: Sequence[bytes | Exception]) -> httpx.Response:
    return httpx.Response(200, headers={"content-type": "text/event-stream", "x-request-id": "req_s"}, stream=ChunkedBody(parts))


Reply = Union[httpx.Response, Exception, Callable[[httpx.Request], httpx.Response]]


class ScriptedServer:
    """Answers requests with scripted replies, in order, and records what was sent.

    A reply is an ``httpx.Response``, an exception to raise (a transport failure) or a function
    of the request. Running out of replies fails the test: the client sent more than expected.
    """

    def __init__(self, *replies: Reply) -> None:
        self.replies = list(replies)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if not self.replies:
            raise AssertionError(f"unexpected extra request {request.method} {request.url}")
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        if callable(reply) and not isinstance(reply, httpx.Response):
            return reply(request)
        return reply

    def bodies(self) -> list[Any]:
        return [json.loads(r.content) if r.content else None for r in self.requests]

    def paths(self) -> list[str]:
        return [f"{r.method} {r.url.path}" for r in self.requests]


class SleepRecorder:
    """Stands in for asyncio.sleep / time.sleep: records the delays and returns at once."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def async_sleep(self, seconds: float) -> None:
        self.delays.append(seconds)

    def sync_sleep(self, seconds: float) -> None:
        self.delays.append(seconds)
