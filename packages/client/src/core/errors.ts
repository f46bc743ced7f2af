import { errorCatalogue } from "@quandex/protocol/errors";
/**
 * The SDK's error tree. It is the same tree as the Python SDK's `quandex._exceptions`, so code and
 * docs can name one class per failure in both languages:
 *
 * ```
 * QuandexError
 * ├── APIError (status, code, type, param, requestId, headers, body)
 * │   ├── BadRequestError          400, 413, 415 and any other 4xx
 * │   ├── AuthenticationError      401
 * │   ├── PermissionDeniedError    403
 * │   ├── NotFoundError            404
 * │   ├── RateLimitError           429
 * │   ├── InternalServerError      other 5xx
 * │   └── ServiceUnavailableError  503
 * │       └── ModelLoadingError    503 with code model_loading
 * ├── APIConnectionError          no HTTP answer (DNS, refused, reset, truncated stream)
 * │   └── APITimeoutError         the request ran past its timeout
 * └── APIUserAbortError           the caller's AbortSignal fired (or the stream was aborted)
 * ```
 */
export class QuandexError extends Error {
    constructor(message: string, options?: { cause?: unknown }) {
        super(message, options);
        // `new.target.name` keeps the subclass name in stack traces without repeating it in each class.
        this.name = new.target.name;
    }
}

/** The `error` object of an error body: `{"error": {code, message, type, param}}`. */
interface ErrorFields {
    code: string | null;
    message: string | null;
    type: string | null;
    param: string | null;
}

/** An HTTP answer with an error status, or an `event: error` frame inside a stream. */
export class APIError extends QuandexError {
    /** The HTTP status. For an error frame inside a stream it is derived from the error's `type`. */
    readonly status: number;
    /** The catalogue code, e.g. `model_not_found`; null when the body was not a Quandex error body. */
    readonly code: string | null;
    /** The OpenAI-style class, e.g. `invalid_request_error`. */
    readonly type: string | null;
    /** The request field at fault, or null. */
    readonly param: string | null;
    /** The server's `x-request-id`: quote it when reporting a problem. */
    readonly requestId: string | null;
    readonly headers: Headers;
    /** The parsed body (JSON when it parsed, the raw text otherwise). */
    readonly body: unknown;

    constructor(status: number, body: unknown, headers: Headers = new Headers(), message?: string) {
        const fields = errorFields(body);
        super(message ?? fields.message ?? fallbackMessage(status, body));
        this.status = status;
        this.code = fields.code;
        this.type = fields.type;
        this.param = fields.param;
        this.requestId = headers.get("x-request-id");
        this.headers = headers;
        this.body = body;
    }

    /** Builds the subclass that matches an HTTP error answer. */
    static fromResponse(status: number, body: unknown, headers: Headers = new Headers()): APIError {
        const ErrorClass = errorClassFor(status, errorFields(body).code);
        return new ErrorClass(status, body, headers);
    }

    /**
     * Builds the subclass for an `event: error` frame. The frame arrives on a 200, so the status is
     * the one the catalogue gives its code, or failing that (a code newer than this SDK) its type.
     */
    static fromStreamFrame(body: unknown, headers: Headers = new Headers()): APIError {
        const { type, code } = errorFields(body);
        const status = lookup(statusByErrorCode, code) ?? lookup(statusByErrorType, type) ?? 500;
        return new (errorClassFor(status, code))(status, body, headers);
    }
}

export class BadRequestError extends APIError {}
export class AuthenticationError extends APIError {}
export class PermissionDeniedError extends APIError {}
export class NotFoundError extends APIError {}
/** 409: the request conflicts with the server's state (a model id already taken, a model in use). */
export class ConflictError extends APIError {}
export class RateLimitError extends APIError {}
export class InternalServerError extends APIError {}
export class ServiceUnavailableError extends APIError {}
/** The model is being loaded; `Retry-After` says when to come back. Retried automatically. */
export class ModelLoadingError extends ServiceUnavailableError {}

/** No HTTP answer came back, or the connection broke before a stream finished. */
export class APIConnectionError extends QuandexError {
    constructor(message = "Connection error.", options?: { cause?: unknown }) {
        super(message, options);
    }
}

export class APITimeoutError extends APIConnectionError {
    constructor(message = "Request timed out.", options?: { cause?: unknown }) {
        super(message, options);
    }
}

export class APIUserAbortError extends QuandexError {
    constructor(message = "Request was aborted.", options?: { cause?: unknown }) {
        super(message, options);
    }
}

type APIErrorClass = new (status: number, body: unknown, headers?: Headers, message?: string) => APIError;

/** The class for an HTTP status (and, for 503, the code). */
export function errorClassFor(status: number, code: string | null): APIErrorClass {
    switch (status) {
        case 401:
            return AuthenticationError;
        case 403:
            return PermissionDeniedError;
        case 404:
            return NotFoundError;
        case 409:
            return ConflictError;
        case 429:
            return RateLimitError;
        case 503:
            return code === "model_loading" ? ModelLoadingError : ServiceUnavailableError;
    }
    if (status >= 400 && status < 500) return BadRequestError;
    if (status >= 500 && status < 600) return InternalServerError;
    return APIError;
}

/**
 * The catalogue's status per code, from the one table (`@quandex/protocol/errors`, which has no
 * dependencies of its own). Used for stream error frames, which travel on a 200 answer.
 */
export const statusByErrorCode: Readonly<Record<string, number>> = Object.fromEntries(Object.entries(errorCatalogue).map(([code, entry]) => [code, entry.status]));

/**
 * The status each error `type` first has in the catalogue (`server_error` is 500, though 507 shares
 * the type): the fallback for a code this SDK does not know.
 */
export const statusByErrorType: Readonly<Record<string, number>> = Object.fromEntries(
    Object.values(errorCatalogue)
        .reverse()
        .map((entry) => [entry.type, entry.status])
);

function errorFields(body: unknown): ErrorFields {
    const error = isRecord(body) && isRecord(body.error) ? body.error : {};
    return {
        code: stringOrNull(error.code),
        message: stringOrNull(error.message),
        type: stringOrNull(error.type),
        param: stringOrNull(error.param)
    };
}

function fallbackMessage(status: number, body: unknown): string {
    // A proxy or a crashed upstream can answer with HTML or plain text: keep a short excerpt.
    if (typeof body === "string" && body.trim() !== "") return `${status} ${body.trim().slice(0, 200)}`;
    return `${status} status code (no error body)`;
}

function lookup(table: Readonly<Record<string, number>>, key: string | null): number | undefined {
    return key !== null && Object.hasOwn(table, key) ? table[key] : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
    return typeof value === "object" && value !== null && !Array.isArray(value);
}

function stringOrNull(value: unknown): string | null {
    return typeof value === "string" ? value : null;
}
