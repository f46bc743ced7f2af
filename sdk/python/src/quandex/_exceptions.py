"""The error tree, shared in shape with the TypeScript SDK.

QuandexError
├── APIError                      the server answered with an error body
│   ├── BadRequestError           400, 409, 413, 415 and any other 4xx not listed below
│   ├── AuthenticationError       401
│   ├── PermissionDeniedError     403
│   ├── NotFoundError             404
│   ├── RateLimitError            429
│   ├── InternalServerError       5xx other than 503
│   └── ServiceUnavailableError   503
│       └── ModelLoadingError     503 with code ``model_loading``
└── APIConnectionError            no answer: refused, reset, truncated stream
    └── APITimeoutError           a connect, read or write timeout
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx

from ._constants import REQUEST_ID_HEADER

__all__ = [
    "ERROR_CODE_STATUS",
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "InternalServerError",
    "ModelLoadingError",
    "NotFoundError",
    "PermissionDeniedError",
    "QuandexError",
    "RateLimitError",
    "ServiceUnavailableError",
]


class QuandexError(Exception):
    """Base class of every error raised by this SDK."""


class APIError(QuandexError):
    """The server answered with an error. Fields come from its ``{"error": {...}}`` body."""

    status: int
    """HTTP status, or for an error event inside a stream the status its code maps to."""
    code: str | None
    """Machine-readable code from the error catalogue, e.g. ``model_not_found``."""
    type: str | None
    """OpenAI-style error type, e.g. ``not_found_error``."""
    message: str
    param: str | None
    """The request field at fault, when there is one."""
    request_id: str | None
    """The ``x-request-id`` header; quote it when reporting a problem."""
    body: Any
    """The decoded JSON body, or the raw text when the body was not JSON."""
    headers: httpx.Headers

    def __init__(
        self,
        message: str,
        *,
        status: int,
        code: str | None = None,
        type: str | None = None,
        param: str | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.type = type
        self.param = param
        self.body = body
        self.headers = httpx.Headers(headers or {})
        self.request_id = self.headers.get(REQUEST_ID_HEADER)

    def __str__(self) -> str:
        label = f"{self.status} {self.code}" if self.code else str(self.status)
        suffix = f" (request id {self.request_id})" if self.request_id else ""
        return f"{label}: {self.message}{suffix}"


class BadRequestError(APIError):
    """400 invalid parameters or JSON, 413 body too large, 415 wrong content type, other 4xx."""


class AuthenticationError(APIError):
    """401: the API key is missing, malformed, unknown or revoked."""


class PermissionDeniedError(APIError):
    """403: the API key lacks the scope the route requires."""


class NotFoundError(APIError):
    """404: unknown model, route or key."""


class RateLimitError(APIError):
    """429: per-key rate limit, daily quota or failed-auth limit. ``code`` tells which."""


class InternalServerError(APIError):
    """5xx other than 503."""


class ServiceUnavailableError(APIError):
    """503: the server is busy, shutting down, or a model cannot serve yet."""


class ModelLoadingError(ServiceUnavailableError):
    """503 ``model_loading``: the model is still loading; retried automatically."""


class APIConnectionError(QuandexError):
    """No usable answer: the connection failed, dropped, or the stream ended early."""

    request: httpx.Request | None

    def __init__(self, message: str = "Connection error.", *, request: httpx.Request | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.request = request


class APITimeoutError(APIConnectionError):
    """A timeout: connecting, sending, waiting for the answer, or waiting for the next stream chunk."""

    def __init__(self, message: str = "Request timed out.", *, request: httpx.Request | None = None) -> None:
        super().__init__(message, request=request)


# Mirrors packages/protocol/src/errorCatalogue.ts (a test keeps them in sync). Only needed for
# error events inside a stream: those travel on a 200 response, so the code alone says the status.
ERROR_CODE_STATUS: dict[str, int] = {
    "invalid_json": 400,
    "invalid_parameter": 400,
    "schema_too_complex": 400,
    "malformed_request": 400,
    "context_length_exceeded": 400,
    "invalid_api_key": 401,
    "insufficient_scope": 403,
    "model_not_found": 404,
    "route_not_found": 404,
    "key_not_found": 404,
    "pull_not_found": 404,
    "method_not_allowed": 405,
    "client_too_slow": 408,
    "model_exists": 409,
    "model_busy": 409,
    "payload_too_large": 413,
    "uri_too_long": 414,
    "unsupported_media_type": 415,
    "rate_limit_exceeded": 429,
    "daily_quota_exceeded": 429,
    "auth_rate_limited": 429,
    "too_many_connections": 429,
    "headers_too_large": 431,
    "internal_error": 500,
    "download_failed": 502,
    "model_loading": 503,
    "model_unavailable": 503,
    "server_busy": 503,
    "server_shutdown": 503,
    "limits_unavailable": 503,
    "console_not_built": 503,
    "insufficient_storage": 507,
}

# Fallback for a code this SDK version does not know yet.
_TYPE_STATUS: dict[str, int] = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "conflict_error": 409,
    "rate_limit_error": 429,
    "server_error": 500,
    "upstream_error": 502,
    "service_unavailable": 503,
}

_STATUS_CLASS: dict[int, type[APIError]] = {
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    429: RateLimitError,
    503: ServiceUnavailableError,
}


def error_class_for(status: int, code: str | None) -> type[APIError]:
    """The exception class for an HTTP status and catalogue code."""
    if status == 503 and code == "model_loading":
        return ModelLoadingError
    if status in _STATUS_CLASS:
        return _STATUS_CLASS[status]
    if 400 <= status < 500:
        return BadRequestError
    if 500 <= status < 600:
        return InternalServerError
    return APIError


def make_api_error(status: int, body: Any, headers: Mapping[str, str] | None = None) -> APIError:
    """Builds the typed error for an error response. ``body`` is decoded JSON or raw text."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        # Not a Quandex error body (e.g. a proxy's HTML page): keep what there is.
        text = body.strip()[:500] if isinstance(body, str) and body.strip() else None
        message = text or f"HTTP {status} {_reason_phrase(status)}".strip()
        return error_class_for(status, None)(message, status=status, body=body, headers=headers)
    code = _str_or_none(error.get("code"))
    return error_class_for(status, code)(
        _str_or_none(error.get("message")) or f"HTTP {status}",
        status=status,
        code=code,
        type=_str_or_none(error.get("type")),
        param=_str_or_none(error.get("param")),
        body=body,
        headers=headers,
    )


def make_stream_error(body: Any, headers: Mapping[str, str] | None = None) -> APIError:
    """Builds the typed error for an ``event: error`` frame, which arrives on a 200 response."""
    error = body.get("error") if isinstance(body, dict) else None
    error = error if isinstance(error, dict) else {}
    code = _str_or_none(error.get("code"))
    error_type = _str_or_none(error.get("type"))
    status = ERROR_CODE_STATUS.get(code or "") or _TYPE_STATUS.get(error_type or "") or 500
    return make_api_error(status, body if error else {"error": {"message": str(body)}}, headers)


def make_response_error(response: httpx.Response) -> APIError:
    """The typed error for a non-2xx answer whose body has been read."""
    try:
        body: Any = json.loads(response.content) if response.content else None
    except ValueError:
        body = response.text
    return make_api_error(response.status_code, body, response.headers)


def make_connection_error(exc: httpx.TransportError, request: httpx.Request | None) -> APIConnectionError:
    """The SDK's error for a failure with no answer: a timeout, or a refused, reset or cut connection."""
    if isinstance(exc, httpx.TimeoutException):
        return APITimeoutError(f"Request timed out ({type(exc).__name__}).", request=request)
    return APIConnectionError(f"Connection error: {str(exc) or type(exc).__name__}", request=request)


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _reason_phrase(status: int) -> str:
    return httpx.codes.get_reason_phrase(status)
