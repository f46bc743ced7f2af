import { QuandexError } from "@quandex/protocol";
import type { AuthFailureDecision } from "./AuthFailureLimiter.js";
import type { DailyDecision } from "./DailyDecision.js";
import type { RateDecision } from "./RateDecision.js";

/** The 429 `rate_limit_exceeded` for a refused {@link RateDecision}; `retryAfter` becomes `Retry-After`. */
export function rateLimitError(decision: Readonly<RateDecision>): QuandexError {
    const retryAfter = decision.retryAfterSeconds ?? 1;
    return new QuandexError(
        "rate_limit_exceeded",
        { limit: decision.limit ?? "unlimited", rate: decision.rps ?? "unlimited", retry_after: retryAfter },
        { retryAfter }
    );
}

/** The 429 `daily_quota_exceeded` for a refused {@link DailyDecision}; retry when the UTC day turns. */
export function dailyQuotaError(decision: Readonly<DailyDecision>): QuandexError {
    const retryAfter = decision.retryAfterSeconds ?? decision.resetSeconds;
    return new QuandexError("daily_quota_exceeded", { limit: decision.limit ?? "unlimited", retry_after: retryAfter }, { retryAfter });
}

/** The 429 `auth_rate_limited` for a blocked client address. */
export function authRateLimitedError(decision: Readonly<AuthFailureDecision>): QuandexError {
    const retryAfter = decision.retryAfterSeconds ?? 1;
    return new QuandexError("auth_rate_limited", { retry_after: retryAfter }, { retryAfter });
}

/**
 * The 503 `limits_unavailable` every store rejects with when its backend fails. The client sees
 * which backend, not the driver's message (that stays on `cause` for the log). `Retry-After: 1`
 * because the Redis client reconnects within about a second.
 */
export function limitsUnavailableError(backend: "Redis" | "SQLite", cause: unknown): QuandexError {
    return new QuandexError("limits_unavailable", { detail: `${backend} did not answer. Retry shortly.` }, { retryAfter: 1, cause });
}

/** True for the error {@link limitsUnavailableError} builds, whatever layer rethrew it. */
export function isLimitsUnavailable(error: unknown): error is QuandexError {
    return error instanceof QuandexError && error.code === "limits_unavailable";
}
