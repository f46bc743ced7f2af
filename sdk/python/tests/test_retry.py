"""Retry policy: what is retried, how long the client waits, and when it gives up."""

from __future__ import annotations

import email.utils
import time
from typing import Callable

import httpx
import pytest

from quandex import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    QuandexClient,
    RateLimitError,
    ServiceUnavailableError,
)
from quandex._retry import parse_retry_after, retry_delay
from tests.fakes import (
    ScriptedServer,
    SleepRecorder,
    chunk,
    error_response,
    generate_response,
    sse_frame,
    sse_generation,
    sse_response,
)

OK = httpx.Response(200, json=generate_response())


def busy(retry_after: str = "", **headers: str) -> httpx.Response:
    if retry_after:
        headers["retry-after"] = retry_after
    return error_response(503, "server_busy", headers=headers)


def rate_limited(code: str = "rate_limit_exceeded", retry_after: str = "") -> httpx.Response:
    return error_response(429, code, headers={"retry-after": retry_after} if retry_after else {})


# -- the delay itself --------------------------------------------------------------------------


def test_backoff_doubles_from_half_a_second_to_eight() -> None:
    no_jitter = [retry_delay(n, random=lambda: 0.0) for n in range(7)]
    assert no_jitter == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]


def test_jitter_shortens_by_at_most_a_quarter() -> None:
    full_jitter = [retry_delay(n, random=lambda: 1.0) for n in range(5)]
    assert full_jitter == [0.375, 0.75, 1.5, 3.0, 6.0]
    for n in range(5):
        for _ in range(50):
            assert 0.75 * min(0.5 * 2**n, 8) <= retry_delay(n) <= min(0.5 * 2**n, 8)


def test_retry_after_wins_over_backoff_and_is_capped_at_60_s() -> None:
    assert retry_delay(0, {"retry-after": "3"}) == 3.0
    assert retry_delay(5, {"retry-after": "0"}) == 0.0
    assert retry_delay(0, {"retry-after": "60"}) == 60.0
    assert retry_delay(0, {"retry-after": "3600"}) == 60.0


def test_invalid_retry_after_falls_back_to_backoff() -> None:
    for value in ("soon", "-1", "nan", "inf", ""):
        assert retry_delay(1, {"retry-after": value}, random=lambda: 0.0) == 1.0, value


def test_retry_after_as_http_date() -> None:
    in_ten = email.utils.formatdate(time.time() + 10, usegmt=True)
    assert 8.0 <= parse_retry_after(in_ten) <= 10.0  # type: ignore[operator]
    assert parse_retry_after(email.utils.formatdate(time.time() - 100, usegmt=True)) == 0.0


# -- what the client retries -------------------------------------------------------------------


async def test_503_is_retried_with_exponential_backoff(make_client: Callable[..., QuandexClient], sleeps: SleepRecorder) -> None:
    server = ScriptedServer(busy(), busy(), busy(), OK)
    response = await make_client(server, max_retries=3).generate(model="m", prompt="p")
    assert response.text == "Once upon a time"
    assert len(server.requests) == 4
    assert len(sleeps.delays) == 3
    for n, delay in enumerate(sleeps.delays):
        assert 0.75 * 0.5 * 2**n <= delay <= 0.5 * 2**n


async def test_gives_up_after_max_retries(make_client: Callable[..., QuandexClient], sleeps: SleepRecorder) -> None:
    server = ScriptedServer(busy(), busy(), busy())
    with pytest.raises(ServiceUnavailableError):
        await make_client(server).generate(model="m", prompt="p")  # default max_retries is 2
    assert len(server.requests) == 3 and len(sleeps.delays) == 2


async def test_per_call_max_retries_overrides_the_client(make_client: Callable[..., QuandexClient], sleeps: SleepRecorder) -> None:
    server = ScriptedServer(busy(), busy(), OK)
    client = make_client(server, max_retries=0)
    with pytest.raises(ServiceUnavailableError):
        await client.generate(model="m", prompt="p")
    assert await client.generate(model="m", prompt="p", max_retries=1) is not None
    assert len(server.requests) == 3 and len(sleeps.delays) == 1


async def test_retry_after_is_honoured_and_capped(make_client: Callable[..., QuandexClient], sleeps: SleepRecorder) -> None:
    server = ScriptedServer(rate_limited(retry_after="3"), busy(retry_after="7"), busy(retry_after="120"), OK)
    await make_client(server, max_retries=3).generate(model="m", prompt="p")
    assert sleeps.delays == [3.0, 7.0, 60.0]


async def test_model_loading_is_retried(make_client: Callable[..., QuandexClient], sleeps: SleepRecorder) -> None:
    server = ScriptedServer(error_response(503, "model_loading", headers={"retry-after": "2"}), OK)
    assert (await make_client(server).generate(model="m", prompt="p")).id == "gen_abc123"
    assert sleeps.delays == [2.0]


@pytest.mark.parametrize("code", ["daily_quota_exceeded", "auth_rate_limited"])
async def test_quota_and_auth_limits_are_not_retried(make_client: Callable[..., QuandexClient], sleeps: SleepRecorder, code: str) -> None:
    server = ScriptedServer(rate_limited(code, retry_after="30"))
    with pytest.raises(RateLimitError) as caught:
        await make_client(server).generate(model="m", prompt="p")
    assert caught.value.code == code
    assert len(server.requests) == 1 and sleeps.delays == []


async def test_should_retry_header_false_stops_retries(make_client: Callable[..., QuandexClient], sleeps: SleepRecorder) -> None:
    server = ScriptedServer(busy(**{"x-should-retry": "false"}))
    with pytest.raises(ServiceUnavailableError):
        await make_client(server).generate(model="m", prompt="p")
    assert len(server.requests) == 1 and sleeps.delays == []


async def test_should_retry_header_true_forces_a_retry(make_client: Callable[..., QuandexClient], sleeps: SleepRecorder) -> None:
    server = ScriptedServer(error_response(500, "internal_error", headers={"x-should-retry": "true"}), OK)
    await make_client(server).generate(model="m", prompt="p")
    assert len(server.requests) == 2


async def test_client_errors_are_not_retried(make_client: Callable[..., QuandexClient], sleeps: SleepRecorder) -> None:
    server = ScriptedServer(error_response(401, "invalid_api_key"))
    with pytest.raises(AuthenticationError):
        await make_client(server).generate(model="m", prompt="p")
    assert len(server.requests) == 1 and sleeps.delays == []


async def test_connection_errors_are_retried(make_client: Callable[..., QuandexClient], sleeps: SleepRecorder) -> None:
    server = ScriptedServer(httpx.ConnectError("refused"), httpx.ConnectTimeout("slow connect"), OK)
    assert (await make_client(server).generate(model="m", prompt="p")).text == "Once upon a time"
    assert len(sleeps.delays) == 2


async def test_connection_error_after_retries_is_raised(make_client: Callable[..., QuandexClient]) -> None:
    server = ScriptedServer(httpx.ConnectError("refused"), httpx.ConnectError("refused"), httpx.ConnectTimeout("slow"))
    with pytest.raises(APITimeoutError):
        await make_client(server).list_models()
    assert len(server.requests) == 3


async def test_read_timeout_is_not_retried(make_client: Callable[..., QuandexClient], sleeps: SleepRecorder) -> None:
    # The server got the request and is likely still generating: re-sending would do it twice.
    server = ScriptedServer(httpx.ReadTimeout("no answer"))
    with pytest.raises(APITimeoutError):
        await make_client(server).generate(model="m", prompt="p")
    assert len(server.requests) == 1 and sleeps.delays == []


# -- streams -----------------------------------------------------------------------------------


async def test_stream_is_retried_before_its_headers(make_client: Callable[..., QuandexClient], sleeps: SleepRecorder) -> None:
    server = ScriptedServer(rate_limited(retry_after="1"), httpx.ConnectError("refused"), sse_response(sse_generation("a", "b")))
    texts = [c.text async for c in make_client(server).stream_generate(model="m", prompt="p")]
    assert texts == ["a", "b", ""]
    assert len(server.requests) == 3 and sleeps.delays[0] == 1.0


async def test_stream_is_never_resent_after_it_started(make_client: Callable[..., QuandexClient], sleeps: SleepRecorder) -> None:
    dropped = sse_response([sse_frame(chunk("Once")), httpx.RemoteProtocolError("peer closed connection")])
    server = ScriptedServer(dropped, sse_response(sse_generation("never", "sent")))
    received = []
    with pytest.raises(APIConnectionError):
        async for c in make_client(server, max_retries=5).stream_generate(model="m", prompt="p"):
            received.append(c.text)
    assert received == ["Once"]
    assert len(server.requests) == 1 and sleeps.delays == []


async def test_stream_with_200_headers_but_no_chunk_is_not_resent(make_client: Callable[..., QuandexClient]) -> None:
    server = ScriptedServer(sse_response([httpx.ReadError("reset")]), sse_response(sse_generation("x")))
    with pytest.raises(APIConnectionError):
        async for _ in make_client(server).stream_generate(model="m", prompt="p"):
            pass
    assert len(server.requests) == 1


async def test_stream_refused_with_a_client_error_is_not_retried(make_client: Callable[..., QuandexClient]) -> None:
    server = ScriptedServer(error_response(401, "invalid_api_key"), sse_response(sse_generation("x")))
    with pytest.raises(AuthenticationError):
        async for _ in make_client(server).stream_generate(model="m", prompt="p"):
            pass
    assert len(server.requests) == 1
