"""The async client: configuration, request bodies, typed results and model management."""

from __future__ import annotations

import asyncio
import json
from typing import Any, Callable

import httpx
import pytest

from quandex import (
    DEFAULT_BASE_URL,
    APITimeoutError,
    GenerateResponse,
    NotFoundError,
    QuandexClient,
    QuandexError,
)
from tests.fakes import (
    API_KEY,
    ScriptedServer,
    SleepRecorder,
    error_response,
    generate_response,
    model_entry,
    model_stats,
    stats_response,
)

# -- configuration -----------------------------------------------------------------------------


def test_key_and_url_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUANDEX_API_KEY", "qdx_from_env")
    monkeypatch.setenv("QUANDEX_BASE_URL", "http://gpu-box:9000/v1/")
    client = QuandexClient()
    assert (client.api_key, client.base_url) == ("qdx_from_env", "http://gpu-box:9000/v1")
    explicit = QuandexClient(api_key="qdx_arg", base_url="http://other/v1")
    assert (explicit.api_key, explicit.base_url) == ("qdx_arg", "http://other/v1")


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QUANDEX_BASE_URL", raising=False)
    client = QuandexClient(api_key="k")
    assert client.base_url == DEFAULT_BASE_URL == "http://localhost:8000/v1"
    assert client.max_retries == 2
    assert client.timeout == httpx.Timeout(600.0, connect=5.0)
    assert client.stream_read_timeout == 60.0


def test_missing_api_key_fails_early(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QUANDEX_API_KEY", raising=False)
    with pytest.raises(QuandexError, match="QUANDEX_API_KEY"):
        QuandexClient()


def test_http_client_must_be_async() -> None:
    with pytest.raises(TypeError):
        QuandexClient(api_key="k", http_client=httpx.Client())  # type: ignore[arg-type]


async def test_context_manager_closes_its_own_http_client() -> None:
    async with QuandexClient(api_key="k") as client:
        http = client._http
        assert not http.is_closed
    assert http.is_closed


async def test_a_callers_http_client_is_left_open() -> None:
    http = httpx.AsyncClient()
    async with QuandexClient(api_key="k", http_client=http):
        pass
    assert not http.is_closed
    await http.aclose()


# -- generate ----------------------------------------------------------------------------------


async def test_generate_sends_only_the_given_parameters(make_client: Callable[..., QuandexClient]) -> None:
    server = ScriptedServer(httpx.Response(200, json=generate_response()), httpx.Response(200, json=generate_response()))
    client = make_client(server, default_headers={"X-Trace": "t1"})
    await client.generate(model="llama-3.2", prompt="Explain quantum computing", temperature=0.7, metal_optimize=True)
    await client.generate(
        model="m", prompt="p", temperature=0, max_tokens=50, metal_optimize=False, top_p=0.9, top_k=40,
        stop=["\n", "END"], seed=0, repeat_penalty=1.1, ignore_eos=True,
    )  # fmt: skip
    assert server.bodies() == [
        {"model": "llama-3.2", "prompt": "Explain quantum computing", "temperature": 0.7, "metal_optimize": True},
        {
            "model": "m", "prompt": "p", "temperature": 0, "max_tokens": 50, "metal_optimize": False, "top_p": 0.9,
            "top_k": 40, "stop": ["\n", "END"], "seed": 0, "repeat_penalty": 1.1, "ignore_eos": True,
        },
    ]  # fmt: skip
    request = server.requests[0]
    assert (request.method, str(request.url)) == ("POST", "http://quandex.test/v1/generate")
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["x-trace"] == "t1"
    assert request.headers["user-agent"].startswith("quandex-python/")


async def test_generate_result_is_typed_and_dict_like(make_client: Callable[..., QuandexClient]) -> None:
    raw = generate_response("Quantum computers use qubits.")
    raw["future_field"] = {"nested": 1}
    response = await make_client(ScriptedServer(httpx.Response(200, json=raw))).generate(model="m", prompt="p")
    assert isinstance(response, GenerateResponse)
    assert response.id == "gen_abc123" and response.model == "llama-3.2"
    assert response.text == response.choices[0].text == "Quantum computers use qubits."
    assert response.choices[0].finish_reason == "stop"
    assert (response.usage.prompt_tokens, response.usage.completion_tokens, response.usage.total_tokens) == (5, 4, 9)
    assert response.metal_stats.processing_time == "120ms" and response.metal_stats.tokens_per_second == 830.1
    # The raw JSON, unknown fields included, stays reachable dict-style.
    assert response["choices"] == raw["choices"]
    assert response["future_field"] == {"nested": 1}
    assert response.usage["total_tokens"] == 9
    assert "metal_stats" in response and response.get("missing", "dflt") == "dflt"
    assert response.to_dict() == raw


async def test_per_call_timeout(make_client: Callable[..., QuandexClient]) -> None:
    server = ScriptedServer(httpx.Response(200, json=generate_response()), httpx.Response(200, json=generate_response()))
    client = make_client(server)
    await client.generate(model="m", prompt="p")
    await client.generate(model="m", prompt="p", timeout=2.5)
    default, per_call = (r.extensions["timeout"] for r in server.requests)
    assert default == {"connect": 5.0, "read": 600.0, "write": 600.0, "pool": 600.0}
    assert per_call == {"connect": 2.5, "read": 2.5, "write": 2.5, "pool": 2.5}


@pytest.mark.parametrize(
    "mutate,where",
    [
        (lambda r: r["usage"].pop("total_tokens"), "GenerateResponse.usage.total_tokens is missing"),
        (lambda r: r["choices"][0].update(text=5), "GenerateResponse.choices[0].text should be a string"),
        (lambda r: r["metal_stats"].update(batch_size=True), "GenerateResponse.metal_stats.batch_size should be an integer"),
    ],
)
async def test_malformed_answer_names_the_field(
    make_client: Callable[..., QuandexClient], mutate: Callable[[dict[str, Any]], object], where: str
) -> None:
    raw = generate_response()
    mutate(raw)
    with pytest.raises(QuandexError, match=where.replace("[", r"\[").replace("]", r"\]")):
        await make_client(ScriptedServer(httpx.Response(200, json=raw))).generate(model="m", prompt="p")


async def test_answer_that_is_not_json(make_client: Callable[..., QuandexClient]) -> None:
    server = ScriptedServer(httpx.Response(200, text="<html>proxy</html>"))
    with pytest.raises(QuandexError, match="not JSON"):
        await make_client(server).generate(model="m", prompt="p")


# -- models and stats --------------------------------------------------------------------------


async def test_get_model_stats_joins_entry_and_stats_by_canonical_id(make_client: Callable[..., QuandexClient]) -> None:
    entry = model_entry("llama-3.2-1b", aliases=["llama-3.2"])
    stats = stats_response({"llama-3.2-1b": model_stats(10.0), "other": model_stats(99.0)})
    server = ScriptedServer(httpx.Response(200, json=entry), httpx.Response(200, json=stats))
    joined = await make_client(server).get_model_stats("llama-3.2")
    assert server.paths() == ["GET /v1/models/llama-3.2", "GET /v1/stats"]
    assert joined == {**entry, **model_stats(10.0)}
    assert joined["memory_usage"] == "12MB" and joined["requests_per_second"] == 10.0


async def test_get_model_stats_without_traffic_has_only_the_entry(make_client: Callable[..., QuandexClient]) -> None:
    server = ScriptedServer(httpx.Response(200, json=model_entry("m", status="unloaded")), httpx.Response(200, json=stats_response({})))
    assert await make_client(server).get_model_stats("m") == model_entry("m", status="unloaded")


async def test_get_model_stats_unknown_model(make_client: Callable[..., QuandexClient]) -> None:
    server = ScriptedServer(error_response(404, "model_not_found"))
    with pytest.raises(NotFoundError):
        await make_client(server).get_model_stats("nope")


async def test_model_ids_are_escaped_into_one_path_segment(make_client: Callable[..., QuandexClient]) -> None:
    server = ScriptedServer(httpx.Response(202, json=model_entry("org/model v2", status="loading")))
    entry = await make_client(server).load_model("org/model v2")
    assert server.requests[0].url.raw_path == b"/v1/models/org%2Fmodel%20v2/load"
    assert entry.status == "loading"


async def test_list_models_stats_usage_unload(make_client: Callable[..., QuandexClient]) -> None:
    models = {
        "object": "list",
        "models": [model_entry("a", aliases=["alias-a"]), model_entry("b", status="unloaded")],
        "data": [{"id": "a", "object": "model", "created": 1, "owned_by": "quandex"}],
    }
    usage = {"requests_today": 3, "daily_limit": 1000}
    server = ScriptedServer(
        httpx.Response(200, json=models),
        httpx.Response(200, json=stats_response()),
        httpx.Response(200, json=usage),
        httpx.Response(202, json=model_entry("a", status="unloaded")),
    )
    client = make_client(server)
    listed = await client.list_models()
    assert [m.id for m in listed.models] == ["a", "b"] and listed.data[0].owned_by == "quandex"
    assert listed.find("alias-a") is listed.models[0] and listed.find("zzz") is None
    stats = await client.get_stats()
    assert stats.models["llama-3.2"].average_latency == "100ms" and stats.metal_device.temperature is None
    assert await client.get_usage() == usage
    assert (await client.unload_model("a")).status == "unloaded"
    assert server.paths() == ["GET /v1/models", "GET /v1/stats", "GET /v1/usage", "POST /v1/models/a/unload"]


# -- wait_until_ready --------------------------------------------------------------------------


def entry_reply(status: str, error: str | None = None, code: int = 200) -> httpx.Response:
    return httpx.Response(code, json=model_entry("other", status=status, error=error))


async def test_wait_until_ready_loads_an_unloaded_model_and_polls(make_client: Callable[..., QuandexClient], sleeps: SleepRecorder) -> None:
    server = ScriptedServer(entry_reply("unloaded"), entry_reply("loading", code=202), entry_reply("loading"), entry_reply("ready"))
    entry = await make_client(server).wait_until_ready("other", timeout=30, poll_interval=0.25)
    assert entry.status == "ready"
    assert server.paths() == ["GET /v1/models/other", "POST /v1/models/other/load", "GET /v1/models/other", "GET /v1/models/other"]
    assert sleeps.delays == [0.25, 0.25]


async def test_wait_until_ready_on_a_ready_model_sends_no_load(make_client: Callable[..., QuandexClient]) -> None:
    server = ScriptedServer(entry_reply("ready"))
    assert (await make_client(server).wait_until_ready("other")).status == "ready"
    assert server.paths() == ["GET /v1/models/other"]


async def test_wait_until_ready_retries_a_model_in_error_then_raises(make_client: Callable[..., QuandexClient]) -> None:
    server = ScriptedServer(entry_reply("error", "old failure"), entry_reply("loading", code=202), entry_reply("error", "file is corrupt"))
    with pytest.raises(QuandexError, match="file is corrupt"):
        await make_client(server).wait_until_ready("other")
    assert server.paths()[1] == "POST /v1/models/other/load"


async def test_wait_until_ready_times_out() -> None:
    server = ScriptedServer(*([entry_reply("loading")] * 1000))
    client = QuandexClient(api_key="k", base_url="http://q/v1", http_client=httpx.AsyncClient(transport=httpx.MockTransport(server)))
    with pytest.raises(APITimeoutError, match=r"not ready after 0\.2 s"):
        await asyncio.wait_for(client.wait_until_ready("other", timeout=0.2, poll_interval=0.05), 5)
    assert 3 <= len(server.requests) <= 10


def test_response_objects_compare_by_value() -> None:
    a = GenerateResponse.from_json(generate_response())
    b = GenerateResponse.from_json(json.loads(json.dumps(generate_response())))
    assert a == b and a is not b
    assert "metal_stats=MetalStats(" in repr(a)
