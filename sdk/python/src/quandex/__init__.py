"""Python SDK for Quandex, the self-hosted LLM inference server (JAN API).

from quandex import QuandexClient

async with QuandexClient(api_key="qdx_...") as client:
    response = await client.generate(model="llama-3.2", prompt="Hello")
    print(response.text)
"""

from ._base_client import TimeoutTypes
from ._client import Quandex, QuandexClient
from ._constants import DEFAULT_BASE_URL, DEFAULT_MAX_RETRIES, DEFAULT_STREAM_READ_TIMEOUT, DEFAULT_TIMEOUT
from ._exceptions import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    InternalServerError,
    ModelLoadingError,
    NotFoundError,
    PermissionDeniedError,
    QuandexError,
    RateLimitError,
    ServiceUnavailableError,
)
from ._streaming import AsyncStream, Stream
from ._version import __version__
from .types import (
    Choice,
    ChunkChoice,
    EngineInfo,
    GenerateChunk,
    GenerateResponse,
    MetalDevice,
    MetalStats,
    ModelEntry,
    ModelList,
    ModelStats,
    ModelStatsDict,
    OpenAIModel,
    ServerInfo,
    StatsResponse,
    Usage,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_STREAM_READ_TIMEOUT",
    "DEFAULT_TIMEOUT",
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AsyncStream",
    "AuthenticationError",
    "BadRequestError",
    "Choice",
    "ChunkChoice",
    "EngineInfo",
    "GenerateChunk",
    "GenerateResponse",
    "InternalServerError",
    "MetalDevice",
    "MetalStats",
    "ModelEntry",
    "ModelList",
    "ModelLoadingError",
    "ModelStats",
    "ModelStatsDict",
    "NotFoundError",
    "OpenAIModel",
    "PermissionDeniedError",
    "Quandex",
    "QuandexClient",
    "QuandexError",
    "RateLimitError",
    "ServerInfo",
    "ServiceUnavailableError",
    "StatsResponse",
    "Stream",
    "TimeoutTypes",
    "Usage",
    "__version__",
]
