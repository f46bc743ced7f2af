"""Starts one real `quandex serve` per test session; skips (or fails, with
QUANDEX_REQUIRE_INTEGRATION=1) when node, the built server or the test model is missing."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from typing import Iterator

import pytest

from quandex_process import (
    BUILT_MAIN,
    CLI,
    MODEL,
    REPO_ROOT,
    SECOND_MODEL,
    TEST_MODEL,
    RunningServer,
    create_key,
    free_port,
    keys_create_options,
    unavailable,
    wait_for_health,
)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    if shutil.which("node") is None:
        unavailable("node is not on PATH")
    if not BUILT_MAIN.exists():
        unavailable(f"the server is not built ({BUILT_MAIN.relative_to(REPO_ROOT)} missing; run `npm run build`)")
    if not TEST_MODEL.exists():
        unavailable(f"test model {TEST_MODEL} not found (set QUANDEX_TEST_MODEL)")

    root = tmp_path_factory.mktemp("quandex")
    models_dir, data_dir = root / "models", root / "data"
    models_dir.mkdir()
    data_dir.mkdir()
    shutil.copyfile(TEST_MODEL, models_dir / f"{MODEL}.gguf")
    shutil.copyfile(TEST_MODEL, models_dir / f"{SECOND_MODEL}.gguf")

    options = keys_create_options()
    limits = all(option in options for option in ("--rps", "--burst", "--daily"))
    unlimited = ["--unlimited"] if "--unlimited" in options else []
    keys = dict(
        admin_key=create_key(data_dir, "admin", "generate,read,admin", *unlimited),
        read_key=create_key(data_dir, "reader", "read", *unlimited),
        generate_key=create_key(data_dir, "generator", "generate", *unlimited),
        burst_key=create_key(data_dir, "burst", "generate,read", "--rps", "2", "--burst", "1") if limits else "",
        quota_key=create_key(data_dir, "quota", "generate,read", "--daily", "1") if limits else "",
    )

    port = free_port()
    log_path = root / "server.log"
    command = ["node", str(CLI), "serve", "--port", str(port), "--models-dir", str(models_dir), "--data-dir", str(data_dir)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUANDEX_")}  # the flags alone configure it
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        wait_for_health(f"http://127.0.0.1:{port}", process, log_path)
        yield RunningServer(base_url=f"http://127.0.0.1:{port}/v1", log_path=log_path, **keys)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
