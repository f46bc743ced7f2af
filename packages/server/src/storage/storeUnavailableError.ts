import { QuandexError } from "@quandex/protocol";

/**
 * The 503 `limits_unavailable` every store (keys, limits, usage) rejects with when its backend
 * fails. The client sees which backend, not the driver's message (that stays on `cause` for the
 * log). `Retry-After: 1` because the Redis client reconnects within about a second.
 */
export function storeUnavailableError(backend: "Redis" | "SQLite", cause: unknown): QuandexError {
    return new QuandexError("limits_unavailable", { detail: `${backend} did not answer. Retry shortly.` }, { retryAfter: 1, cause });
}

/** True for the error {@link storeUnavailableError} builds, whatever layer rethrew it. */
export function isStoreUnavailable(error: unknown): error is QuandexError {
    return error instanceof QuandexError && error.code === "limits_unavailable";
}
