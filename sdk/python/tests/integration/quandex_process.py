"""Runs a real `quandex serve` on a free port with the real test model; used by conftest.py.

Needs node, the built server (`npm run build` makes packages/server/dist) and the test model
(`../shared/models/stories260K.gguf` beside the repo, or $QUANDEX_TEST_MODEL). Without them the
integration tests are skipped, or fail when QUANDEX_REQUIRE_INTEGRATION=1 (set it in CI so a
missing build cannot pass as green).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import List

import httpx
import pytest

REPO_ROOT = Path(__file__).resolve().parents[4]
CLI = REPO_ROOT / "packages" / "server" / "bin" / "quandex.js"
BUILT_MAIN = REPO_ROOT / "packages" / "server" / "dist" / "cli" / "main.js"
TEST_MODEL = Path(os.environ.get("QUANDEX_TEST_MODEL") or REPO_ROOT.parent / "shared" / "models" / "stories260K.gguf")

# The canonical test model and a second copy, which the server lists but does not load until asked.
MODEL = "llama-3.2"
SECOND_MODEL = "other"


@dataclass(frozen=True)
class RunningServer:
    base_url: str
    admin_key: str
    """Scopes generate, read, admin; unlimited, so the suite's traffic never hits a limit."""
    read_key: str
    """Scope read only: generate answers 403."""
    generate_key: str
    """Scope generate only: stats answer 403."""
    burst_key: str
    """Bucket of one request refilled at 2 per second: a quick second request gets 429."""
    quota_key: str
    """A daily quota of one request."""
    log_path: Path


def unavailable(reason: str) -> None:
    if os.environ.get("QUANDEX_REQUIRE_INTEGRATION") == "1":
        pytest.fail(f"integration tests required but cannot run: {reason}")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def create_key(data_dir: Path, name: str, scopes: str, *extra: str) -> str:
    command: List[str] = ["node", str(CLI), "keys", "create", "--name", name, "--scopes", scopes, "--json", "--data-dir", str(data_dir), *extra]
    result = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({result.returncode}): {result.stderr or result.stdout}")
    created = json.loads(result.stdout)
    assert created["key"].startswith("qdx_"), created
    return str(created["key"])


def keys_create_options() -> str:
    """`quandex keys create --help`, to see which limit options this server build has."""
    result = subprocess.run(["node", str(CLI), "keys", "create", "--help"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    return result.stdout


def wait_for_health(origin: str, process: subprocess.Popen[bytes], log_path: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"quandex serve exited with {process.returncode}:\n{log_path.read_text()[-4000:]}")
        try:
            answer = httpx.get(f"{origin}/health", timeout=2)
            last = f"{answer.status_code} {answer.text}"
            if answer.status_code == 200 and answer.json().get("ready") is True:
                return
        except httpx.TransportError as exc:
            last = repr(exc)
        time.sleep(0.2)
    raise RuntimeError(f"quandex serve not healthy after {timeout} s (last: {last}):\n{log_path.read_text()[-4000:]}")
