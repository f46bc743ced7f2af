"""Fixtures for the unit tests: clients wired to a scripted mock transport and a fake sleep."""

from __future__ import annotations

from typing import Any, Callable

import httpx
import pytest

from quandex import Quandex, QuandexClient
from tests.fakes import API_KEY, BASE_URL, ScriptedServer, SleepRecorder


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
def make_client(sleeps: SleepRecorder) -> Callable[..., QuandexClient]:
    def make(server: ScriptedServer, **options: Any) -> QuandexClient:
        http = httpx.AsyncClient(transport=httpx.MockTransport(server))
        return QuandexClient(api_key=API_KEY, base_url=BASE_URL, http_client=http, _sleep=sleeps.async_sleep, **options)

    return make


@pytest.fixture
def make_sync_client(sleeps: SleepRecorder) -> Callable[..., Quandex]:
    def make(server: ScriptedServer, **options: Any) -> Quandex:
        http = httpx.Client(transport=httpx.MockTransport(server))
        return Quandex(api_key=API_KEY, base_url=BASE_URL, http_client=http, _sleep=sleeps.sync_sleep, **options)

    return make
