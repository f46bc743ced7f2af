export { QuandexClient, DEFAULT_BASE_URL, DEFAULT_TIMEOUT_MS, type QuandexClientOptions } from "./client.js";
export {
    QuandexError,
    APIError,
    BadRequestError,
    AuthenticationError,
    PermissionDeniedError,
    NotFoundError,
    RateLimitError,
    InternalServerError,
    ServiceUnavailableError,
    ModelLoadingError,
    APIConnectionError,
    APITimeoutError,
    APIUserAbortError
} from "./core/errors.js";
export { Stream } from "./core/Stream.js";
export { SSEDecoder, type ServerSentEvent } from "./core/SSEDecoder.js";
export { RetryPolicy, retryDefaults } from "./core/RetryPolicy.js";
export type { RequestOptions } from "./core/RequestOptions.js";
export type { GenerateParams, GenerateResult, GenerateStreamChunk } from "./resources/Generations.js";
export type { WaitUntilReadyOptions } from "./resources/Models.js";
export type { ModelStatsResult } from "./resources/Stats.js";
export type { UsageReport } from "./resources/Usage.js";

// The wire types come from the one schema source; `export type` keeps @quandex/protocol out of the runtime.
export type {
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
