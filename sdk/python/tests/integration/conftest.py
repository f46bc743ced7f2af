"""Real `quandex serve` processes for the integration tests, started once per session. Without node,
the built server or the test model they skip, or fail in CI (see tests/unavailable.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.quandex_process import (
    MODEL,
    SECOND_MODEL,
    ImpatientServer,
    RunningServer,
    create_key,
    lay_out,
    require_prerequisites,
    serve,
)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    require_prerequisites()
    root = tmp_path_factory.mktemp("quandex")
    models_dir, data_dir = lay_out(root, [MODEL, SECOND_MODEL])
    keys = dict(
        admin_key=create_key(data_dir, "admin", "generate,read,admin", "--unlimited"),
        read_key=create_key(data_dir, "reader", "read", "--unlimited"),
        generate_key=create_key(data_dir, "generator", "generate", "--unlimited"),
        burst_key=create_key(data_dir, "burst", "generate,read", "--rps", "2", "--burst", "1"),
        quota_key=create_key(data_dir, "quota", "generate,read", "--daily", "1"),
    )
    with serve(root, models_dir, data_dir) as base_url:
        yield RunningServer(base_url=base_url, log_path=root / "server.log", **keys)


@pytest.fixture(scope="session")
def impatient_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ImpatientServer]:
    require_prerequisites()
    root = tmp_path_factory.mktemp("quandex-impatient")
    models_dir, data_dir = lay_out(root, [SECOND_MODEL])
    admin_key = create_key(data_dir, "admin", "generate,read,admin", "--unlimited")
    with serve(root, models_dir, data_dir, config={"server": {"request_timeout": 0.001}}) as base_url:
        yield ImpatientServer(base_url=base_url, admin_key=admin_key)
