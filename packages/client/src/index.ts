export { QuandexClient, DEFAULT_BASE_URL, DEFAULT_TIMEOUT_MS, type QuandexClientOptions } from "./client.js";
export {
    QuandexError,
    APIError,
    BadRequestError,
    AuthenticationError,
    PermissionDeniedError,
    NotFoundError,
    ConflictError,
    RateLimitError,
    InternalServerError,
    ServiceUnavailableError,
    ModelLoadingError,
    APIConnectionError,
    APITimeoutError,
    APIUserAbortError
} from "./core/errors.js";
export { Stream } from "./core/Stream.js";
// The SDK's SSE decoder is the project's one (on eventsource-parser); the old name stays for existing users.
export { ServerSentEventDecoder as SSEDecoder, type ServerSentEvent } from "@quandex/protocol/sse";
export { RetryPolicy, retryDefaults } from "./core/RetryPolicy.js";
export type { RequestOptions } from "./core/RequestOptions.js";
export type { GenerateParams, GenerateResult, GenerateStreamChunk } from "./resources/Generations.js";
export type { PullOptions, WaitUntilReadyOptions } from "./resources/Models.js";
export type { ModelStatsResult } from "./resources/Stats.js";
export type { UsageReport } from "./resources/Usage.js";
export type { CreatedApiKey } from "./resources/Keys.js";

// The wire types come from the one schema source; `export type` keeps the schemas out of the runtime (only `@quandex/protocol/sse` is loaded).
export type {
    ApiKey,
    CreateKeyRequest,
    RotateKeyRequest,
    Backend,
    ErrorBodyWire,
    FinishReason,
    GenerateChunk,
    GenerateRequest,
    GenerateResponse,
    HealthResponse,
    MetalStats,
    ModelEntry,
    ModelList,
    ModelStats,
    ModelStatus,
    StatsResponse,
    Usage
} from "@quandex/protocol";
