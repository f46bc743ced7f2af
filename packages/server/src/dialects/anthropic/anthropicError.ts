import type { QuandexError } from "@quandex/protocol";

/** Anthropic's error types by status, as its API documents them; the SDK picks its error class by status. */
function typeOf(status: number): string {
    switch (status) {
        case 400:
        case 405:
        case 409:
        case 414:
        case 415:
        case 422:
        case 431:
            return "invalid_request_error";
        case 401:
            return "authentication_error";
        case 403:
            return "permission_error";
        case 404:
            return "not_found_error";
        case 413:
            return "request_too_large";
        case 429:
            return "rate_limit_error";
        case 503:
        case 529:
            return "overloaded_error";
        default:
            return "api_error";
    }
}

/**
 * A catalogue error in Anthropic's shape, `{"type":"error","error":{"type","message"}}`. Quandex's
 * own code and the field at fault ride along in `error.code` and `error.param`, which Anthropic's
 * SDKs keep in the error's body for whoever wants them.
 */
export function anthropicError(error: QuandexError): unknown {
    return { type: "error", error: { type: typeOf(error.status), message: error.message, code: error.code, ...(error.param !== null && { param: error.param }) } };
}
