"""Defaults shared by both clients. They match the TypeScript SDK so the two behave alike."""

from __future__ import annotations

import httpx

DEFAULT_BASE_URL = "http://localhost:8000/v1"

API_KEY_ENV = "QUANDEX_API_KEY"
BASE_URL_ENV = "QUANDEX_BASE_URL"

# A non-streaming generate returns nothing until the last token, so the read timeout must
# cover a whole generation; connecting should fail fast so retries can kick in.
DEFAULT_TIMEOUT = httpx.Timeout(600.0, connect=5.0)

# For streams the read timeout applies to every chunk, so a stalled stream fails instead of
# hanging. The server sends keep-alive comments while it works, which reset this clock.
DEFAULT_STREAM_READ_TIMEOUT = 60.0

DEFAULT_MAX_RETRIES = 2
INITIAL_RETRY_DELAY = 0.5
MAX_RETRY_DELAY = 8.0
RETRY_JITTER = 0.25
# A Retry-After above this is not waited out in one go; the client waits this long instead.
MAX_RETRY_AFTER = 60.0

REQUEST_ID_HEADER = "x-request-id"
SHOULD_RETRY_HEADER = "x-should-retry"

# wait_until_ready(): how long to wait in all, and between two looks at the model's status.
DEFAULT_READY_TIMEOUT = 300.0
DEFAULT_POLL_INTERVAL = 0.5
