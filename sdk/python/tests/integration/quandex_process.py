"""Runs a real `quandex serve` on a free port with the real test model; used by conftest.py.

Needs node, the built server (`npm run build` makes packages/server/dist) and the test model
(`../shared/models/stories260K.gguf` beside the repo, or $QUANDEX_TEST_MODEL). Without them the
integration tests are skipped, with the reason, or fail where skips are not allowed (CI=true,
QUANDEX_CI=1 or QUANDEX_REQUIRE_INTEGRATION=1; see tests/unavailable.py).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.unavailable import unavailable

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


@dataclass(frozen=True)
class ImpatientServer:
    """A server whose requests wait 1 ms at most for a model load (``request_timeout``), so a
    request for a model that is not loaded yet gets 503 ``model_loading`` while the load goes on."""

    base_url: str
    admin_key: str
    """Scopes generate, read, admin; unlimited."""


def require_prerequisites() -> None:
    """Skips (or fails, see tests/unavailable.py) unless everything a real server needs is here."""
    if shutil.which("node") is None:
        unavailable("node is not on PATH")
    if not BUILT_MAIN.exists():
        unavailable(f"the server is not built ({BUILT_MAIN.relative_to(REPO_ROOT)} missing; run `npm run build`)")
    if not TEST_MODEL.exists():
        unavailable(f"test model {TEST_MODEL} not found (set QUANDEX_TEST_MODEL)")


def lay_out(root: Path, model_ids: Sequence[str]) -> tuple[Path, Path]:
    """A models folder with one copy of the test model per id, and an empty data folder."""
    models_dir, data_dir = root / "models", root / "data"
    models_dir.mkdir()
    data_dir.mkdir()
    for model_id in model_ids:
        shutil.copyfile(TEST_MODEL, models_dir / f"{model_id}.gguf")
    return models_dir, data_dir


def create_key(data_dir: Path, name: str, scopes: str, *extra: str) -> str:
    command: list[str] = ["node", str(CLI), "keys", "create", "--name", name, "--scopes", scopes, "--json", "--data-dir", str(data_dir)]
    command += extra
    result = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({result.returncode}): {result.stderr or result.stdout}")
    created = json.loads(result.stdout)
    assert created["key"].startswith("qdx_"), created
    return str(created["key"])


@contextmanager
def serve(root: Path, models_dir: Path, data_dir: Path, config: Mapping[str, Any] | None = None) -> Iterator[str]:
    """Runs `quandex serve` until the block ends; yields its base URL (with /v1) once it is healthy.
    Its log goes to ``root / "server.log"``; ``config`` becomes its config file."""
    port = free_port()
    log_path = root / "server.log"
    command = ["node", str(CLI), "serve", "--port", str(port), "--models-dir", str(models_dir), "--data-dir", str(data_dir)]
    if config is not None:
        config_path = root / "config.json"
        config_path.write_text(json.dumps(config))
        command += ["--config", str(config_path)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUANDEX_")}  # the flags alone configure it
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        wait_for_health(f"http://127.0.0.1:{port}", process, log_path)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
