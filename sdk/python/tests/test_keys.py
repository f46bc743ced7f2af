"""Key administration: create with an expiry, rotate with a grace period, never retried blindly."""

from __future__ import annotations

from typing import Any, Callable

import httpx
import pytest

from quandex import APIError, QuandexClient
from tests.fakes import ScriptedServer, error_response


def key_record(**overrides: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": "key_abc", "name": "app", "prefix": "qdx_abcdef", "scopes": ["read"], "created_at": "2026-12-07T00:00:00.000Z",
        "revoked_at": None, "rps": None, "burst": None, "daily": None, "unlimited": False,
        "expires_at": None, "last_used_at": None, "previous_key_expires_at": None,
    }  # fmt: skip
    record.update(overrides)
    return record


async def test_create_sends_expires_at_and_returns_the_secret(make_client: Callable[..., QuandexClient]) -> None:
    server = ScriptedServer(httpx.Response(201, json=key_record(key="qdx_secret", expires_at="2027-01-01T00:00:00.000Z")))
    created = await make_client(server).create_key("app", scopes=["read"], expires_at="2027-01-01T00:00:00Z")
    assert server.paths() == ["POST /v1/admin/keys"]
    assert server.bodies() == [{"name": "app", "scopes": ["read"], "expires_at": "2027-01-01T00:00:00Z"}]
    assert created["key"] == "qdx_secret" and created["expires_at"] == "2027-01-01T00:00:00.000Z"


async def test_rotate_sends_the_grace_and_escapes_the_id(make_client: Callable[..., QuandexClient]) -> None:
    rotated = key_record(key="qdx_new", previous_key_expires_at="2026-12-07T01:00:00.000Z")
    server = ScriptedServer(httpx.Response(200, json=rotated), httpx.Response(200, json=rotated))
    client = make_client(server)
    assert (await client.rotate_key("key_abc", grace_seconds=0))["key"] == "qdx_new"
    await client.rotate_key("key/../x")
    assert [r.url.raw_path.decode() for r in server.requests] == ["/v1/admin/keys/key_abc/rotate", "/v1/admin/keys/key%2F..%2Fx/rotate"]
    assert server.bodies() == [{"grace_seconds": 0}, {}]


@pytest.mark.parametrize("call", ["create", "rotate"])
async def test_create_and_rotate_are_not_retried_by_default(make_client: Callable[..., QuandexClient], call: str) -> None:
    # A retried rotation would end the grace of the secret clients still use; a retried create would
    # leave a key whose secret nobody saw. One 503 is answered as an error.
    server = ScriptedServer(error_response(503, "server_busy"))
    client = make_client(server)
    with pytest.raises(APIError):
        if call == "create":
            await client.create_key("app")
        else:
            await client.rotate_key("key_abc")
    assert len(server.requests) == 1


async def test_list_and_revoke(make_client: Callable[..., QuandexClient]) -> None:
    server = ScriptedServer(
        httpx.Response(200, json={"object": "list", "data": [key_record(last_used_at="2026-12-07T00:01:00.000Z")]}),
        httpx.Response(200, json=key_record(revoked_at="2026-12-07T00:02:00.000Z")),
    )
    client = make_client(server)
    keys = await client.list_keys()
    assert keys[0]["last_used_at"] == "2026-12-07T00:01:00.000Z" and "key" not in keys[0]
    assert (await client.revoke_key("key_abc"))["revoked_at"] is not None
    assert server.paths() == ["GET /v1/admin/keys", "DELETE /v1/admin/keys/key_abc"]
