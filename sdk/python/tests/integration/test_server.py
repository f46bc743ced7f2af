"""The SDK against a real `quandex serve` with the real test model (see conftest.py)."""

from __future__ import annotations

import ast
import asyncio
import contextlib
import io
import re
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from quandex import (
    AuthenticationError,
    BadRequestError,
    ModelLoadingError,
    NotFoundError,
    PermissionDeniedError,
    Quandex,
    QuandexClient,
    RateLimitError,
)
from tests.integration.quandex_process import MODEL, REPO_ROOT, SECOND_MODEL, ImpatientServer, RunningServer
from tests.unavailable import unavailable

pytestmark = pytest.mark.integration

# The Python SDK example of docs: shared/spec/quandex-api-reference.md, character for character.
# It uses top-level await, so it is compiled the way asyncio's REPL does it.
REFERENCE_EXAMPLE = """\
from quandex import QuandexClient

# Initialize client
client = QuandexClient(api_key="your_api_key")

# Generate text
response = await client.generate(
    model="llama-3.2",
    prompt="Explain quantum computing",
    temperature=0.7,
    metal_optimize=True
)

# Stream responses
async for chunk in client.stream_generate(
    model="llama-3.2",
    prompt="Write a story",
    metal_optimize=True
):
    print(chunk.text, end="")

# Get model stats
stats = await client.get_model_stats("llama-3.2")
print(f"Memory usage: {stats['memory_usage']}")
"""
REFERENCE_DOC = REPO_ROOT.parent / "shared" / "spec" / "quandex-api-reference.md"


@pytest.fixture
async def client(server: RunningServer) -> AsyncIterator[QuandexClient]:
    async with QuandexClient(api_key=server.admin_key, base_url=server.base_url) as client:
        yield client


def test_reference_example_is_the_documented_one() -> None:
    if not REFERENCE_DOC.exists():
        unavailable(f"the API reference {REFERENCE_DOC} is not beside the repo")
    blocks = re.findall(r"```python\n(.*?)```", REFERENCE_DOC.read_text(), flags=re.DOTALL)
    assert REFERENCE_EXAMPLE in blocks


async def test_reference_example_runs_unchanged(server: RunningServer, monkeypatch: pytest.MonkeyPatch) -> None:
    # Only the key differs: the server issues its own. The URL comes from the environment, as a
    # deployment would set it.
    source = REFERENCE_EXAMPLE.replace('"your_api_key"', repr(server.admin_key))
    monkeypatch.setenv("QUANDEX_BASE_URL", server.base_url)
    namespace: dict[str, Any] = {}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = compile(source, "<reference example>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
        coroutine = eval(code, namespace)  # our own constant, see above
        if coroutine is not None:
            await coroutine
    await namespace["client"].close()

    response = namespace["response"]
    assert response.model == "llama-3.2" and response.id.startswith("gen_")
    assert response.choices[0].finish_reason in ("stop", "length")
    assert response.usage.total_tokens == response.usage.prompt_tokens + response.usage.completion_tokens
    assert response.metal_stats.backend in ("cpu", "cuda", "vulkan", "metal")
    story, memory_line = printed.getvalue().rsplit("Memory usage: ", 1)
    assert story.strip(), "the streamed story printed nothing"
    assert re.fullmatch(r"\d+(\.\d+)?\s?[KMGT]?i?B\n", memory_line), memory_line
    assert memory_line.strip() != "0B", "the model answered, so it holds memory"


async def test_streaming_matches_non_streaming(client: QuandexClient) -> None:
    params: dict[str, Any] = dict(model=MODEL, prompt="Once upon a time", temperature=0, seed=42, max_tokens=50)
    whole = await client.generate(**params)
    chunks = [chunk async for chunk in client.stream_generate(**params)]
    assert "".join(c.text for c in chunks) == whole.text
    assert all(c.finish_reason is None for c in chunks[:-1])
    final = chunks[-1]
    assert final.finish_reason == whole.choices[0].finish_reason
    assert final.usage is not None and final.metal_stats is not None
    assert (final.usage.prompt_tokens, final.usage.completion_tokens) == (whole.usage.prompt_tokens, whole.usage.completion_tokens)
    assert whole.usage.completion_tokens <= 50


async def test_generate_parameters_are_accepted(client: QuandexClient) -> None:
    response = await client.generate(
        model=MODEL, prompt="The cat", temperature=0.5, max_tokens=8, top_p=0.9, top_k=20, stop=["\n\n"],
        seed=1, repeat_penalty=1.1, ignore_eos=True, metal_optimize=False,
    )  # fmt: skip
    # ignore_eos keeps going until max_tokens, unless the stop string shows up first.
    assert response.usage.completion_tokens <= 8
    assert response.choices[0].finish_reason in ("length", "stop")


async def test_get_model_stats_joins_models_and_stats(client: QuandexClient) -> None:
    await client.generate(model=MODEL, prompt="Hi", max_tokens=4)
    stats = await client.get_model_stats(MODEL)
    assert stats["id"] == MODEL and stats["status"] == "ready"
    assert stats["memory_usage"] != "0B" and isinstance(stats["metal_optimized"], bool)
    for key in ("requests_per_second", "average_latency", "error_rate", "requests_total"):
        assert key in stats, f"{key} missing: the /v1/stats entry was not joined"
    assert stats["requests_total"] >= 1


async def test_list_models_and_stats_parse(client: QuandexClient) -> None:
    listed = await client.list_models()
    assert {MODEL, SECOND_MODEL} <= {m.id for m in listed.models}
    assert listed.find(MODEL) is not None
    stats = await client.get_stats()
    assert stats.engine.threads >= 1 and stats.server.max_queue >= 0


async def test_get_usage(client: QuandexClient) -> None:
    usage = await client.get_usage()
    assert isinstance(usage, dict) and usage


async def wait_for_idle_sequences(client: QuandexClient, within: float) -> None:
    deadline = time.monotonic() + within
    while (await client.get_stats()).server.active_sequences != 0:
        assert time.monotonic() < deadline, "the server kept generating after the client left"
        await asyncio.sleep(0.05)


# 1500 tokens take the test model several seconds here, so a sequence still busy after a
# fraction of that means the server never noticed that the client left.
LONG_GENERATION: dict[str, Any] = dict(model=MODEL, prompt="Once", max_tokens=1500, ignore_eos=True)


async def test_async_with_closes_the_stream_and_stops_generation(client: QuandexClient) -> None:
    async with client.stream_generate(**LONG_GENERATION) as stream:
        async for _ in stream:
            break
    await wait_for_idle_sequences(client, within=1.5)


async def test_break_alone_stops_generation(client: QuandexClient) -> None:
    async for _ in client.stream_generate(**LONG_GENERATION):
        break
    await wait_for_idle_sequences(client, within=1.5)


# -- errors, each triggered for real -----------------------------------------------------------


async def test_401_bad_key(server: RunningServer) -> None:
    async with QuandexClient(api_key="qdx_" + "A" * 43, base_url=server.base_url) as bad:
        with pytest.raises(AuthenticationError) as caught:
            await bad.generate(model=MODEL, prompt="p")
    assert caught.value.status == 401 and caught.value.code == "invalid_api_key"
    assert caught.value.request_id


async def test_403_missing_scope(server: RunningServer) -> None:
    async with QuandexClient(api_key=server.read_key, base_url=server.base_url) as reader:
        with pytest.raises(PermissionDeniedError) as caught:
            await reader.generate(model=MODEL, prompt="p")
        assert caught.value.code == "insufficient_scope"
        with pytest.raises(PermissionDeniedError):
            async for _ in reader.stream_generate(model=MODEL, prompt="p"):
                pass
    async with QuandexClient(api_key=server.generate_key, base_url=server.base_url) as generator:
        with pytest.raises(PermissionDeniedError):
            await generator.get_stats()
        with pytest.raises(PermissionDeniedError):
            await generator.unload_model(SECOND_MODEL)


async def test_404_unknown_model(client: QuandexClient) -> None:
    with pytest.raises(NotFoundError) as caught:
        await client.generate(model="no-such-model", prompt="p")
    assert caught.value.code == "model_not_found"
    with pytest.raises(NotFoundError):
        async for _ in client.stream_generate(model="no-such-model", prompt="p"):
            pass
    with pytest.raises(NotFoundError):
        await client.get_model_stats("no-such-model")


async def test_400_bad_temperature(client: QuandexClient) -> None:
    with pytest.raises(BadRequestError) as caught:
        await client.generate(model=MODEL, prompt="p", temperature=5)
    assert caught.value.status == 400 and caught.value.code == "invalid_parameter"
    assert caught.value.param == "temperature"


async def first_request_with_limit_headers(server: RunningServer, key: str, header: str) -> None:
    """Spends the key's first request, whose answer announces the key's limit in ``header``.

    The model is made ready first so that request is quick: one that had to wait for a load would
    give the bucket time to refill before the test's next request."""
    async with QuandexClient(api_key=server.admin_key, base_url=server.base_url) as admin:
        await admin.wait_until_ready(MODEL, timeout=60)
    async with httpx.AsyncClient() as raw:
        answer = await raw.post(
            f"{server.base_url}/generate",
            json={"model": MODEL, "prompt": "p", "max_tokens": 1},
            headers={"Authorization": f"Bearer {key}"},
        )
    assert answer.status_code == 200, answer.text
    assert header in answer.headers, f"no {header} header for a limited key: {dict(answer.headers)}"


async def test_429_rate_limit_is_retried_after_retry_after(server: RunningServer) -> None:
    await first_request_with_limit_headers(server, server.burst_key, "x-ratelimit-limit")
    async with QuandexClient(api_key=server.burst_key, base_url=server.base_url) as limited:
        with pytest.raises(RateLimitError) as caught:
            await limited.generate(model=MODEL, prompt="p", max_tokens=1, max_retries=0)
        assert caught.value.code == "rate_limit_exceeded"
        assert int(caught.value.headers["retry-after"]) >= 1
        started = time.monotonic()
        await limited.generate(model=MODEL, prompt="p", max_tokens=1)  # waits out Retry-After, then succeeds
        assert time.monotonic() - started >= 0.5


async def test_429_daily_quota_is_not_retried(server: RunningServer) -> None:
    await first_request_with_limit_headers(server, server.quota_key, "x-ratelimit-limit-day")
    async with QuandexClient(api_key=server.quota_key, base_url=server.base_url, max_retries=5) as limited:
        started = time.monotonic()
        with pytest.raises(RateLimitError) as caught:
            await limited.generate(model=MODEL, prompt="p", max_tokens=1)
    assert caught.value.code == "daily_quota_exceeded"
    assert time.monotonic() - started < 2, "a daily quota must not be waited out"


async def test_503_model_loading(impatient_server: ImpatientServer) -> None:
    # This server lets a request wait 1 ms for a load: the first request for an unloaded model
    # starts the load and gets 503 model_loading, on any machine.
    async with QuandexClient(api_key=impatient_server.admin_key, base_url=impatient_server.base_url) as client:
        await client.unload_model(SECOND_MODEL)
        with pytest.raises(ModelLoadingError) as caught:
            await client.generate(model=SECOND_MODEL, prompt="p", max_tokens=4, max_retries=0)
        assert caught.value.status == 503 and caught.value.code == "model_loading"
        assert caught.value.headers.get("retry-after")
        # With retries the same call succeeds once the load is done.
        assert (await client.generate(model=SECOND_MODEL, prompt="p", max_tokens=4)).usage.completion_tokens >= 1


async def test_wait_until_ready_loads_an_unloaded_model(client: QuandexClient) -> None:
    await client.unload_model(SECOND_MODEL)
    assert (await client.get_model(SECOND_MODEL)).status == "unloaded"
    entry = await client.wait_until_ready(SECOND_MODEL, timeout=60)
    assert entry.status == "ready" and entry.memory_usage != "0B"
    assert (await client.get_model(SECOND_MODEL)).status == "ready"


def test_sync_client(server: RunningServer) -> None:
    with Quandex(api_key=server.admin_key, base_url=server.base_url) as client:
        params: dict[str, Any] = dict(model=MODEL, prompt="Once upon a time", temperature=0, seed=7, max_tokens=20)
        whole = client.generate(**params)
        streamed = "".join(c.text for c in client.stream_generate(**params))
        assert streamed == whole.text
        assert client.get_model_stats(MODEL)["status"] == "ready"
        with pytest.raises(NotFoundError):
            client.generate(model="no-such-model", prompt="p")
