import { APIConnectionError, type APIError, APITimeoutError, type QuandexError } from "./errors.js";

/** The numbers of the retry policy; the Python SDK uses the same ones. */
export const retryDefaults = {
    maxRetries: 2,
    initialDelayMs: 500,
    maxDelayMs: 8_000,
    /** Up to this share of each backoff delay is taken off at random, so clients do not retry in step. */
    jitter: 0.25,
    /** A longer `Retry-After` is cut to this: the caller would rather see the error than hang. */
    maxRetryAfterMs: 60_000,
    /** A stream fails when nothing, not even a keep-alive ping (every 15 s), arrives for this long. */
    streamIdleTimeoutMs: 60_000
} as const;

/**
 * The one retry policy (shared with the Python SDK, `quandex/_retry.py`):
 * - the server's `x-should-retry: false` / `true` wins over everything below;
 * - retry 429 `rate_limit_exceeded` (the bucket refills in seconds) and a 429 without a Quandex
 *   code (a proxy's), never `daily_quota_exceeded` or `auth_rate_limited` (retrying cannot help
 *   before the quota resets or the key is fixed);
 * - retry every 503 (model loading, queue full, shutting down: all transient);
 * - retry connection errors, but not timeouts: the server probably took the request and is still
 *   generating, and sending it again would run the same expensive generation twice;
 * - wait `Retry-After` (seconds or an HTTP date) when the server sends it, capped at 60 s;
 *   otherwise back off 0.5 s, 1 s, 2 s … up to 8 s, less up to 25 % jitter.
 *
 * The policy only decides; the client owns the loop, so a stream whose 200 has arrived is never
 * re-sent (the client stops looping once it has a successful response).
 */
export class RetryPolicy {
    readonly #random: () => number;

    /** @param random Returns a number in [0, 1); injectable so tests get exact delays. Defaults to `Math.random`. */
    constructor(random: () => number = Math.random) {
        this.#random = random;
    }

    /** Whether an error answer is worth sending again. */
    shouldRetry(error: APIError): boolean {
        const hint = error.headers.get("x-should-retry")?.trim().toLowerCase();
        if (hint === "false") return false;
        if (hint === "true") return true;
        if (error.status === 429) return error.code === null || error.code === "rate_limit_exceeded";
        return error.status === 503;
    }

    /** Whether a request that got no answer is worth sending again. */
    shouldRetryConnectionError(error: QuandexError): boolean {
        return error instanceof APIConnectionError && !(error instanceof APITimeoutError);
    }

    /**
     * How long to wait before retry number `retryIndex` (0 for the first retry).
     * @param headers The failed answer's headers, for `Retry-After`; absent after a connection error.
     */
    delayMs(retryIndex: number, headers?: Headers): number {
        const retryAfter = parseRetryAfter(headers?.get("retry-after") ?? null);
        if (retryAfter !== null) return Math.min(retryAfter, retryDefaults.maxRetryAfterMs);
        const backoff = Math.min(retryDefaults.initialDelayMs * 2 ** retryIndex, retryDefaults.maxDelayMs);
        return backoff * (1 - this.#random() * retryDefaults.jitter);
    }
}

/** `Retry-After` in milliseconds, from seconds (what Quandex sends) or an HTTP date; null when unusable. */
function parseRetryAfter(value: string | null): number | null {
    if (value === null || value.trim() === "") return null;
    const seconds = Number(value);
    if (!Number.isNaN(seconds)) return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : null;
    const date = Date.parse(value);
    return Number.isNaN(date) ? null : Math.max(0, date - Date.now());
}
