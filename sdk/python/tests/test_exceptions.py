"""Every error answer becomes the right exception class, with the body's fields on it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable

import httpx
import pytest

import quandex
from quandex import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    InternalServerError,
    ModelLoadingError,
    NotFoundError,
    PermissionDeniedError,
    QuandexClient,
    QuandexError,
    RateLimitError,
    ServiceUnavailableError,
)
from quandex._exceptions import ERROR_CODE_STATUS
from tests.fakes import ScriptedServer, error_response, sse_frame, sse_response
from tests.unavailable import unavailable

CASES = [
    (400, "invalid_parameter", BadRequestError),
    (400, "invalid_json", BadRequestError),
    (400, "context_length_exceeded", BadRequestError),
    (400, "schema_too_complex", BadRequestError),
    (400, "malformed_request", BadRequestError),
    (401, "invalid_api_key", AuthenticationError),
    (403, "insufficient_scope", PermissionDeniedError),
    (404, "model_not_found", NotFoundError),
    (404, "route_not_found", NotFoundError),
    (404, "key_not_found", NotFoundError),
    (404, "pull_not_found", NotFoundError),
    (405, "method_not_allowed", BadRequestError),
    (408, "client_too_slow", BadRequestError),
    (409, "model_exists", BadRequestError),
    (409, "model_busy", BadRequestError),
    (413, "payload_too_large", BadRequestError),
    (414, "uri_too_long", BadRequestError),
    (415, "unsupported_media_type", BadRequestError),
    (422, None, BadRequestError),
    (429, "rate_limit_exceeded", RateLimitError),
    (429, "daily_quota_exceeded", RateLimitError),
    (429, "auth_rate_limited", RateLimitError),
    (429, "too_many_connections", RateLimitError),
    (431, "headers_too_large", BadRequestError),
    (500, "internal_error", InternalServerError),
    (502, "download_failed", InternalServerError),
    (502, None, InternalServerError),
    (503, "server_busy", ServiceUnavailableError),
    (503, "server_shutdown", ServiceUnavailableError),
    (503, "model_unavailable", ServiceUnavailableError),
    (503, "limits_unavailable", ServiceUnavailableError),
    (503, "console_not_built", ServiceUnavailableError),
    (503, "model_loading", ModelLoadingError),
    (507, "insufficient_storage", InternalServerError),
]
CLASS_BY_CODE = {code: cls for _, code, cls in CASES if code}


@pytest.mark.parametrize("status,code,cls", CASES, ids=[f"{s}-{c}" for s, c, _ in CASES])
async def test_http_error_maps_to_class(
    make_client: Callable[..., QuandexClient], status: int, code: str | None, cls: type[APIError]
) -> None:
    reply = (
        error_response(status, code, message="it failed", type="some_type", param="temperature")
        if code
        else httpx.Response(status, text="<html>Bad Gateway</html>", headers={"x-request-id": "req_1"})
    )
    client = make_client(ScriptedServer(reply), max_retries=0)
    with pytest.raises(APIError) as caught:
        await client.generate(model="m", prompt="p")
    error = caught.value
    assert type(error) is cls
    assert error.status == status
    assert error.request_id == "req_1"
    assert error.headers["x-request-id"] == "req_1"
    if code:
        assert (error.code, error.message, error.type, error.param) == (code, "it failed", "some_type", "temperature")
        assert error.body["error"]["code"] == code
        assert str(error) == f"{status} {code}: it failed (request id req_1)"
    else:
        assert error.code is None and error.body == "<html>Bad Gateway</html>"
        assert "Bad Gateway" in error.message


def test_class_tree() -> None:
    assert issubclass(ModelLoadingError, ServiceUnavailableError)
    for cls in (BadRequestError, AuthenticationError, PermissionDeniedError, NotFoundError, RateLimitError,
                InternalServerError, ServiceUnavailableError):  # fmt: skip
        assert issubclass(cls, APIError) and issubclass(cls, QuandexError)
    # Transport failures carry no HTTP answer, so they are not APIErrors.
    assert issubclass(APITimeoutError, APIConnectionError)
    assert issubclass(APIConnectionError, QuandexError)
    assert not issubclass(APIConnectionError, APIError)


@pytest.mark.parametrize("code", sorted(ERROR_CODE_STATUS))
async def test_stream_error_event_maps_like_http(make_client: Callable[..., QuandexClient], code: str) -> None:
    """An error after the headers arrives as `event: error` on a 200; the code decides the class."""
    status = ERROR_CODE_STATUS[code]
    body = {"error": {"code": code, "message": "late failure", "type": "t", "param": None}}
    client = make_client(ScriptedServer(sse_response([sse_frame(body, event="error")])))
    with pytest.raises(APIError) as caught:
        async for _ in client.stream_generate(model="m", prompt="p"):
            pass
    assert type(caught.value) is CLASS_BY_CODE[code]
    assert (caught.value.status, caught.value.code, caught.value.message) == (status, code, "late failure")
    assert caught.value.request_id == "req_s"


async def test_stream_error_event_with_unknown_code_uses_type(make_client: Callable[..., QuandexClient]) -> None:
    body = {"error": {"code": "brand_new_code", "message": "m", "type": "rate_limit_error"}}
    client = make_client(ScriptedServer(sse_response([sse_frame(body, event="error")])))
    with pytest.raises(RateLimitError):
        async for _ in client.stream_generate(model="m", prompt="p"):
            pass


async def test_transport_errors(make_client: Callable[..., QuandexClient]) -> None:
    client = make_client(ScriptedServer(httpx.ConnectError("refused"), httpx.ReadTimeout("slow")), max_retries=0)
    with pytest.raises(APIConnectionError) as refused:
        await client.list_models()
    assert type(refused.value) is APIConnectionError and "refused" in str(refused.value)
    with pytest.raises(APITimeoutError):
        await client.list_models()


def test_error_codes_match_the_protocol_catalogue() -> None:
    """Keeps ERROR_CODE_STATUS in step with the server's catalogue when both live in this repo."""
    catalogue = Path(__file__).resolve().parents[3] / "packages" / "protocol" / "src" / "errorCatalogue.ts"
    if not catalogue.exists():
        unavailable(f"{catalogue} not found (SDK tested outside the monorepo)")
    pairs = re.findall(r"^\s*(\w+): \{\s*status: (\d+)", catalogue.read_text(), flags=re.MULTILINE)
    assert len(pairs) >= 10, "could not parse the catalogue"
    assert {code: int(status) for code, status in pairs} == ERROR_CODE_STATUS


def test_readme_documents_every_class_and_code() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    table = readme[readme.index("## Errors") : readme.index("## Retries")]
    for name in quandex.__all__:
        if name.endswith("Error"):
            assert f"`{name}`" in table, name
    for code in ERROR_CODE_STATUS:
        assert f"`{code}`" in table, code
