/**
 * The one error catalogue. Every error the server can answer is listed here with its HTTP status,
 * its OpenAI-style `type` and a message template. Templates use `{name}` placeholders filled from
 * the params given when the error is raised. Both SDKs map `status`/`code` from this table to typed
 * exceptions, and a test checks the README's error table against it.
 */
export const errorCatalogue = {
    invalid_json: { status: 400, type: "invalid_request_error", message: "The request body is not valid JSON: {detail}" },
    invalid_parameter: { status: 400, type: "invalid_request_error", message: "Invalid value for '{param}': {detail}" },
    schema_too_complex: { status: 400, type: "invalid_request_error", message: "The JSON schema in '{param}' is too complex: {detail}" },
    malformed_request: { status: 400, type: "invalid_request_error", message: "The request is not valid HTTP: {detail}" },
    context_length_exceeded: {
        status: 400,
        type: "invalid_request_error",
        message: "This model's context holds {context_size} tokens per sequence, but the request needs {needed} ({prompt_tokens} prompt tokens + {max_tokens} max_tokens)."
    },
    invalid_api_key: {
        status: 401,
        type: "authentication_error",
        message: "{detail} Send a valid key as 'Authorization: Bearer <key>'."
    },
    insufficient_scope: { status: 403, type: "permission_error", message: "This API key lacks the '{scope}' scope that this route requires." },
    model_not_found: { status: 404, type: "not_found_error", message: "The model '{model}' does not exist. GET /v1/models lists the available models." },
    route_not_found: { status: 404, type: "not_found_error", message: "There is no route {method} {path}." },
    key_not_found: { status: 404, type: "not_found_error", message: "There is no API key with id '{id}'." },
    pull_not_found: { status: 404, type: "not_found_error", message: "There is no pull with id '{id}'." },
    method_not_allowed: { status: 405, type: "invalid_request_error", message: "Method {method} is not allowed on {path}." },
    client_too_slow: {
        status: 408,
        type: "invalid_request_error",
        message: "The client read the stream too slowly: {buffered} bytes were waiting to be sent, past the {limit}-byte limit (server.stream_buffer_limit)."
    },
    model_exists: { status: 409, type: "conflict_error", message: "A different model file already has the id '{model}'. {detail}" },
    model_busy: { status: 409, type: "conflict_error", message: "The model '{model}' is in use: {detail}" },
    payload_too_large: { status: 413, type: "invalid_request_error", message: "The request body is larger than the {limit} bytes allowed." },
    uri_too_long: { status: 414, type: "invalid_request_error", message: "A path segment of {path} is longer than the {limit} characters allowed." },
    unsupported_media_type: { status: 415, type: "invalid_request_error", message: "Unsupported Content-Type '{content_type}'. Send 'application/json'." },
    rate_limit_exceeded: {
        status: 429,
        type: "rate_limit_error",
        message: "Rate limit exceeded for this API key: {limit} requests burst, {rate} per second. Retry after {retry_after} s."
    },
    daily_quota_exceeded: {
        status: 429,
        type: "rate_limit_error",
        message: "Daily quota of {limit} requests exceeded for this API key. It resets at 00:00 UTC, in {retry_after} s."
    },
    auth_rate_limited: { status: 429, type: "rate_limit_error", message: "Too many failed authentication attempts from this address. Retry after {retry_after} s." },
    too_many_connections: {
        status: 429,
        type: "rate_limit_error",
        message: "This address has {limit} connections open that have not authenticated (server.request_limits.connections_per_ip). Retry after {retry_after} s."
    },
    headers_too_large: {
        status: 431,
        type: "invalid_request_error",
        message: "The request headers are larger than the {limit} bytes allowed (server.request_limits.header_bytes)."
    },
    internal_error: { status: 500, type: "server_error", message: "The server had an internal error: {detail}" },
    download_failed: { status: 502, type: "upstream_error", message: "Downloading {source} failed: {detail}" },
    model_loading: { status: 503, type: "service_unavailable", message: "The model '{model}' is loading. Retry after {retry_after} s." },
    model_unavailable: { status: 503, type: "service_unavailable", message: "The model '{model}' is unavailable: {detail}" },
    server_busy: { status: 503, type: "service_unavailable", message: "The server is busy: {detail} Retry after {retry_after} s." },
    server_shutdown: { status: 503, type: "service_unavailable", message: "The server is shutting down." },
    limits_unavailable: { status: 503, type: "service_unavailable", message: "The rate-limit store is unavailable: {detail}" },
    console_not_built: {
        status: 503,
        type: "service_unavailable",
        message:
            "The web console is not built (no index.html in {dir}). Run `npm run build` at the repository root (or `npm run build -w @quandex/console`), then restart the server."
    },
    insufficient_storage: { status: 507, type: "server_error", message: "Not enough disk space: {detail}" }
} as const satisfies Record<string, ErrorDefinition>;

export type ErrorType =
    | "invalid_request_error"
    | "authentication_error"
    | "permission_error"
    | "not_found_error"
    | "conflict_error"
    | "rate_limit_error"
    | "upstream_error"
    | "server_error"
    | "service_unavailable";

export interface ErrorDefinition {
    readonly status: number;
    readonly type: ErrorType;
    readonly message: string;
}

export type ErrorCode = keyof typeof errorCatalogue;

export function isErrorCode(code: string): code is ErrorCode {
    return Object.hasOwn(errorCatalogue, code);
}

/** Fills `{name}` placeholders; a missing value is left visible rather than silently blanked. */
export function formatErrorMessage(code: ErrorCode, params: Readonly<Record<string, string | number>>): string {
    return errorCatalogue[code].message.replace(/\{(\w+)\}/g, (whole, name: string) => (Object.hasOwn(params, name) ? String(params[name]) : whole));
}
