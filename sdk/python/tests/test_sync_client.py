"""Quandex, the synchronous twin: same methods, same behaviour, no event loop."""

from __future__ import annotations

import inspect
from typing import Callable

import httpx
import pytest

from quandex import APIConnectionError, APITimeoutError, ModelLoadingError, NotFoundError, Quandex, QuandexClient, RateLimitError
from tests.fakes import (
    ScriptedServer,
    SleepRecorder,
    chunk,
    error_response,
    generate_response,
    model_entry,
    model_stats,
    sse_frame,
    sse_generation,
    sse_response,
    stats_response,
)


def public_methods(cls: type) -> dict[str, inspect.Signature]:
    return {name: inspect.signature(fn) for name, fn in vars(cls).items() if callable(fn) and not name.startswith("_")}


def test_same_methods_and_parameters_as_the_async_client() -> None:
    sync, async_ = public_methods(Quandex), public_methods(QuandexClient)
    assert set(sync) - {"close"} == set(async_) - {"close"}
    for name, signature in async_.items():
        if name != "__init__":
            assert list(sync[name].parameters) == list(signature.parameters), name
    assert list(inspect.signature(Quandex.__init__).parameters) == list(inspect.signature(QuandexClient.__init__).parameters)


def test_generate_retries_and_stream(make_sync_client: Callable[..., Quandex], sleeps: SleepRecorder) -> None:
    server = ScriptedServer(
        error_response(503, "model_loading", headers={"retry-after": "1"}),
        httpx.Response(200, json=generate_response("sync text")),
        httpx.Response(200, json=generate_response("seeded")),
        sse_response(sse_generation("a", "b")),
    )
    with make_sync_client(server) as client:
        response = client.generate(model="llama-3.2", prompt="Explain", temperature=0.7, metal_optimize=True)
        assert response.text == "sync text" and response["choices"][0]["text"] == "sync text"
        assert sleeps.delays == [1.0]
        assert client.generate(model="m", prompt="p", seed=3).text == "seeded"
        chunks = list(client.stream_generate(model="m", prompt="p"))
    assert [c.text for c in chunks] == ["a", "b", ""]
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 5
    assert server.bodies()[0] == {"model": "llama-3.2", "prompt": "Explain", "temperature": 0.7, "metal_optimize": True}
    assert server.bodies()[3]["stream"] is True


def test_errors(make_sync_client: Callable[..., Quandex], sleeps: SleepRecorder) -> None:
    server = ScriptedServer(
        error_response(404, "model_not_found"),
        error_response(429, "daily_quota_exceeded"),
        error_response(503, "model_loading"),
        sse_response([sse_frame({"error": {"code": "model_loading", "message": "m"}}, event="error")]),
    )
    client = make_sync_client(server)
    with pytest.raises(NotFoundError):
        client.generate(model="nope", prompt="p")
    with pytest.raises(RateLimitError):
        client.generate(model="m", prompt="p")
    with pytest.raises(ModelLoadingError):
        client.generate(model="m", prompt="p", max_retries=0)
    with pytest.raises(ModelLoadingError):
        list(client.stream_generate(model="m", prompt="p"))
    assert sleeps.delays == []


def test_transport_errors(make_sync_client: Callable[..., Quandex], sleeps: SleepRecorder) -> None:
    server = ScriptedServer(
        httpx.ConnectError("refused"),
        httpx.Response(200, json=generate_response("after a retry")),
        httpx.ReadTimeout("no answer"),
        sse_response([sse_frame(chunk("cut")), httpx.RemoteProtocolError("peer closed connection")]),
    )
    client = make_sync_client(server)
    assert client.generate(model="m", prompt="p").text == "after a retry"
    assert len(sleeps.delays) == 1
    with pytest.raises(APITimeoutError):  # the server may be generating: not sent again
        client.generate(model="m", prompt="p")
    with pytest.raises(APIConnectionError):
        list(client.stream_generate(model="m", prompt="p"))
    assert len(server.requests) == 4 and len(sleeps.delays) == 1


def test_model_stats_and_wait_until_ready(make_sync_client: Callable[..., Quandex], sleeps: SleepRecorder) -> None:
    server = ScriptedServer(
        httpx.Response(200, json=model_entry("llama-3.2-1b", aliases=["llama-3.2"])),
        httpx.Response(200, json=stats_response({"llama-3.2-1b": model_stats(4.0)})),
        httpx.Response(200, json=model_entry("other", status="unloaded")),
        httpx.Response(202, json=model_entry("other", status="loading")),
        httpx.Response(200, json=model_entry("other", status="ready")),
    )
    client = make_sync_client(server)
    stats = client.get_model_stats("llama-3.2")
    assert stats["memory_usage"] == "12MB" and stats["requests_per_second"] == 4.0
    assert client.wait_until_ready("other", poll_interval=0.1).status == "ready"
    assert sleeps.delays == [0.1]


def test_context_manager_closes_its_own_http_client() -> None:
    with Quandex(api_key="k") as client:
        http = client._http
    assert http.is_closed
